"""The SQLite schema, as an append-only list of migrations recorded by name.

Each function decorated `@migration` runs once, in order, and its name goes into `_migrations`.
A schema change is a new function at the bottom; an applied one is never edited or renamed, since
its name is what marks it as done in files that already exist.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Callable, Sequence

Migration = Callable[[sqlite3.Connection], None]


class UnknownMigrations(Exception):
    """The database records migrations this code does not know: a newer version of the app wrote it.
    Nothing is written; the store refuses to open (`qwenchat.store.SchemaTooNew`)."""

    def __init__(self, names: Sequence[str]):
        self.names = list(names)
        super().__init__("unknown migrations: " + ", ".join(self.names))
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply the migrations not yet recorded; return their names. `conn` must be in autocommit mode.

    All pending ones run in one IMMEDIATE transaction: a second process opening a fresh file at the
    same moment waits for the write lock, then finds them recorded and applies nothing. A file that records
    a migration not in `migrations` raises `UnknownMigrations` and is left as it is.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
        done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
        unknown = sorted(done - {fn.__name__ for fn in migrations})
        if unknown:
            raise UnknownMigrations(unknown)
        applied = []
        for fn in migrations:
            if fn.__name__ not in done:
                fn(conn)
                conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (fn.__name__, time.time()))
                applied.append(fn.__name__)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return applied


@migration
def m001_conversations_and_messages(conn: sqlite3.Connection) -> None:
    # Timestamps are seconds since the epoch (REAL), as on the dataclasses: they round-trip exactly.
    conn.execute(
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL DEFAULT '',
            system_prompt TEXT NOT NULL DEFAULT '',
            closed INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )"""
    )
    conn.execute(
        """CREATE TABLE messages (
            id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL DEFAULT '',
            reasoning TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL,
            error TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL DEFAULT '',
            usage TEXT,
            created_at REAL NOT NULL
        )"""
    )
    # The history list: one owner's conversations, newest first, read straight off the index.
    conn.execute("CREATE INDEX conversations_owner_updated ON conversations (owner, updated_at DESC)")
    # Loading in order, counting, MAX(seq) for an appended message, and the search probe
    # "does this conversation have a message containing ..." all go through this one.
    conn.execute("CREATE INDEX messages_conversation_seq ON messages (conversation_id, seq)")


