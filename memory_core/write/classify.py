"""What kind of memory a user's sentence is: category, confidence and item type (spec §5, "Import").

Used for bulk imports of chat turns and to label realtime writes, so that grouped prompts put a
preference under "Preferences:" instead of "Other memories:".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .durable import content_kind, is_correction

PREFERENCE_MARKERS = (
    "i like", "i love", "i prefer", "my favorite", "remember", "call me", "my name is", "from now on",
    "next time", "don't forget",  # the reference's English markers
    "my favourite", "i hate", "i don't like", "i dont like", "i dislike", "i enjoy", "i'm allergic", "im allergic",
    "i am allergic", "please don't", "please always",
    "我是", "我叫", "我喜欢", "我不喜欢", "我偏好", "我的习惯", "我的名字", "记住", "记一下", "以后叫我", "下次",
    "之后", "以后", "更喜欢", "希望你", "别叫我", "别总", "不要总", "温柔", "简洁", "说教", "官方",  # the reference's
    "我讨厌", "我过敏", "我爱",
)  # fmt: skip

CORRECTION = re.compile(
    r"不是.{0,12}是|不对|纠正|更正|你刚才太|你刚刚太|别总|不要总|这个称呼我不喜欢|我不是"
    r"|\bthat's not (?:right|true|correct)\b|\bthat is not (?:right|true)\b|\bno,? it's\b|\bi meant\b"
    r"|\bcorrection\b|\bactually,? (?:i|my|it)\b|\b(?:don't|stop) call(?:ing)? me\b|\byou got (?:it|that) wrong\b",
    re.IGNORECASE,
)
CONFIRMATION = re.compile(
    r"(?:好|可以|行|嗯|没问题|同意|接受|就这样).{0,6}(?:以后|按|这样|方式|方案|计划|练|记住)"
    r"|(?:以后|之后|下次).{0,10}就?按.{0,6}(?:刚才|这个)(?:方式|方案|计划)"
    r"|\b(?:ok|okay|yes|sure|deal|agreed|sounds good)\b.{0,20}"
    r"\b(?:from now on|next time|that plan|this way|let's do)\b",
    re.IGNORECASE,
)

_RULES: tuple[tuple[str, str, str, re.Pattern[str]], ...] = tuple(
    (category, confidence, reason, re.compile(pattern, re.IGNORECASE))
    for category, confidence, reason, pattern in (
        ("feedback_correction", "high", "correction", CORRECTION.pattern),
        ("entity_relation", "high", "relation_statement",
         r"我(?:的)?(?:妈|爸|老婆|老公|女朋友|男朋友|对象|儿子|女儿|孩子|姐|哥|弟|妹|朋友|同事|老板|领导|室友|外婆|奶奶"
         r"|爷爷|外公).{0,8}叫|我家(?:猫|狗|宠物).{0,8}叫|我在.{1,12}(?:工作|上班|上学|读书|生活)"
         r"|我最近在(?:学|准备|练)"
         r"|\bmy (?:wife|husband|partner|girlfriend|boyfriend|sister|brother|mom|mum|dad|son|daughter|friend|boss"
         r"|dog|cat|pet)(?:'s name)? (?:is|is called|named)\b|\bi (?:work|live|study) (?:at|in|for)\b"),
        ("goal_progress", "high", "goal_progress",
         r"完成|背完|跑完|做完|练完|学完|达成|结束了|面试结束|今天.{0,8}(?:背|跑|练|学|复习).{0,6}(?:了|完)"
         r"|\b(?:finished|completed|passed|achieved|reached my|hit my|ran \d+)\b"),
        ("goal_progress", "high", "goal_context",
         r"(?:准备|备考|学习|在学|练习|考).{0,6}(?:雅思|托福|考试|英语|日语|口语|面试|健身|跑步|背单词)"
         r"|\b(?:studying|preparing|training|practicing|practising) for\b|\blearning (?:english|japanese|chinese)\b"),
        ("decision_plan", "high", "decision_plan",
         r"那就|就按|决定|计划|以后|之后|下次|每天|每晚|提醒我|开始(?:学|练|跑|做|写|准备)"
         r"|\bi (?:decided|will|'ll|am going to|'m going to)\b|\bfrom now on\b|\bnext time\b"
         r"|\bevery (?:day|night|morning)\b"
         r"|\bremind me\b|\bplan to\b|\bstarting (?:tomorrow|today|next)\b"),
    )
)  # fmt: skip
_PREFERENCE = re.compile("|".join(re.escape(m) for m in PREFERENCE_MARKERS), re.IGNORECASE)
_SOFT_DURABLE = re.compile(
    r"(?:最近|这段时间|可能|想|打算|准备|希望).{0,10}(?:学习|英语|健身|睡|焦虑|压力|状态|聊天|陪练|工作|考试)"
    r"|\b(?:recently|lately|these days|thinking about|want to|hoping to|planning to)\b",
    re.IGNORECASE,
)
_MOOD = re.compile(
    r"开心|难过|心情|累|烦|高兴|郁闷|\b(?:happy|sad|tired|upset|today was|feel(?:ing)?)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Classification:
    category: str
    confidence: str
    reason: str
    type: str  # preference or fact


def has_preference_marker(text: str) -> bool:
    return bool(_PREFERENCE.search(text))


def classify_turn(text: str, *, import_mode: bool = True) -> Classification:
    """Category, confidence and type of one user sentence; the first matching rule wins."""
    marker = has_preference_marker(text)
    category, confidence, reason = _category(text, marker, import_mode=import_mode)
    item_type = "preference" if category == "user_preference" else "fact"
    return Classification(category, confidence, reason, item_type)


# What each kind of lasting statement is filed under; identity and health have their own headings.
CATEGORY_OF_KIND = {
    "identity": "user_identity",
    "work": "user_identity",
    "health": "user_health",
    "family": "entity_relation",
    "plan": "decision_plan",
    "preference": "user_preference",
}
# Feedback on how the character talks is interaction feedback, whatever else the sentence mentions.
_STYLE_FEEDBACK = re.compile(
    r"你刚才太|你刚刚太|别总|不要总|这个称呼|说教|\byou(?:'re| are) (?:too|so)\b", re.IGNORECASE
)


def _category(text: str, marker: bool, *, import_mode: bool) -> tuple[str, str, str]:
    kind = "" if _STYLE_FEEDBACK.search(text) else content_kind(text)
    if kind == "plan" and (goal := _goal(text)):
        return goal
    if kind:
        return CATEGORY_OF_KIND[kind], "high", f"{kind}_statement"
    if is_correction(text):  # "I switched teams", "the trip got pushed to November": what changed is unnamed
        return "feedback_correction", "high", "correction"
    for category, confidence, reason, pattern in _RULES:
        if pattern.search(text):
            return category, confidence, reason
    if marker:
        return "user_preference", "high", "preference_marker"
    if _SOFT_DURABLE.search(text):
        return "goal_progress", "medium", "soft_durable"
    if _MOOD.search(text):
        return "episode_summary", "low", "mood"
    if import_mode and len(text.strip()) >= 8:
        return "entity_relation", "medium", "import_context"
    return "", "unknown", "unclassified"


def _goal(text: str) -> tuple[str, str, str] | None:
    """A plan that is a goal being worked on (exams, training) is filed under goals, as the reference does."""
    goals = ((c, conf, reason) for c, conf, reason, pattern in _RULES if c == "goal_progress" and pattern.search(text))
    return next(goals, None)


def context_kind(user_text: str) -> str:
    """Why a smart write should see the recent context: a correction, a confirmation, or not at all."""
    if CORRECTION.search(user_text):
        return "correction"
    if CONFIRMATION.search(user_text):
        return "confirmation"
    return ""
