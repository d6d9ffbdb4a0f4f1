"""Memtune: the console (Gradio UI at /) and the REST API (/memory/*, docs at /docs) in one process.

Run `python app.py`; with no .env it uses the embedded, offline engine and seeds a demo character.
"""

from __future__ import annotations

import threading

import gradio as gr
import uvicorn
from fastapi import FastAPI

from console.rest import build_router, install_error_handlers
from console.ui import CSS, THEME, build_ui
from memory_core import MemoryEngine, Settings, build_engine, load_settings
from memory_core.demo import demo_scope, seed_demo


def create_app(settings: Settings | None = None) -> tuple[FastAPI, MemoryEngine]:
    """The FastAPI app with the REST routes registered first and the UI mounted at the root."""
    settings = settings or load_settings()
    engine = build_engine(settings)
    if settings.demo and engine.store is not None:
        seed_demo(engine.store)
        # Embed the demo library while the first visitor's page loads, not during their first turn.
        threading.Thread(target=engine.refresh, args=(demo_scope(), []), daemon=True, name="warm-up").start()
    api = FastAPI(title="Memtune", description="Long-term memory engine: REST API compatible with OpenTalking.")
    install_error_handlers(api)
    api.include_router(build_router(engine))
    user, _, password = settings.auth.partition(":")
    app = gr.mount_gradio_app(
        api,
        build_ui(engine),
        path="/",
        auth=(user, password) if settings.auth else None,
        theme=THEME,
        css=CSS,
        footer_links=["api", "gradio"],
    )
    return app, engine


def main() -> None:
    settings = load_settings()
    app, engine = create_app(settings)
    try:
        # Browsers hold a heartbeat stream open; do not let it stall a shutdown.
        uvicorn.run(app, host=settings.server_name, port=settings.server_port, timeout_graceful_shutdown=2)
    finally:
        engine.close()


if __name__ == "__main__":
    main()
