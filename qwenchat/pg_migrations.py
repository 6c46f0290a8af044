"""The PostgreSQL schema, as an append-only list of migrations recorded by name (as `qwenchat.migrations`
is for SQLite).

Each function decorated `@migration` runs once, in order, and its name goes into `_migrations`. All pending
ones run in one transaction holding `pg_advisory_xact_lock(MIGRATION_LOCK)`: servers started at the same
moment queue on the lock, the first applies them, the others find them recorded and apply nothing. A database
that records a migration this code does not know was written by a newer version of the app: `migrate`
raises `UnknownMigrations` before writing anything, and the store refuses to open (`SchemaTooNew`).

A schema change is a new function at the bottom; an applied one is never edited or renamed. The first
migration creates in one step what SQLite reached through its m001-m003, with the same table and column
names, so `qwenchat.store_copy` can move rows between the two.

Text columns hold text exactly as the app gives it, except NUL (which PostgreSQL text cannot hold): see
`qwenchat.store_postgres`. JSON values (usage, parts, params) are stored as text, as in SQLite, so they
round-trip byte for byte.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

from qwenchat.migrations import UnknownMigrations

# Any fixed 64-bit number: the key every qwenchat server takes before it looks at the schema.
MIGRATION_LOCK = 0x7177_656E_6368_6174  # "qwenchat"

Migration = Callable[[object], None]  # takes a psycopg Connection inside the migration transaction
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def migrate(conn, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply the migrations not yet recorded, under the advisory lock; return their names.
    `conn` is a psycopg connection in autocommit mode."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name text PRIMARY KEY, applied_at double precision "
                     "NOT NULL)")
        done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
        unknown = sorted(done - {fn.__name__ for fn in migrations})
        if unknown:
            raise UnknownMigrations(unknown)
        applied = []
        for fn in migrations:
            if fn.__name__ not in done:
                fn(conn)
                conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (%s, %s)", (fn.__name__, time.time()))
                applied.append(fn.__name__)
    return applied


@migration
def m001_conversations_messages_personas(conn) -> None:
    # Timestamps are seconds since the epoch (double precision), as on the dataclasses: they round-trip.
    conn.execute(
        """CREATE TABLE conversations (
            id text PRIMARY KEY,
            owner text NOT NULL,
            title text NOT NULL DEFAULT '',
            model text NOT NULL DEFAULT '',
            system_prompt text NOT NULL DEFAULT '',
            closed boolean NOT NULL DEFAULT false,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL,
            leaf_id text,
            version bigint NOT NULL DEFAULT 0,
            params text NOT NULL DEFAULT '{}'
        )""")
    conn.execute(
        """CREATE TABLE messages (
            id text PRIMARY KEY,
            conversation_id text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            seq bigint NOT NULL,
            role text NOT NULL,
            content text NOT NULL DEFAULT '',
            reasoning text NOT NULL DEFAULT '',
            status text NOT NULL,
            error text NOT NULL DEFAULT '',
            model text NOT NULL DEFAULT '',
            usage text,
            created_at double precision NOT NULL,
            parent_id text,
            parts text NOT NULL DEFAULT '[]'
        )""")
    conn.execute("CREATE INDEX conversations_owner_updated ON conversations (owner, updated_at DESC)")
    conn.execute("CREATE INDEX messages_conversation_seq ON messages (conversation_id, seq)")
    conn.execute("""CREATE TABLE deleted_conversations (
        id text PRIMARY KEY, owner text NOT NULL, deleted_at double precision NOT NULL)""")
    conn.execute("""CREATE TABLE deleted_messages (
        id text PRIMARY KEY, conversation_id text NOT NULL, deleted_at double precision NOT NULL)""")
    conn.execute("""CREATE TABLE personas (
        owner text NOT NULL, name text NOT NULL, prompt text NOT NULL, created_at double precision NOT NULL,
        PRIMARY KEY (owner, name))""")


@migration
def m002_daily_tokens_and_server_secret(conn) -> None:
    # The daily token cap shared by every server: one row per (server-local) day, updated atomically.
    conn.execute("CREATE TABLE daily_tokens (day date PRIMARY KEY, used bigint NOT NULL DEFAULT 0)")
    # The secret owner tokens are signed with, when QWENCHAT_SECRET is not set: one for all servers, so a
    # link minted by one opens on the others.
    conn.execute("CREATE TABLE server_secret (id integer PRIMARY KEY CHECK (id = 1), value text NOT NULL)")


@migration
def m003_message_images(conn) -> None:
    # SQLite's m005: attached images, once per owner by content (`id` is the SHA-256 of `data`, see
    # qwenchat.images), the pixels as bytea; same table and column names, so qwenchat.store_copy moves them.
    conn.execute(
        """CREATE TABLE images (
            owner text NOT NULL,
            id text NOT NULL,
            mime text NOT NULL,
            width bigint NOT NULL,
            height bigint NOT NULL,
            bytes bigint NOT NULL,
            data bytea NOT NULL,
            created_at double precision NOT NULL,
            PRIMARY KEY (owner, id)
        )""")
    # Which message shows which image, written from the messages' image parts. Deleting a message (or its
    # conversation, by cascade) drops its links; an image left without links is deleted with it.
    conn.execute(
        """CREATE TABLE message_images (
            message_id text NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            owner text NOT NULL,
            image_id text NOT NULL,
            PRIMARY KEY (message_id, image_id)
        )""")
    conn.execute("CREATE INDEX message_images_owner_image ON message_images (owner, image_id)")


class VectorExtensionMissing(Exception):
    """`CREATE EXTENSION vector` failed: pgvector is not installed on the server, or this role may not create
    it. `reason` is the server's first line (no password: the URL is not in it)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


