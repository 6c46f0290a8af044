"""Where conversations are kept: the `ConversationStore` interface, SQLite behind it, or memory only.

`ConversationStore` is the seam. The app talks only to it; `Store` (one SQLite file), `RetryingStore`
(the same file, opened again when it comes back: what `open_store` returns) and `MemoryStore` (history
saving turned off: nothing outlives the process) all implement it, and a server database such as
PostgreSQL plugs in later as another class with the same methods and the same rules, which are:

- Every method takes the `owner` and touches only that owner's conversations. An id without its
  owner opens nothing: someone else's conversation reads as absent, and saving over its id raises
  `IdConflict` rather than writing into it.
- A conversation is a tree of messages (see `qwenchat.conversation`); the store keeps every branch and
  where the visible one ends (its leaf).
- `save_conversation` writes the header and upserts every message of every branch. It never deletes a
  message: a stored message the saving copy did not see stays. Each save bumps the conversation's
  `version` and gives it to the saved object; a save from a copy that loaded an older version is a
  conflict, reported in the returned `SaveResult`: both sides are kept (two tabs answering after the
  same message become siblings), the header and leaf are the last writer's.
- Messages are deleted only by `delete_messages`, and a deleted message id is never written again.
- `save_message` upserts one message, a new one becoming the leaf: it is called on every flush of a
  streaming reply, so it is one small transaction, and it does not bump the version. Header changes
  (title, model, closed) go through `save_conversation` or `rename`.
- Deleted stays deleted: after `delete` or `delete_all`, saving that id again (from any tab) raises
  `ConversationDeleted`; the UI offers to save a copy (`qwenchat.conversation.copy_of`).
- `load` returns a copy: changing it changes nothing stored until it is saved again.
- Search is a case-insensitive (ASCII) substring match over titles and message text (every branch), with
  `%` and `_` taken literally. Withdrawn replies are not searched: their text was hidden from the user.
- `count_conversations` and `stored_bytes` let imports be capped (see `qwenchat.imports`).
- Images (`save_images`, `load_image`) are kept once per owner by id (the SHA-256 of their bytes) and only
  read back by that owner. A message's image parts link it to its images when it is saved; deleting the
  message or its conversation deletes every image no other message of the owner still shows.
- No API key is ever stored: `Conversation` has no key field and nothing here adds one.
- A store that cannot be opened, read or written raises `StoreUnavailable`, whose message names the
  file but never shows its contents.

The SQLite file runs in WAL mode with a busy timeout, so a second process can write to the same file;
every write is a `BEGIN IMMEDIATE` transaction, so two writers queue instead of failing. The web app's
busy timeout is short (`QWENCHAT_DB_BUSY_TIMEOUT`, 2.5 s by default): a locked file fails soon, and the
chat carries on in memory.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

from qwenchat import personas
from qwenchat.conversation import WITHDRAWN, Conversation, Message, Part, Usage
from qwenchat.database_url import is_postgres_url
from qwenchat.migrations import UnknownMigrations, migrate
from qwenchat.personas import Persona

BUSY_TIMEOUT_S = 10.0          # a Store opened directly (scripts, tests, a second process)
WEB_BUSY_TIMEOUT_S = 2.5       # what open_store uses unless QWENCHAT_DB_BUSY_TIMEOUT says otherwise
BUSY_TIMEOUT_NAME = "QWENCHAT_DB_BUSY_TIMEOUT"
RETRY_EVERY_S = 3.0            # how often a RetryingStore tries to open a file that failed to open
MAX_TOKENS_SHOWN = 2**63 - 1


@dataclass(frozen=True)
class Summary:
    """One line of the history list."""

    id: str
    title: str
    model: str
    created_at: float
    updated_at: float
    message_count: int  # every stored message, other branches included
    total_tokens: int   # the same


@dataclass(frozen=True)
class SaveResult:
    """What `save_conversation` did: the version now stored, and whether the saved copy was out of date
    (another copy saved since it was loaded; both sides were kept)."""

    version: int
    conflict: bool = False


class ConversationNotFound(LookupError):
    """The owner has no conversation with this id (it may not exist, or belong to someone else)."""


class ConversationDeleted(ConversationNotFound):
    """The conversation was deleted (perhaps in another tab): it is not saved again. Save a copy instead."""


class IdConflict(ValueError):
    """The id is already used by a row this write may not touch: give the object a fresh id."""


class StoreUnavailable(Exception):
    """The store cannot be opened, read or written now (a bad path, a read-only or locked file, a full disk).
    The message names the file and the reason, never its contents."""

    message_id = "store.unavailable"

    def __init__(self, path: object, reason: str):
        self.path, self.reason = str(path), reason
        # For logs; the UI says it in its language with the catalog's `message_id`.
        super().__init__(f"The conversation store is unavailable: {path} ({reason})")


class SchemaTooNew(StoreUnavailable):
    """The database was migrated by a newer version of the app (it records migrations this one does not
    know): this server refuses to read or write it rather than corrupt it. Upgrade the app, or point
    `QWENCHAT_DB` elsewhere. The UI says it with the catalog's `message_id`."""

    message_id = "store.schema_too_new"

    def __init__(self, path: object, unknown: Iterable[str]):
        self.unknown = list(unknown)
        super().__init__(path, "written by a newer version of qwenchat (" + ", ".join(self.unknown) + ")")