@migration
def m002_message_tree_versions_and_tombstones(conn: sqlite3.Connection) -> None:
    # NULL parent_id: a row written before messages had parents; it is read as following the row before
    # it by seq. NULL leaf_id: the visible branch ends at the last message by seq.
    conn.execute("ALTER TABLE messages ADD COLUMN parent_id TEXT")
    conn.execute("ALTER TABLE messages ADD COLUMN parts TEXT NOT NULL DEFAULT '[]'")  # a JSON list of parts
    conn.execute("ALTER TABLE conversations ADD COLUMN leaf_id TEXT")
    # Bumped by every save_conversation: a save from a copy that loaded an older version is a conflict.
    conn.execute("ALTER TABLE conversations ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
    # Deleted stays deleted: a later save of one of these ids is refused instead of re-creating it.
    conn.execute(
        """CREATE TABLE deleted_conversations (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            deleted_at REAL NOT NULL
        )"""
    )
    conn.execute(
        """CREATE TABLE deleted_messages (
            id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            deleted_at REAL NOT NULL
        )"""
    )


@migration
def m003_parameters_and_personas(conn: sqlite3.Connection) -> None:
    # The generation parameters the user changed for a conversation, as a JSON object (qwenchat.params).
    conn.execute("ALTER TABLE conversations ADD COLUMN params TEXT NOT NULL DEFAULT '{}'")
    # A user's own personas: a name and a system prompt, one owner's names unique.
    conn.execute(
        """CREATE TABLE personas (
            owner TEXT NOT NULL,
            name TEXT NOT NULL,
            prompt TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (owner, name)
        )"""
    )


@migration
def m004_knowledge_bases(conn: sqlite3.Connection) -> None:
    # Knowledge bases (qwenchat.knowledge), owned like conversations. AUTOINCREMENT: an id is never reused,
    # so a cached matrix or a stale id can never point at someone else's new rows.
    conn.execute(
        """CREATE TABLE kb_bases (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            owner TEXT NOT NULL,
            name TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            embedding_model TEXT NOT NULL DEFAULT '',  -- of the vectors stored last
            dimensions INTEGER NOT NULL DEFAULT 0,
            version INTEGER NOT NULL DEFAULT 0,        -- bumped by every change: invalidates vector caches
            UNIQUE (owner, name)
        )"""
    )
    # One row per file: the report, the original bytes (to re-index) and the normalised text (citations).
    conn.execute(
        """CREATE TABLE kb_files (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kb_id INTEGER NOT NULL REFERENCES kb_bases(id) ON DELETE CASCADE,
            owner TEXT NOT NULL,
            name TEXT NOT NULL,
            status TEXT NOT NULL,
            size INTEGER NOT NULL DEFAULT 0,
            format TEXT NOT NULL DEFAULT '',
            pages INTEGER NOT NULL DEFAULT 0,
            chunks INTEGER NOT NULL DEFAULT 0,
            tokens INTEGER NOT NULL DEFAULT 0,
            embedding_tokens INTEGER NOT NULL DEFAULT 0,
            cost REAL,
            error TEXT,                                 -- a catalog message as JSON {"id", "params"}
            error_kind TEXT NOT NULL DEFAULT '',
            seconds REAL NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL,
            data BLOB,
            text TEXT NOT NULL DEFAULT '',
            UNIQUE (kb_id, name)
        )"""
    )
    conn.execute("CREATE INDEX kb_files_owner ON kb_files (owner, kb_id)")
    # Passages: spans of their file's text, with a copy of the span (reading a span out of a long file text
    # costs milliseconds per hit), vectors as float16 BLOBs tagged with the embedding model and dimensions.
    conn.execute(
        """CREATE TABLE kb_chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kb_id INTEGER NOT NULL,
            file_id INTEGER NOT NULL REFERENCES kb_files(id) ON DELETE CASCADE,
            owner TEXT NOT NULL,
            seq INTEGER NOT NULL,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            page INTEGER,
            heading TEXT NOT NULL DEFAULT '',
            context TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL DEFAULT '',
            tokens INTEGER NOT NULL DEFAULT 0,
            embedded_with TEXT NOT NULL DEFAULT '',
            vector BLOB
        )"""
    )
    conn.execute("CREATE INDEX kb_chunks_owner_kb ON kb_chunks (owner, kb_id, embedded_with)")
    conn.execute("CREATE INDEX kb_chunks_file ON kb_chunks (file_id)")
    # Keyword index: rowid = kb_chunks.id; terms made by qwenchat.knowledge.keywords (Chinese bigrams and
    # jieba words, lower-case Latin words), so unicode61 only splits at spaces.
    conn.execute("CREATE VIRTUAL TABLE kb_fts USING fts5(terms, tokenize = 'unicode61 remove_diacritics 2')")


@migration
def m005_message_images(conn: sqlite3.Connection) -> None:
    # Attached images, once per owner by content: `id` is the SHA-256 of `data` (see qwenchat.images).
    conn.execute(
        """CREATE TABLE images (
            owner TEXT NOT NULL,
            id TEXT NOT NULL,
            mime TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            data BLOB NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (owner, id)
        )"""
    )
    # Which message shows which image, written from the messages' image parts. Deleting a message (or its
    # conversation, by cascade) drops its links; an image left without links is deleted with it.
    conn.execute(
        """CREATE TABLE message_images (
            message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            owner TEXT NOT NULL,
            image_id TEXT NOT NULL,
            PRIMARY KEY (message_id, image_id)
        )"""
    )
    conn.execute("CREATE INDEX message_images_owner_image ON message_images (owner, image_id)")


@migration
def m006_evaluation_runs(conn: sqlite3.Connection) -> None:
    # Evaluation runs of a knowledge base (qwenchat.knowledge.evalstore), owned like conversations. The run
    # (settings, questions, rows with passages and scores) is one JSON document: it is written whole after
    # each question and read whole to show or compare it; the columns beside it are for listing.
    conn.execute(
        """CREATE TABLE eval_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            owner TEXT NOT NULL,
            kb_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            status TEXT NOT NULL,
            questions INTEGER NOT NULL DEFAULT 0,
            done INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            data TEXT NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX eval_runs_owner ON eval_runs (owner, updated_at)")
