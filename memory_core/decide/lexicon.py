"""Keyword lists of the recall rules and the write gate, in Chinese and English.

The Chinese lists start from the reference engine's lists (kept whole, in its order) and add
near-synonyms; the English lists cover the same intents, which the reference barely did.
"""

from __future__ import annotations

# fmt: off

# -- hard rejects --------------------------------------------------------------------------------

# Exact messages (after normalisation: lowercased, outer punctuation/emoji removed, spaces collapsed).
REFERENCE_LOW_VALUE = ("hi", "hello", "hey", "你好", "您好", "开始", "停一下", "继续", "换一个")
LOW_VALUE = frozenset(
    (
        *REFERENCE_LOW_VALUE,
        # greetings and goodbyes
        "hi there", "hello there", "hey there", "yo", "sup", "morning", "good morning", "good evening",
        "good night", "night", "bye", "goodbye", "see you", "see ya", "哈喽", "嗨", "早", "早安", "早上好",
        "晚上好", "晚安", "拜拜", "再见",
        # acknowledgements and thanks
        "ok", "okay", "k", "kk", "ok thanks", "okay thanks", "ok thank you", "thanks", "thank you", "thx", "ty",
        "got it", "gotcha", "cool", "nice", "great", "awesome", "perfect", "sure", "yes", "yeah", "yep", "no",
        "nope", "nah", "alright", "fine", "sounds good", "makes sense", "noted", "嗯", "嗯嗯", "嗯呢", "哦", "噢",
        "喔", "啊", "好", "好的", "好吧", "好嘞", "行", "行吧", "可以", "收到", "明白", "明白了", "知道了", "了解",
        "谢谢", "谢谢你", "多谢", "感谢", "好的谢谢", "对", "对的", "是的", "没错", "没问题",
        # fillers and laughter
        "lol", "lmao", "haha", "hahaha", "hehe", "hmm", "hm", "uh", "um", "oh", "ah", "wow", "哈哈", "哈哈哈",
        "呵呵", "嘿嘿", "嗯哼",
        # bare control words
        "continue", "go on", "keep going", "next", "stop", "more", "start", "again", "another one", "换一个吧",
        "接着说", "下一个", "再来一个",
    )
)
THANKS_ENDINGS = ("thanks", "thank you", "thx", "ty", "谢谢", "多谢", "感谢", "谢啦")
# Confirming the reply just given is not a reference to the past ("好，就按你说的办").
ACCEPT_CURRENT = ("按你说的", "听你的", "就这么办", "就这么定", "就这样吧", "that works", "let's do that")

RISK_WORDS_ZH = (
    "部署", "上线", "迁移", "删除", "清空", "重置", "覆盖", "回滚", "发布", "合并",  # the reference's list
    "删掉", "删了", "删光", "格式化", "清除", "清理掉", "销毁", "抹掉", "重启", "关机", "停掉", "下线", "强推",
    "还原", "恢复出厂", "drop", "truncate",
)
RISK_WORDS_EN = (
    "push", "merge", "rm -rf", "drop table",  # the reference's list
    "rm", "delete", "deletes", "deleting", "remove", "wipe", "erase", "drop", "truncate", "purge", "destroy",
    "kill", "format", "reformat", "force push", "force-push", "deploy", "redeploy", "release", "rollback",
    "roll back", "revert", "reset", "overwrite", "migrate", "flush", "flushall", "flushdb", "shutdown",
    "shut down", "reboot", "restart", "uninstall", "nuke", "clean out", "clear out",
)

# -- topical categories (reference lists first) ---------------------------------------------------

