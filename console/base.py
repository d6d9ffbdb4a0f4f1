"""What every console callback shares: the engine, the visitors' sandboxes, and engine errors shown plainly."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

from memory_core import MemoryCoreError, MemoryEngine
from memory_core.sandbox import Sandboxes

from .session_state import ConsoleState
from .visitor import Visitor, visitor_of

F = TypeVar("F", bound=Callable[..., Any])


def friendly(fn: F) -> F:
    """Show the engine's own error messages (bad input, not found) in the UI instead of a generic error."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MemoryCoreError as exc:
            raise gr.Error(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


class Console:
    """What every callback shares: the engine and, on a public deployment, the visitors' sandboxes."""

    def __init__(self, engine: MemoryEngine, sandboxes: Sandboxes | None) -> None:
        self.engine, self.sandboxes = engine, sandboxes

    def visitor(self, state: ConsoleState | None, token: object = None) -> tuple[ConsoleState, Visitor]:
        return visitor_of(self.engine, self.sandboxes, state, token)

    def check_session(self, state: ConsoleState, visitor: Visitor) -> None:
        """A chat opened in a sandbox that has since been swept must not write into it again."""
        session = state.session
        if visitor.sandbox is not None and session is not None and session.scope.profile_id != visitor.sandbox:
            raise gr.Error("Your sandbox was cleared after a long idle time: start a new chat.")

    def allow_turn(self, visitor: Visitor) -> None:
        if self.sandboxes is not None and visitor.sandbox is not None:
            self.sandboxes.allow_turn(visitor.sandbox)
