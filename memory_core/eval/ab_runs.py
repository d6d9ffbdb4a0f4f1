"""Saved A/B runs on disk: one folder per owner under the data folder, the newest few kept.

`<data_dir>/ab-runs/<owner folder>/<run id>.json` holds a run; `<run id>.conversations.json` beside it the
file it ran, for re-runs. Owner folders are named from a hash of the owner (a sandbox's token), so nothing a
client sends becomes a path; run ids are generated here and checked against their pattern before use.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError, NotFoundError
from ..tuning import Tuning
from .ab_run import AbRun, Choice, ProbeResult, Side, TraceView

MAX_RUNS = 20  # per owner; the oldest go first
MAX_ALL_RUNS = 200  # across owners: sandboxes come and go on a public Space, their runs must not pile up
FOLDER = "ab-runs"
RUN_ID = re.compile(r"ab-\d{8}-\d{6}-\d{6}-[0-9a-f]{6}")


def owner_folder(owner: str) -> str:
    """The folder of an owner's runs: 'shared' for the operator (''), else a hash of the owner."""
    return "shared" if not owner else "v-" + hashlib.sha256(owner.encode("utf-8")).hexdigest()[:32]


def new_run_id() -> str:
    """A safe file name that sorts by time: ab-YYYYmmdd-HHMMSS-micros-random."""
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return f"ab-{stamp}-{int(now * 1e6) % 1_000_000:06d}-{secrets.token_hex(3)}"


class AbRuns:
    """One owner's saved runs, newest first."""

    def __init__(self, data_dir: str | Path, owner: str, *, keep: int = MAX_RUNS, keep_all: int = MAX_ALL_RUNS) -> None:
        self.root = Path(data_dir) / FOLDER
        self.folder = self.root / owner_folder(owner)
        self.keep, self.keep_all = keep, keep_all

    def save(self, run: AbRun, content: bytes) -> AbRun:
        """Store the run (with a new id) and the file it ran; only the newest `keep` runs stay."""
        self.folder.mkdir(parents=True, exist_ok=True)
        saved = replace(run, id=new_run_id())
        _write(self._file(saved.id, ".conversations.json"), content)
        _write(self._file(saved.id, ".json"), json.dumps(run_to_dict(saved), ensure_ascii=False).encode("utf-8"))
        self._prune()
        return saved

    def ids(self) -> list[str]:
        """The saved runs' ids, newest first."""
        if not self.folder.is_dir():
            return []
        names = (path.name.removesuffix(".json") for path in self.folder.glob("ab-*.json"))
        return sorted((name for name in names if RUN_ID.fullmatch(name)), reverse=True)

    def load(self, run_id: str) -> AbRun:
        try:
            return run_from_dict(json.loads(self._file(run_id, ".json").read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise NotFoundError(f"no saved run {run_id!r} (only the newest {self.keep} are kept)") from None

    def content(self, run_id: str) -> bytes:
        """The file the run ran, as it was uploaded."""
        try:
            return self._file(run_id, ".conversations.json").read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"the file of run {run_id!r} is no longer kept") from None

    def file_path(self, run_id: str) -> Path:
        return self._file(run_id, ".conversations.json")

    def _file(self, run_id: str, suffix: str) -> Path:
        if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
            raise InvalidInputError(f"not a run id: {run_id!r}")
        return self.folder / f"{run_id}{suffix}"

    def _prune(self) -> None:
        """The owner's newest `keep` stay, and the newest `keep_all` of everyone's."""
        for old in self.ids()[self.keep :]:
            _forget(self.folder, old)
        everyone = sorted(((path.stem, path.parent) for path in self.root.glob("*/ab-*.json")
                           if RUN_ID.fullmatch(path.stem)), reverse=True)  # fmt: skip
        for run_id, folder in everyone[self.keep_all :]:
            _forget(folder, run_id)


def _forget(folder: Path, run_id: str) -> None:
    for suffix in (".json", ".conversations.json"):
        (folder / f"{run_id}{suffix}").unlink(missing_ok=True)


def _write(path: Path, data: bytes) -> None:
    """Whole or not at all: a reader never sees half a run."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)


# -- a run as JSON and back ------------------------------------------------------------------------------------


def run_to_dict(run: AbRun) -> dict[str, Any]:
    return asdict(run)


def run_from_dict(data: dict[str, Any]) -> AbRun:
    try:
        return AbRun(data["file_name"], data["file_sha256"], data["created"], _side(data["a"]), _side(data["b"]),
                     float(data["seconds"]), data["id"])  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"a saved run is damaged: {exc}") from exc


def _side(data: dict[str, Any]) -> Side:
    choice = Choice(dict(data["choice"]["knobs"]), _tuning(data["choice"]["tuning"]))
    probes = tuple(ProbeResult(**row) for row in data["probes"])
    traces = {key: _trace(view) for key, view in data["traces"].items()}
    return Side(choice, dict(data["metrics"]), probes, traces)


def _tuning(data: dict[str, Any]) -> Tuning:
    known = {f.name for f in fields(Tuning)}
    return Tuning().with_changes(**{name: value for name, value in data.items() if name in known})


def _trace(data: dict[str, Any]) -> TraceView:
    return TraceView(data["title"], dict(data["decision"]), data["query"], tuple(tuple(row) for row in data["hits"]),
                     data["memory_block"])  # fmt: skip