COMFORT_ZH = (
    "压力", "难过", "焦虑", "失眠", "累", "崩溃", "安慰", "陪我", "心情",
    "emo", "伤心", "难受", "郁闷", "烦死", "好烦", "委屈", "孤独", "寂寞", "想哭", "哭了", "没用", "撑不下去",
    "挨骂", "吵架", "分手", "失恋", "想念", "不开心", "低落", "沮丧", "绝望", "害怕", "担心", "紧张", "睡不着",
    "好丧", "心累", "抑郁", "自卑", "丢脸", "气死", "生气", "气哭", "火大", "心烦", "烦躁", "压抑",
)
COMFORT_ZH_PATTERNS = (
    r"陪.{0,4}聊", r"被.{0,6}骂", r"想起(?:了)?我", r"(?:好|很|特别|有点)想(?:我|家|念)", r"又没过", r"不想活",
    r"活着没意思",
)
COMFORT_EN = (
    "stressed", "stressful", "stressing", "anxious", "anxiety", "overwhelmed", "depressed", "depressing", "sad",
    "lonely", "upset", "exhausted", "burned out", "burnt out", "can't sleep", "cant sleep", "couldn't sleep",
    "couldnt sleep", "cannot sleep", "insomnia", "crying", "cried", "heartbroken", "broke up", "breakup",
    "fight with", "fought with", "argument with", "failing", "failure", "worthless", "useless", "hopeless",
    "one of those days", "rough day", "bad day", "hard day", "long day", "don't know what to do",
    "dont know what to do", "miss my", "keeps racing", "scared", "worried", "nervous", "panic", "cheer me up",
    "comfort me", "talk to me", "need someone", "grief", "grieving", "passed away", "meh", "ugh",
)
COMFORT_EN_PATTERNS = (
    r"\bfeel(?:ing|s)?\s+(?:\w+\s+){0,3}(?:down|low|sad|bad|awful|terrible|lost|empty|alone|stuck|blue)\b",
    r"\bworr(?:y|ied|ying)\b",
)
GOAL_ZH = (
    "背单词", "学习", "复习", "考试", "雅思", "英语", "日语", "健身", "跑步", "提醒我", "目标", "计划", "进度",
    "考研", "备考", "托福", "考证", "减肥", "减重", "体重", "打卡", "训练", "练习", "该练", "背单", "刷题",
    "马拉松", "戒烟", "存钱", "攒钱", "坚持", "截止", "减脂", "增肌", "控糖", "饮食", "瘦身",
)
GOAL_EN = (
    "goal", "goals", "target", "my plan", "the plan", "training plan", "study plan", "progress", "on track",
    "falling behind", "fall behind", "prep", "studying", "study for", "exam", "exams", "ielts", "toefl", "gre",
    "practice", "practise", "workout", "work out", "gym", "diet", "lose weight", "pounds", "step goal",
    "steps", "streak", "habit", "training", "marathon", "remind me to", "deadline", "milestone",
    "resolution", "lesson", "lessons", "quit smoking", "savings",
)
PREFERENCE_ZH = ("适合我的", "我适合", "预算", "尺码", "风格", "口味", "肤质", "适合我", "合我胃口", "我的喜好")
PREFERENCE_ZH_PATTERNS = (
    r"推荐.{0,8}(?:衣服|穿搭|商品|礼物)",  # the reference's pattern
    r"给(?!我|你|他|她|它|大家|自己)[\u4e00-\u9fffA-Za-z]{1,6}(?:买|挑|选|送)(?:什么|啥|点|个|些|哪)",
    r"送(?:什么|啥).{0,4}礼物",
    r"我(?:可能|应该|会)?.{0,4}喜欢的",
)
PREFERENCE_LIKE_ZH = ("喜欢", "不喜欢")  # only in requests or questions, and not about the character
REQUEST_OR_QUESTION_ZH = (
    "推荐", "建议", "挑", "选", "帮我", "给我", "吗", "呢", "？", "?", "什么", "哪", "怎么", "如何", "要不要",
    "能不能", "可不可以", "几", "多少", "多大", "谁", "啥",
)
REQUEST_EN = (
    r"\brecc?omm?end\w*", r"\bsuggest\w*", r"\bpick\b", r"\bchoose\b", r"\bideas? for\b", r"\bgift\b",
    r"\bpresent for\b", r"\bwhat should i (?:cook|eat|make|wear|buy|get|order|watch|read|listen|play|do)\b",
)
PERSONAL_TASTE_EN = (
    r"\bi'd\b", r"\bi'll\b", r"\bi would\b", r"\bi will\b", r"\bi might\b", r"\bi(?:'d)? actually\b",
    r"\bwe(?:'d)? (?:like|love|enjoy)\b", r"\bi (?:like|love|enjoy)\b", r"\bmy (?:size|budget|taste|style|type)\b",
    r"\bfits my\b", r"\bfor me\b", r"\bfor my \w+", r"\bmy \w+'s\b", r"\byou know what (?:i|we)\b",
    r"\bwhat should i\b", r"\bmy (?:mom|mum|dad|wife|husband|girlfriend|boyfriend|partner|friend|kid|son|daughter)\b",
    r"\bfor (?-i:[A-Z][a-z]+)\b",
)
# Doing something for or to a person the user knows: "text Priya", "write a poem for Lily".
TASK_FOR_PERSON = (
    r"给(?!我|你|他|她|它|大家|自己)[\u4e00-\u9fffA-Za-z]{1,4}(?:发|写|准备|做)",
    r"\b(?i:write|draft|compose|make|plan|prepare)\b[^.?!]*\bfor\s+(?:(?i:my)\s+\w+|[A-Z][a-z]+\b)",
    r"\b(?i:text|message|email|call|wish|congratulate|invite)\s+[A-Z][a-z]+\b",
)
# Family, partners, friends and colleagues: "我妈", "我对象", "我同事".
KIN_ZH = (
    "妈", "爸", "妈妈", "爸爸", "老婆", "老公", "女朋友", "男朋友", "对象", "媳妇", "儿子", "女儿", "孩子", "宝宝",
    "外婆", "外公", "奶奶", "爷爷", "姐姐", "哥哥", "弟弟", "妹妹", "姐", "哥", "弟", "妹", "朋友", "闺蜜", "兄弟",
    "同事", "领导", "老板", "室友", "邻居", "猫", "狗", "宠物",
)

