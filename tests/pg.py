"""A real PostgreSQL for the tests: one `pgserver` (PostgreSQL 16 with pgvector, from its wheel) per test
session, on a Unix socket in a temporary folder (no TCP port), started on first use and stopped at exit.

Each test gets a database of its own (`fresh_database`). Where pgserver cannot start (an unsupported
platform), the PostgreSQL tests are skipped with the reason, and fail with it in CI (`CI=true`), so a CI run
never passes without them.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

_lock = threading.Lock()
_server = None
_error: str | None = None
_names = itertools.count()
_shared_db: str | None = None
_folder: str | None = None


def _unavailable(reason: str):
    message = f"PostgreSQL tests need pgserver (pip install -r requirements-dev.txt): {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def start_server(folder: str | os.PathLike[str]):
    """A pgserver in `folder` (stopped when this process exits)."""
    import pgserver

    return pgserver.get_server(Path(folder), cleanup_mode="stop")


def server():
    """The session's server, started on first use."""
    global _server, _error, _folder
    with _lock:
        if _server is None and _error is None:
            folder = _folder = tempfile.mkdtemp(prefix="qwenchat-pg-")
            try:
                _server = start_server(folder)
                _speed_up(_server)
                atexit.register(shutdown)  # a plain pytest run; pytest_unconfigure calls it first (conftest.py)
            except Exception as exc:  # noqa: BLE001 - any failure to start is reported the same way
                _error = f"{type(exc).__name__}: {str(exc)[:300]}"
        if _server is None:
            _unavailable(_error or "not started")
        return _server


def shutdown() -> None:
    """Stop the session's server (if it was started) and delete its folder. Called from conftest.py's
    pytest_unconfigure, because a pytest-xdist worker leaves without running atexit handlers: pgserver's
    own stop-at-exit never runs there and each worker would leave a PostgreSQL behind."""
    global _server, _folder, _shared_db
    with _lock:
        srv, folder, _server, _folder, _shared_db = _server, _folder, None, None, None
    if srv is not None:
        srv.cleanup()  # pg_ctl stop; a second call (pgserver's atexit) finds nothing left to do
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _speed_up(srv) -> None:
    """Tests need no durability: without fsync a test database costs a fraction of the time."""
    import psycopg

    with psycopg.connect(srv.get_uri(), autocommit=True) as conn:
        for name in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {name} = off")
        conn.execute("SELECT pg_reload_conf()")


def fresh_schema() -> str:
    """The URL of a new, empty schema (its tables go there: `search_path`) in the session server's one
    test database: much cheaper than a database per test, and as isolated for the store."""
    import psycopg

    global _shared_db
    srv = server()
    with _lock:
        if _shared_db is None:
            _shared_db = fresh_database(srv)
            with psycopg.connect(_shared_db, autocommit=True) as conn:  # pgvector's types, seen from every schema
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
    name = f"s_{os.getpid()}_{next(_names)}"
    with psycopg.connect(_shared_db, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return f"{_shared_db}&options=-c%20search_path%3D{name},public"


def fresh_database(srv=None) -> str:
    """The URL of a new, empty database on the server (the session's by default)."""
    import psycopg

    srv = srv or server()
    name = f"t_{os.getpid()}_{next(_names)}"
    with psycopg.connect(srv.get_uri(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return srv.get_uri(name)


def stop(srv) -> None:
    """Stop a server as a crash or an operator would (fast shutdown: open connections are cut)."""
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=srv.pgdata, user=srv.system_user)


def start_again(srv) -> None:
    with srv._lock:
        srv.ensure_postgres_running()
