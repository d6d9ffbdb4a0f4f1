"""Exact entities: what the recall rules and BM25's filter read from a message."""

from __future__ import annotations

import pytest

from memory_core.recall.entities import exact_entities, find_entities, has_fact_entity


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("log in to 10.0.0.12.", "ip", "10.0.0.12"),
        ("the config is in /etc/nginx/nginx.conf.", "path", "/etc/nginx/nginx.conf"),
        ("see (/var/log/app)", "path", "/var/log/app"),
        ("it lives at ~/notes/todo;", "path", "~/notes/todo"),
        ('open "/srv/data"', "path", "/srv/data"),
        ("146服务器是测试环境。", "server", "146服务器"),
        ("restart server 07, please", "server", "07服务器"),  # one canonical form in both languages
    ],
)
def test_entities_lose_trailing_punctuation(text: str, kind: str, value: str) -> None:
    assert (kind, value) in {(e.kind, e.value) for e in find_entities(text)}


def test_a_leading_dot_of_a_relative_path_is_kept() -> None:
    assert "./run.sh" in {e.value for e in find_entities("run ./run.sh.")}


def test_exact_entities_are_addresses_paths_and_servers_only() -> None:
    text = "deploy report.pdf from /srv/app to 10.0.0.5 on 146服务器 via prod-db"
    assert exact_entities(text) == frozenset({"/srv/app", "10.0.0.5", "146服务器"})
    assert {"report.pdf", "prod-db"} <= {e.value for e in find_entities(text)}


def test_plain_words_hold_no_entity() -> None:
    assert exact_entities("I like green tea") == frozenset() and not has_fact_entity("I like green tea")
