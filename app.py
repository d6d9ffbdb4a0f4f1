"""Memtune: the console (Gradio UI at /) and the REST API (/memory/*, docs at /docs) in one process.

Run `python app.py`; with no .env it uses the embedded, offline engine and seeds a demo character.
The access mode (private, public or open; see console/access.py) comes from the settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gradio as gr
import uvicorn
from fastapi import APIRouter, FastAPI
from starlette.routing import Match, Mount, Route

from console.access import AccessGate, access_note, login_checker
from console.rest import build_router
from console.rest_errors import install_error_handlers
from console.ui import CSS, THEME, build_ui
from memory_core import MemoryEngine, Settings, build_engine, load_settings
from memory_core.demo import demo_scope, seed_demo
from memory_core.sandbox import browser_secret, build_sandboxes


def create_app(settings: Settings | None = None) -> tuple[FastAPI, MemoryEngine]:
    """The FastAPI app with the REST routes registered first, the UI mounted at the root, and the gate."""
    settings = settings or load_settings()
    engine = build_engine(settings)
    store = engine.store
    public = settings.access == "public"
    sandboxes = build_sandboxes(store, settings, forget=engine.forget_profile) if store and public else None
    if settings.demo and engine.store is not None:
        seed_demo(engine.store)
    # Build the demo library's and the latest libraries' indexes while the first page loads, not in its first
    # search (a public Space's visitors each start from a fresh sandbox: only the shared demo is worth it).
    engine.warm_up([demo_scope()] if settings.demo else [], recent=0 if public else settings.warm_up_libraries)
    api = FastAPI(title="Memtune", description="Long-term memory engine: REST API compatible with OpenTalking.")
    install_error_handlers(api)
    router = build_router(engine)
    api.include_router(router)
    app = gr.mount_gradio_app(
        api,
        build_ui(engine, sandboxes, browser_secret=browser_secret(engine.store)),
        path="/",
        auth=login_checker(settings) if settings.access == "private" else None,
        theme=THEME,
        css=CSS,
        footer_links=["api", "gradio"],
        max_file_size=settings.upload_limit_bytes,
    )
    gradio_app = _mounted(app)
    app.add_middleware(AccessGate, settings=settings, sessions=lambda: _sessions(gradio_app),
                       cookie_id=str(getattr(gradio_app, "cookie_id", "")),
                       allowed_methods=lambda scope: _other_methods(router, scope))  # fmt: skip
    return app, engine


def _other_methods(router: APIRouter, scope: Any) -> frozenset[str]:
    """The methods of the REST routes whose path matches but whose method does not (empty when one matches)."""
    found: set[str] = set()
    for route in router.routes:
        if isinstance(route, Route):
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return frozenset()
            if match is Match.PARTIAL:
                found |= route.methods or set()
    return frozenset(found)


def _mounted(app: FastAPI) -> Any:
    """The Gradio app mounted at the root (its login sessions are what the gate checks cookies against)."""
    for route in app.routes:
        if isinstance(route, Mount) and route.path in ("", "/"):
            return route.app
    raise RuntimeError("the Gradio app is not mounted at /")


def _sessions(gradio_app: Any) -> Mapping[str, str]:
    tokens: Mapping[str, str] = getattr(gradio_app, "tokens", {})
    return tokens


def main() -> None:
    settings = load_settings()
    app, engine = create_app(settings)
    print(access_note(settings).replace("**", ""), flush=True)
    try:
        # Browsers hold a heartbeat stream open; do not let it stall a shutdown.
        uvicorn.run(app, host=settings.bind_host, port=settings.server_port, timeout_graceful_shutdown=2)
    finally:
        engine.close()


if __name__ == "__main__":
    main()
