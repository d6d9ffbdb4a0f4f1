"""The REST API's errors: memory_core's error kinds as HTTP statuses, and a 422 whose body is always JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from memory_core import (
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    MemoryCoreError,
    NotFoundError,
    ProviderError,
    QuotaError,
)

# Most specific first: ConflictError is an InvalidInputError, and MemoryCoreError catches the rest.
ERROR_STATUS: tuple[tuple[type[MemoryCoreError], int], ...] = (
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidInputError, 400),
    (QuotaError, 429),
    (ProviderError, 503),
    (ConfigurationError, 500),
    (MemoryCoreError, 500),
)


def install_error_handlers(app: FastAPI) -> None:
    """Map memory_core's errors to HTTP statuses, each answered as {"detail": message}; a request that fails
    validation is a 422 in FastAPI's shape whose body is always valid JSON."""
    for error, status in ERROR_STATUS:
        app.add_exception_handler(error, _error_handler(status))
    app.add_exception_handler(RequestValidationError, _validation_error)


def _error_handler(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": _printable(str(exc))}, status_code=status)

    return handle


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, minus what JSON cannot carry: FastAPI's own handler echoes the input, and an input of
    NaN, Infinity or a lone surrogate made that answer a 500."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": [_plain_error(error) for error in errors]}, status_code=422)


def _plain_error(error: Mapping[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = {
        "type": _printable(str(error.get("type", ""))),
        "loc": [part if isinstance(part, int) else _printable(str(part)) for part in error.get("loc", ())],
        "msg": _printable(str(error.get("msg", ""))),
    }
    if "input" in error and _is_json(error["input"]):
        plain["input"] = error["input"]
    if isinstance(error.get("ctx"), Mapping):
        plain["ctx"] = {
            _printable(str(k)): v if _is_json_scalar(v) else _printable(str(v)) for k, v in error["ctx"].items()
        }
    return plain


def _printable(text: str) -> str:
    """The text with lone surrogates written as \\udxxx escapes, so it can be encoded as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _is_json_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, bool | int) or (isinstance(value, str) and _printable(value) == value)


def _is_json(value: Any) -> bool:
    if _is_json_scalar(value):
        return True
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return False
    return True
