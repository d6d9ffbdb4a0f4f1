"""The engine's error hierarchy: one root, a handful of kinds a caller can act on."""

from __future__ import annotations


class MemoryCoreError(Exception):
    """Root of every error memory_core raises on purpose."""


class InvalidInputError(MemoryCoreError, ValueError):
    """The caller passed something the engine cannot accept (bad id, empty text, bad file)."""


class NotFoundError(MemoryCoreError, LookupError):
    """A library or item does not exist in the given scope."""


class ConflictError(InvalidInputError):
    """The write would clash with something that already exists (an item id, a library id)."""


class ConfigurationError(MemoryCoreError):
    """A setting is missing or invalid; the message names the variable."""


class ProviderError(MemoryCoreError):
    """A backing service (store, chat model, embedder) failed or timed out."""


class QuotaError(MemoryCoreError):
    """A sandbox quota would be exceeded (items, text length, turns per minute, upload size); nothing was written."""
