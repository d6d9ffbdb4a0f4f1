"""Parsers for configuration values: each takes a raw value and the name to blame, and returns it validated.

A parser raises ConfigurationError naming the variable (or knob) when the value does not fit. The same
parsers check environment variables (in settings.py) and knobs changed at run time (in tuning.py); this
module never reads the environment itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError

Parser = Callable[[Any, str], Any]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
PROVIDERS = {
    "": "auto",
    "sqlite": "sqlite",
    "local": "sqlite",
    "memory": "memory",
    "inmemory": "memory",
    "in-memory": "memory",
    "none": "none",
    "noop": "none",
    "disabled": "none",
    "mem0": "mem0",
}


def parse_bool(raw: Any, name: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false (1/0, yes/no, on/off), got {raw!r}")


def int_between(low: int, high: int) -> Callable[[Any, str], int]:
    def parse(raw: Any, name: str) -> int:
        try:
            value = int(str(raw).strip()) if not isinstance(raw, int) or isinstance(raw, bool) else raw
        except ValueError:
            raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from None
        if isinstance(value, bool) or not low <= value <= high:
            raise ConfigurationError(f"{name} must be between {low} and {high}, got {raw!r}")
        return value

    return parse


def float_between(low: float, high: float) -> Callable[[Any, str], float]:
    def parse(raw: Any, name: str) -> float:
        try:
            value = float(str(raw).strip()) if not isinstance(raw, int | float) else float(raw)
        except ValueError:
            raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise ConfigurationError(f"{name} must be between {low} and {high}, got {raw!r}")
        return value

    return parse


def one_of(*allowed: str) -> Callable[[Any, str], str]:
    def parse(raw: Any, name: str) -> str:
        value = str(raw).strip().lower()
        if value not in allowed:
            raise ConfigurationError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
        return value

    return parse


def parse_text(raw: Any, name: str) -> str:
    return str(raw).strip()


def parse_raw_text(raw: Any, name: str) -> str:
    return str(raw)


def parse_provider(raw: Any, name: str) -> str:
    value = str(raw).strip().lower()
    if value not in PROVIDERS:
        raise ConfigurationError(f"{name} must be one of {', '.join(p for p in PROVIDERS if p)}, got {raw!r}")
    return PROVIDERS[value]


def optional(parse: Parser) -> Parser:
    """An empty value means "not set" (None); anything else must parse."""

    def parse_optional(raw: Any, name: str) -> Any:
        return None if raw is None or str(raw).strip() == "" else parse(raw, name)

    return parse_optional


def parse_url(raw: Any, name: str) -> str:
    value = str(raw).strip()
    if value and urlsplit(value).scheme not in ("http", "https"):
        raise ConfigurationError(f"{name} must be an http(s) URL, got {value!r}")
    return value


def parse_database_url(raw: Any, name: str) -> str:
    value = str(raw).strip()
    parts = urlsplit(value)
    if value and (parts.scheme not in ("postgresql", "postgres") or not parts.path.strip("/")):
        raise ConfigurationError(f"{name} must look like postgresql://user:password@host:5432/database")
    return value


def redacted(url: str) -> str:
    """A database URL's host, port and database, never its user or password: what a console may show."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.hostname or 'localhost'}{port}{parts.path or ''}"


def parse_auth(raw: Any, name: str) -> str:
    value = str(raw).strip()
    if value and (":" not in value or not value.split(":", 1)[0] or not value.split(":", 1)[1]):
        raise ConfigurationError(f"{name} must look like user:password, got a value without both parts")
    return value


def parse_decision_timeout(raw: Any, name: str) -> int:
    # The reference treats 0 as "unset" and uses 800 ms then.
    value = int_between(0, 600_000)(raw, name)
    return value or 800
