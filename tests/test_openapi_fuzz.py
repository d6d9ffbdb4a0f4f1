"""Property-based fuzzing of the REST API from its own OpenAPI schema (schemathesis over the ASGI app).

Every generated request, valid or not, must get an answer the schema declares: no 5xx, a documented status,
a body matching its schema, and valid data accepted. The budget is small (a smoke test, not a campaign);
run `schemathesis run` against a live server for a longer one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fakes import HashingEmbedder
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import allow_header_conformance, unsupported_method

from console.rest import build_router
from console.rest_errors import install_error_handlers
from memory_core import BM25Retriever, MemoryEngine, SQLiteStore, load_settings
from memory_core.demo import seed_demo
from memory_core.recall.dense import DenseRetriever
from memory_core.recall.fusion import FusionRetriever

# The coverage phase (every boundary of every field) passes too, but takes half a minute: off here.
CONFIG = schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}})
# Methods a path does not declare (the 405 and its Allow header) are app.py's gate's job, not the router's.
METHOD_CHECKS = [unsupported_method, allow_header_conformance]


@pytest.fixture
def api_schema(tmp_path: Path) -> Iterator[schemathesis.BaseSchema]:
    """The app over a store on a temp file, seeded with the demo library that the schema's examples name, with
    dense recall over a deterministic embedder."""
    with SQLiteStore(tmp_path / "fuzz.sqlite3") as store:
        seed_demo(store)
        # With an embedder, so that every route can answer (teaching a recall decision needs one).
        retriever = FusionRetriever(BM25Retriever(store), DenseRetriever(store, HashingEmbedder()))
        engine = MemoryEngine(store, retriever, settings=load_settings({}))
        app = FastAPI()
        app.include_router(build_router(engine))
        install_error_handlers(app)
        yield schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(excluded_checks=METHOD_CHECKS)
