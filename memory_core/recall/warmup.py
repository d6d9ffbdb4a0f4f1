"""Warming libraries up in the background, so the first search after a start finds their indexes built.

A warm-up only calls the retrievers' public methods, which take each library's own lock: a search that
arrives meanwhile waits for that library's build instead of starting a second one. It never raises: a
library that cannot be read is logged and left for its first search to build (and report) as usual.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from ..models import Scope
from .fusion import FusionRetriever
from .lexical import BM25Retriever, Retriever

logger = logging.getLogger(__name__)


def warm(retriever: Retriever, scopes: Iterable[Scope]) -> threading.Thread:
    """Start a daemon thread bringing each library's BM25 index and dense vectors up to date; errors are logged."""
    thread = threading.Thread(target=_warm_all, args=(retriever, tuple(scopes)), name="memtune-warm-up", daemon=True)
    thread.start()
    return thread


def warm_library(retriever: Retriever, scope: Scope) -> None:
    """Build (or catch up) one library's indexes now: BM25 first, the quick one, then the dense vectors."""
    if isinstance(retriever, FusionRetriever):
        retriever.bm25.stats(scope)
        retriever.sync(scope)
    elif isinstance(retriever, BM25Retriever):
        retriever.stats(scope)


def _warm_all(retriever: Retriever, scopes: tuple[Scope, ...]) -> None:
    for scope in scopes:
        try:
            warm_library(retriever, scope)
        except Exception:  # a warm-up must never take the app down; the library's first search retries
            logger.exception("warm-up of %s failed", scope)
        else:
            logger.info("warmed up %s", scope)
