"""Whether a statement says something lasting about the user, and what kind of thing.

A statement is worth keeping when it is about the user or someone in their life (a first-person
word, a relative, a pet, a person named or referred to) and it carries a lasting kind of content:
who they are, their work, their health, their people and animals, what they like and do habitually,
what they plan, or a correction of something said before. A passing mood ("so tired today") is not.

The kinds are tried in a fixed order and the first wins, so "I'm allergic to..." is health, not a
preference, and "my name is..." is identity.
"""

from __future__ import annotations

import re

_I = re.compile(
    r"\b(?:i|i'm|im|i've|i'd|i'll|me|my|mine|myself|we|we're|we've|our|ours|us|favou?rite)\b"
    r"|我|咱|俺|本人|家里|最喜欢|最爱|最讨厌",
    re.I,
)
_RELATIVE = re.compile(
    r"\b(?:mum|mom|mother|dad|father|parents?|wife|husband|partner|spouse|fianc[eé]e?|girlfriend|boyfriend|ex|"
    r"sister|brother|sibling|son|daughter|kids?|children|child|twins?|baby|grand(?:ma|pa|mother|father|son|daughter|"
    r"kids?|parents?)|aunt|uncle|cousin|niece|nephew|in-laws?|stepmom|stepdad|roommate|flatmate|best friend|boss|"
    r"dog|puppy|cat|kitten|budgie|parrot|bird|rabbits?|bunny|hamster|fish|turtle|tortoise|horse|pets?|husky|"
    r"corgi|collie|poodle|labrador|beagle)\b"
    r"|妈|爸|父母|爹|娘|老婆|老公|媳妇|丈夫|妻子|爱人|对象|女朋友|男朋友|前女友|前男友|未婚|儿子|女儿|孩子|娃|宝宝|双胞胎|"
    r"姐|哥|弟|妹|爷爷|奶奶|外公|外婆|姥姥|姥爷|孙子|孙女|外孙|叔|姑|舅|姨|表|堂|侄|室友|闺蜜|兄弟|老板|领导|"
    r"猫|狗|柯基|哈士奇|金毛|泰迪|兔|仓鼠|鹦鹉|鸟|鱼|乌龟|宠物",
    re.I,
)
_PERSON = re.compile(
    r"\b(?:he|she|they|he's|she's|they're|his|her|him|their)\b|[他她]"
    r"|(?<![.!?] )\b(?!(?:The|This|That|These|Those|There|It|Its|A|An|Some|Most|Many|All|Every|In|On|At|If)\b)"
    r"[A-Z][a-z]+(?:'s)?\s"
)
# Kinds that are about the user's life whoever the subject is: "最近开始失眠", "Japan trip got pushed to November".
_SELF_EVIDENT = frozenset({"correction", "identity", "health", "work", "plan"})
_CLAUSE = re.compile(r"[，,;；、]|\s-\s|\bbut\b|\bthough\b|\bso\b", re.IGNORECASE)

