"""One visitor's console state, kept in `gr.State`: plain, deep-copyable data, never shared."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from memory_core import Session, Trace, Tuning
from memory_core.eval.compare import BatchReport
from memory_core.views import turn_label


@dataclass
class ConsoleState:
    """The visitor's chat session, its turn traces, the chat as shown, their tuned knobs and memory switch
    (the one source of truth every tab shows and every new session starts from), their sandbox and the last
    batch they ran in Compare (whose wrong rows can be taught)."""

    tuning: Tuning
    memory_on: bool = True
    sandbox: str | None = None
    session: Session | None = None
    character_name: str = ""
    traces: list[Trace] = field(default_factory=list)
    chat: list[dict[str, Any]] = field(default_factory=list)
    batch: BatchReport | None = None

    @property
    def live(self) -> bool:
        """A session is open and has not been ended."""
        return self.session is not None and not self.session.ended

    def trace(self, label: str | None) -> Trace | None:
        """The trace a turn label names, else the latest one."""
        for trace in reversed(self.traces):
            if label is None or turn_label(trace) == label:
                return trace
        return self.traces[-1] if self.traces else None
