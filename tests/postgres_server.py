"""A real PostgreSQL server for tests: Debian's `postgresql` binaries, a fresh cluster made by `initdb` in a
temporary directory, started by `pg_ctl` on a free loopback port as an unprivileged user, stopped afterwards.

    with running_postgres() as server:
        psycopg.connect(server.url)

`.ci/run` installs Debian's package when it is missing; where the binaries are absent all the same, the
fixture skips with a message. Running as root (CI's containers do), the server runs as the `postgres` user
Debian's package creates, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port

from memory_core.store.postgres import PostgresStore
from memory_core.store.sqlite import SQLiteStore, SQLStore

DEBIAN_BINARIES = Path("/usr/lib/postgresql")
SERVICE_USER = "postgres"  # created by Debian's postgresql-common
DATABASE, ROLE = "memtune", "memtune"
START_TIMEOUT_S = 30


def binaries() -> Path | None:
    """The newest installed major version's bin folder, or the one on PATH; None without PostgreSQL."""
    versions = sorted(DEBIAN_BINARIES.glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if versions:
        return versions[-1].parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _runner() -> list[str]:
    """How to run the server's commands: as ourselves, or as the service user when we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pytest.skip(f"running as root and there is no {SERVICE_USER!r} user to run PostgreSQL as")
    return ["runuser", "-u", SERVICE_USER, "--"]


@dataclass
class PostgresServer:
    """A running cluster: its folder, port and the URL of a database owned by a password-less local role."""

    bin: Path
    folder: Path
    port: int
    runner: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{DATABASE}"

    def admin_url(self, database: str = "postgres") -> str:
        return f"postgresql://{SERVICE_USER}@127.0.0.1:{self.port}/{database}"

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*self.runner, str(self.bin / tool), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S, check=check)

    def start_server(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off -c full_page_writes=off"
        self.run("pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "server.log"), "-o", options,
                 "-w", "-t", str(START_TIMEOUT_S), "start")  # fmt: skip

    def stop_server(self) -> None:
        self.run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop", check=False)

    def ready(self) -> bool:
        return self.run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), check=False).returncode == 0


def _initialised() -> PostgresServer:
    bin_ = binaries()
    if bin_ is None:
        pytest.skip("PostgreSQL's binaries are not installed (.ci/run installs Debian's postgresql)")
    runner = _runner()
    folder = Path(tempfile.mkdtemp(prefix="memtune-pg-"))
    if runner:
        shutil.chown(folder, SERVICE_USER, SERVICE_USER)
    server = PostgresServer(bin_, folder, free_port(), runner)
    server.run("initdb", "-D", str(folder / "data"), "-U", SERVICE_USER, "-A", "trust", "-E", "UTF8",
               "--locale=C.UTF-8", "--no-sync")  # fmt: skip
    return server


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A fresh cluster, up with its application database, for the block; stopped and deleted after it."""
    server = _initialised()
    try:
        server.start_server()
        _create_database(server)
        yield server
    finally:
        server.stop_server()
        shutil.rmtree(server.folder, ignore_errors=True)


def _create_database(server: PostgresServer) -> None:
    """A login role and a database it owns, as an application gets them from a hosting provider."""
    admin = ["-h", "127.0.0.1", "-p", str(server.port), "-U", SERVICE_USER]
    server.run("createuser", *admin, "--login", ROLE)
    server.run("createdb", *admin, "--owner", ROLE, DATABASE)


def wait_until_ready(server: PostgresServer, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not server.ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"PostgreSQL on port {server.port} did not come back")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole test session."""
    with running_postgres() as server:
        yield server


def empty_database(server: PostgresServer, name: str) -> str:
    """The URL of database ``memtune_<name>``, made for the role on first use and emptied of rows after that (the
    schema stays: emptying is much faster than making a database per test)."""
    import psycopg

    database = f"{DATABASE}_{name}"
    url = server.url.rsplit("/", 1)[0] + f"/{database}"
    with psycopg.connect(server.admin_url(), autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
            admin.execute(f'CREATE DATABASE "{database}" OWNER {ROLE}')
            return url
    with psycopg.connect(url, autocommit=True) as conn:
        query = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        tables = [row[0] for row in conn.execute(query).fetchall()]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    return url


STORE_KINDS = ("sqlite", "postgres")


@dataclass
class StoreOpener:
    """Opens stores of one kind: ``opener("name", **options)`` is a SQLite file in the test's folder, or an empty
    database of the session's PostgreSQL server. A name opened again in one test is the same store; ``sql`` runs
    a statement on it underneath the store (to break it on purpose)."""

    kind: str
    folder: Path
    server: PostgresServer | None = None
    urls: dict[str, str] = field(default_factory=dict)

    def __call__(self, name: str = "memory", **options: Any) -> SQLStore:
        if self.server is None:
            return SQLiteStore(self.folder / f"{name}.sqlite3", **options)
        return PostgresStore(self.url(name), **options)

    def url(self, name: str = "memory") -> str:
        if self.server is None:
            return str(self.folder / f"{name}.sqlite3")
        if name not in self.urls:
            self.urls[name] = empty_database(self.server, name)
        return self.urls[name]

    def sql(self, statement: str, name: str = "memory") -> None:
        if self.server is None:
            with closing(sqlite3.connect(self.url(name))) as conn:
                conn.execute(statement)
                conn.commit()
            return
        import psycopg

        with psycopg.connect(self.url(name), autocommit=True) as pg:
            pg.execute(statement.encode())


@pytest.fixture(params=STORE_KINDS)
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreOpener:
    """Opens stores of each kind in turn (see `StoreOpener`); the PostgreSQL server starts on first use."""
    if request.param == "sqlite":
        return StoreOpener("sqlite", tmp_path)
    return StoreOpener("postgres", tmp_path, request.getfixturevalue("postgres"))
