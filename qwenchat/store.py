"""Where conversations are kept: the `ConversationStore` interface, SQLite behind it, or memory only.

`ConversationStore` is the seam. The app talks only to it; `Store` (one SQLite file, the default) and
`MemoryStore` (history saving turned off: nothing outlives the process) both implement it, and a
server database such as PostgreSQL plugs in later as a third class with the same methods and the same
rules, which are:

- Every method takes the `owner` and touches only that owner's conversations. An id without its
  owner opens nothing: someone else's conversation reads as absent, and saving over its id raises
  `IdConflict` rather than writing into it.
- `save_conversation` writes the header and every message; messages no longer in the conversation
  are removed. `save_message` upserts one message, appending it if new: it is called on every flush
  of a streaming reply, so it is one small transaction. Header changes (title, model, closed) go
  through `save_conversation` or `rename`.
- `load` returns a copy: changing it changes nothing stored until it is saved again.
- Search is a case-insensitive (ASCII) substring match over titles and message text, with `%` and
  `_` taken literally. Withdrawn replies are not searched: their text was hidden from the user.
- No API key is ever stored: `Conversation` has no key field and nothing here adds one.

The SQLite file runs in WAL mode with a busy timeout, so a second process can write to the same file;
every write is a `BEGIN IMMEDIATE` transaction, so two writers queue instead of failing.
"""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Protocol

from qwenchat.conversation import WITHDRAWN, Conversation, Message, Usage
from qwenchat.migrations import migrate

BUSY_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Summary:
    """One line of the history list."""

    id: str
    title: str
    model: str
    created_at: float
    updated_at: float
    message_count: int
    total_tokens: int


class ConversationNotFound(LookupError):
    """The owner has no conversation with this id (it may not exist, or belong to someone else)."""


class IdConflict(ValueError):
    """The id is already used by a row this write may not touch: give the object a fresh id."""


class ConversationStore(Protocol):
    """What the app needs from a place that keeps conversations (see the module docstring for the rules)."""

    def save_conversation(self, owner: str, conversation: Conversation) -> None: ...

    def save_message(self, owner: str, conversation_id: str, message: Message) -> None: ...

    def load(self, owner: str, conversation_id: str) -> Conversation | None: ...

    def list_conversations(self, owner: str, search: str = "", limit: int = 200) -> list[Summary]: ...

    def rename(self, owner: str, conversation_id: str, title: str) -> bool: ...

    def delete(self, owner: str, conversation_id: str) -> bool: ...

    def delete_all(self, owner: str) -> int: ...

    def owner_has(self, owner: str, conversation_id: str) -> bool: ...


