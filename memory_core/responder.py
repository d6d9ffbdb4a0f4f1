"""The offline responder: with no chat model configured, replies are built from recalled memories.

Its replies are labelled as such so nobody mistakes them for a model's answer in a demo.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .prompts import offline_greeting, offline_reply, offline_reply_without_memory
from .recall.lexical import ScoredMemory

_CJK = re.compile(r"[\u4e00-\u9fff]")
MAX_SHOWN = 3


class OfflineResponder:
    """Answers in the user's language with the top recalled memories, or says it has none."""

    def reply(self, user_text: str, hits: Sequence[ScoredMemory]) -> str:
        memories = [h.item.text.strip() for h in hits[:MAX_SHOWN] if h.item.text.strip()]
        return offline_reply(user_text.strip(), memories, chinese=bool(_CJK.search(user_text)))

    def greeting(self, name: str, memories: Sequence[str]) -> str:
        return offline_greeting(name, [m.strip() for m in memories[:MAX_SHOWN] if m.strip()])

    def reply_without_memory(self, user_text: str) -> str:
        return offline_reply_without_memory(user_text.strip())
