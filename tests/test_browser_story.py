"""The console driven as a stakeholder demo drives it, in Debian's Chromium: one test per finding of the
demo review (state between tabs, ending a session, views on open, the delete confirmation, what memory
changes side by side)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_kit import GREETING, Page, expect, open_page, shoot_between

pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore::ResourceWarning"),
    pytest.mark.usefixtures("collect_garbage"),
]


@pytest.fixture
def page(app_url: str) -> Iterator[Page]:
    with open_page() as page:
        page.goto(app_url, wait_until="domcontentloaded")
        expect(page.locator("#chat").get_by_text(GREETING).first).to_be_visible()
        yield page


def send(page: Page, text: str) -> None:
    page.locator("#msg textarea").fill(text)
    page.locator("#send").click()
    expect(page.locator("#chat").get_by_text(text, exact=True).last).to_be_visible()


def tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def decision_of_last_turn(page: Page) -> str:
    tab(page, "Inspector")
    decision = page.locator("#decision")
    expect(decision).to_contain_text("decided_by")
    text = re.sub(r"\s", "", decision.inner_text())  # the JSON view puts keys and values on lines of their own
    tab(page, "Chat")
    return text


def test_the_mode_set_in_settings_is_shown_and_used_in_chat_and_survives_clear_chat(page: Page) -> None:
    tab(page, "Settings")
    page.locator("#apply-settings").scroll_into_view_if_needed()
    page.locator("#knob-mode").get_by_label("llm", exact=True).check()
    page.locator("#apply-settings").click()
    expect(page.locator("#settings-status")).to_contain_text("Applied")
    tab(page, "Chat")
    expect(page.locator("#mode").get_by_label("llm", exact=True)).to_be_checked()
    send(page, "Do you remember what tea I like?")
    assert '"mode":"llm"' in decision_of_last_turn(page)
    page.locator("#clear").click()
    expect(page.locator("#chat").get_by_text("Do you remember what tea I like?")).to_have_count(0)
    expect(page.locator("#mode").get_by_label("llm", exact=True)).to_be_checked()
    send(page, "Do you remember what tea I like?")
    assert '"mode":"llm"' in decision_of_last_turn(page)
    # And the other way: the chat's radio changes the Settings tab's.
    page.locator("#mode").get_by_label("rule", exact=True).check()
    tab(page, "Settings")
    expect(page.locator("#knob-mode").get_by_label("rule", exact=True)).to_be_checked()


def test_memory_off_takes_effect_on_the_next_turn_without_a_restart(page: Page) -> None:
    send(page, "Do you remember what tea I like?")
    expect(page.locator("#chat").get_by_text("Recalled", exact=False).last).to_be_visible()
    page.locator("#memory-on input").uncheck()
    expect(page.locator("#status")).to_contain_text("memory off")
    send(page, "What tea do I like again?")
    expect(page.locator("#chat").get_by_text("Memory off", exact=False).last).to_be_visible()
    assert page.locator("#chat").get_by_text("Do you remember what tea I like?").count() == 1  # nothing wiped


def test_after_end_session_the_next_message_opens_a_new_session(page: Page) -> None:
    send(page, "I started learning the cello last month")
    page.locator("#end-session").click()
    expect(page.locator("#chat").get_by_text("Session ended", exact=False).first).to_be_visible()
    expect(page.locator("#status")).to_contain_text("session ended")
    page.locator("#end-session").click()  # again: a plain message, the conversation stays
    expect(page.locator("#session-status")).to_contain_text("already ended")
    expect(page.locator("#chat").get_by_text("I started learning the cello last month")).to_be_visible()
    send(page, "How are you today?")
    expect(page.locator("#session-status")).to_contain_text("A new session started")
    expect(page.locator("#chat").get_by_text(GREETING)).to_have_count(2)
    expect(page.locator("#status")).not_to_contain_text("session ended")


def test_the_libraries_tab_shows_the_library_on_first_open(page: Page) -> None:
    tab(page, "Libraries & items")
    # Gradio's tables keep a hidden copy of their cells for measuring: the visible one is the last.
    expect(page.locator("#items").get_by_text("My dog is called Biscuit", exact=False).last).to_be_visible()
    expect(page.locator("#libraries").get_by_text("demo", exact=False).last).to_be_visible()


def test_with_and_without_memory_shows_the_recalled_fact_on_one_side_only(page: Page) -> None:
    page.locator("#both-ways input").check()
    send(page, "还记得我喜欢喝什么茶吗")
    expect(page.locator("#with-memory")).to_contain_text("乌龙")
    expect(page.locator("#without-memory")).to_contain_text("Without memory")
    expect(page.locator("#without-memory")).not_to_contain_text("乌龙")


def test_wording_tells_memory_off_no_recall_and_the_character_apart(page: Page) -> None:
    status = page.locator("#status")
    expect(status).to_contain_text("Chatting with Mia (demo)")
    expect(status).not_to_contain_text("(demo) (demo)")
    assert "OPENTALKING_MEMORY_PROVIDER" not in status.locator("p").first.inner_text()  # variables: small print
    send(page, "Hi there!")
    expect(page.locator("#chat").get_by_text("No recall", exact=False).last).to_be_visible()
    page.locator("#memory-on input").uncheck()
    send(page, "Do you remember what tea I like?")
    expect(page.locator("#chat").get_by_text("Memory off", exact=False).last).to_be_visible()
    reply = page.locator("#chat").get_by_text("offline responder · no chat model configured").last
    expect(reply).to_be_visible()  # small print under the reply, not a prefix of it
    assert reply.evaluate("node => node.closest('sub') !== null")


def test_picking_a_row_never_arms_a_delete_and_delete_confirms(page: Page) -> None:
    tab(page, "Libraries & items")
    items = page.locator("#items")
    target = "My dog is called Biscuit"
    items.get_by_text(target, exact=False).last.click()
    expect(page.locator("#item-text textarea")).to_have_value(re.compile(target))
    expect(page.locator("#delete-ids textarea, #delete-ids input").first).to_have_value("")
    page.locator("#item-delete").click()  # not confirmed: refused, nothing deleted
    expect(page.locator("#item-status")).to_contain_text("⚠️")
    expect(items.get_by_text(target, exact=False).last).to_be_visible()
    page.locator("#item-confirm input").check()
    page.locator("#item-delete").click()
    expect(page.locator("#item-status")).to_contain_text("Deleted")
    expect(items.get_by_text(target, exact=False)).to_have_count(0)
    expect(page.locator("#item-text textarea")).to_have_value("")
    expect(page.locator("#item-confirm input")).not_to_be_checked()


def test_the_inspector_hints_when_empty_and_names_its_threshold(page: Page) -> None:
    tab(page, "Inspector")
    expect(page.locator("#query")).to_contain_text("Nothing to inspect yet")
    tab(page, "Chat")
    send(page, "还记得我喜欢喝什么茶吗")
    tab(page, "Inspector")
    expect(page.locator("#score-chart")).to_contain_text("Fusion/dense min score 0.6 (MEMTUNE_FUSION_MIN_SCORE)")


def test_golden_conversations_a_against_b_show_the_changed_probe_and_its_traces(page: Page) -> None:
    tab(page, "Compare")
    page.locator("#ab-file input[type=file]").set_input_files(str(Path(__file__).parent / "data/ab-conversations.json"))
    page.locator("#ab-b-decision-mode").get_by_label("always", exact=True).check()
    page.locator("#ab-run").click()
    changes = page.locator("#ab-changes")
    expect(changes.get_by_text("ab-en/q2").last).to_be_visible(timeout=60_000)
    expect(page.locator("#ab-metrics").get_by_text("decision_accuracy").last).to_be_visible()
    changes.get_by_text("ab-en/q2").last.click()
    expect(page.locator("#ab-b-trace")).to_contain_text("How many legs does a spider have?")
    shoot_between(page, "compare-ab", "#ab-file", "#ab-b-block")
