"""What a user's sentence does: ask, command, make small talk, or state something.

The write gate keeps statements only. The cues are grammatical (a question's form, an imperative's
first verb, the frames of greetings and goodbyes), not topics, so they carry over to sentences no list
anticipated. A turn is split into sentences first: "I said two rabbits, right? Actually Bao died last
month." asks one thing and states another.
"""

from __future__ import annotations

import re

_SPLIT = re.compile(r"(?<=[.!?。！？…~～])\s*|\n+|(?<=[；;])\s*")
_EDGE = re.compile(r"^[\s\W_]+|[\s\W_]+$")
# Words that open a sentence without changing what it does: "ok so", "hey", "嗯", "那".
_OPENERS = re.compile(
    r"^(?:(?:ok(?:ay)?|so|well|hey|hi|hmm+|um+|oh|ah|eh|yeah|yes|no|also|and|but|anyway|actually|btw|quick question"
    r"|honestly|please|pls|嗯+|哦+|噢|那|那么|对了|话说|另外|还有|好|好吧|诶|哎|请问|请|来|怎么说呢|说实话|说真的|你知道吗"
    r"|跟你说|跟你讲|告诉你)[\s,，:：!！.。~]*)+",
    re.IGNORECASE,
)

# -- questions ------------------------------------------------------------------------------------------------

_EN_QUESTION_START = re.compile(
    r"^(?:what|what's|whats|when|where|which|who|whom|whose|why|how|is|are|am|was|were|do|does|did|can|could|"
    r"should|would|will|shall|may|might|have|has|had)\b",  # "Don't call me buddy" is a request, not a question
    re.IGNORECASE,
)
_EN_QUESTION_TAIL = re.compile(r"\b(?:again|right|or not|any idea|anyone)\s*$", re.IGNORECASE)
# "What I love is…", "Who knew I'd…": a question's first word opening a statement.
_EN_NOT_A_QUESTION = re.compile(r"^(?:(?:what|where|when|how) i\b[^?]*\b(?:is|was)\b|who knew\b)", re.IGNORECASE)
_ZH_QUESTION_END = re.compile(r"(?:吗|嘛|么|呢|吧|没|不|没有|来着|是吧|对吧|好吗|行吗|咋样|如何)$")
_ZH_INTERROGATIVE = re.compile(
    r"什么|啥|怎么|怎样|咋|哪|多少|多久|多大|多长|为什么|为啥|谁|是不是|有没有|能不能|可不可以"
    r"|要不要|会不会|好不好|对不对|算不算"
)
_ZH_INDEFINITE = re.compile(r"(?:什么|啥|哪儿?|谁|怎么).{0,6}(?:都|也)|不知道(?:为什么|为啥|怎么)|没什么|不怎么|没啥")
_WONDER = re.compile(r"^(?:i wonder|i'm not sure|i don't know|i have no idea|不知道|我不知道)", re.IGNORECASE)


def is_question(sentence: str) -> bool:
    """The sentence asks something, with or without its question mark."""
    raw = sentence.strip()
    if raw.endswith(("?", "？")) and not _WONDER.search(_opened(raw)):
        return True
    core = _EDGE.sub("", _opened(raw))
    if not core or _WONDER.search(core):
        return False
    if _ZH_QUESTION_END.search(core) or (_ZH_INTERROGATIVE.search(core) and not _ZH_INDEFINITE.search(core)):
        return True
    if _EN_NOT_A_QUESTION.search(core):
        return False
    return bool(_EN_QUESTION_START.search(core)) or (len(core.split()) <= 8 and bool(_EN_QUESTION_TAIL.search(core)))


# -- commands -------------------------------------------------------------------------------------------------