class ConversationStore(Protocol):
    """What the app needs from a place that keeps conversations (see the module docstring for the rules)."""

    def save_conversation(self, owner: str, conversation: Conversation) -> SaveResult: ...

    def save_message(self, owner: str, conversation_id: str, message: Message) -> None: ...

    def load(self, owner: str, conversation_id: str) -> Conversation | None: ...

    def list_conversations(self, owner: str, search: str = "", limit: int = 200) -> list[Summary]: ...

    def rename(self, owner: str, conversation_id: str, title: str) -> bool: ...

    def delete(self, owner: str, conversation_id: str) -> bool: ...

    def delete_all(self, owner: str) -> int: ...

    def owner_has(self, owner: str, conversation_id: str) -> bool: ...

    def delete_messages(self, owner: str, conversation_id: str, ids: Iterable[str]) -> int: ...

    def count_conversations(self, owner: str) -> int: ...

    def stored_bytes(self) -> int: ...

    def list_personas(self, owner: str) -> list[Persona]: ...

    def save_persona(self, owner: str, persona: Persona) -> None: ...

    def delete_persona(self, owner: str, name: str) -> bool: ...

    def save_images(self, owner: str, images: Iterable[StoredImage]) -> None: ...

    def load_image(self, owner: str, image_id: str) -> bytes | None: ...


class StoredImage(Protocol):
    """What the store keeps of an image (`qwenchat.images.PreparedImage` is one)."""

    id: str
    mime: str
    width: int
    height: int
    data: bytes