_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("correction",
         r"\b(?:actually|correction|i meant|i was wrong|i mixed up|anymore|any more|any longer|no longer|"
         r"changed (?:my mind|to)|switched|moved to|update:?|instead of|rather than what i said|scratch that|"
         r"i said .{1,40} but|got (?:pushed|moved|changed|cancelled|canceled))\b"
         r"|不是.{0,15}是|其实|记错|说错|搞错|更正|纠正|改成|改主意|换成|换了|不再|已经不|不.{0,4}了.{0,6}现在|搬到|调高|调低|改到"),
        ("identity",
         r"\b(?:my name(?:'s| is)|call me|i'm called|i go by|i am (?-i:[A-Z][a-z]+)\b|i'm (?-i:[A-Z][a-z]+)\b|"
         r"\d{1,3} years old|i'm \d{1,3}\b|i'm from|i come from|i grew up in|i was born|i(?:'ve| have)? lived in|"
         r"i live in|i'm based in|pronouns|(?:left|right)-handed|introvert|extrovert|[ie][ns][tf][jp])\b"
         r"|我叫|我的名字|叫我|我是[^，。,.!！]{0,12}(?:人|的学生|学生|老师|医生|护士|工程师|设计师|程序员|[A-Z][a-z]+)|"
         r"\d{1,3}岁|我来自|老家|土生土长|身高|体重|左撇子|右撇子|血型|星座|内向|外向|社恐|社牛"),
        ("health",
         r"\b(?:allerg\w*|intoleran\w*|diabet\w*|asthma|arthritis|migraines?|diagnos\w*|surgery|injur\w*|tore my|"
         r"broke my|chronic|condition|medication|tablets|pills|inhaler|insulin|therapy|pregnan\w*|vegetarian|vegan|"
         r"gluten|blood pressure|cholesterol|anxiety|depress\w*|adhd|insomnia|eczema|knee|back pain|sleep badly|"
         r"can't eat|cannot eat|doctor|vet said|diet|i have (?:a |an )?[A-Z]{2,})\b"
         r"|过敏|不耐受|糖尿病|哮喘|高血压|病|疼|痛|炎|慢性|手术|受伤|骨折|药|失眠|近视|怀孕|素食|吃素|不吃|忌口|焦虑|抑郁|体检|医生说"
         r"|我有\s?[A-Z]{2,}"),
        ("work",
         r"\b(?:i work|work as|working as|my job|my boss|my team|my company|i teach|i taught|i study|studying|"
         r"my major|i'm a\b|i am a\b|retired|intern\w*|promoted|hired|employ\w*|career|freelanc\w*|shift|"
         r"degree|university|college|school|class(?:es)?|startup|clinic|hospital|office|shifts|works?|for a living|"
         r"full[- ]time|part[- ]time|i (?:run|own|manage|drive|sell|fix|repair|build|design|teach|coach|tutor|farm)"
         r" (?:a|an|the|my|\w+s)\b)\b"
         r"|工作|上班|公司|实习|同事|老板|领导|职位|升职|辞职|跳槽|入职|教书|当老师|读研|读博|大学|大[一二三四]|研究生|专业|学校|"
         r"上学|毕业|做(?:产品|设计|开发|后端|前端|销售|运营|老师|医生|护士)|教[^\s，。]{1,4}|当[^\s，。]{1,6}(?:师|员|生|士)"
         r"|在.{1,15}(?:做|干|卖|修|跑)[^\s，。]{1,6}|干了.{1,4}年"),
        ("plan",
         r"\b(?:plan(?:ning)? to|my plan|my goal|goal is|going to|gonna|intend|hoping to|hope to|want to|"
         r"would love to|i'd love to|saving (?:up )?for|booked|training for|preparing for|signed up|aim(?:ing)? to|"
         r"next (?:year|month|summer|spring|autumn|fall|winter|week|semester|term)|this (?:year|summer)|dream is|"
         r"someday|"
         r"thinking (?:of|about)|maybe i'll|remind me|decided|from now on|(?:i )?think(?:ing)? i'?ll)\b"
         r"|打算|计划|准备|想要?|目标|提醒我|那就|就按|决定|梦想|明年|下个月|下学期|下半年|今年|暑假|寒假|国庆|春节|存钱|报名|备考|考[^试虑]"),
        ("family",
         r"\b(?:married|engaged|divorced|passed away|died|born|lives? in|living in|moved|birthday|anniversary|"
         r"named|called|(?:has|have|had|got) (?:a|an|two|three|four|\d+|twins?)|is|are|was|were|speaks?|still|only|"
         r"turned|turns|"
         r"adopted|rescued)\b|'s (?:a|an|the|still)\b"
         r"|叫|住在|住|结婚|订婚|离婚|去世|(?:上周|上个月|去年|前几天|前阵子)走了|出生|生日|搬|养了|有[一两三四五个只]|[一两三四五六七八九十]+岁|是|在.{1,10}[开做当教读]|会[讲说做弹游]"),
        ("preference",
         r"\b(?:like|love|loves|adore|enjoy|prefer|rather|favou?rite|hate|can't stand|dislike|into|obsessed|fan of|"
         r"always|never|usually|every \w+|each (?:day|week)|habit|routine|no exceptions|without fail|no matter what|"
         r"i(?:'ve| have) been to|i(?:'ve| have) visited|"
         r"on (?:mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|sundays|weekends)|a day\b|twice a|"
         r"over \w+|grow|collect|play|practi[cs]e|hobby|joined|still|in the (?:mornings|evenings))\b"
         r"|喜欢|爱[吃喝看玩听]|讨厌|不喜欢|偏好|更喜欢|最爱|习惯|每天|每周|每晚|每个|平时|一直|总是|从来|经常|每个?周[一二三四五六日末]|周[一二三四五六日]和?周[一二三四五六日]|"
         r"练|学|爱好|风格|口味|别叫我|希望你|说话|回复|回答|去过|受不了|接受不了|不感冒|完全不行|雷打不动|一般(?:都)?会?去"
         r"|(?:不|只|从不|从来不|很少|基本不)(?:喝|吃|抽|看|听|穿|用|碰|玩|坐|开)"),
    )
)  # fmt: skip