# -- explicit recall --------------------------------------------------------------------------------

EXPLICIT_ZH = (
    "上次", "之前", "以前", "刚才", "继续", "还记得", "记得", "按我的", "我的偏好", "我的习惯",
    "怎么称呼",  # the reference's list ("我喜欢"/"我不喜欢" are handled with the preference statement guard)
    "接着", "老样子", "照旧", "跟以前一样", "和以前一样", "你说过", "你推荐的", "你提到", "你提过", "我们聊过",
    "聊过", "跟你说过", "跟你说的", "我说过", "上周", "上个月", "前几天", "那天", "按我习惯", "我习惯的", "照我的",
    "老规矩", "一如既往", "还是那样",
)
EXPLICIT_ZH_PATTERNS = (
    r"平时.{0,8}(?:方式|语气|风格|说话|那样)",
    r"(?:昨天|前天)(?:的|说|聊|讲|那)",
    r"(?:那种|那个|这种)(?:语气|风格|方式|格式|说法)",
    r"跟(?:上次|之前|以前)一样",
)
EXPLICIT_LIKE_ZH = ("我喜欢", "我不喜欢")
# English markers that only ever point at the shared history.
EXPLICIT_EN_PERSONAL = (
    "what did i", "as before", "my preference", "my favorite",  # from the reference's list
    "my favourite", "you told me", "you said", "you mentioned", "you recommended", "you suggested",
    "you gave me", "you showed me", "we talked", "we discussed", "we were talking", "we came up with",
    "we decided", "we agreed", "did i tell", "did i mention", "have i told", "have i mentioned", "i told you",
    "i mentioned", "same as before", "like before", "from before", "like you did", "like last time",
    "same as last time", "same way", "the usual", "usual style", "usual way", "my usual", "how i like it",
    "the way i like", "as always", "like always", "where we left off", "pick up where", "what did we",
    "what did you", "did we", "you usually", "you always", "you used", "same tone", "same format", "same style",
    "as usual", "like usual", "what i usually", "what i normally", "like i usually",
)
# "that cafe I liked", "the book you recommended": a thing singled out by shared history.
EXPLICIT_EN_PATTERNS = (
    r"\b(?:that|the)\s+(?:\w+\s+){1,2}(?:i|we|you)\s+(?:liked|loved|mentioned|said|told|recommended|suggested|"
    r"went to|visited|used|tried|bought|read|watched|talked about)\b",
)
# English markers that are about the shared history only when the message is about the user.
EXPLICIT_EN_CONTEXTUAL = (
    "remember", "last time", "previous", "previously", "continue", "earlier", "last week", "last month",
    "yesterday", "the other day", "a while back", "a while ago", "remind me", "again", "before",
)
FIRST_PERSON_EN = r"\b(?:i|i'm|im|i've|i'd|my|me|mine|we|we've|our|us)\b"

# -- first-person questions: the user asks about their own facts -----------------------------------

