"""What the browser tests share: Debian's Chromium launched by Playwright, a page on it, and screenshots.

Set MEMTUNE_SCREENSHOTS to a folder to keep the screenshots of each tab (the README's come from here).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)

# Read at import: the autouse fixture clears MEMTUNE_* variables before each test.
SCREENSHOTS = os.environ.get("MEMTUNE_SCREENSHOTS", "")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
GREETING = re.compile("Welcome back|欢迎回来")  # the offline greeting of a character with stored memories
expect = playwright_api.expect
Page = playwright_api.Page


@contextmanager
def open_page(width: int = 1400, height: int = 1500) -> Iterator[playwright_api.Page]:
    """A new headless Chromium page, closed afterwards."""
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(20_000)
        yield page
        browser.close()


def shoot(page: playwright_api.Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def shoot_between(page: playwright_api.Page, name: str, top: str, bottom: str) -> None:
    """A screenshot of one section of a long page: from the top of one element to the bottom of another."""
    if not SCREENSHOTS:
        return
    first, last = page.locator(top).first.bounding_box(), page.locator(bottom).first.bounding_box()
    assert first is not None and last is not None, f"{top} or {bottom} is not on the page"
    width = page.viewport_size["width"] if page.viewport_size else 1400
    scrolled = float(page.evaluate("window.scrollY"))  # boxes are in the viewport, the clip is in the page
    height = last["y"] + last["height"] - first["y"] + 16
    clip = {"x": 0, "y": first["y"] + scrolled - 8, "width": width, "height": height}
    Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True, clip=clip)