_TRANSIENT = re.compile(
    r"\b(?:today|tonight|this (?:morning|afternoon|evening)|right now|just now|again|tired|exhausted|brutal|"
    r"ugh|bored|nervous|excited|annoyed|stressed|long day|long shift|later|in a bit|before my|after my|tomorrow)\b"
    r"|今天|今晚|刚才|刚刚|现在好|累死|好累|烦死|困死|终于|又来|心情|明天|待会|一会儿|等下|不想动",
    re.IGNORECASE,
)
_LASTING = re.compile(
    r"\b(?:always|every|since|for (?:years|months)|chronic|usually|never|diagnosed|allergic|habit)\b"
    r"|一直|每天|每周|从小|多年|总是|经常|过敏|确诊",
    re.IGNORECASE,
)


# Not a fact at all: a hypothetical, or a reaction to what the character just said.
_NOT_A_FACT = re.compile(
    r"^(?:if|suppose|imagine|如果|假如|要是|假设)|\bif i (?:were|was|could)\b"
    r"|^(?:\w+,? )?i (?:love|like|hate) (?:that|this|it)\b",
    re.IGNORECASE,
)


def about_the_user(sentence: str) -> bool:
    """First person, a relative or pet, or a person the conversation already follows ("She's a nurse")."""
    return bool(_I.search(sentence) or _RELATIVE.search(sentence) or _PERSON.search(sentence.strip()))


def durable_kind(sentence: str) -> str:
    """correction | identity | health | work | plan | family | preference, or "" for nothing lasting.

    Clause by clause, so that a mood beside a fact ("她结婚了，心情有点复杂") does not hide the fact."""
    if _NOT_A_FACT.search(sentence.strip()):
        return ""
    about = about_the_user(sentence)
    for clause in filter(str.strip, _CLAUSE.split(sentence)):
        kind = "" if is_transient(clause) else _kind(clause)
        if kind and (about or kind in _SELF_EVIDENT):
            return kind
    return ""


def _kind(clause: str) -> str:
    return next((kind for kind, pattern in _KINDS if pattern.search(clause)), "")


def content_kind(sentence: str) -> str:
    """What the sentence is about, a correction's included: identity | health | work | plan | family | preference."""
    return next((kind for kind, pattern in _KINDS[1:] if pattern.search(sentence)), "")


def is_correction(sentence: str) -> bool:
    return bool(_KINDS[0][1].search(sentence))


def is_transient(sentence: str) -> bool:
    """A passing mood or a day's event, with nothing that makes it last."""
    return bool(_TRANSIENT.search(sentence)) and not _LASTING.search(sentence) and not _KINDS[0][1].search(sentence)