# Dimensions of the embedding models the app offers (text-embedding-v4/v3: 64 .. 2048). pgvector's HNSW
# indexes fixed-width vectors of at most 2,000 dimensions, and the width is per knowledge base, so each width
# gets a partial expression index `((embedding::vector(N))) WHERE dims = N`; a search names the same
# expression and predicate. 2,048 (and any other width) is searched exactly, through the (owner, kb_id) index.
HNSW_DIMENSIONS = (64, 128, 256, 512, 768, 1024, 1536)


@migration
def m004_knowledge_bases(conn) -> None:
    # SQLite's m004, with pgvector. The extension first, in a savepoint, so that a role that may not create it
    # gets a message saying so (the app refuses to start rather than run without its knowledge base).
    import psycopg

    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.Error as exc:
        raise VectorExtensionMissing((str(exc).strip().splitlines() or [""])[0][:200]) from None
    # Ids are identities BY DEFAULT: qwenchat.store_copy inserts the source's ids, then moves the sequences on.
    conn.execute(
        """CREATE TABLE kb_bases (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            owner text NOT NULL,
            name text NOT NULL,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL,
            embedding_model text NOT NULL DEFAULT '',
            dimensions bigint NOT NULL DEFAULT 0,
            version bigint NOT NULL DEFAULT 0,
            UNIQUE (owner, name)
        )""")
    conn.execute(
        """CREATE TABLE kb_files (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            kb_id bigint NOT NULL REFERENCES kb_bases(id) ON DELETE CASCADE,
            owner text NOT NULL,
            name text NOT NULL,
            status text NOT NULL,
            size bigint NOT NULL DEFAULT 0,
            format text NOT NULL DEFAULT '',
            pages bigint NOT NULL DEFAULT 0,
            chunks bigint NOT NULL DEFAULT 0,
            tokens bigint NOT NULL DEFAULT 0,
            embedding_tokens bigint NOT NULL DEFAULT 0,
            cost double precision,
            error text,
            error_kind text NOT NULL DEFAULT '',
            seconds double precision NOT NULL DEFAULT 0,
            updated_at double precision NOT NULL,
            data bytea,
            text text NOT NULL DEFAULT '',
            UNIQUE (kb_id, name)
        )""")
    conn.execute("CREATE INDEX kb_files_owner ON kb_files (owner, kb_id)")
    # Passages. `embedding` is a pgvector `vector` of any width (`dims` says which): the unit vector rounded
    # through float16 as SQLite stores it, so a copy either way is exact. `terms` are the keyword terms of
    # qwenchat.knowledge.keywords, space-joined (SQLite keeps them in kb_fts); `nterms` their count (BM25's
    # document length).
    conn.execute(
        """CREATE TABLE kb_chunks (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            kb_id bigint NOT NULL,
            file_id bigint NOT NULL REFERENCES kb_files(id) ON DELETE CASCADE,
            owner text NOT NULL,
            seq bigint NOT NULL,
            start bigint NOT NULL,
            "end" bigint NOT NULL,
            page bigint,
            heading text NOT NULL DEFAULT '',
            context text NOT NULL DEFAULT '',
            text text NOT NULL DEFAULT '',
            tokens bigint NOT NULL DEFAULT 0,
            embedded_with text NOT NULL DEFAULT '',
            dims integer NOT NULL DEFAULT 0,
            embedding vector,
            terms text NOT NULL DEFAULT '',
            nterms integer NOT NULL DEFAULT 0,
            tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', terms)) STORED
        )""")
    conn.execute("CREATE INDEX kb_chunks_owner_kb ON kb_chunks (owner, kb_id, embedded_with)")
    conn.execute("CREATE INDEX kb_chunks_file ON kb_chunks (file_id)")
    # PostgreSQL's `simple` parser splits only where keywords.py put spaces (its terms are lower-case Latin
    # words, digits and runs of Chinese characters, each one token to the parser). The tsvector is stored
    # (`tsv`): BM25 reads its positions for term frequencies, and parsing `terms` on every search costs more.
    conn.execute("CREATE INDEX kb_chunks_terms ON kb_chunks USING gin (tsv)")
    for n in HNSW_DIMENSIONS:
        conn.execute(f"CREATE INDEX kb_chunks_hnsw_{n} ON kb_chunks USING hnsw ((embedding::vector({n})) "
                     f"vector_cosine_ops) WHERE dims = {n}")


