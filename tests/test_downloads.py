"""Downloads live in one folder whose old files are swept."""

from __future__ import annotations

import os
from pathlib import Path

from console.downloads import MAX_AGE_S, download_path


def test_each_download_has_its_own_folder_and_old_ones_go(tmp_path: Path) -> None:
    first = download_path("library.json", root=tmp_path, now=1_000_000.0)
    first.write_text("{}", encoding="utf-8")
    second = download_path("library.json", root=tmp_path, now=1_000_000.0)
    assert first != second and first.name == second.name == "library.json"
    os.utime(first.parent, (1_000_000.0 - MAX_AGE_S - 1,) * 2)
    third = download_path("x.csv", root=tmp_path, now=1_000_000.0)
    assert not first.exists() and second.parent.exists() and third.parent.exists()
