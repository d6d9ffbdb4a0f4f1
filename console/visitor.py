"""Whose memories a console request may touch, taken from the visitor's own server-side state.

On a public deployment each visitor has a sandbox profile: every handler takes the profile from the
visitor's `ConsoleState`, never from a value the client sent, so a raw Gradio API call that names
another profile finds nothing of it. In private and open modes the console is an operator's tool and
the profile fields mean what they say.
"""

from __future__ import annotations

from dataclasses import dataclass

from memory_core import MemoryEngine
from memory_core.sandbox import Sandboxes

from .session_state import ConsoleState


@dataclass(frozen=True)
class Visitor:
    """A sandbox's owner (public mode), or an operator who may name any profile."""

    sandbox: str | None = None

    @property
    def owner(self) -> str:
        """Whose characters this visitor sees and edits ('' is the shared catalogue)."""
        return self.sandbox or ""

    def profile(self, given: str) -> str:
        """The profile a request works in: the sandbox whatever was given, else what was given."""
        return self.sandbox or given


def visitor_of(
    engine: MemoryEngine, sandboxes: Sandboxes | None, state: ConsoleState | None, token: object = None
) -> tuple[ConsoleState, Visitor]:
    """The visitor's state (created when missing) and what they may touch; a sandbox is claimed on first use."""
    state = state or ConsoleState(tuning=engine.settings.tuning())
    if sandboxes is None:
        return state, Visitor()
    if state.sandbox is not None and sandboxes.exists(state.sandbox):
        sandboxes.touch(state.sandbox)
    else:
        state.sandbox = sandboxes.claim(token)
    return state, Visitor(state.sandbox)
