"""The rooms of memory_core keep their layering: a test reads every module's imports (static, lazy included)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "memory_core"
STAGES = ("decide", "recall", "write", "store")  # the rooms a turn passes through
ABOVE_STAGES = ("memory_core.providers", "memory_core.eval", "memory_core.engine", "memory_core.wiring",
                "memory_core.stages", "memory_core.cli", "console")  # fmt: skip


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it, as absolute dotted names."""
    package = module_name(path).split(".")[: None if path.name == "__init__.py" else -1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}  # `from . import lexicon`
    return names


def modules() -> dict[str, set[str]]:
    return {module_name(path): imported(path) for path in sorted(PACKAGE.rglob("*.py"))}


def room_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else ""


def reaches(names: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes))


def test_the_stages_of_a_turn_never_import_what_sits_above_them() -> None:
    wrong = {m: reaches(names, ABOVE_STAGES) for m, names in modules().items() if room_of(m) in STAGES}
    assert {m: found for m, found in wrong.items() if found} == {}


def test_no_web_framework_anywhere_in_memory_core() -> None:
    wrong = {m: reaches(names, ("gradio", "fastapi", "starlette", "uvicorn", "console")) for m, names in
             modules().items()}  # fmt: skip
    assert {m: found for m, found in wrong.items() if found} == {}


def test_only_providers_talk_to_mem0_and_openai() -> None:
    wrong = {m: reaches(names, ("mem0", "openai")) for m, names in modules().items() if room_of(m) != "providers"}
    assert {m: found for m, found in wrong.items() if found} == {}


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if _reads_environment(node):
                readers.add(module_name(path))
    assert readers == {"memory_core.settings"}


def _reads_environment(node: ast.AST) -> bool:
    # os.environ[...] read, os.environ.get(...), os.getenv(...), or iterating/copying os.environ itself.
    if isinstance(node, ast.Subscript) and _is_environ(node.value):
        return isinstance(node.ctx, ast.Load)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner, name = node.func.value, node.func.attr
        if _is_environ(owner) and name in ("get", "items", "keys", "values", "copy"):
            return True
        return isinstance(owner, ast.Name) and owner.id == "os" and name == "getenv"
    return isinstance(node, ast.Name) and node.id == "environ" and isinstance(node.ctx, ast.Load)


def _is_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" and isinstance(node.value, ast.Name)


def test_every_room_is_a_package_and_the_top_level_stays_small() -> None:
    rooms = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert rooms == ["decide", "eval", "providers", "recall", "reply", "store", "write"]
    assert all((PACKAGE / room / "__init__.py").is_file() for room in rooms)
    assert len(list(PACKAGE.glob("*.py"))) <= 20
