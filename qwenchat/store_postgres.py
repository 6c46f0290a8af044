"""Conversations on a PostgreSQL server, shared by several app servers: `PostgresStore`, with the same
methods and rules as the SQLite `Store` (see `qwenchat.store`), and `open_postgres`, the app's way in.

- Connections come from a `psycopg_pool.ConnectionPool` (`min_size` 1, `max_size` the setting
  `QWENCHAT_DB_POOL_MAX`): Streamlit runs each session's script in its own thread, so a few threads may
  want the database at once. A connection is held for one operation only.
- Writers that touch one conversation queue on its row (`SELECT ... FOR UPDATE`), so versions and
  conflicts follow the same rules as SQLite's single writer: two servers saving the same conversation
  never lose a message, and the second save is told it was a conflict.
- Every driver failure (the server away, a connection cut, a pool with nothing to lend within the
  timeout) becomes `StoreUnavailable`, whose message shows the URL without its password. An operation
  that fails because its connection broke is tried once more on a fresh connection; if the server stays
  away, the `Saver` keeps the reply on screen and saves it when the server is back.
- Images are kept as in SQLite (tables `images` and `message_images`, see `qwenchat.pg_migrations`): once per
  owner by id, linked from the messages that show them, deleted with the last such message. Writing links
  and looking for images left without any take a per-owner advisory lock (as SQLite's single writer does):
  otherwise two servers deleting the last two messages that show one image at the same moment would each
  still see the other's link, and the image would outlive both.
- PostgreSQL text cannot hold NUL (U+0000); the SQLite file can, and so can a model's reply. Stored text
  therefore escapes NUL as U+E000 followed by "0", and U+E000 itself as two U+E000 (`_escape`), so every
  string round-trips exactly; text without either character is stored as it is.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from contextlib import contextmanager
from typing import Iterable, Iterator

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from qwenchat import personas
from qwenchat.conversation import WITHDRAWN, Conversation, Message, Part, Usage
from qwenchat.database_url import redact, scrub
from qwenchat.migrations import UnknownMigrations
from qwenchat.personas import Persona
from qwenchat.pg_migrations import VectorExtensionMissing, migrate
from qwenchat.store import (
    ConversationDeleted,
    ConversationNotFound,
    IdConflict,
    RetryingStore,
    SaveResult,
    SchemaTooNew,
    StoredImage,
    StoreUnavailable,
    Summary,
    _check_owner,
    _image_ids,
    _like_pattern,
    _params,
    _parts_json,
    _tokens,
    _usage_json,
)

log = logging.getLogger(__name__)

POOL_MAX_NAME = "QWENCHAT_DB_POOL_MAX"
OPEN_TIMEOUT_S = 10.0  # a PostgresStore opened directly (scripts, tests)
RETRY_EVERY_S = 2.0    # after the server was found away, calls fail at once for this long

_ESC = "\ue000"
_UNESCAPE = re.compile("\ue000(.)", re.DOTALL)


def _escape(text: str) -> str:
    if "\x00" not in text and _ESC not in text:
        return text
    return text.replace(_ESC, _ESC + _ESC).replace("\x00", _ESC + "0")


def _unescape(text: str) -> str:
    if _ESC not in text:
        return text
    return _UNESCAPE.sub(lambda m: _ESC if m.group(1) == _ESC else "\x00", text)


def _reason(exc: BaseException, url: str) -> str:
    """The driver's own words, first line only (no row data from a DETAIL line), without the password."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return scrub(first, url)[:160] or type(exc).__name__


def _connection_lost(exc: BaseException) -> bool:
    """The server is away or the connection broke (not a statement the server refused)."""
    if isinstance(exc, (PoolTimeout, psycopg.InterfaceError, OSError)):
        return True
    state = getattr(exc, "sqlstate", None)
    return isinstance(exc, psycopg.OperationalError) and (state is None or state[:2] == "08" or
                                                          state in ("57P01", "57P02", "57P03"))


