"""The access gate in front of the whole app: one rule for the UI, Gradio's own API and the REST routes.

In private mode (MEMTUNE_AUTH or MEMTUNE_API_TOKEN set) every request needs credentials except the few
that draw the login page: the bearer token, HTTP Basic with the login, or the cookie Gradio's login sets.
Failed logins are rate-limited per client address in every mode that has a login. A pure ASGI middleware,
so streamed responses (Gradio's SSE queue) pass through untouched.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from memory_core import Settings
from memory_core.sandbox import RateLimiter

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# What the login page itself needs before anyone has logged in: the page, its assets, the login form.
_OPEN_EXACT = frozenset({
    "/", "/login", "/login/", "/logout", "/favicon.ico", "/theme.css", "/robots.txt", "/manifest.json",
    "/gradio_api/theme.css", "/gradio_api/login_check", "/gradio_api/login_check/", "/gradio_api/app_id",
    "/gradio_api/app_id/", "/gradio_api/token", "/gradio_api/token/", "/gradio_api/user", "/gradio_api/user/",
})  # fmt: skip
_OPEN_PREFIXES = ("/assets/", "/static/", "/svelte/", "/pwa_icon")
_LOGIN_PATHS = frozenset({"/login", "/login/"})


def login_checker(settings: Settings) -> Callable[[str, str], bool]:
    """Gradio's login: MEMTUNE_AUTH's user:password, or any user name with the API token as password."""
    user, _, password = settings.auth.partition(":")

    def check(username: str, given: str) -> bool:
        by_login = bool(settings.auth) and _same(username, user) and _same(given, password)
        return by_login or (bool(settings.api_token) and _same(given, settings.api_token))

    return check


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


class AccessGate:
    """Let a request through only when the access mode allows it; answer 401 or 429 otherwise."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        *,
        sessions: Callable[[], Mapping[str, str]],
        cookie_id: str,
        allowed_methods: Callable[[Scope], frozenset[str]] = lambda scope: frozenset(),
    ) -> None:
        self._app, self._settings, self._allowed = app, settings, allowed_methods
        self._sessions, self._cookies = sessions, (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}")
        self._check = login_checker(settings)
        self._failures = RateLimiter(settings.login_attempts_per_minute, 60.0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and self._settings.access == "private" and not self._authorised(scope):
            await send({"type": "websocket.close", "code": 1008})  # before accepting: the handshake is refused
            return
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path in _LOGIN_PATHS and scope.get("method") == "POST":
            await self._login(scope, receive, send)
        elif self._settings.access == "private" and not (_is_open(path) or self._authorised(scope)):
            await _answer(send, 401, "log in first, or send the API token as a bearer token",
                          [(b"www-authenticate", b'Bearer, Basic realm="memtune"')])  # fmt: skip
        elif allowed := self._allowed(scope):
            # A REST path asked with a method it does not have: say so, instead of the UI's catch-all 404.
            await _answer(send, 405, "method not allowed", [(b"allow", ", ".join(sorted(allowed)).encode())])
        else:
            await self._app(scope, receive, send)

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = client_address(scope, behind_proxy=self._settings.on_space)
        if self._failures.over(client):
            await _answer(send, 429, "too many failed logins from this address; wait a minute and try again",
                          [(b"retry-after", b"60")])  # fmt: skip
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (400, 401, 403):
                self._failures.hit(client)
            await send(message)

        await self._app(scope, receive, watch)

    def _authorised(self, scope: Scope) -> bool:
        headers = _headers(scope)
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self._settings.api_token:
            return _same(value.strip(), self._settings.api_token)
        if scheme.lower() == "basic":
            return self._basic(value.strip())
        cookies = _cookies(headers.get("cookie", ""))
        sessions = self._sessions()
        return any(cookies.get(name) in sessions for name in self._cookies if cookies.get(name))

    def _basic(self, value: str) -> bool:
        try:
            username, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return self._check(username, password)


def client_address(scope: Scope, *, behind_proxy: bool) -> str:
    """The client's address; behind the Space's proxy, the address that proxy appended last (not forgeable)."""
    if behind_proxy:
        forwarded = _headers(scope).get("x-forwarded-for", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _is_open(path: str) -> bool:
    return path in _OPEN_EXACT or path.startswith(_OPEN_PREFIXES)


def _headers(scope: Scope) -> dict[str, str]:
    return {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope.get("headers", [])}


def _cookies(header: str) -> dict[str, str]:
    pairs = (part.strip().partition("=") for part in header.split(";"))
    return {name: value for name, _, value in pairs if name}


async def _answer(send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def access_note(settings: Settings) -> str:
    """The access mode in a sentence or two, for the Settings tab and the start-up log."""
    if settings.access == "private":
        how = "a login" if settings.auth else "the API token (as a bearer token, or as the login password)"
        return f"🔒 **Access: private.** Every page, Gradio API call and REST route needs {how}."
    if settings.access == "public":
        rest = "open to the API token's holder" if settings.api_token else "closed (403)"
        return (
            "🌐 **Access: public.** Each visitor works in a private sandbox of their own, seeded with the demo "
            f"(up to {settings.sandbox_max_items} memories, {settings.text_limit} characters per text, "
            f"{settings.sandbox_turns_per_minute} messages a minute, uploads up to "
            f"{settings.sandbox_max_upload_mb:g} MB; deleted after {settings.sandbox_ttl_hours:g} h idle). "
            f"The REST API is {rest}."
        )
    return (
        f"🔓 **Access: open**, for local use: no login, every profile visible; listening on "
        f"{settings.bind_host}. Set MEMTUNE_AUTH or MEMTUNE_API_TOKEN before exposing it."
    )
