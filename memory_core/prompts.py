"""Every prompt and fixed text the engine sends or shows, as named templates rendered by pure functions."""

from __future__ import annotations

from collections.abc import Sequence

from .chat import ChatMessage

JUDGE_SYSTEM = """\
You decide whether a user's message to a chat character needs the user's long-term memory.
你判断用户发给数字人角色的这条消息是否需要调取该用户的长期记忆。

Answer with one JSON object only, no other text / 只输出一个 JSON 对象，不要输出其他文字:
{"should_recall": true or false, "query": "what to search the memory for", "reason": "short reason",
 "categories": ["user_preference" | "entity_relation" | "goal_progress" | "decision_plan" |
                "feedback_correction" | "episode_summary", ...]}

Recall (should_recall true) when the message refers to or depends on:
- the user's identity, preferences, habits, past decisions, goals and progress, plans;
- important people, pets or things in the user's life (names, relationships), or the user's own devices and systems;
- earlier conversations, stable facts the user shared, or feedback about how the character should talk;
- an unresolved reference to a style or preference, e.g. "那套风格", "那个方式", "按之前那样",
  "the usual style", "same way as before";
- a reply that needs personal context in comfort, learning, coaching, shopping or role-play chats.
需要回忆（true）：涉及用户的身份、偏好、习惯、过去的决定、目标与进度、计划；用户生活中的重要人物、宠物或事物
（名字、关系）及用户自己的设备与系统；之前的对话、用户说过的稳定事实、对角色说话方式的反馈；指代不明的风格或
偏好（如“那套风格”“按之前那样”）；安慰、学习、陪练、购物或角色扮演中需要个人背景的回复。

Do not recall for general-knowledge questions, greetings, acknowledgements or one-off commands
(translate, convert, write about a generic topic), even when they mention "I" or "remember".
不需要回忆（false）：常识性问题、问候、附和致谢、一次性指令（翻译、换算、写通用内容），即使其中出现“我”或“记得”。

When you recall, rewrite "query" into the few words that would find the memory (for example
"usual answer style preference"); keep the user's language.
需要回忆时，把 query 改写成最能检索到相关记忆的几个词，保持用户的语言。\
"""

SUMMARY_SYSTEM = """\
You condense a digital-human chat into lasting memories about the user: short bullet-style facts in the
user's language, about their preferences, important people and things, confirmed decisions or plans,
goals and progress, and feedback or corrections about how the character should interact.
你把数字人对话浓缩成关于用户的长期记忆：简短的要点式事实。\
"""

SUMMARY_USER = """\
Extract at most {max_items} lasting memories from this conversation, one per line starting with "- ".
Skip greetings, transient wording, one-off requests, and facts only the assistant stated.

{transcript}\
"""

MEMORY_HEADER_FLAT = "Relevant long-term memories:"
MEMORY_HEADER_GROUPED = "Relevant user memories:"
CURRENT_USER_MESSAGE = "Current user message:"

OFFLINE_LABEL_EN = "[offline responder: no chat model configured]"
OFFLINE_LABEL_ZH = "[离线回复：未配置对话模型]"


GREETING_USER = (
    "(The user has just opened the chat. Greet them in one or two sentences, personally, using what you "
    "remember about them if anything; do not list the memories.)"
)
GREETING_MEMORIES = "What you remember about this user:\n{memories}"


def greeting_messages(persona: str, memories: Sequence[str]) -> list[ChatMessage]:
    """Messages asking a chat model for a personal greeting (Pipecat's get_memories() use)."""
    messages = [ChatMessage("system", persona)] if persona.strip() else []
    if memories:
        lines = "\n".join(f"- {m}" for m in memories)
        messages.append(ChatMessage("system", GREETING_MEMORIES.format(memories=lines)))
    return [*messages, ChatMessage("user", GREETING_USER)]


def offline_greeting(name: str, memories: Sequence[str]) -> str:
    """The offline responder's greeting: who it is and the few memories it would build on."""
    who = f"Hi, I'm {name}." if name else "Hi!"
    if not memories:
        return f"{OFFLINE_LABEL_EN} {who} I don't know anything about you yet; tell me about yourself."
    lines = "\n".join(f"- {m}" for m in memories)
    return f"{OFFLINE_LABEL_EN} {who} Welcome back. Here is what I remember about you:\n{lines}"


def offline_reply_without_memory(user_text: str) -> str:
    return f'{OFFLINE_LABEL_EN} Memory is off for this answer, so I cannot draw on anything about "{user_text}".'


def judge_messages(user_text: str) -> list[ChatMessage]:
    return [ChatMessage("system", JUDGE_SYSTEM), ChatMessage("user", user_text)]


def summary_messages(turns: Sequence[tuple[str, str]], max_items: int) -> list[ChatMessage]:
    transcript = "\n".join(f"user: {u}\nassistant: {a}" for u, a in turns)
    return [
        ChatMessage("system", SUMMARY_SYSTEM),
        ChatMessage("user", SUMMARY_USER.format(max_items=max_items, transcript=transcript)),
    ]


def offline_reply(user_text: str, memories: Sequence[str], *, chinese: bool) -> str:
    """The labelled reply of the offline responder, built only from what was recalled."""
    if chinese:
        if not memories:
            return f"{OFFLINE_LABEL_ZH} 记忆里没有与「{user_text}」相关的内容。"
        lines = "\n".join(f"- {m}" for m in memories)
        return f"{OFFLINE_LABEL_ZH} 关于「{user_text}」，我记得：\n{lines}"
    if not memories:
        return f'{OFFLINE_LABEL_EN} Nothing in memory matched "{user_text}".'
    lines = "\n".join(f"- {m}" for m in memories)
    return f'{OFFLINE_LABEL_EN} About "{user_text}", here is what I remember:\n{lines}'
