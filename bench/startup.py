"""Time from `python app.py` to the first chat turn answered in a real browser (offline, embedded engine).

Usage: python bench/startup.py [--runs 3]. Prints one JSON object per run, then a summary as the last line.
Needs Debian's chromium and the playwright package (the test requirements).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright

GREETING = re.compile("Welcome back|欢迎回来")  # the offline greeting of the demo character

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_run(browser_path: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as data, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, headless=True, args=ARGS)  # started before the clock
        port = free_port()
        env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "MEMTUNE_DATA_DIR": data}
        started = time.perf_counter()
        app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
        url = f"http://127.0.0.1:{port}/"
        try:
            while True:
                try:
                    if httpx.head(url + "gradio_api/info", timeout=1).status_code < 500:
                        break
                except httpx.HTTPError:
                    time.sleep(0.05)
            ready = time.perf_counter() - started
            page = browser.new_page()
            page.goto(url, wait_until="domcontentloaded")
            greeting = page.locator("#chat").get_by_text(GREETING)
            expect(greeting).to_be_visible(timeout=30_000)
            greeted = time.perf_counter() - started
            page.locator("#msg textarea").fill("还记得我喜欢喝什么茶吗")
            page.locator("#send").click()
            expect(page.locator("#chat").get_by_text("Recalled", exact=False).first).to_be_visible(timeout=30_000)
            answered = time.perf_counter() - started
        finally:
            browser.close()
            app.terminate()
            app.wait(timeout=30)
    return {"server_ready_s": round(ready, 3), "greeting_s": round(greeted, 3), "first_answer_s": round(answered, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        runs.append(one_run(args.chromium))
        print(json.dumps(runs[-1]))
    summary = {key: round(statistics.median(r[key] for r in runs), 3) for key in runs[0]}
    print(json.dumps({"benchmark": "startup", "runs": len(runs), **{f"median_{k}": v for k, v in summary.items()}}))


if __name__ == "__main__":
    main()
