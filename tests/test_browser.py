"""End to end in a real browser: Debian's Chromium driven by Playwright against `python app.py`.

Set MEMTUNE_SCREENSHOTS to a folder to keep the screenshots of each tab (the README's come from here).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser_kit import ARGS, CHROMIUM, GREETING, open_page, playwright_api, shoot

# Stored through the REST API; each must show as typed, never as an image or bold text.
HOSTILE = (
    ('<img src=x onerror="window.__pwned=1"> I love oolong tea', "preference", "user_preference"),
    ("<b>boldtext</b> my cat is Mochi", "fact", "entity_relation"),
)
DEMO = {"profile_id": "default", "character_id": "demo"}
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore::ResourceWarning"),
    pytest.mark.usefixtures("collect_garbage"),
]


@pytest.fixture
def page(app_url: str) -> Iterator[playwright_api.Page]:
    with open_page() as page:
        yield page


def test_chat_inspect_edit_and_compare(page: playwright_api.Page, app_url: str, tmp_path: Path) -> None:
    expect = playwright_api.expect
    page.goto(app_url, wait_until="domcontentloaded")
    expect(page.locator("#chat").get_by_text(GREETING)).to_be_visible()

    # A turn that recalls a stored preference of the demo library, answered with and without memory.
    page.locator("#both-ways input").check()
    page.locator("#msg textarea").fill("还记得我喜欢喝什么茶吗")
    page.locator("#send").click()
    expect(page.locator("#chat").get_by_text("Recalled", exact=False).first).to_be_visible()
    expect(page.locator("#chat").get_by_text("你喜欢喝乌龙茶，不加糖", exact=False).last).to_be_visible()
    expect(page.locator("#without-memory")).to_contain_text("Without memory")
    shoot(page, "chat")

    # Its decision, hits and exact prompt in the inspector.
    page.get_by_role("tab", name="Inspector").click()
    expect(page.locator("#decision").get_by_text("preference_context").first).to_be_visible()
    expect(page.locator("#prompt").get_by_text("Current user message:", exact=False)).to_be_visible()
    shoot(page, "inspector")

    # Edit a memory: pick its row, change the text, save.
    page.get_by_role("tab", name="Libraries & items").click()
    page.locator("#lib-refresh").click()
    page.locator("#items").get_by_text("My dog is called Biscuit", exact=False).last.click()
    expect(page.locator("#item-text textarea")).to_have_value("My dog is called Biscuit, a three-year-old beagle")
    page.locator("#item-text textarea").fill("My dog is called Biscuit, a four-year-old beagle")
    page.locator("#item-save").click()
    expect(page.locator("#item-status").get_by_text("Saved", exact=False)).to_be_visible()
    expect(page.locator("#items").get_by_text("four-year-old beagle", exact=False).last).to_be_visible()
    shoot(page, "libraries")

    # One message through the three modes.
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-text textarea").fill("介绍一下这个项目？")
    page.locator("#compare-run").click()
    expect(page.locator("#compare-hybrid").get_by_text("local_judge", exact=False).first).to_be_visible()
    expect(page.locator("#compare-differences").get_by_text("decided_by", exact=False)).to_be_visible()

    # Teach it the other way, and the next comparison follows the example; then delete it again.
    page.locator("#compare-teach-yes").click()
    expect(page.locator("#teach-status").get_by_text("Taught", exact=False)).to_be_visible()
    expect(page.locator("#taught-examples").get_by_text("介绍一下这个项目？").last).to_be_visible()
    page.locator("#compare-run").click()
    expect(page.locator("#compare-hybrid").get_by_text("taught_example", exact=False).first).to_be_visible()
    shoot(page, "compare")
    page.locator("#taught-examples").get_by_text("介绍一下这个项目？").last.click()
    expect(page.locator("#example-id textarea")).to_have_value(re.compile(r"^ex_"))
    page.locator("#example-delete").click()
    expect(page.locator("#teach-status").get_by_text("Deleted taught example", exact=False)).to_be_visible()
    expect(page.locator("#taught-examples").get_by_text("介绍一下这个项目？")).to_have_count(0)

    page.get_by_role("tab", name="Settings").click()
    expect(page.get_by_text("Mem0MemoryService.InputParams", exact=False).first).to_be_visible()
    shoot(page, "settings")


@pytest.fixture
def hostile_memories(app_url: str) -> Iterator[None]:
    """The two memories in the demo library for one test, deleted afterwards (the app is shared)."""
    items = app_url + "memory/libraries/demo/items"
    ids = [httpx.post(items, params=DEMO, json={"text": text, "type": kind, "category": category}, timeout=30)
           .raise_for_status().json()["id"] for text, kind, category in HOSTILE]  # fmt: skip
    yield
    httpx.post(items + "/bulk-delete", params=DEMO, json={"ids": ids}, timeout=30).raise_for_status()


def test_memory_markup_shows_as_text(page: playwright_api.Page, app_url: str, request: pytest.FixtureRequest) -> None:
    expect = playwright_api.expect
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    request.getfixturevalue("hostile_memories")  # stored first: the greeting quotes the newest memories
    page.goto(app_url, wait_until="domcontentloaded")
    chat = page.locator("#chat")
    expect(chat.get_by_text(GREETING)).to_be_visible()
    expect(chat.get_by_text("<img src=x", exact=False)).to_have_count(1)  # in the greeting

    page.locator("#msg textarea").fill("What tea do I like? Do you remember my cat?")
    page.locator("#send").click()
    chat.get_by_text("Recalled", exact=False).last.click()  # open the memory note
    expect(chat.get_by_text("<img src=x", exact=False)).to_have_count(3)  # greeting, note and reply
    expect(chat.get_by_text("<b>boldtext</b>", exact=False)).to_have_count(3)  # the note quotes, replies restate

    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-text textarea").fill("What tea do I like? Do you remember my cat?")
    page.locator("#compare-run").click()
    columns = page.locator("#compare-rule, #compare-hybrid, #compare-llm")
    expect(page.locator("#compare-rule").get_by_text("<img src=x", exact=False)).to_be_visible()
    expect(page.locator("#compare-rule").get_by_text("<b>boldtext</b>", exact=False)).to_be_visible()
    shoot(page, "inert-markup")

    for where in (chat, columns):
        expect(where.locator("img")).to_have_count(0)
        expect(where.locator("b, strong").filter(has_text="boldtext")).to_have_count(0)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert not [url for url in fetched if url.split("?")[0].endswith("/x")]


def test_private_console_after_login(tmp_path: Path) -> None:
    """A private console in a real browser: the login page first, then every call of the page goes through."""
    from conftest import running_app

    expect = playwright_api.expect
    with running_app(tmp_path, MEMTUNE_API_TOKEN="browser-token") as url, playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page()
        page.set_default_timeout(20_000)
        refused: list[str] = []
        page.on("response", lambda r: refused.append(r.url) if r.status == 401 else None)
        page.goto(url, wait_until="domcontentloaded")
        page.locator("input[type=password]").wait_for()
        refused.clear()  # before login the page may probe what it may see
        page.locator("input").first.fill("anyone")
        page.locator("input[type=password]").fill("browser-token")
        page.get_by_role("button", name="Login").click()
        # The page reloads after login; wait for the greeting of the loaded console before typing.
        expect(page.locator("#chat").get_by_text(GREETING)).to_be_visible(timeout=20_000)
        page.locator("#msg textarea").fill("Do you remember what tea I like?")
        page.locator("#send").click()
        expect(page.locator("#chat").get_by_text("Recalled", exact=False).last).to_be_visible(timeout=20_000)
        page.screenshot(path=str(tmp_path / "private.png"))
        browser.close()
    assert refused == []


def test_public_visitors_keep_their_own_sandbox_across_reloads(tmp_path: Path) -> None:
    from conftest import running_app

    def sandbox_of(page: playwright_api.Page) -> str:
        page.get_by_role("tab", name="Libraries & items").click()
        field = page.locator("#lib-profile textarea, #lib-profile input").first
        playwright_api.expect(field).to_have_value(re.compile(r"^sbx_"), timeout=20_000)
        return field.input_value()

    with running_app(tmp_path, MEMTUNE_PUBLIC="true") as url, playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        first, second = browser.new_context().new_page(), browser.new_context().new_page()
        for page in (first, second):
            page.goto(url, wait_until="domcontentloaded")
        mine = sandbox_of(first)
        first.reload(wait_until="domcontentloaded")
        assert sandbox_of(first) == mine  # the browser kept its token
        assert sandbox_of(second) != mine  # another browser, another sandbox
        profile_choices = first.locator("#profile input").first
        assert profile_choices.is_disabled() or not profile_choices.is_editable()
        browser.close()