def pool_max(environ: dict[str, str] | None = None) -> int:
    import os

    from qwenchat.settings import read

    return int(read(POOL_MAX_NAME, {}, os.environ if environ is None else environ))


def open_postgres(url: str, *, timeout: float, pool_max_size: int | None = None) -> RetryingStore:
    """The app's PostgreSQL store: never raises here; calls raise `StoreUnavailable` while the server is
    away, and it is connected again when it is back (as `open_store` does for a SQLite file)."""
    size = pool_max() if pool_max_size is None else pool_max_size
    return RetryingStore(redact(url), busy_timeout=timeout,
                         opener=lambda: PostgresStore(url, timeout=timeout, max_size=size))


_MESSAGE_COLUMNS = "id, conversation_id, seq, role, content, reasoning, status, error, model, usage, created_at, " \
                   "parent_id, parts"
_UPSERT = f"""INSERT INTO messages ({_MESSAGE_COLUMNS})
    VALUES (%s, %s, (SELECT COALESCE(MAX(seq) + 1, 0) FROM messages WHERE conversation_id = %s),
            %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (id) DO UPDATE SET
        role = excluded.role, content = excluded.content, reasoning = excluded.reasoning,
        status = excluded.status, error = excluded.error, model = excluded.model, usage = excluded.usage,
        created_at = excluded.created_at, parent_id = excluded.parent_id, parts = excluded.parts
    WHERE messages.conversation_id = excluded.conversation_id"""


def _row(conversation_id: str, m: Message) -> tuple[object, ...]:
    e = _escape
    return (m.id, conversation_id, conversation_id, e(m.role), e(m.content), e(m.reasoning), e(m.status),
            e(m.error), e(m.model), _usage_json(m.usage), m.created_at, m.parent_id, _parts_json(m.parts))


def _images_lock(db: psycopg.Connection, owner: str) -> None:
    """Queue with every other transaction that links or deletes this owner's images, until commit."""
    db.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ("images:" + owner,))


def _link_images(db: psycopg.Connection, owner: str, messages: Iterable[Message]) -> None:
    """Record which images each saved message shows (only messages with images cost anything)."""
    links = [(m.id, _escape(image_id)) for m in messages for image_id in _image_ids(m)]
    if not links:
        return
    _images_lock(db, owner)
    db.execute("""INSERT INTO message_images (message_id, owner, image_id)
                  SELECT l.m, %s, l.i FROM unnest(%s::text[], %s::text[]) AS l(m, i)
                  WHERE EXISTS (SELECT 1 FROM messages WHERE id = l.m)
                  ON CONFLICT DO NOTHING""", (owner, [m for m, _ in links], [i for _, i in links]))


def _images_of(db: psycopg.Connection, where: str, params: tuple[object, ...]) -> list[tuple[str, str]]:
    """(owner, stored image id) of the images linked to the messages `where` selects."""
    return db.execute(f"""SELECT DISTINCT owner, image_id FROM message_images
                          WHERE message_id IN (SELECT id FROM messages WHERE {where})""", params).fetchall()


def _drop_unlinked(db: psycopg.Connection, candidates: list[tuple[str, str]]) -> None:
    """Delete those of these images that no message links to any more."""
    if not candidates:
        return
    for owner in sorted({owner for owner, _ in candidates}):
        _images_lock(db, owner)  # links deleted or written meanwhile are committed (and seen) first
    db.execute("""DELETE FROM images i USING unnest(%s::text[], %s::text[]) AS c(owner, id)
                  WHERE i.owner = c.owner AND i.id = c.id AND NOT EXISTS
                      (SELECT 1 FROM message_images l WHERE l.owner = c.owner AND l.image_id = c.id)""",
               ([o for o, _ in candidates], [i for _, i in candidates]))


class VectorUnavailable(StoreUnavailable):
    """The pgvector extension is missing and this role may not create it: the knowledge base needs it."""

    message_id = "store.vector_unavailable"