# "How do I like my tea?" asks for a stored habit; "how do I boil an egg" for a procedure.
HOW_DO_I_HABIT_EN = ("like", "prefer", "take", "usually", "normally", "always", "tend to", "get to work")
# Markers of a general-advice question, whoever it is about: "how can I improve my sleep in general".
GENERAL_ADVICE_EN = (
    r"\bhow\s+to\b", r"\bin general\b", r"\bgenerally\b", r"\bin theory\b", r"\bbest way\b",
    r"\btips?\s+(?:for|on|to)\b", r"\bis it\s+(?:ok|okay|safe|bad|normal|healthy|possible|legal)\b",
)
# What the user may or should do is advice, not a stored fact ("Can I freeze cooked rice?").
MODAL_I_EN = (
    r"\b(?:can|could|should|shall|may|might|must)\s+i\b", r"\bi\s+(?:should|could|can|must|ought to)\b",
    r"\b(?:do|would)\s+i\s+need\b", r"\bi\s+(?:need|have)\s+to\b",
)
# "Where do I find the settings", "when do I plant tulips": present-tense procedures, not the user's facts.
PROCEDURE_VERBS_EN = (
    "find", "buy", "get", "put", "plant", "apply", "register", "sign up", "submit", "install", "download",
    "turn", "set", "change", "reset", "renew", "report", "contact", "call", "ask", "send", "cook", "boil", "make",
    "fix", "use", "say", "write", "spell", "pronounce", "convert", "calculate",
)
# 我 as the object of a request ("帮我", "告诉我", "给我"): the question is not about the user.
ZH_OBJECT_ME_BEFORE = "帮给教让叫陪跟和同诉请替为带问找送"
# Asking prefixes whose "我" is the asker, not the topic: "我想知道光速是多少".
ZH_ASKING_PREFIX = r"我(?:想|很|挺|就|只是)?(?:知道|问一下|问问|问|请教一下|请教|了解一下|了解|好奇)|请问"
# Question words after a subject "我" in the same clause; the lookaheads drop their indefinite uses
# ("什么都不想干", "哪儿也不去", "好几个"). "为什么" and "凭什么" ask why, which memory rarely answers.
ZH_QUESTION_AFTER_ME = (
    r"(?<![为凭])什么(?![都也])", r"啥(?![都也])", r"哪(?![里儿]?[都也有])", r"谁(?![都也])",
    r"多少(?!有点|有些|也|会)", r"几(?:点|岁|号|年级|楼|层|口人|月|周|位)", r"(?:周|星期|礼拜)几", r"几[^？?]*[？?]",
    r"多(?:大|久|高|重|远|长)",
    r"吗", r"呢(?=\s*[?？])", r"来着", r"是不是", r"有没有", r"怎么样", r"如何(?=[?？]?$)",
)
# Tag and check questions about the message itself, not stored facts: "我这样说对吗", "…，好吗".
ZH_TAG_QUESTION = r"(?:对|好|行|可以|懂|明白|清楚|合适|正常)吗\s*[?？]?\s*$"
# How-to with the user as grammatical subject: "我该怎么煮面", "我如何才能早起".
ZH_HOW_TO = r"我(?:该|应该|要|能|可以|想|得)?(?:怎么|怎样|如何)(?!称呼)"
# Advice about what the user may do, like English "can I": "我可以吃冰淇淋吗", "我能不能…".
ZH_ADVICE = r"我(?:可以|能不能|能|应该|该不该|该|需要|需不需要|要不要)"
ZH_HYPOTHETICAL = r"如果我|假如我|假设我|要是我|万一我"
# Exclamations built on 我: "我的天，这是什么".
ZH_INTERJECTION = r"我的(?:天|妈呀|妈耶|老天|神)"

# -- named entities ----------------------------------------------------------------------------------

NAMED_ENTITY_SUFFIXES = ("是谁", "是谁呀", "是谁啊", "是什么人", "跟我什么关系", "和我什么关系")
# Forms Chinese speakers use for people and pets they know, not for public figures.
ZH_PERSONAL_NAME = (
    r"(?:小|阿|老)[\u4e00-\u9fff]"
    r"|([\u4e00-\u9fff])\1"
    r"|[\u4e00-\u9fff]{1,2}(?:老师|总|哥|姐|叔|姨|阿姨|师傅|医生|经理|同学|主任)"
    r"|[A-Za-z][A-Za-z]+"
)
RELATION_WORDS_EN = (
    "dog", "cat", "pet", "puppy", "kitten", "friend", "sister", "brother", "cousin", "boss", "coworker",
    "colleague", "neighbor", "neighbour", "girlfriend", "boyfriend", "wife", "husband", "partner", "mom", "mum",
    "dad", "aunt", "uncle", "teacher", "roommate", "nephew", "niece", "son", "daughter", "grandma", "grandpa",
)

# -- generic questions: knowledge requests that memory does not change -----------------------------

GENERIC_ZH = (
    "一般", "通常", "为什么会", "什么原因", "的原因", "是什么意思", "什么是", "有什么区别", "的区别", "原理",
    "定义", "科普", "介绍一下", "怎么说", "翻译",
)
GENERIC_EN = (r"\btranslate\b", r"\bhow do you say\b", r"\bwhat does \S+ mean\b", r"\bdefine\b")
# Common words that look like 小X / 老X / 阿X nicknames but are not names.
ZH_NOT_NAMES = frozenset(
    """
    小时 小说 小心 小孩 小区 小学 小狗 小猫 小吃 小米 小组 小时候 小姐 小伙 小事 小时后
    老板 老师 老公 老婆 老家 老人 老鼠 老是 老样子 老规矩 老实 阿姨 妈妈 爸爸 哥哥 姐姐
    弟弟 妹妹 宝宝 天天 常常 刚刚 慢慢 好好 渐渐 往往 明明 偏偏 时时 处处 人人 谢谢 哈哈
    嘿嘿 呵呵 嗯嗯 看看 想想 试试 走走 说说 聊聊
    """.split()
)
# fmt: on