_EN_IMPERATIVE = re.compile(
    r"^(?:(?:can|could|would|will) you(?: please)?|please|pls|i need you to|i want you to|help me(?: to)?|let's"
    r"|let us)?\s*"
    r"(?:write|draft|compose|translate|tell|give|make|create|generate|list|explain|summari[sz]e|convert|calculate|"
    r"compute|teach|show|recommend|suggest|find|describe|design|fix|check|rewrite|rephrase|correct|define|name|"
    r"come up with|brainstorm|sing|play|read|say|help|plan|pick|choose|compare|outline|proofread|edit|format|"
    r"count|sort|solve|quiz|guess|imagine|pretend|recite|spell|turn|put|send|remind|search|look up)\b",
    re.IGNORECASE,
)
_ZH_IMPERATIVE = re.compile(
    r"^(?:请你?|麻烦你?|你|能不能|可不可以|能否|可以)?\s*(?:(?:帮|给|替|为)我?[^\s，。,]{0,4}?|教我|跟我|和我)?\s*"
    r"(?:写|翻译|译成|讲|说个|说一|来个|来一|推荐|出[一二三四五六七八九十几两\d]|想[一个几]|列|解释|总结|概括|介绍|"
    r"生成|编|改写|润色|算|计算|换算|查|搜|讲讲|聊聊|唱|画|设计|安排|规划|起[个一]|取[个一]|做[个一]|帮|把|考考|测测|问问我)"
)
# Asking the character to remember is a request to write, not a one-off task.
_REMEMBER = re.compile(r"记住|记一下|记下|别忘|remember|don't forget|keep in mind|note that", re.IGNORECASE)


def is_command(sentence: str) -> bool:
    """A one-off task for the character: translate, write, tell, convert, 帮我写, 翻译…"""
    core = _EDGE.sub("", _opened(sentence))
    if _REMEMBER.search(core):
        return False
    return bool(_EN_IMPERATIVE.search(core) or _ZH_IMPERATIVE.search(core))


# -- small talk -----------------------------------------------------------------------------------------------

_SMALL_TALK = re.compile(
    r"(?:^|(?<=[\s,，]))(?:hi|hello|hey|yo|hiya|good (?:morning|afternoon|evening|night)|morning|evening|night|nite|"
    r"gn|bye|bye bye|"
    r"see (?:you|ya)|talk (?:to you )?(?:later|soon)|ttyl|later|thanks?|thank you|thx|ty|cheers|i'm back|back again|"
    r"it's me(?: again)?|me again|(?:i'm |i am )?(?:still )?here|are you (?:still )?there|you there|"
    r"how are you(?: doing)?(?: today)?|how's it going|what's up|sup|nice to meet you|that helps|"
    r"that's (?:great|lovely|helpful|perfect|nice|cool|wild)|sounds good|makes sense|good idea|that works|got it|noted|"
    r"你好|您好|哈喽|嗨|早|早上好|晚上好|下午好|晚安|拜拜|再见|回头聊|下次聊|谢谢|多谢|谢了|感谢|在吗|在不在|我回来了|我又来了|"
    r"又来找你(?:聊天)?了|我又来啦|我来啦|好久不见)(?![A-Za-z0-9'])",
    re.IGNORECASE,
)
_THANKS_TAIL = re.compile(
    r"(?:thanks|thank you|thx|ty|cheers|谢谢|谢啦|谢了|多谢)(?: (?:a lot|so much|dear|ah|lah))?$", re.IGNORECASE
)
_LEAVING = re.compile(
    r"\b(?:gotta go|got to go|have to go|i'm off|heading off|going to bed|off to bed|i sleep already|bye|night)\b"
    r"|(?:我|先)(?:去|走|睡|下)了?.{0,8}了$|先这样|拜拜|晚安|下线了",
    re.IGNORECASE,
)


def is_small_talk(sentence: str) -> bool:
    """Greetings, thanks, goodbyes, 'are you there', 'I'm back': the social frame of a chat, and nothing more."""
    core = _EDGE.sub("", sentence.strip())
    rest = _EDGE.sub("", _LEAVING.sub(" ", _SMALL_TALK.sub(" ", core)))
    if rest != core and _little(rest):
        return True
    return len(core.split()) <= 6 and len(core) <= 40 and bool(_THANKS_TAIL.search(core))


def _little(rest: str) -> bool:
    """What is left around a greeting or a goodbye carries no content: a few words at most."""
    return len(re.findall(r"[A-Za-z']+", rest)) + len(re.findall(r"[\u4e00-\u9fff]", rest)) / 2 <= 3


def sentences(text: str) -> list[str]:
    """The turn's sentences, split after their end marks (both widths) and at line breaks."""
    return [part.strip() for part in _SPLIT.split(text) if part and _EDGE.sub("", part)]


def speech_act(sentence: str) -> str:
    """question | command | small_talk | statement."""
    if is_small_talk(sentence):
        return "small_talk"
    if is_command(sentence):
        return "command"
    if is_question(sentence):
        return "question"
    return "statement"


def _opened(sentence: str) -> str:
    return _OPENERS.sub("", sentence.strip())
