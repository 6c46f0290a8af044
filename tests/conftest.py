"""Fixtures shared by the AppTest tests: one fake DashScope server, and an environment with nothing of the
developer's in it (no .env, no secrets.toml, no key, no home folder)."""

from __future__ import annotations

import os

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import APP, TIMEOUT
from tests.fake_dashscope import VALID_KEY, FakeDashScope

APP_SETTINGS = ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL", "DASHSCOPE_API_BASE", "QWEN_MODEL", "QWENCHAT_SAVE",
                "QWENCHAT_SINGLE_USER", "QWENCHAT_DB", "APP_ACCESS_CODE", "QWENCHAT_REQUIRE_LOGIN", "QWENCHAT_BYOK",
                "QWENCHAT_MAX_MESSAGES_PER_SESSION", "QWENCHAT_MAX_TOKENS_PER_SESSION",
                "QWENCHAT_MAX_CHARS_PER_MESSAGE", "QWENCHAT_DAILY_TOKEN_CAP", "QWENCHAT_ALLOW_PRIVATE_URLS",
                "QWENCHAT_MAX_OUTPUT_TOKENS", "QWENCHAT_PROVIDER", "QWENCHAT_SECRET",
                "QWENCHAT_MAX_IMPORT_BYTES", "QWENCHAT_MAX_CONVERSATIONS_PER_OWNER", "QWENCHAT_MAX_STORE_BYTES",
                "QWENCHAT_DB_BUSY_TIMEOUT", "QWENCHAT_REPLY_DEADLINE_S", "QWENCHAT_MAX_TOOL_ROUNDS", "QWENCHAT_TOOLS",
                "QWENCHAT_TOOL_TIMEOUT_S", "QWENCHAT_TOOL_OUTPUT_CHARS")


TEST_SECRET = "qwenchat-tests-owner-secret"


# Every per-test timeout (pytest.ini's, and the modules' own marks) is a guard against a hang, not a measure
# of speed: it is stretched by this factor, so a busy machine (two xdist workers and whatever else runs) only
# makes the suite slower, never red. A hang still ends, at worst after SCALE times the written limit.
TIMEOUT_SCALE = float(os.environ.get("QWENCHAT_TEST_TIMEOUT_SCALE", "3"))


def _scan_installed_components_once() -> None:
    """Every new AppTest, on its first run, has Streamlit look through the metadata of every installed
    package for custom components (`scan_component_manifests`): about 0.25 CPU-seconds each time, for an
    answer that cannot change while the tests run (the app uses none). It is asked once per process here,
    and each AppTest gets its own copy of that answer; a Streamlit without the scanner is left alone."""
    try:
        from streamlit.components.v2 import manifest_scanner
    except ImportError:
        return
    scan = getattr(manifest_scanner, "scan_component_manifests", None)
    if scan is None or getattr(scan, "cached_for_tests", False):
        return
    found: list = []

    def scan_once(*args, **kwargs):
        if not found:
            found.append(scan(*args, **kwargs))
        return list(found[0])

    scan_once.cached_for_tests = True
    manifest_scanner.scan_component_manifests = scan_once


_scan_installed_components_once()


def pytest_collection_modifyitems(config, items):
    default = float(config.getini("timeout") or 0)
    for item in items:
        marker = item.get_closest_marker("timeout")
        written = float(marker.args[0]) if marker is not None and marker.args else default
        if written:
            item.add_marker(pytest.mark.timeout(written * TIMEOUT_SCALE))


def pytest_unconfigure(config):
    """Stop the session's PostgreSQL (tests/pg.py) here, not only at exit: a pytest-xdist worker ends
    without running atexit handlers."""
    import sys

    pg = sys.modules.get("tests.pg")  # only where a test started it
    if pg is not None:
        pg.shutdown()


@pytest.fixture(scope="session")
def fake():
    with FakeDashScope() as server:
        yield server


@pytest.fixture
def app_env(fake, monkeypatch, tmp_path):
    """The app keyed to the fake server, its store in tmp_path; returns monkeypatch to change settings."""
    fake.reset()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in APP_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QWENCHAT_DB", str(tmp_path / "chats.db"))
    monkeypatch.setenv("DASHSCOPE_API_KEY", VALID_KEY)
    monkeypatch.setenv("DASHSCOPE_BASE_URL", fake.base_url)
    monkeypatch.setenv("QWENCHAT_ALLOW_PRIVATE_URLS", "1")  # the fake server is on 127.0.0.1
    monkeypatch.setenv("QWENCHAT_PROVIDER", "dashscope")  # it speaks DashScope, though not on its host
    monkeypatch.setenv("QWENCHAT_SECRET", TEST_SECRET)  # so tests can mint owner tokens the app accepts
    return monkeypatch


@pytest.fixture
def app(app_env) -> AppTest:
    """The chat page, run once."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    return at


@pytest.fixture(params=["sqlite", "memory", "postgres"])
def store(request, tmp_path):
    """Each store backend, empty: the store and persona tests run against every one (PostgreSQL: a fresh
    database on the session's one server, see tests/pg.py)."""
    from qwenchat.store import MemoryStore, Store

    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "postgres":
        from qwenchat.store_postgres import PostgresStore
        from tests import pg

        s = PostgresStore(pg.fresh_schema(), max_size=4)
        yield s
        s.close()
    else:
        s = Store(tmp_path / "chats.db")
        yield s
        s.close()


@pytest.fixture
def pg_url():
    """The URL of a fresh, empty schema (as good as a database for the store) on the session's PostgreSQL."""
    from tests import pg

    return pg.fresh_schema()


class KbBackend:
    """Where the knowledge-base tests keep their knowledge bases: `store` is what `KnowledgeBases` is given
    (a SQLite path, or a `PostgresStore` on a fresh schema of the session's PostgreSQL); `another()` opens the
    same database again, as a second app server would (its own pool on PostgreSQL)."""

    def __init__(self, name: str, tmp_path):
        self.name = name
        self._opened: list = []
        if name == "postgres":
            from tests import pg

            self.url = pg.fresh_schema()
        else:
            self.url = str(tmp_path / "chats.db")
        self.store = self.another()

    def another(self):
        if self.name == "sqlite":
            return self.url
        from qwenchat.store_postgres import PostgresStore

        s = PostgresStore(self.url, max_size=4)
        self._opened.append(s)
        return s

    def count(self, table: str) -> int:
        if self.name == "sqlite":
            import sqlite3

            with sqlite3.connect(self.url) as db:
                return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        with self.store._pool.connection() as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def close(self) -> None:
        for s in self._opened:
            s.close()


@pytest.fixture(params=["sqlite", "postgres"])
def kb_backend(request, tmp_path):
    """Each knowledge-base backend, empty (see `KbBackend`)."""
    backend = KbBackend(request.param, tmp_path)
    yield backend
    backend.close()
