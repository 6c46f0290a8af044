"""Saved evaluation runs, one owner's at a time: the `eval_runs` table (migration m006) in the app's SQLite file,
the same table on PostgreSQL (`pg_migrations` m005) when the app's store is a `PostgresStore`, or memory when the
app keeps nothing on disk.

A run is stored as one JSON document (`run_to_json` / `run_from_json`) beside a few listing columns: the page
writes it after each question and reads it whole to show or compare it. Every call names its owner; another
owner's run id reads as absent. At most `MAX_RUNS_PER_OWNER` are kept: saving a new one drops the oldest.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from qwenchat.knowledge.evalset import Question
from qwenchat.knowledge.evaluate import Passage, Row, Run, RunSettings
from qwenchat.knowledge.sqlite_index import _msg, _msg_json
from qwenchat.migrations import migrate
from qwenchat.store import StoreUnavailable


def _escape(text: str) -> str:
    from qwenchat.store_postgres import _escape as escape

    return escape(text)


def _unescape(text: str) -> str:
    from qwenchat.store_postgres import _unescape as unescape

    return unescape(text)

MAX_RUNS_PER_OWNER = 50


def run_to_json(run: Run) -> str:
    rows = []
    for r in run.rows:
        item = asdict(r)
        item["error"] = _msg_json(r.error)
        rows.append(item)
    return json.dumps({"name": run.name, "settings": asdict(run.settings),
                       "questions": [q.to_dict() for q in run.questions], "rows": rows, "status": run.status,
                       "stop_reason": _msg_json(run.stop_reason), "created_at": run.created_at,
                       "updated_at": run.updated_at}, ensure_ascii=False)


def run_from_json(run_id: int, text: str) -> Run:
    data = json.loads(text)
    rows = []
    for item in data.get("rows", []):
        passages = [Passage(**p) for p in item.pop("passages", [])]
        error = _msg(item.pop("error", None))
        rows.append(Row(**item, passages=passages, error=error))
    return Run(run_id, data["name"], RunSettings(**data["settings"]),
               [Question.from_dict(q) for q in data.get("questions", [])], rows, data.get("status", "done"),
               _msg(data.get("stop_reason")), data.get("created_at", 0.0), data.get("updated_at", 0.0))


def _unavailable(method):
    """A database error (locked, read-only, full disk) as `StoreUnavailable`, which the page says in words."""
    import functools

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise StoreUnavailable(self._path, type(exc).__name__) from None
    return call


class EvaluationRuns:
    """Evaluation runs in a SQLite file (`path`), or in this object's memory (`path=None`)."""

    def __init__(self, path: str | Path | None, *, postgres: Any = None):
        self._lock = threading.RLock()
        self._memory: dict[int, tuple[str, str]] | None = None  # id -> (owner, json)
        self._conn: sqlite3.Connection | None = None
        from qwenchat.database_url import is_postgres_url, redact

        if postgres is None and path is not None and is_postgres_url(str(path)):
            from qwenchat.knowledge.service import shared_postgres

            postgres = shared_postgres(str(path))  # beside the conversations, on every server
        self._path = redact(str(path))
        self._pg = postgres  # a PostgresStore, or the RetryingStore holding one
        if postgres is not None:
            return
        if path is None:
            self._memory = {}
            return
        from qwenchat.store import web_busy_timeout  # the conversations' wait: QWENCHAT_DB_BUSY_TIMEOUT

        timeout = web_busy_timeout()
        conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        migrate(conn)
        self._conn = conn

    @classmethod
    def for_store(cls, store: Any) -> "EvaluationRuns":
        """Beside the app's conversation store: its SQLite file, its PostgreSQL database, or memory for a
        memory store."""
        from qwenchat.knowledge.service import _postgres_store

        if store is not None and not isinstance(store, (str, Path)) and _postgres_store(store) is not None:
            return cls(None, postgres=store)
        path = getattr(store, "path", None)
        return cls(path)

    def _run(self, work, *, write: bool = True):  # type: ignore[no-untyped-def]
        store = self._pg._current() if hasattr(self._pg, "_current") else self._pg
        return store._run(work, write=write)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    @_unavailable
    def save(self, owner: str, run: Run) -> Run:
        """Insert (id 0) or update the run; returns it with its id. Another owner's id is never touched."""
        text = run_to_json(run)
        if self._pg is not None:
            return self._run(lambda db: self._save_pg(db, owner, run, _escape(text)))
        with self._lock:
            if self._memory is not None:
                if run.id and self._memory.get(run.id, ("",))[0] != owner:
                    run.id = 0
                if not run.id:
                    run.id = max(self._memory, default=0) + 1
                self._memory[run.id] = (owner, text)
                self._trim_memory(owner)
                return run
            assert self._conn is not None
            values = (run.name, run.status, len(run.questions), len(run.rows), run.updated_at, text)
            if run.id:
                cur = self._conn.execute(
                    "UPDATE eval_runs SET name=?, status=?, questions=?, done=?, updated_at=?, data=? "
                    "WHERE id=? AND owner=?", (*values, run.id, owner))
                if cur.rowcount:
                    return run
            cur = self._conn.execute(
                "INSERT INTO eval_runs (owner, kb_id, name, status, questions, done, created_at, updated_at, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (owner, run.settings.kb_id, run.name, run.status, len(run.questions), len(run.rows),
                 run.created_at, run.updated_at, text))
            run.id = int(cur.lastrowid or 0)
            self._conn.execute(
                "DELETE FROM eval_runs WHERE owner=? AND id NOT IN "
                "(SELECT id FROM eval_runs WHERE owner=? ORDER BY updated_at DESC, id DESC LIMIT ?)",
                (owner, owner, MAX_RUNS_PER_OWNER))
            return run

    @staticmethod
    def _save_pg(db, owner: str, run: Run, text: str) -> Run:  # type: ignore[no-untyped-def]
        values = (run.name, run.status, len(run.questions), len(run.rows), run.updated_at, text)
        if run.id and db.execute("UPDATE eval_runs SET name=%s, status=%s, questions=%s, done=%s, updated_at=%s, "
                                 "data=%s WHERE id=%s AND owner=%s", (*values, run.id, owner)).rowcount:
            return run
        run.id = int(db.execute(
            "INSERT INTO eval_runs (owner, kb_id, name, status, questions, done, created_at, updated_at, data) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (owner, run.settings.kb_id, run.name, run.status, len(run.questions), len(run.rows), run.created_at,
             run.updated_at, text)).fetchone()[0])
        db.execute("DELETE FROM eval_runs WHERE owner=%s AND id NOT IN (SELECT id FROM eval_runs WHERE owner=%s "
                   "ORDER BY updated_at DESC, id DESC LIMIT %s)", (owner, owner, MAX_RUNS_PER_OWNER))
        return run

    def _trim_memory(self, owner: str) -> None:
        assert self._memory is not None
        mine = sorted(k for k, (o, _) in self._memory.items() if o == owner)
        for key in mine[:-MAX_RUNS_PER_OWNER]:
            del self._memory[key]

    @_unavailable
    def list(self, owner: str) -> list[Run]:
        """The owner's runs, newest first."""
        with self._lock:
            if self._pg is not None:
                found = [(k, _unescape(text)) for k, text in self._run(lambda db: db.execute(
                    "SELECT id, data FROM eval_runs WHERE owner=%s ORDER BY updated_at DESC, id DESC",
                    (owner,)).fetchall(), write=False)]
            elif self._memory is not None:
                found = [(k, text) for k, (o, text) in self._memory.items() if o == owner]
            else:
                assert self._conn is not None
                found = self._conn.execute("SELECT id, data FROM eval_runs WHERE owner=? "
                                           "ORDER BY updated_at DESC, id DESC", (owner,)).fetchall()
        runs = [run_from_json(int(k), text) for k, text in found]
        return sorted(runs, key=lambda r: (r.updated_at, r.id), reverse=True)

    @_unavailable
    def get(self, owner: str, run_id: int) -> Run | None:
        with self._lock:
            if self._pg is not None:
                found = self._run(lambda db: db.execute("SELECT data FROM eval_runs WHERE id=%s AND owner=%s",
                                                        (int(run_id), owner)).fetchone(), write=False)
                text = _unescape(found[0]) if found else None
            elif self._memory is not None:
                owner_text = self._memory.get(int(run_id))
                text = owner_text[1] if owner_text and owner_text[0] == owner else None
            else:
                assert self._conn is not None
                found = self._conn.execute("SELECT data FROM eval_runs WHERE id=? AND owner=?",
                                           (int(run_id), owner)).fetchone()
                text = found[0] if found else None
        return run_from_json(int(run_id), text) if text else None

    @_unavailable
    def delete(self, owner: str, run_id: int) -> bool:
        if self._pg is not None:
            return bool(self._run(lambda db: db.execute("DELETE FROM eval_runs WHERE id=%s AND owner=%s",
                                                        (int(run_id), owner)).rowcount))
        with self._lock:
            if self._memory is not None:
                if self._memory.get(int(run_id), ("",))[0] == owner:
                    del self._memory[int(run_id)]
                    return True
                return False
            assert self._conn is not None
            return bool(self._conn.execute("DELETE FROM eval_runs WHERE id=? AND owner=?",
                                           (int(run_id), owner)).rowcount)