def default_path() -> Path:
    """`QWENCHAT_DB` if set, else `~/.qwenchat/chats.db` (a `postgresql://` URL is no path: see `open_store`)."""
    configured = os.environ.get("QWENCHAT_DB", "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".qwenchat" / "chats.db"


def web_busy_timeout(environ: dict[str, str] | None = None) -> float:
    """`QWENCHAT_DB_BUSY_TIMEOUT` in seconds (at most 60), else 2.5, read through the settings table."""
    from qwenchat.settings import read

    return min(float(read(BUSY_TIMEOUT_NAME, {}, os.environ if environ is None else environ)), 60.0)


def open_store(path: str | os.PathLike[str] | None = None, *, busy_timeout: float | None = None) -> "RetryingStore":
    """The app's store: never raises here; each call raises `StoreUnavailable` while the database cannot be
    opened, and it is tried again every few seconds. `path` (default `QWENCHAT_DB`) is a SQLite file, or a
    `postgresql://` URL for a PostgreSQL server (`qwenchat.store_postgres`)."""
    if path is None:
        configured = os.environ.get("QWENCHAT_DB", "").strip()
        path = configured if is_postgres_url(configured) else default_path()
    timeout = web_busy_timeout() if busy_timeout is None else busy_timeout
    if is_postgres_url(str(path)):
        from qwenchat.store_postgres import open_postgres

        return open_postgres(str(path), timeout=timeout)
    return RetryingStore(path, busy_timeout=timeout)


@functools.lru_cache(maxsize=8)
def shared_postgres(url: str) -> "RetryingStore":
    """One PostgreSQL store (one connection pool) per URL and process, shared by the conversations, the
    knowledge base and the evaluation runs: they live in the same database, so they need no pool each."""
    return open_store(url)


def _check_owner(owner: str) -> None:
    # An empty owner would be one bucket shared by everyone who has no identity.
    if not isinstance(owner, str) or not owner:
        raise ValueError("owner must be a non-empty string")


def _like_pattern(search: str) -> str:
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _usage_json(usage: Usage | None) -> str | None:
    return json.dumps(asdict(usage)) if usage else None


def _params(text: str | None) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _parts_json(parts: list[Part]) -> str:
    return json.dumps([asdict(p) for p in parts], ensure_ascii=False)


def _tokens(total: object) -> int:
    """A token total as the list shows it: whatever is stored, a non-negative int that cannot overflow."""
    if not isinstance(total, (int, float)) or not math.isfinite(total):
        return MAX_TOKENS_SHOWN if total == math.inf else 0
    return int(min(max(total, 0), MAX_TOKENS_SHOWN))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(exc)[:120] or type(exc).__name__  # SQLite's own words ("database is locked"), no row data


_MESSAGE_COLUMNS = "id, conversation_id, seq, role, content, reasoning, status, error, model, usage, created_at, " \
                   "parent_id, parts"
_UPSERT = f"""INSERT INTO messages ({_MESSAGE_COLUMNS})
    VALUES (?, ?, (SELECT COALESCE(MAX(seq) + 1, 0) FROM messages WHERE conversation_id = ?),
            ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET
        role = excluded.role, content = excluded.content, reasoning = excluded.reasoning,
        status = excluded.status, error = excluded.error, model = excluded.model, usage = excluded.usage,
        created_at = excluded.created_at, parent_id = excluded.parent_id, parts = excluded.parts
    WHERE messages.conversation_id = excluded.conversation_id"""


def _row(conversation_id: str, m: Message) -> tuple[object, ...]:
    return (m.id, conversation_id, conversation_id, m.role, m.content, m.reasoning, m.status, m.error, m.model,
            _usage_json(m.usage), m.created_at, m.parent_id, _parts_json(m.parts))


def _image_ids(message: Message) -> list[str]:
    return [str(p.data["id"]) for p in message.images if isinstance(p.data.get("id"), str)]


def _link_images(db: sqlite3.Connection, owner: str, messages: Iterable[Message]) -> None:
    """Record which images each saved message shows (only messages with images cost anything)."""
    links = [(m.id, owner, image_id) for m in messages for image_id in _image_ids(m)]
    if links:
        db.executemany("""INSERT OR IGNORE INTO message_images (message_id, owner, image_id)
                          SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM messages WHERE id = ?1)""", links)


def _images_of(db: sqlite3.Connection, where: str, params: tuple[object, ...]) -> list[tuple[str, str]]:
    """(owner, image id) of the images linked to the messages `where` selects."""
    return db.execute(f"""SELECT DISTINCT owner, image_id FROM message_images
                          WHERE message_id IN (SELECT id FROM messages WHERE {where})""", params).fetchall()


def _drop_unlinked(db: sqlite3.Connection, candidates: list[tuple[str, str]]) -> None:
    """Delete those of these images that no message links to any more."""
    db.executemany("""DELETE FROM images WHERE owner = ?1 AND id = ?2 AND NOT EXISTS
                      (SELECT 1 FROM message_images WHERE owner = ?1 AND image_id = ?2)""", candidates)


class Store:
    """Conversations in one SQLite file.

    One connection per Store, shared by all threads under a lock (the lock is what makes sharing it
    safe: two threads' transactions must not interleave on one connection). Streamlit starts a new
    script thread for almost every rerun, so connections per thread would come and go with reruns,
    out of reach of `close()`. Operations take microseconds to a few milliseconds, so queuing them
    within a process costs little, and SQLite serializes writers anyway. Other processes are kept
    in order by SQLite's own file locks.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = BUSY_TIMEOUT_S):
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()
        conn = None
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self.path.exists():
                # Private chats: readable by the owner only. SQLite gives the -wal and -shm files the same mode.
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL survives a killed process; only a power cut may lose the last commits.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn)
        except UnknownMigrations as exc:
            conn.close()
            raise SchemaTooNew(self.path, exc.names) from None
        except (sqlite3.Error, OSError) as exc:
            if conn is not None:
                conn.close()
            raise StoreUnavailable(self.path, _reason(exc)) from None
        self._conn = conn

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
            try:
                self._conn.execute(begin)
                try:
                    yield self._conn
                    self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
            except (sqlite3.Error, OSError) as exc:
                raise StoreUnavailable(self.path, _reason(exc)) from None

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except (sqlite3.Error, OSError) as exc:
                raise StoreUnavailable(self.path, _reason(exc)) from None

    @staticmethod
    def _refuse_deleted(db: sqlite3.Connection, owner: str, conversation_id: str, *, saving: bool = False) -> None:
        """Raise ConversationDeleted if the owner deleted this id; a save over another owner's deleted id
        is an IdConflict, anything else of theirs reads as absent (the caller raises ConversationNotFound)."""
        row = db.execute("SELECT owner FROM deleted_conversations WHERE id = ?", (conversation_id,)).fetchone()
        if row is not None:
            if row[0] == owner:
                raise ConversationDeleted(conversation_id)
            if saving:
                raise IdConflict("conversation id belongs to another owner")

    def save_conversation(self, owner: str, conversation: Conversation) -> SaveResult:
        _check_owner(owner)
        messages = conversation.all_messages()
        ids = [m.id for m in messages]
        if len(set(ids)) != len(ids):
            raise IdConflict("a message id appears twice in the conversation")
        c = conversation
        leaf = c.messages[-1].id if c.messages else ""
        ids_json = json.dumps(ids)
        with self._transaction() as db:
            self._refuse_deleted(db, owner, c.id, saving=True)
            stored = db.execute("SELECT owner, version FROM conversations WHERE id = ?", (c.id,)).fetchone()
            if stored is not None and stored[0] != owner:
                raise IdConflict("conversation id belongs to another owner")
            stored_version = stored[1] if stored else 0
            conflict = stored is not None and stored_version > c.version
            version = max(stored_version, c.version) + 1
            header = (c.title, c.model, c.system_prompt, int(c.closed), c.created_at, time.time(), leaf, version,
                      json.dumps(c.params), c.id)
            if stored is None:
                db.execute(
                    """INSERT INTO conversations (title, model, system_prompt, closed, created_at, updated_at,
                           leaf_id, version, params, id, owner)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", (*header, owner))
            else:
                db.execute(
                    """UPDATE conversations SET title = ?, model = ?, system_prompt = ?, closed = ?, created_at = ?,
                           updated_at = ?, leaf_id = ?, version = ?, params = ? WHERE id = ?""", header)
            if db.execute("""SELECT 1 FROM messages WHERE id IN (SELECT value FROM json_each(?))
                             AND conversation_id != ? LIMIT 1""", (ids_json, c.id)).fetchone():
                raise IdConflict("a message id belongs to another conversation")
            gone = dict(db.execute("""SELECT id, conversation_id FROM deleted_messages
                                      WHERE id IN (SELECT value FROM json_each(?))""", (ids_json,)).fetchall())
            if any(home != c.id for home in gone.values()):
                raise IdConflict("a message id belongs to another conversation")
            db.executemany(_UPSERT, [_row(c.id, m) for m in messages if m.id not in gone])
            _link_images(db, owner, [m for m in messages if m.id not in gone])
        conversation.version = version
        return SaveResult(version, conflict)

    def save_message(self, owner: str, conversation_id: str, message: Message) -> None:
        _check_owner(owner)
        with self._transaction() as db:
            touched = db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ? AND owner = ?",
                (time.time(), conversation_id, owner),
            )
            if touched.rowcount != 1:
                self._refuse_deleted(db, owner, conversation_id)
                raise ConversationNotFound(conversation_id)
            home = db.execute("SELECT conversation_id FROM messages WHERE id = ?", (message.id,)).fetchone()
            if home is None:
                deleted = db.execute("SELECT conversation_id FROM deleted_messages WHERE id = ?",
                                     (message.id,)).fetchone()
                if deleted is not None:
                    if deleted[0] != conversation_id:
                        raise IdConflict("message id belongs to another conversation")
                    return  # deleted meanwhile (another tab): it stays deleted
            elif home[0] != conversation_id:
                raise IdConflict("message id belongs to another conversation")
            # A new message goes last and becomes the leaf; an existing one keeps its place.
            db.execute(_UPSERT, _row(conversation_id, message))
            _link_images(db, owner, [message])
            if home is None:
                db.execute("UPDATE conversations SET leaf_id = ? WHERE id = ?", (message.id, conversation_id))

    def load(self, owner: str, conversation_id: str) -> Conversation | None:
        _check_owner(owner)
        with self._transaction("BEGIN") as db:  # one snapshot for all reads
            header = db.execute(
                """SELECT id, title, model, system_prompt, closed, created_at, leaf_id, version, params
                   FROM conversations WHERE id = ? AND owner = ?""",
                (conversation_id, owner),
            ).fetchone()
            if header is None:
                return None
            rows = db.execute(
                """SELECT id, role, content, reasoning, status, error, model, usage, created_at, parent_id, parts
                   FROM messages WHERE conversation_id = ? ORDER BY seq""",
                (conversation_id,),
            ).fetchall()
        messages, previous = [], ""
        for mid, role, content, reasoning, status, error, model, usage, created_at, parent_id, parts in rows:
            messages.append(Message(
                role=role, content=content, status=status, reasoning=reasoning, error=error, model=model,
                usage=Usage.from_dict(json.loads(usage)) if usage else None, id=mid, created_at=created_at,
                # A row from before the tree (NULL) follows the row before it.
                parent_id=previous if parent_id is None else parent_id,
                parts=[Part.from_dict(p) for p in json.loads(parts or "[]")]))
            previous = mid
        cid, title, model, system_prompt, closed, created_at, leaf_id, version, params = header
        conversation = Conversation(model=model, system_prompt=system_prompt, title=title, closed=bool(closed),
                                    id=cid, created_at=created_at, version=version,
                                    params=_params(params))
        conversation.show_tree(messages, leaf_id)
        return conversation

    def list_conversations(self, owner: str, search: str = "", limit: int = 200) -> list[Summary]:
        _check_owner(owner)
        where, params = "c.owner = ?", [owner]
        if search.strip():
            pattern = _like_pattern(search.strip())
            where += """ AND (c.title LIKE ? ESCAPE '\\' OR EXISTS (
                SELECT 1 FROM messages m WHERE m.conversation_id = c.id
                AND m.status != ? AND m.content LIKE ? ESCAPE '\\'))"""
            params += [pattern, WITHDRAWN, pattern]
        with self._read() as db:
            # TOTAL, not SUM: SUM raises "integer overflow" past 2**63, and one crafted import would
            # then break the whole list.
            rows = db.execute(
                f"""SELECT c.id, c.title, c.model, c.created_at, c.updated_at,
                        (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id),
                        (SELECT TOTAL(json_extract(m.usage, '$.total_tokens'))
                         FROM messages m WHERE m.conversation_id = c.id)
                    FROM conversations c WHERE {where}
                    ORDER BY c.updated_at DESC, c.created_at DESC, c.id LIMIT ?""",
                (*params, max(0, int(limit))),
            ).fetchall()
        return [Summary(*row[:6], _tokens(row[6])) for row in rows]

    def rename(self, owner: str, conversation_id: str, title: str) -> bool:
        _check_owner(owner)
        with self._transaction() as db:
            return db.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND owner = ?", (title, conversation_id, owner)
            ).rowcount == 1

    def delete(self, owner: str, conversation_id: str) -> bool:
        _check_owner(owner)
        with self._transaction() as db:
            return self._delete_where(db, "id = ? AND owner = ?", (conversation_id, owner)) == 1

    def delete_all(self, owner: str) -> int:
        _check_owner(owner)
        with self._transaction() as db:
            return self._delete_where(db, "owner = ?", (owner,))

    @staticmethod
    def _delete_where(db: sqlite3.Connection, where: str, params: tuple[str, ...]) -> int:
        db.execute(f"""INSERT OR REPLACE INTO deleted_conversations (id, owner, deleted_at)
                       SELECT id, owner, ? FROM conversations WHERE {where}""", (time.time(), *params))
        db.execute(f"""DELETE FROM deleted_messages WHERE conversation_id IN
                       (SELECT id FROM conversations WHERE {where})""", params)
        images = _images_of(db, f"conversation_id IN (SELECT id FROM conversations WHERE {where})", params)
        count = db.execute(f"DELETE FROM conversations WHERE {where}", params).rowcount
        _drop_unlinked(db, images)  # the messages went with their conversations, and their links with them
        return count

    def owner_has(self, owner: str, conversation_id: str) -> bool:
        _check_owner(owner)
        with self._read() as db:
            return db.execute(
                "SELECT 1 FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)
            ).fetchone() is not None

    def delete_messages(self, owner: str, conversation_id: str, ids: Iterable[str]) -> int:
        """Delete these messages of the conversation (only these: pass descendants too, as `delete_pair`
        returns them); no later save writes them again. Returns how many were stored."""
        _check_owner(owner)
        doomed = list(dict.fromkeys(ids))
        with self._transaction() as db:
            leaf = db.execute("SELECT leaf_id FROM conversations WHERE id = ? AND owner = ?",
                              (conversation_id, owner)).fetchone()
            if leaf is None:
                self._refuse_deleted(db, owner, conversation_id)
                raise ConversationNotFound(conversation_id)
            links = db.execute("SELECT id, parent_id FROM messages WHERE conversation_id = ? ORDER BY seq",
                               (conversation_id,)).fetchall()
            parents, previous = {}, ""
            for mid, parent in links:
                parents[mid] = previous if parent is None else parent
                previous = mid
            db.execute("""INSERT OR IGNORE INTO deleted_messages (id, conversation_id, deleted_at)
                          SELECT value, ?, ? FROM json_each(?) WHERE NOT EXISTS
                              (SELECT 1 FROM messages m WHERE m.id = value AND m.conversation_id != ?)""",
                       (conversation_id, time.time(), json.dumps(doomed), conversation_id))
            images = _images_of(db, "conversation_id = ? AND id IN (SELECT value FROM json_each(?))",
                                (conversation_id, json.dumps(doomed)))
            removed = db.execute("""DELETE FROM messages WHERE conversation_id = ?
                                    AND id IN (SELECT value FROM json_each(?))""",
                                 (conversation_id, json.dumps(doomed))).rowcount
            _drop_unlinked(db, images)
            current = leaf[0] if leaf[0] is not None else previous
            gone = set(doomed)
            seen: set[str] = set()
            while current in gone and current not in seen:  # the leaf moves up to what is left of its branch
                seen.add(current)
                current = parents.get(current, "")
            db.execute("UPDATE conversations SET leaf_id = ?, updated_at = ? WHERE id = ?",
                       (current, time.time(), conversation_id))
            return removed

    def count_conversations(self, owner: str) -> int:
        _check_owner(owner)
        with self._read() as db:
            return db.execute("SELECT COUNT(*) FROM conversations WHERE owner = ?", (owner,)).fetchone()[0]

    def stored_bytes(self) -> int:
        """The database's size on disk, its write-ahead log included."""
        with self._read() as db:
            pages = db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
            wal = Path(f"{self.path}-wal")
            return pages + (wal.stat().st_size if wal.exists() else 0)


    # ---- images (qwenchat.images) ----

    def save_images(self, owner: str, images: Iterable[StoredImage]) -> None:
        """Keep these images for `owner` (one row per id: saving the same picture again costs nothing)."""
        _check_owner(owner)
        rows = [(owner, i.id, i.mime, i.width, i.height, len(i.data), i.data, time.time()) for i in images]
        if not rows:
            return
        with self._transaction() as db:
            db.executemany("""INSERT OR IGNORE INTO images (owner, id, mime, width, height, bytes, data, created_at)
                              VALUES (?, ?, ?, ?, ?, ?, ?, ?)""", rows)

    def load_image(self, owner: str, image_id: str) -> bytes | None:
        _check_owner(owner)
        with self._read() as db:
            row = db.execute("SELECT data FROM images WHERE owner = ? AND id = ?", (owner, image_id)).fetchone()
        return bytes(row[0]) if row else None

    # ---- a user's own personas (qwenchat.personas) ----

    def list_personas(self, owner: str) -> list[Persona]:
        _check_owner(owner)
        with self._read() as db:
            rows = db.execute("SELECT name, prompt FROM personas WHERE owner = ? ORDER BY created_at, name",
                              (owner,)).fetchall()
        return [personas.custom(name, prompt) for name, prompt in rows]

    def save_persona(self, owner: str, persona: Persona) -> None:
        """Save (or replace, by name) one of the owner's personas; at most `personas.MAX_SAVED` each."""
        _check_owner(owner)
        with self._transaction() as db:
            count = db.execute("SELECT COUNT(*) FROM personas WHERE owner = ? AND name != ?",
                               (owner, persona.name_zh)).fetchone()[0]
            if count >= personas.MAX_SAVED:
                raise personas.TooManyPersonas(personas.MAX_SAVED)
            db.execute("""INSERT INTO personas (owner, name, prompt, created_at) VALUES (?, ?, ?, ?)
                          ON CONFLICT (owner, name) DO UPDATE SET prompt = excluded.prompt""",
                       (owner, persona.name_zh, persona.prompt, time.time()))

    def delete_persona(self, owner: str, name: str) -> bool:
        _check_owner(owner)
        with self._transaction() as db:
            return db.execute("DELETE FROM personas WHERE owner = ? AND name = ?", (owner, name)).rowcount == 1