def default_path() -> Path:
    """`QWENCHAT_DB` if set, else `~/.qwenchat/chats.db`."""
    configured = os.environ.get("QWENCHAT_DB", "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".qwenchat" / "chats.db"


def open_store(path: str | os.PathLike[str] | None = None) -> "Store":
    return Store(path if path is not None else default_path())


def _check_owner(owner: str) -> None:
    # An empty owner would be one bucket shared by everyone who has no identity.
    if not isinstance(owner, str) or not owner:
        raise ValueError("owner must be a non-empty string")


def _like_pattern(search: str) -> str:
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _usage_json(usage: Usage | None) -> str | None:
    return json.dumps(asdict(usage)) if usage else None


class Store:
    """Conversations in one SQLite file.

    One connection per Store, shared by all threads under a lock (the lock is what makes sharing it
    safe: two threads' transactions must not interleave on one connection). Streamlit starts a new
    script thread for almost every rerun, so connections per thread would come and go with reruns,
    out of reach of `close()`. Operations take microseconds to a few milliseconds, so queuing them
    within a process costs little, and SQLite serializes writers anyway. Other processes are kept
    in order by SQLite's own file locks.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.path.exists():
            # Private chats: readable by the owner only. SQLite gives the -wal and -shm files the same mode.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL survives a killed process; only a power cut may lose the last commits.
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        migrate(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
        # writes can fail at once with "database is locked" instead of waiting its turn.
        with self._lock:
            self._conn.execute(begin)
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def save_conversation(self, owner: str, conversation: Conversation) -> None:
        _check_owner(owner)
        ids = [m.id for m in conversation.messages]
        if len(set(ids)) != len(ids):
            raise IdConflict("a message id appears twice in the conversation")
        with self._transaction() as db:
            header = db.execute(
                """INSERT INTO conversations
                       (id, owner, title, model, system_prompt, closed, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET
                       title = excluded.title, model = excluded.model,
                       system_prompt = excluded.system_prompt, closed = excluded.closed,
                       created_at = excluded.created_at, updated_at = excluded.updated_at
                   WHERE conversations.owner = excluded.owner""",
                (conversation.id, owner, conversation.title, conversation.model,
                 conversation.system_prompt, int(conversation.closed), conversation.created_at, time.time()),
            )
            if header.rowcount != 1:
                raise IdConflict("conversation id belongs to another owner")
            written = db.executemany(
                """INSERT INTO messages
                       (id, conversation_id, seq, role, content, reasoning, status, error, model, usage, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET
                       seq = excluded.seq, role = excluded.role, content = excluded.content,
                       reasoning = excluded.reasoning, status = excluded.status, error = excluded.error,
                       model = excluded.model, usage = excluded.usage, created_at = excluded.created_at
                   WHERE messages.conversation_id = excluded.conversation_id""",
                [
                    (m.id, conversation.id, seq, m.role, m.content, m.reasoning, m.status, m.error,
                     m.model, _usage_json(m.usage), m.created_at)
                    for seq, m in enumerate(conversation.messages)
                ],
            )
            if written.rowcount != len(ids):
                raise IdConflict("a message id belongs to another conversation")
            db.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND id NOT IN (SELECT value FROM json_each(?))",
                (conversation.id, json.dumps(ids)),
            )

    def save_message(self, owner: str, conversation_id: str, message: Message) -> None:
        _check_owner(owner)
        m = message
        with self._transaction() as db:
            touched = db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ? AND owner = ?",
                (time.time(), conversation_id, owner),
            )
            if touched.rowcount != 1:
                raise ConversationNotFound(conversation_id)
            # A new message goes last; an existing one keeps its place.
            written = db.execute(
                """INSERT INTO messages
                       (id, conversation_id, seq, role, content, reasoning, status, error, model, usage, created_at)
                   VALUES (?, ?, (SELECT COALESCE(MAX(seq) + 1, 0) FROM messages WHERE conversation_id = ?),
                           ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET
                       role = excluded.role, content = excluded.content, reasoning = excluded.reasoning,
                       status = excluded.status, error = excluded.error, model = excluded.model,
                       usage = excluded.usage, created_at = excluded.created_at
                   WHERE messages.conversation_id = excluded.conversation_id""",
                (m.id, conversation_id, conversation_id, m.role, m.content, m.reasoning, m.status, m.error,
                 m.model, _usage_json(m.usage), m.created_at),
            )
            if written.rowcount != 1:
                raise IdConflict("message id belongs to another conversation")

    def load(self, owner: str, conversation_id: str) -> Conversation | None:
        _check_owner(owner)
        with self._transaction("BEGIN") as db:  # one snapshot for all reads
            header = db.execute(
                """SELECT id, title, model, system_prompt, closed, created_at
                   FROM conversations WHERE id = ? AND owner = ?""",
                (conversation_id, owner),
            ).fetchone()
            if header is None:
                return None
            rows = db.execute(
                """SELECT id, role, content, reasoning, status, error, model, usage, created_at
                   FROM messages WHERE conversation_id = ? ORDER BY seq""",
                (conversation_id,),
            ).fetchall()
        messages = [
            Message(role=role, content=content, status=status, reasoning=reasoning, error=error, model=model,
                    usage=Usage.from_dict(json.loads(usage)) if usage else None, id=mid, created_at=created_at)
            for mid, role, content, reasoning, status, error, model, usage, created_at in rows
        ]
        cid, title, model, system_prompt, closed, created_at = header
        return Conversation(model=model, system_prompt=system_prompt, messages=messages, title=title,
                            closed=bool(closed), id=cid, created_at=created_at)

    def list_conversations(self, owner: str, search: str = "", limit: int = 200) -> list[Summary]:
        _check_owner(owner)
        where, params = "c.owner = ?", [owner]
        if search.strip():
            pattern = _like_pattern(search.strip())
            where += """ AND (c.title LIKE ? ESCAPE '\\' OR EXISTS (
                SELECT 1 FROM messages m WHERE m.conversation_id = c.id
                AND m.status != ? AND m.content LIKE ? ESCAPE '\\'))"""
            params += [pattern, WITHDRAWN, pattern]
        with self._lock:
            rows = self._conn.execute(
                f"""SELECT c.id, c.title, c.model, c.created_at, c.updated_at,
                        (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id),
                        (SELECT COALESCE(SUM(json_extract(m.usage, '$.total_tokens')), 0)
                         FROM messages m WHERE m.conversation_id = c.id)
                    FROM conversations c WHERE {where}
                    ORDER BY c.updated_at DESC, c.created_at DESC, c.id LIMIT ?""",
                (*params, max(0, int(limit))),
            ).fetchall()
        return [Summary(*row) for row in rows]

    def rename(self, owner: str, conversation_id: str, title: str) -> bool:
        _check_owner(owner)
        with self._transaction() as db:
            return db.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND owner = ?", (title, conversation_id, owner)
            ).rowcount == 1

    def delete(self, owner: str, conversation_id: str) -> bool:
        _check_owner(owner)
        with self._transaction() as db:
            return db.execute(
                "DELETE FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)
            ).rowcount == 1

    def delete_all(self, owner: str) -> int:
        _check_owner(owner)
        with self._transaction() as db:
            return db.execute("DELETE FROM conversations WHERE owner = ?", (owner,)).rowcount

    def owner_has(self, owner: str, conversation_id: str) -> bool:
        _check_owner(owner)
        with self._lock:
            return self._conn.execute(
                "SELECT 1 FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)
            ).fetchone() is not None


@dataclass
class _Entry:
    owner: str
    conversation: Conversation
    updated_at: float


class MemoryStore:
    """The same store kept in a dict, for when history saving is off: gone when the process ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._message_home: dict[str, str] = {}  # message id -> conversation id, as SQLite's primary key

    def _own(self, owner: str, conversation_id: str) -> _Entry | None:
        _check_owner(owner)
        entry = self._entries.get(conversation_id)
        return entry if entry is not None and entry.owner == owner else None

    def save_conversation(self, owner: str, conversation: Conversation) -> None:
        _check_owner(owner)
        ids = [m.id for m in conversation.messages]
        if len(set(ids)) != len(ids):
            raise IdConflict("a message id appears twice in the conversation")
        with self._lock:
            existing = self._entries.get(conversation.id)
            if existing is not None and existing.owner != owner:
                raise IdConflict("conversation id belongs to another owner")
            if any(self._message_home.get(i, conversation.id) != conversation.id for i in ids):
                raise IdConflict("a message id belongs to another conversation")
            if existing is not None:
                for m in existing.conversation.messages:
                    del self._message_home[m.id]
            self._entries[conversation.id] = _Entry(owner, copy.deepcopy(conversation), time.time())
            self._message_home.update((i, conversation.id) for i in ids)

    def save_message(self, owner: str, conversation_id: str, message: Message) -> None:
        with self._lock:
            entry = self._own(owner, conversation_id)
            if entry is None:
                raise ConversationNotFound(conversation_id)
            if self._message_home.get(message.id, conversation_id) != conversation_id:
                raise IdConflict("message id belongs to another conversation")
            messages = entry.conversation.messages
            stored = copy.deepcopy(message)
            for i in range(len(messages) - 1, -1, -1):  # the streaming reply is usually the last
                if messages[i].id == message.id:
                    messages[i] = stored
                    break
            else:
                messages.append(stored)
                self._message_home[message.id] = conversation_id
            entry.updated_at = time.time()

    def load(self, owner: str, conversation_id: str) -> Conversation | None:
        with self._lock:
            entry = self._own(owner, conversation_id)
            return copy.deepcopy(entry.conversation) if entry else None

    def list_conversations(self, owner: str, search: str = "", limit: int = 200) -> list[Summary]:
        _check_owner(owner)
        needle = search.strip().lower()

        def matches(c: Conversation) -> bool:
            return not needle or needle in c.title.lower() or any(
                needle in m.content.lower() for m in c.messages if m.status != WITHDRAWN
            )

        with self._lock:
            found = [e for e in self._entries.values() if e.owner == owner and matches(e.conversation)]
            found.sort(key=lambda e: e.conversation.id)
            found.sort(key=lambda e: (e.updated_at, e.conversation.created_at), reverse=True)
            return [
                Summary(e.conversation.id, e.conversation.title, e.conversation.model, e.conversation.created_at,
                        e.updated_at, len(e.conversation.messages),
                        sum(m.usage.total_tokens for m in e.conversation.messages if m.usage))
                for e in found[: max(0, int(limit))]
            ]

    def rename(self, owner: str, conversation_id: str, title: str) -> bool:
        with self._lock:
            entry = self._own(owner, conversation_id)
            if entry is not None:
                entry.conversation.title = title
            return entry is not None

    def delete(self, owner: str, conversation_id: str) -> bool:
        with self._lock:
            entry = self._own(owner, conversation_id)
            if entry is not None:
                self._drop(conversation_id)
            return entry is not None

    def delete_all(self, owner: str) -> int:
        _check_owner(owner)
        with self._lock:
            mine = [cid for cid, e in self._entries.items() if e.owner == owner]
            for cid in mine:
                self._drop(cid)
            return len(mine)

    def _drop(self, conversation_id: str) -> None:
        for m in self._entries.pop(conversation_id).conversation.messages:
            del self._message_home[m.id]

    def owner_has(self, owner: str, conversation_id: str) -> bool:
        with self._lock:
            return self._own(owner, conversation_id) is not None