def _register_vector(conn: psycopg.Connection) -> None:
    """pgvector's types on this connection (vectors in and out as numpy arrays); nothing before the
    migration has created the extension (the first connection registers it right after migrating)."""
    from pgvector.psycopg import register_vector

    try:
        register_vector(conn)
    except psycopg.ProgrammingError:  # "vector type not found in the database"
        pass


class PostgresStore:
    """Conversations on a PostgreSQL server (see the module docstring). Opening connects, migrates under
    the advisory lock, and raises `StoreUnavailable` (or `SchemaTooNew`) if either fails."""

    def __init__(self, url: str, *, timeout: float = OPEN_TIMEOUT_S, min_size: int = 1, max_size: int = 10,
                 retry_every: float = RETRY_EVERY_S):
        self._url = url
        self.path = redact(url)  # what messages show
        self._timeout, self._sizes, self._retry_every = timeout, (min_size, max(min_size, max_size)), retry_every
        self._pool: ConnectionPool | None = None
        self._lost: tuple[float, str] | None = None  # (when, why) the server was last found away
        self._lost_lock = threading.Lock()
        try:
            self._pool = self._new_pool()
            with self._pool.connection() as conn:
                migrate(conn)
                _register_vector(conn)  # the connections made later get it from the pool's `configure`
        except UnknownMigrations as exc:
            self._close_pool()
            raise SchemaTooNew(self.path, exc.names) from None
        except VectorExtensionMissing as exc:
            self._close_pool()
            raise VectorUnavailable(self.path, scrub(exc.reason, url)) from None
        except (psycopg.Error, OSError) as exc:
            self._close_pool()
            raise StoreUnavailable(self.path, _reason(exc, url)) from None

    def _new_pool(self) -> ConnectionPool:
        pool = ConnectionPool(
            self._url, min_size=self._sizes[0], max_size=self._sizes[1], open=False, timeout=self._timeout,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(self._timeout)),
                    "application_name": "qwenchat"},
            # A connection is checked before it is lent: after a server restart every idle one is dead.
            check=ConnectionPool.check_connection, name="qwenchat", configure=_register_vector)
        try:
            pool.open(wait=True, timeout=self._timeout)
        except BaseException:
            pool.close(timeout=1.0)
            raise
        return pool

    def _ensure_reachable(self) -> None:
        """While the server was found away less than `retry_every` seconds ago, fail at once (a streaming
        reply must not wait on every flush); after that, try one direct connection, and if it works start
        a fresh pool (the old one's reconnection back-off could otherwise keep it waiting long after the
        server is back)."""
        with self._lost_lock:
            if self._lost is None:
                return
            when, why = self._lost
            if time.monotonic() - when < self._retry_every:
                raise StoreUnavailable(self.path, why)
            try:
                psycopg.connect(self._url, connect_timeout=max(1, round(self._timeout)),
                                application_name="qwenchat").close()
                old, self._pool = self._pool, self._new_pool()
            except (psycopg.Error, OSError) as exc:
                self._lost = (time.monotonic(), _reason(exc, self._url))
                raise StoreUnavailable(self.path, self._lost[1]) from None
            self._lost = None
            if old is not None:
                old.close(timeout=0.5)

    def _close_pool(self) -> None:
        if self._pool is not None:
            try:
                self._pool.close(timeout=1.0)
            except Exception:  # noqa: BLE001 - closing what failed to open
                pass

    def close(self) -> None:
        self._close_pool()

    def __enter__(self) -> "PostgresStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        assert self._pool is not None
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.Error, OSError) as exc:
            away = StoreUnavailable(self.path, _reason(exc, self._url))
            away.lost = _connection_lost(exc)
            away.retry = away.lost or getattr(exc, "sqlstate", None) in ("40001", "40P01")  # serialization, deadlock
            raise away from None

    def _run(self, work, *, write: bool = True):
        """Run `work(conn)` in one transaction; once more on a fresh connection if the first one broke
        (a server restart closes every pooled connection)."""
        self._ensure_reachable()
        for attempt in (1, 2):
            try:
                with self._connection() as conn:
                    with conn.transaction():
                        if not write:
                            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                        return work(conn)
            except StoreUnavailable as exc:
                if attempt == 2 or not getattr(exc, "retry", False):
                    if getattr(exc, "lost", False):
                        with self._lost_lock:
                            self._lost = (time.monotonic(), exc.reason)
                    raise
                log.info("database connection lost; trying once more: %s", self.path)

    # ---- conversations ----

    @staticmethod
    def _refuse_deleted(db: psycopg.Connection, owner: str, conversation_id: str, *, saving: bool = False) -> None:
        row = db.execute("SELECT owner FROM deleted_conversations WHERE id = %s", (conversation_id,)).fetchone()
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
        e = _escape

        def work(db: psycopg.Connection) -> SaveResult:
            now = time.time()
            # A new id gets a placeholder row (version 0) so that there is a row to lock: two servers
            # saving the same new conversation then queue like any other two writers.
            db.execute("""INSERT INTO conversations (id, owner, created_at, updated_at) VALUES (%s, %s, %s, %s)
                          ON CONFLICT (id) DO NOTHING""", (c.id, owner, c.created_at, now))
            stored_owner, stored_version = db.execute(
                "SELECT owner, version FROM conversations WHERE id = %s FOR UPDATE", (c.id,)).fetchone()
            self._refuse_deleted(db, owner, c.id, saving=True)  # after the lock: a delete that won is seen
            if stored_owner != owner:
                raise IdConflict("conversation id belongs to another owner")
            conflict = stored_version > c.version
            version = max(stored_version, c.version) + 1
            db.execute(
                """UPDATE conversations SET title = %s, model = %s, system_prompt = %s, closed = %s, created_at = %s,
                       updated_at = %s, leaf_id = %s, version = %s, params = %s WHERE id = %s""",
                (e(c.title), e(c.model), e(c.system_prompt), bool(c.closed), c.created_at, now, leaf, version,
                 json.dumps(c.params), c.id))
            if db.execute("SELECT 1 FROM messages WHERE id = ANY(%s) AND conversation_id != %s LIMIT 1",
                          (ids, c.id)).fetchone():
                raise IdConflict("a message id belongs to another conversation")
            gone = dict(db.execute("SELECT id, conversation_id FROM deleted_messages WHERE id = ANY(%s)",
                                   (ids,)).fetchall())
            if any(home != c.id for home in gone.values()):
                raise IdConflict("a message id belongs to another conversation")
            kept = [m for m in messages if m.id not in gone]
            if kept:
                with db.cursor() as cur:
                    cur.executemany(_UPSERT, [_row(c.id, m) for m in kept])
            _link_images(db, owner, kept)
            return SaveResult(version, conflict)

        result = self._run(work)
        conversation.version = result.version
        return result

    def save_message(self, owner: str, conversation_id: str, message: Message) -> None:
        _check_owner(owner)

        def work(db: psycopg.Connection) -> None:
            touched = db.execute("UPDATE conversations SET updated_at = %s WHERE id = %s AND owner = %s",
                                 (time.time(), conversation_id, owner))
            if touched.rowcount != 1:
                self._refuse_deleted(db, owner, conversation_id)
                raise ConversationNotFound(conversation_id)
            home = db.execute("SELECT conversation_id FROM messages WHERE id = %s", (message.id,)).fetchone()
            if home is None:
                deleted = db.execute("SELECT conversation_id FROM deleted_messages WHERE id = %s",
                                     (message.id,)).fetchone()
                if deleted is not None:
                    if deleted[0] != conversation_id:
                        raise IdConflict("message id belongs to another conversation")
                    return  # deleted meanwhile (another tab): it stays deleted
            elif home[0] != conversation_id:
                raise IdConflict("message id belongs to another conversation")
            db.execute(_UPSERT, _row(conversation_id, message))
            _link_images(db, owner, [message])
            if home is None:
                db.execute("UPDATE conversations SET leaf_id = %s WHERE id = %s", (message.id, conversation_id))

        self._run(work)

    def load(self, owner: str, conversation_id: str) -> Conversation | None:
        _check_owner(owner)

        def work(db: psycopg.Connection):
            header = db.execute(
                """SELECT id, title, model, system_prompt, closed, created_at, leaf_id, version, params
                   FROM conversations WHERE id = %s AND owner = %s""",
                (conversation_id, owner)).fetchone()
            if header is None:
                return None, []
            return header, db.execute(
                """SELECT id, role, content, reasoning, status, error, model, usage, created_at, parent_id, parts
                   FROM messages WHERE conversation_id = %s ORDER BY seq""", (conversation_id,)).fetchall()

        header, rows = self._run(work, write=False)
        if header is None:
            return None
        u = _unescape
        messages, previous = [], ""
        for mid, role, content, reasoning, status, error, model, usage, created_at, parent_id, parts in rows:
            messages.append(Message(
                role=u(role), content=u(content), status=u(status), reasoning=u(reasoning), error=u(error),
                model=u(model), usage=Usage.from_dict(json.loads(usage)) if usage else None, id=mid,
                created_at=created_at, parent_id=previous if parent_id is None else parent_id,
                parts=[Part.from_dict(p) for p in json.loads(parts or "[]")]))
            previous = mid
        cid, title, model, system_prompt, closed, created_at, leaf_id, version, params = header
        conversation = Conversation(model=u(model), system_prompt=u(system_prompt), title=u(title),
                                    closed=bool(closed), id=cid, created_at=created_at, version=version,
                                    params=_params(params))
        conversation.show_tree(messages, leaf_id)
        return conversation

    def list_conversations(self, owner: str, search: str = "", limit: int = 200) -> list[Summary]:
        _check_owner(owner)
        where, params = "c.owner = %s", [owner]
        if search.strip():
            # ILIKE under the "C" collation folds ASCII letters only, as SQLite's LIKE does.
            pattern = _like_pattern(_escape(search.strip()))
            where += """ AND (c.title ILIKE %s COLLATE "C" OR EXISTS (
                SELECT 1 FROM messages m WHERE m.conversation_id = c.id
                AND m.status != %s AND m.content ILIKE %s COLLATE "C"))"""
            params += [pattern, WITHDRAWN, pattern]

        def work(db: psycopg.Connection):
            return db.execute(
                f"""SELECT c.id, c.title, c.model, c.created_at, c.updated_at,
                        (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id),
                        (SELECT COALESCE(SUM((m.usage::json ->> 'total_tokens')::float8), 0)
                         FROM messages m WHERE m.conversation_id = c.id)
                    FROM conversations c WHERE {where}
                    ORDER BY c.updated_at DESC, c.created_at DESC, c.id COLLATE "C" LIMIT %s""",
                (*params, max(0, int(limit)))).fetchall()

        rows = self._run(work, write=False)
        return [Summary(cid, _unescape(title), _unescape(model), created, updated, count, _tokens(tokens))
                for cid, title, model, created, updated, count, tokens in rows]

    def rename(self, owner: str, conversation_id: str, title: str) -> bool:
        _check_owner(owner)
        return self._run(lambda db: db.execute(
            "UPDATE conversations SET title = %s WHERE id = %s AND owner = %s",
            (_escape(title), conversation_id, owner)).rowcount == 1)

    def delete(self, owner: str, conversation_id: str) -> bool:
        _check_owner(owner)
        return self._run(lambda db: self._delete_where(db, "id = %s AND owner = %s", (conversation_id, owner))) == 1

    def delete_all(self, owner: str) -> int:
        _check_owner(owner)
        return self._run(lambda db: self._delete_where(db, "owner = %s", (owner,)))

    @staticmethod
    def _delete_where(db: psycopg.Connection, where: str, params: tuple[str, ...]) -> int:
        doomed = [row[0] for row in db.execute(
            f"SELECT id FROM conversations WHERE {where} FOR UPDATE", params).fetchall()]
        if not doomed:
            return 0
        db.execute("""INSERT INTO deleted_conversations (id, owner, deleted_at)
                      SELECT id, owner, %s FROM conversations WHERE id = ANY(%s)
                      ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, deleted_at = excluded.deleted_at""",
                   (time.time(), doomed))
        db.execute("DELETE FROM deleted_messages WHERE conversation_id = ANY(%s)", (doomed,))
        images = _images_of(db, "conversation_id = ANY(%s)", (doomed,))
        count = db.execute("DELETE FROM conversations WHERE id = ANY(%s)", (doomed,)).rowcount
        _drop_unlinked(db, images)  # the messages went with their conversations, and their links with them
        return count

    def owner_has(self, owner: str, conversation_id: str) -> bool:
        _check_owner(owner)
        return self._run(lambda db: db.execute(
            "SELECT 1 FROM conversations WHERE id = %s AND owner = %s",
            (conversation_id, owner)).fetchone() is not None, write=False)

    def delete_messages(self, owner: str, conversation_id: str, ids: Iterable[str]) -> int:
        """Delete these messages of the conversation (see `Store.delete_messages`)."""
        _check_owner(owner)
        doomed = list(dict.fromkeys(ids))

        def work(db: psycopg.Connection) -> int:
            leaf = db.execute("SELECT leaf_id FROM conversations WHERE id = %s AND owner = %s "
                              "FOR UPDATE", (conversation_id, owner)).fetchone()
            if leaf is None:
                self._refuse_deleted(db, owner, conversation_id)
                raise ConversationNotFound(conversation_id)
            links = db.execute("SELECT id, parent_id FROM messages WHERE conversation_id = %s ORDER BY seq",
                               (conversation_id,)).fetchall()
            parents, previous = {}, ""
            for mid, parent in links:
                parents[mid] = previous if parent is None else parent
                previous = mid
            db.execute("""INSERT INTO deleted_messages (id, conversation_id, deleted_at)
                          SELECT d, %s, %s FROM unnest(%s::text[]) AS d WHERE NOT EXISTS
                              (SELECT 1 FROM messages m WHERE m.id = d AND m.conversation_id != %s)
                          ON CONFLICT (id) DO NOTHING""",
                       (conversation_id, time.time(), doomed, conversation_id))
            images = _images_of(db, "conversation_id = %s AND id = ANY(%s)", (conversation_id, doomed))
            removed = db.execute("DELETE FROM messages WHERE conversation_id = %s AND id = ANY(%s)",
                                 (conversation_id, doomed)).rowcount
            _drop_unlinked(db, images)
            current = leaf[0] if leaf[0] is not None else previous
            gone, seen = set(doomed), set()
            while current in gone and current not in seen:
                seen.add(current)
                current = parents.get(current, "")
            db.execute("UPDATE conversations SET leaf_id = %s, updated_at = %s WHERE id = %s",
                       (current, time.time(), conversation_id))
            return removed

        return self._run(work)

    def count_conversations(self, owner: str) -> int:
        _check_owner(owner)
        return self._run(lambda db: db.execute(
            "SELECT COUNT(*) FROM conversations WHERE owner = %s", (owner,)).fetchone()[0],
            write=False)

    def stored_bytes(self) -> int:
        """The size of every stored text before compression (PostgreSQL compresses long texts, so its own
        figures would let a capped import grow far past the cap), plus 200 bytes a message, plus every
        stored image's bytes."""
        return int(self._run(lambda db: db.execute(
            """SELECT COALESCE((SELECT SUM(octet_length(title) + octet_length(system_prompt) + octet_length(model)
                                    + octet_length(params)) FROM conversations), 0)
                    + COALESCE((SELECT SUM(octet_length(content) + octet_length(reasoning) + octet_length(model)
                                    + octet_length(error) + octet_length(parts) + COALESCE(octet_length(usage), 0)
                                    + 200) FROM messages), 0)
                    + COALESCE((SELECT SUM(bytes) FROM images), 0)""").fetchone()[0], write=False))

    # ---- images (qwenchat.images) ----

    def save_images(self, owner: str, images: Iterable[StoredImage]) -> None:
        """Keep these images for `owner` (one row per id: saving the same picture again costs nothing)."""
        _check_owner(owner)
        e = _escape
        rows = [(owner, e(i.id), e(i.mime), i.width, i.height, len(i.data), bytes(i.data), time.time())
                for i in images]
        if not rows:
            return

        def work(db: psycopg.Connection) -> None:
            with db.cursor() as cur:
                cur.executemany("""INSERT INTO images (owner, id, mime, width, height, bytes, data, created_at)
                                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (owner, id) DO NOTHING""",
                                rows)

        self._run(work)

    def load_image(self, owner: str, image_id: str) -> bytes | None:
        _check_owner(owner)
        row = self._run(lambda db: db.execute("SELECT data FROM images WHERE owner = %s AND id = %s",
                                              (owner, _escape(image_id))).fetchone(), write=False)
        return bytes(row[0]) if row else None

    # ---- a user's own personas (qwenchat.personas) ----

    def list_personas(self, owner: str) -> list[Persona]:
        _check_owner(owner)
        rows = self._run(lambda db: db.execute(
            "SELECT name, prompt FROM personas WHERE owner = %s ORDER BY created_at, name COLLATE \"C\"",
            (owner,)).fetchall(), write=False)
        return [personas.custom(_unescape(name), _unescape(prompt)) for name, prompt in rows]

    def save_persona(self, owner: str, persona: Persona) -> None:
        """Save (or replace, by name) one of the owner's personas; at most `personas.MAX_SAVED` each."""
        _check_owner(owner)
        name, prompt = _escape(persona.name_zh), _escape(persona.prompt)

        def work(db: psycopg.Connection) -> None:
            # One owner's persona writes queue on a per-owner lock, so two servers cannot both add the last one.
            db.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ("persona:" + owner,))
            count = db.execute("SELECT COUNT(*) FROM personas WHERE owner = %s AND name != %s",
                               (owner, name)).fetchone()[0]
            if count >= personas.MAX_SAVED:
                raise personas.TooManyPersonas(personas.MAX_SAVED)
            db.execute("""INSERT INTO personas (owner, name, prompt, created_at) VALUES (%s, %s, %s, %s)
                          ON CONFLICT (owner, name) DO UPDATE SET prompt = excluded.prompt""",
                       (owner, name, prompt, time.time()))

        self._run(work)

    def delete_persona(self, owner: str, name: str) -> bool:
        _check_owner(owner)
        return self._run(lambda db: db.execute("DELETE FROM personas WHERE owner = %s AND name = %s",
                                               (owner, _escape(name))).rowcount == 1)


_secrets: dict[str, bytes] = {}


def shared_secret(url: str) -> bytes:
    """The secret owner tokens are signed with when `QWENCHAT_SECRET` is not set, kept in the database so
    that every server on it signs alike (created by the first that asks). Raises OSError when the server
    cannot be reached (the caller then falls back to a secret of this process)."""
    known = _secrets.get(url)
    if known is not None:
        return known
    import secrets as random

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5, application_name="qwenchat") as conn:
            try:
                migrate(conn)
            except UnknownMigrations as exc:
                raise OSError(f"database schema too new: {', '.join(exc.names)}") from None
            conn.execute("INSERT INTO server_secret (id, value) VALUES (1, %s) ON CONFLICT (id) DO NOTHING",
                         (random.token_hex(32),))
            value = conn.execute("SELECT value FROM server_secret WHERE id = 1").fetchone()[0].encode("ascii")
    except psycopg.Error as exc:
        raise OSError(f"database unavailable: {redact(url)} ({_reason(exc, url)})") from None
    _secrets[url] = value
    return value