@migration
def m005_evaluation_runs(conn) -> None:
    # SQLite's m006 (qwenchat.knowledge.evalstore): one JSON document per run beside its listing columns.
    conn.execute(
        """CREATE TABLE eval_runs (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            owner text NOT NULL,
            kb_id bigint NOT NULL,
            name text NOT NULL,
            status text NOT NULL,
            questions bigint NOT NULL DEFAULT 0,
            done bigint NOT NULL DEFAULT 0,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL,
            data text NOT NULL
        )""")
    conn.execute("CREATE INDEX eval_runs_owner ON eval_runs (owner, updated_at)")


@migration
def m006_keyword_index_without_pending_list(conn) -> None:
    # A GIN index's fast update keeps new entries in an unsorted pending list that every search reads in full
    # until VACUUM merges it (up to gin_pending_list_limit, 4 MB): after loading 10k passages a keyword search
    # scanned ~40 ms of it, and PostgreSQL chose a sequential scan instead. Without it each insert updates the
    # index at once (a little slower to write) and searches stay index scans.
    conn.execute("ALTER INDEX kb_chunks_terms SET (fastupdate = off)")
    conn.execute("SELECT gin_clean_pending_list('kb_chunks_terms'::regclass)")


@migration
def m007_narrow_passage_rows(conn) -> None:
    # A keyword search reads the id and term count of every passage holding a query word, one heap page per
    # passage: with a passage's text, terms and tsvector kept in its row (~1.3 kB, only the vector moved out),
    # 100k passages made a 134 MB heap and that read was most of a search's time. Toasting each row down to
    # 128 bytes moves those columns out as well (22 MB heap): keyword search at 100k passages 43 -> 27 ms p50.
    # It applies to rows written from now on; `VACUUM FULL kb_chunks` rewrites older ones.
    conn.execute("ALTER TABLE kb_chunks SET (toast_tuple_target = 128)")