class RetryingStore:
    """A `Store` that is opened on first need and again when it comes back.

    Construction never raises. While the file cannot be opened, every call raises `StoreUnavailable`, and
    another attempt is made at most every `retry_every` seconds (so a broken path costs one failed open per
    few seconds, not one per rerun). Once open, calls go straight to the `Store`.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = WEB_BUSY_TIMEOUT_S,
                 retry_every: float = RETRY_EVERY_S, clock: Callable[[], float] = time.monotonic,
                 opener: Callable[[], ConversationStore] | None = None):
        # With `opener` (another backend, e.g. PostgreSQL), `path` is only a name to show: a redacted URL.
        self.path = Path(path).expanduser() if opener is None else path
        self._opener = opener or (lambda: Store(self.path, busy_timeout=self._busy_timeout))
        self._busy_timeout, self._retry_every, self._clock = busy_timeout, retry_every, clock
        self._lock = threading.Lock()
        self._store: ConversationStore | None = None
        self._error: StoreUnavailable | None = None
        self._failed_at = 0.0
        self._open()

    def _open(self) -> None:
        try:
            self._store = self._opener()
            self._error = None
        except StoreUnavailable as exc:
            self._error, self._failed_at = exc, self._clock()

    @property
    def available(self) -> bool:
        """Whether the file is open now (without trying to open it)."""
        return self._store is not None

    def _current(self) -> ConversationStore:
        with self._lock:
            if self._store is None and self._clock() - self._failed_at >= self._retry_every:
                self._open()
            if self._store is None:
                assert self._error is not None
                error = self._error
                if isinstance(error, SchemaTooNew):
                    raise SchemaTooNew(error.path, error.unknown)
                raise StoreUnavailable(error.path, error.reason)
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def __enter__(self) -> "RetryingStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save_conversation(self, owner: str, conversation: Conversation) -> SaveResult:
        return self._current().save_conversation(owner, conversation)

    def save_message(self, owner: str, conversation_id: str, message: Message) -> None:
        self._current().save_message(owner, conversation_id, message)

    def load(self, owner: str, conversation_id: str) -> Conversation | None:
        return self._current().load(owner, conversation_id)

    def list_conversations(self, owner: str, search: str = "", limit: int = 200) -> list[Summary]:
        return self._current().list_conversations(owner, search, limit)

    def rename(self, owner: str, conversation_id: str, title: str) -> bool:
        return self._current().rename(owner, conversation_id, title)

    def delete(self, owner: str, conversation_id: str) -> bool:
        return self._current().delete(owner, conversation_id)

    def delete_all(self, owner: str) -> int:
        return self._current().delete_all(owner)

    def owner_has(self, owner: str, conversation_id: str) -> bool:
        return self._current().owner_has(owner, conversation_id)

    def delete_messages(self, owner: str, conversation_id: str, ids: Iterable[str]) -> int:
        return self._current().delete_messages(owner, conversation_id, ids)

    def count_conversations(self, owner: str) -> int:
        return self._current().count_conversations(owner)

    def stored_bytes(self) -> int:
        return self._current().stored_bytes()

    def list_personas(self, owner: str) -> list[Persona]:
        return self._current().list_personas(owner)

    def save_persona(self, owner: str, persona: Persona) -> None:
        self._current().save_persona(owner, persona)

    def delete_persona(self, owner: str, name: str) -> bool:
        return self._current().delete_persona(owner, name)

    def save_images(self, owner: str, images: Iterable[StoredImage]) -> None:
        self._current().save_images(owner, images)

    def load_image(self, owner: str, image_id: str) -> bytes | None:
        return self._current().load_image(owner, image_id)


@dataclass
class _Entry:
    owner: str
    header: Conversation                     # title, model, …: its message lists stay empty
    messages: dict[str, Message] = field(default_factory=dict)  # every branch, in the order first saved
    leaf_id: str | None = None
    version: int = 0
    updated_at: float = field(default_factory=time.time)

    def conversation(self) -> Conversation:
        conversation = copy.deepcopy(self.header)
        conversation.version = self.version
        conversation.show_tree(copy.deepcopy(list(self.messages.values())), self.leaf_id)
        return conversation


class MemoryStore:
    """The same store kept in a dict, for when history saving is off: gone when the process ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._message_home: dict[str, str] = {}  # message id -> conversation id, as SQLite's primary key
        self._deleted: dict[str, tuple[str, float]] = {}        # conversation id -> (owner, when)
        self._deleted_messages: dict[str, str] = {}             # message id -> conversation id
        self._personas: dict[str, dict[str, Persona]] = {}      # owner -> name -> persona
        self._images: dict[tuple[str, str], bytes] = {}         # (owner, image id) -> bytes

    def _own(self, owner: str, conversation_id: str) -> _Entry | None:
        _check_owner(owner)
        entry = self._entries.get(conversation_id)
        return entry if entry is not None and entry.owner == owner else None

    def _refuse_deleted(self, owner: str, conversation_id: str, *, saving: bool = False) -> None:
        if conversation_id in self._deleted:
            if self._deleted[conversation_id][0] == owner:
                raise ConversationDeleted(conversation_id)
            if saving:
                raise IdConflict("conversation id belongs to another owner")

    def save_conversation(self, owner: str, conversation: Conversation) -> SaveResult:
        _check_owner(owner)
        messages = conversation.all_messages()
        ids = [m.id for m in messages]
        if len(set(ids)) != len(ids):
            raise IdConflict("a message id appears twice in the conversation")
        cid = conversation.id
        with self._lock:
            self._refuse_deleted(owner, cid, saving=True)
            existing = self._entries.get(cid)
            if existing is not None and existing.owner != owner:
                raise IdConflict("conversation id belongs to another owner")
            if any(self._message_home.get(i, cid) != cid or self._deleted_messages.get(i, cid) != cid for i in ids):
                raise IdConflict("a message id belongs to another conversation")
            stored_version = existing.version if existing else 0
            conflict = existing is not None and stored_version > conversation.version
            version = max(stored_version, conversation.version) + 1
            header = copy.deepcopy(replace(conversation, messages=[], hidden=[], version=0))
            entry = existing or _Entry(owner, header)
            entry.header, entry.version, entry.updated_at = header, version, time.time()
            entry.leaf_id = conversation.messages[-1].id if conversation.messages else ""
            for m in messages:
                if m.id not in self._deleted_messages:
                    entry.messages[m.id] = copy.deepcopy(m)
                    self._message_home[m.id] = cid
            self._entries[cid] = entry
        conversation.version = version
        return SaveResult(version, conflict)

    def save_message(self, owner: str, conversation_id: str, message: Message) -> None:
        with self._lock:
            entry = self._own(owner, conversation_id)
            if entry is None:
                self._refuse_deleted(owner, conversation_id)
                raise ConversationNotFound(conversation_id)
            if self._message_home.get(message.id, conversation_id) != conversation_id or \
                    self._deleted_messages.get(message.id, conversation_id) != conversation_id:
                raise IdConflict("message id belongs to another conversation")
            if message.id in self._deleted_messages:
                return  # deleted meanwhile (another tab): it stays deleted
            if message.id not in entry.messages:
                entry.leaf_id = message.id
                self._message_home[message.id] = conversation_id
            entry.messages[message.id] = copy.deepcopy(message)
            entry.updated_at = time.time()

    def load(self, owner: str, conversation_id: str) -> Conversation | None:
        with self._lock:
            entry = self._own(owner, conversation_id)
            return entry.conversation() if entry else None

    def list_conversations(self, owner: str, search: str = "", limit: int = 200) -> list[Summary]:
        _check_owner(owner)
        needle = search.strip().lower()

        def matches(e: _Entry) -> bool:
            return not needle or needle in e.header.title.lower() or any(
                needle in m.content.lower() for m in e.messages.values() if m.status != WITHDRAWN
            )

        with self._lock:
            found = [e for e in self._entries.values() if e.owner == owner and matches(e)]
            found.sort(key=lambda e: e.header.id)
            found.sort(key=lambda e: (e.updated_at, e.header.created_at), reverse=True)
            return [
                Summary(e.header.id, e.header.title, e.header.model, e.header.created_at, e.updated_at,
                        len(e.messages), _tokens(sum(m.usage.total_tokens for m in e.messages.values() if m.usage)))
                for e in found[: max(0, int(limit))]
            ]

    def rename(self, owner: str, conversation_id: str, title: str) -> bool:
        with self._lock:
            entry = self._own(owner, conversation_id)
            if entry is not None:
                entry.header.title = title
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

    def _drop_unlinked(self, owner: str, candidates: set[str]) -> None:
        shown = {i for e in self._entries.values() if e.owner == owner for m in e.messages.values()
                 for i in _image_ids(m)}
        for image_id in candidates - shown:
            self._images.pop((owner, image_id), None)

    def _drop(self, conversation_id: str) -> None:
        entry = self._entries.pop(conversation_id)
        self._drop_unlinked(entry.owner, {i for m in entry.messages.values() for i in _image_ids(m)})
        self._deleted[conversation_id] = (entry.owner, time.time())
        for mid in entry.messages:
            del self._message_home[mid]
        for mid in [m for m, home in self._deleted_messages.items() if home == conversation_id]:
            del self._deleted_messages[mid]

    def owner_has(self, owner: str, conversation_id: str) -> bool:
        with self._lock:
            return self._own(owner, conversation_id) is not None

    def delete_messages(self, owner: str, conversation_id: str, ids: Iterable[str]) -> int:
        doomed = list(dict.fromkeys(ids))
        with self._lock:
            entry = self._own(owner, conversation_id)
            if entry is None:
                self._refuse_deleted(owner, conversation_id)
                raise ConversationNotFound(conversation_id)
            parents = {m.id: m.parent_id for m in entry.messages.values()}
            images = {i for mid in doomed if mid in entry.messages for i in _image_ids(entry.messages[mid])}
            removed = 0
            for mid in doomed:
                if self._message_home.get(mid, conversation_id) != conversation_id:
                    continue
                self._deleted_messages[mid] = conversation_id
                if entry.messages.pop(mid, None) is not None:
                    del self._message_home[mid]
                    removed += 1
            current, seen = entry.leaf_id, set()
            while current in self._deleted_messages and current not in seen:
                seen.add(current)
                current = parents.get(current, "")
            entry.leaf_id, entry.updated_at = current, time.time()
            self._drop_unlinked(owner, images)
            return removed

    def count_conversations(self, owner: str) -> int:
        _check_owner(owner)
        with self._lock:
            return sum(1 for e in self._entries.values() if e.owner == owner)

    def stored_bytes(self) -> int:
        """The UTF-8 size of every stored text, roughly what the same data would take in a file."""
        def size(text: str) -> int:
            return len(text.encode("utf-8", "surrogatepass"))

        with self._lock:
            return sum(size(e.header.title) + size(e.header.system_prompt) + size(e.header.model) +
                       sum(size(m.content) + size(m.reasoning) + size(m.model) + size(m.error) + 200 +
                           sum(size(p.text) + size(json.dumps(p.data)) for p in m.parts)
                           for m in e.messages.values())
                       for e in self._entries.values()) + sum(len(d) for d in self._images.values())

    def save_images(self, owner: str, images: Iterable[StoredImage]) -> None:
        _check_owner(owner)
        with self._lock:
            for image in images:
                self._images.setdefault((owner, image.id), bytes(image.data))

    def load_image(self, owner: str, image_id: str) -> bytes | None:
        _check_owner(owner)
        with self._lock:
            return self._images.get((owner, image_id))

    def list_personas(self, owner: str) -> list[Persona]:
        _check_owner(owner)
        with self._lock:
            return list(self._personas.get(owner, {}).values())

    def save_persona(self, owner: str, persona: Persona) -> None:
        _check_owner(owner)
        with self._lock:
            mine = self._personas.setdefault(owner, {})
            if persona.name_zh not in mine and len(mine) >= personas.MAX_SAVED:
                raise personas.TooManyPersonas(personas.MAX_SAVED)
            mine[persona.name_zh] = persona

    def delete_persona(self, owner: str, name: str) -> bool:
        _check_owner(owner)
        with self._lock:
            return self._personas.get(owner, {}).pop(name, None) is not None


if __name__ == "__main__":  # python -m qwenchat.store copy --from A --to B (see qwenchat.store_copy)
    import sys

    from qwenchat.store_copy import main

    sys.exit(main(sys.argv[1:]))
