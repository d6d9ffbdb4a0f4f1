"""The PostgreSQL fixture itself: Debian's server on a free loopback port, as an unprivileged user, reachable
with psycopg 3, surviving a stop and a start (the store's failure tests will stop it mid-chat)."""

from __future__ import annotations

import os

import pytest
from postgres_server import PostgresServer, postgres, wait_until_ready

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (requirements-dev.txt has it)")
__all__ = ["postgres"]  # the fixture, imported for this module


def test_the_server_answers_on_loopback_as_an_unprivileged_role(postgres: PostgresServer) -> None:
    with psycopg.connect(postgres.url) as conn:
        role, database, superuser = conn.execute(
            "SELECT current_user, current_database(), rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        address = conn.execute("SELECT inet_server_addr()::text").fetchone()[0]
    assert (role, database, superuser) == ("memtune", "memtune", False)
    assert address.startswith("127.0.0.1")
    assert postgres.run("postgres", "--version").stdout.startswith("postgres (PostgreSQL)")  # Debian's own
    assert os.geteuid() != 0 or postgres.runner[:2] == ["runuser", "-u"]  # never the root user


def test_data_survives_a_stop_and_a_start(postgres: PostgresServer) -> None:
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS survives (n int)")
        conn.execute("INSERT INTO survives VALUES (1)")
    postgres.stop_server()
    assert not postgres.ready()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres.url, connect_timeout=2)
    postgres.start_server()
    wait_until_ready(postgres)
    with psycopg.connect(postgres.url) as conn:
        assert conn.execute("SELECT count(*) FROM survives").fetchone()[0] >= 1
