"""Chat messages and the chat-model seam that the judge, the summariser and replies share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        """The OpenAI-style message dict, the form sent over the wire."""
        return {"role": self.role, "content": self.content}


class ChatModel(Protocol):
    """Anything that answers a list of messages with text (an OpenAI-compatible client, a fake in tests)."""

    def complete(self, messages: Sequence[ChatMessage]) -> str: ...


def messages_to_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [m.to_dict() for m in messages]
