"""Files the console offers for download (exports, batch results): one folder, old files swept.

Each download lives in a folder of its own (so two visitors' files never share a name) under one parent;
every new download first deletes those older than an hour, so a public console's disk stays bounded
however many exports are asked for (Gradio keeps its own copy for serving).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

MAX_AGE_S = 3600.0


def download_path(filename: str, *, root: Path | None = None, now: float | None = None) -> Path:
    """A fresh path named ``filename`` for a file to offer for download."""
    parent = root or Path(tempfile.gettempdir()) / "memtune-downloads"
    parent.mkdir(parents=True, exist_ok=True)
    _sweep(parent, (now if now is not None else time.time()) - MAX_AGE_S)
    return Path(tempfile.mkdtemp(dir=parent)) / filename


def _sweep(parent: Path, horizon: float) -> None:
    for folder in parent.iterdir():
        try:
            if folder.stat().st_mtime < horizon:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:  # another request swept it first
            continue
