"""The offline responder: memories said back in the second person, honest answers without them, and a note
(never a prefix of the reply) saying it answered and why."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest
from fakes import ScriptedChatModel, failing, slow

from memory_core import ChatMessage, Completion, MemoryEngine, NewItem, Scope, SQLiteStore, Trace, Tuning
from memory_core.chat import CallOptions
from memory_core.errors import ProviderError
from memory_core.prompts import offline_greeting, offline_reply
from memory_core.reply.offline import reply_kind, restate, second_person
from memory_core.reply.responder import OfflineResponder, Question

Factory = Callable[..., MemoryEngine]
TEA = "How do I take my tea?"
TEA_UNDECIDED = "How do you think I like my tea?"  # the rules see no recall in it
TEA_ZH = "你觉得我喝茶喜欢怎么喝？"

SECOND_PERSON = [
    ("I take my oolong without sugar", "You take your oolong without sugar"),
    ("User takes oolong without sugar", "You take oolong without sugar"),
    ("The user usually watches films on Fridays", "You usually watch films on Fridays"),
    ("The user's sister is called Anna", "Your sister is called Anna"),
    ("The user doesn't eat meat", "You don't eat meat"),
    ("User is a nurse with their own clinic", "You are a nurse with your own clinic"),
    ("Anna called the user yesterday", "Anna called you yesterday"),
    ("I'm vegan and I've got a cat named Mochi", "You're vegan and you've got a cat named Mochi"),
    ("I am allergic to peanuts. My mum knows", "You are allergic to peanuts. Your mum knows"),
    ("I told you I like it strong", "You told me you like it strong"),
    ("You take your oolong without sugar", "You take your oolong without sugar"),  # already second person
    ("Mining is hard, said my friend", "Mining is hard, said your friend"),  # "mine" only as a whole word
    ("The dog is mine", "The dog is yours"),
    ("用户喝乌龙茶不加糖", "你喝乌龙茶不加糖"),
    ("我喝乌龙不加糖", "你喝乌龙不加糖"),
    ("我跟你说过我喜欢绿茶", "你跟我说过你喜欢绿茶"),
    ("你喜欢绿茶", "你喜欢绿茶"),  # already second person
]


@pytest.mark.parametrize(("memory", "expected"), SECOND_PERSON)
def test_memories_are_said_back_in_the_second_person(memory: str, expected: str) -> None:
    assert second_person(memory) == expected


@pytest.mark.parametrize(
    ("memory", "expected"),
    [
        ("Please don't call me buddy.", "you asked me not to call you buddy"),
        ("Please answer in short bullet points", "you asked me to answer in short bullet points"),
        ("请不要叫我宝贝。", "你让我不要叫你宝贝"),
        ("I take my oolong without sugar.", "You take your oolong without sugar"),
    ],
)
def test_requests_become_what_the_user_asked(memory: str, expected: str) -> None:
    assert restate(memory) == expected


@pytest.mark.parametrize(
    ("text", "recalled", "reason", "kind"),
    [
        ("What is the capital of France?", False, "no_marker", "general"),
        ("translate hello into French", False, "one_off_command", "general"),
        ("巴黎是哪个国家的首都？", None, "", "general"),
        ("hi there!", False, "low_value", "greeting"),
        ("thanks a lot", False, "low_value", "thanks"),
        ("I had a long day", False, "no_marker", "statement"),
        (TEA, None, "", "unknown"),
        ("我喜欢什么茶？", None, "", "unknown"),
        (TEA, True, "preference", "not_found"),
    ],
)
def test_each_message_gets_its_kind_of_answer(text: str, recalled: bool | None, reason: str, kind: str) -> None:
    assert reply_kind(text, found=False, recalled=recalled, reason=reason) == kind


@pytest.mark.parametrize(
    ("memories", "chinese", "expected"),
    [
        (["I take my oolong without sugar"], False, "You take your oolong without sugar, right?"),
        (["User takes oolong without sugar", "My sister Anna lives in Lisbon", "I run on Sundays"], False,
         "You take oolong without sugar, right? I also remember that your sister Anna lives in Lisbon, and that "
         "you run on Sundays."),
        (["用户喝乌龙茶不加糖"], True, "你喝乌龙茶不加糖，对吧？"),
        (["我喝乌龙不加糖", "我妹妹叫安娜"], True, "你喝乌龙不加糖，对吧？我还记得：你妹妹叫安娜。"),
        (["我喜欢喝乌龙茶，不加糖"], False, "Here's what I remember about you: “你喜欢喝乌龙茶，不加糖”."),
    ],
)  # fmt: skip
def test_the_reply_with_memories_states_them(memories: list[str], chinese: bool, expected: str) -> None:
    assert offline_reply("memory", memories, chinese=chinese) == expected


def test_the_reply_without_memory_lacks_the_facts(engine_factory: Factory, store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    store.add_items(scope, [NewItem("I take my oolong without sugar", "preference", "user_preference"),
                            NewItem("我喝乌龙不加糖", "preference", "user_preference")])  # fmt: skip
    engine = engine_factory()
    session = engine.open_session(scope, enabled=True)
    with_memory = engine.run_turn(session, TEA)
    assert with_memory.reply.startswith("You take your oolong without sugar, right?")
    without = engine.answer_without_memory(session, TEA_UNDECIDED)
    assert without.text == "I don't know that about you yet — tell me?" and "oolong" not in without.text
    assert without.note == "offline responder · no chat model configured"
    zh = engine.run_turn(session, TEA_ZH)
    assert zh.reply.startswith("你喝乌龙不加糖，对吧？")
    zh_without = engine.reply_without_memory(session, TEA_ZH)
    assert zh_without == "这个我还不了解你——能告诉我吗？" and "乌龙" not in zh_without


def test_general_questions_and_misses_are_answered_honestly(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    store.ensure_library(scope)
    store.add_items(scope, [NewItem("I take my oolong without sugar", "preference", "user_preference")])
    engine = engine_factory()
    session = engine.open_session(scope, enabled=True)
    general = engine.run_turn(session, "What is the capital of France?")
    assert general.decision is not None and not general.decision.should_recall
    assert general.reply == "I can't look that up offline — connect a chat model for general questions."
    missed = engine.run_turn(session, "Do you remember my sister's name?")
    assert missed.decision is not None and missed.decision.should_recall and not missed.hits
    assert missed.reply == "I don't think you've told me about that yet — tell me?"
    off = engine.run_turn(engine.open_session(scope, enabled=False), TEA)
    assert off.reply == "I don't know that about you yet — tell me?" and "Nothing in memory" not in off.reply


def test_no_model_configured_is_a_note_not_a_prefix(engine_factory: Factory, scope: Scope) -> None:
    engine = engine_factory()
    trace = engine.run_turn(engine.open_session(scope, enabled=True), "I had a long day")
    assert trace.reply_by == "offline" and "offline" not in trace.reply and not trace.reply.startswith("[")
    assert trace.reply_note == "offline responder · no chat model configured"
    zh = engine.run_turn(engine.open_session(scope, enabled=True), "我今天很累")
    assert zh.reply_note == "离线回复 · 未配置对话模型" and "离线" not in zh.reply
    shown = trace.to_dict()
    assert shown["reply_note"] == trace.reply_note and shown["reply_by"] == "offline"


def test_a_failing_model_is_named_in_the_note(engine_factory: Factory, scope: Scope) -> None:
    engine = engine_factory(chat_model=ScriptedChatModel(failing(ProviderError("endpoint down"))))
    trace = engine.run_turn(engine.open_session(scope, enabled=True), "I had a long day")
    assert trace.reply_by == "offline" and "offline" not in trace.reply and "endpoint down" not in trace.reply
    assert trace.reply_note.startswith("offline responder · the chat model failed: ProviderError")
    assert "endpoint down" in trace.reply_note


def test_a_slow_model_is_named_in_the_note_with_its_bound(engine_factory: Factory, scope: Scope) -> None:
    engine = engine_factory(chat_model=ScriptedChatModel(slow(1.5, "late"), slow(1.5, "late")))
    tuning = Tuning(reply_timeout_ms=200)
    trace = engine.run_turn(engine.open_session(scope, enabled=True, tuning=tuning), "I had a long day")
    assert trace.reply_by == "offline" and "timed out" not in trace.reply
    assert trace.reply_note == "offline responder · the chat model timed out after 0.2 s"
    zh = engine.run_turn(engine.open_session(scope, enabled=True, tuning=tuning), "我今天很累")
    assert zh.reply_note == "离线回复 · 对话模型超时（0.2 秒）"


class DroppingStream(ScriptedChatModel):
    """A streaming model whose connection drops after a few pieces."""

    def stream(self, messages: Sequence[ChatMessage], options: CallOptions) -> Iterator[str | Completion]:
        self.calls.append(list(messages))
        yield "I remember"
        yield " that you"
        raise ProviderError("connection dropped")


def test_a_stream_that_drops_is_replaced_and_never_kept_as_whole(engine_factory: Factory, scope: Scope) -> None:
    engine = engine_factory(chat_model=DroppingStream())
    session = engine.open_session(scope, enabled=True)
    *pieces, trace = list(engine.stream_turn(session, "I had a long day"))
    assert isinstance(trace, Trace) and pieces[:2] == ["I remember", " that you"]
    assert trace.reply_by == "offline" and "I remember that you" not in trace.reply
    assert trace.reply_note.startswith("offline responder · the chat model failed mid-reply: ProviderError")
    assert session.history[-1].content == trace.reply
    assert any(e.startswith("reply failed: ProviderError") for e in trace.errors)


def test_the_greeting_uses_the_stored_memories(engine_factory: Factory, store: SQLiteStore, scope: Scope) -> None:
    engine = engine_factory()
    empty = engine.greet(engine.open_session(scope, enabled=True), name="Mia")
    assert empty.text == "Hi, I'm Mia. I don't know anything about you yet — tell me about yourself?"
    assert empty.note == "offline responder · no chat model configured" and empty.by == "offline"
    store.add_items(scope, [NewItem(f"I visited city number {n}", "fact", "entity_relation") for n in range(30)])
    store.add_items(scope, [NewItem("I take my oolong without sugar", "preference", "user_preference"),
                            NewItem("Talked about tea and travel", "summary", "episode_summary")])  # fmt: skip
    session = engine.open_session(scope, enabled=True, name="Mia")
    greeting = engine.greeting(session)
    assert greeting.startswith("Hi, I'm Mia. Welcome back! Last time you told me you take your oolong without sugar.")
    assert "don't know anything" not in greeting and "Talked about" not in greeting
    off = engine.greeting(engine.open_session(scope, enabled=False), name="Mia")
    assert "don't know anything" not in off and "oolong" not in off and "Memory is off" in off


def test_the_greeting_speaks_the_memories_language() -> None:
    assert offline_greeting("Mia", ["我喝乌龙不加糖", "我妹妹叫安娜", "I run"]) == (
        "你好，我是Mia。欢迎回来！上次你跟我说过：你喝乌龙不加糖。我还记得：你妹妹叫安娜。"
    )
    assert offline_greeting("", ["Please don't call me buddy"]) == (
        "Hi! Welcome back! Last time you asked me not to call you buddy."
    )


def test_the_responder_needs_no_engine() -> None:
    responder = OfflineResponder()
    assert responder.reply(Question("What is 2 + 2?", recalled=False, reason="general_knowledge")).startswith(
        "I can't look that up offline"
    )
    assert responder.reply(Question("2 加 2 等于几？", recalled=False)) == (
        "离线时我查不了这个——接入对话模型后才能回答一般性问题。"
    )
    assert responder.note("hi", why="error", error="x" * 200).endswith("…")
