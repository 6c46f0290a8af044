"""Moving an installation between SQLite and PostgreSQL: `python -m qwenchat.store copy --from A --to B`.

A and B are each a SQLite file path or a `postgresql://` URL. Every row of the store's tables is copied as
it is (ids, owners, versions, timestamps, the message order, tombstones, personas, images and which
messages show them, knowledge bases with their files, passages, vectors and keyword terms, evaluation runs), into a destination that must hold none of these yet. Then both sides are read again
and compared table by table: the row count and a SHA-256 over the rows in key order, their values as the app
reads them (PostgreSQL's NUL escape undone, `closed` as 0/1, an image's pixels by their own SHA-256).
Images move a few at a time, so neither side ever holds many of them in memory. Both are printed; the exit
status is 0 when every table matches, 1 when one does not, 2 when the copy could not run (a database away, a
destination not empty). The daily token counter is not copied: it is today's spending, not history.

URLs are printed without their passwords.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from typing import Iterator

from qwenchat.database_url import is_postgres_url, redact

BATCH = 1000
IMAGE_BATCH = 16  # rows of a table with pixels in it, read or written at once

# table -> (columns, primary key columns, columns holding app text (escaped on PostgreSQL))
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "conversations": (("id", "owner", "title", "model", "system_prompt", "closed", "created_at", "updated_at",
                       "leaf_id", "version", "params"), ("id",), ("title", "model", "system_prompt")),
    "messages": (("id", "conversation_id", "seq", "role", "content", "reasoning", "status", "error", "model",
                  "usage", "created_at", "parent_id", "parts"), ("id",),
                 ("role", "content", "reasoning", "status", "error", "model")),
    "deleted_conversations": (("id", "owner", "deleted_at"), ("id",), ()),
    "deleted_messages": (("id", "conversation_id", "deleted_at"), ("id",), ()),
    "personas": (("owner", "name", "prompt", "created_at"), ("owner", "name"), ("name", "prompt")),
    "images": (("owner", "id", "mime", "width", "height", "bytes", "data", "created_at"), ("owner", "id"),
               ("id", "mime")),
    "message_images": (("message_id", "owner", "image_id"), ("message_id", "image_id"), ("image_id",)),
    # Knowledge bases (SQLite m004 / PostgreSQL m004). A passage's vector travels as SQLite stores it (float16
    # BLOB); PostgreSQL keeps the same values as a pgvector `embedding` with its width (`dims`). The keyword
    # terms travel as SQLite's `kb_fts` rows (rowid = passage id); PostgreSQL keeps them on the passage.
    "kb_bases": (("id", "owner", "name", "created_at", "updated_at", "embedding_model", "dimensions", "version"),
                 ("id",), ()),
    "kb_files": (("id", "kb_id", "owner", "name", "status", "size", "format", "pages", "chunks", "tokens",
                  "embedding_tokens", "cost", "error", "error_kind", "seconds", "updated_at", "data", "text"),
                 ("id",), ("text",)),
    "kb_chunks": (("id", "kb_id", "file_id", "owner", "seq", "start", '"end"', "page", "heading", "context", "text",
                   "tokens", "embedded_with", "vector"), ("id",), ("heading", "context", "text")),
    "kb_fts": (("rowid", "terms"), ("rowid",), ()),
    "eval_runs": (("id", "owner", "kb_id", "name", "status", "questions", "done", "created_at", "updated_at", "data"),
                  ("id",), ("data",)),
}
BLOB_TABLES = {"images", "kb_files"}
# PostgreSQL reads of the tables whose columns differ there (same columns out, in the same order).
PG_SELECT = {
    "kb_chunks": 'SELECT id, kb_id, file_id, owner, seq, start, "end", page, heading, context, text, tokens, '
                 "embedded_with, embedding FROM kb_chunks",
    "kb_fts": "SELECT id, terms FROM kb_chunks",
}
PG_KEY = {"kb_fts": ("id",)}
# Tables with ids from a sequence on PostgreSQL: moved past the copied ids afterwards.
PG_IDENTITY = ("kb_bases", "kb_files", "kb_chunks", "eval_runs")


def _batch(table: str) -> int:
    return IMAGE_BATCH if table in BLOB_TABLES else BATCH


class CopyRefused(Exception):
    """The copy cannot run; the message says why (never a password)."""


@dataclass(frozen=True)
class Tally:
    rows: int
    sha256: str


class _Side:
    """One database, read and written row by row with the app's values."""

    def __init__(self, target: str, timeout: float = 10.0):
        from qwenchat.store import Store, StoreUnavailable

        self.name = redact(target) if is_postgres_url(target) else target
        self.postgres = is_postgres_url(target)
        try:
            if self.postgres:
                from qwenchat.store_postgres import PostgresStore

                self.store = PostgresStore(target, max_size=2, timeout=timeout)
            else:
                self.store = Store(target)
        except StoreUnavailable as exc:
            raise CopyRefused(str(exc)) from None

    def close(self) -> None:
        self.store.close()

    def rows(self, table: str) -> Iterator[tuple]:
        columns, key, texts = TABLES[table]
        sql = f"SELECT {', '.join(columns)} FROM {table} ORDER BY {', '.join(key)}"
        if self.postgres:
            from qwenchat.store_postgres import _unescape

            text_at = [columns.index(c) for c in texts]
            with self.store._pool.connection() as conn, conn.transaction():
                with conn.cursor(name=f"copy_{table}") as cur:  # server-side: never the whole table in memory
                    cur.itersize = _batch(table)
                    select = PG_SELECT.get(table, f"SELECT {', '.join(columns)} FROM {table}")
                    order = ", ".join(f'{k} COLLATE "C"' if table not in (*PG_IDENTITY, "kb_fts") else k
                                      for k in PG_KEY.get(table, key))
                    cur.execute(f"{select} ORDER BY {order}")
                    for row in cur:
                        row = list(row)
                        if table == "kb_chunks" and row[-1] is not None:  # as SQLite stores it
                            import numpy as np

                            vector = row[-1].to_numpy() if hasattr(row[-1], "to_numpy") else row[-1]
                            row[-1] = np.asarray(vector, dtype=np.float32).astype(np.float16).tobytes()
                        for i in text_at:
                            row[i] = _unescape(row[i]) if isinstance(row[i], str) else row[i]
                        if table == "conversations":
                            row[columns.index("closed")] = int(row[columns.index("closed")])
                        yield tuple(row)
        else:
            yield from self.store._conn.execute(sql)

    def count(self, table: str) -> int:
        if self.postgres:
            with self.store._pool.connection() as conn:
                return conn.execute(f"SELECT COUNT(*) FROM ({PG_SELECT.get(table, 'SELECT 1 FROM ' + table)}) t"
                                    ).fetchone()[0]
        return self.store._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def insert(self, table: str, batch: list[tuple]) -> None:
        columns, _, texts = TABLES[table]
        if self.postgres:
            from qwenchat.store_postgres import _escape

            text_at = [columns.index(c) for c in texts]
            closed = columns.index("closed") if table == "conversations" else -1
            fixed = []
            for row in batch:
                row = list(row)
                for i in text_at:
                    row[i] = _escape(row[i]) if isinstance(row[i], str) else row[i]
                if closed >= 0:
                    row[closed] = bool(row[closed])
                fixed.append(tuple(row))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
            if table == "kb_chunks":
                import numpy as np

                sql = sql.replace(", vector)", ", embedding, dims)").replace("%s)", "%s, %s)")
                fixed = [(*r[:-1], *((np.frombuffer(r[-1], dtype=np.float16).astype(np.float32), len(r[-1]) // 2)
                                     if r[-1] is not None else (None, 0))) for r in fixed]
            elif table == "kb_fts":
                sql = "UPDATE kb_chunks SET terms = %s, nterms = %s WHERE id = %s"
                fixed = [(terms, len(terms.split()), rowid) for rowid, terms in fixed]
            with self.store._pool.connection() as conn:
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(sql, fixed)
        else:
            db = self.store._conn
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                               f"({', '.join(['?'] * len(columns))})", batch)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise


    def after_copy(self) -> None:
        """Move PostgreSQL's id sequences past the copied ids (SQLite's AUTOINCREMENT follows by itself)."""
        if not self.postgres:
            return
        with self.store._pool.connection() as conn, conn.transaction():
            for table in PG_IDENTITY:
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")


def _canonical(row: tuple) -> bytes:
    def value(v: object) -> object:
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, float):
            return repr(v)
        if isinstance(v, (bytes, bytearray, memoryview)):
            return "sha256:" + hashlib.sha256(v).hexdigest()
        return v

    return json.dumps([value(v) for v in row], ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n"


def tally(side: _Side, table: str) -> Tally:
    """Rows and checksum of one table, in key order (sorted here, so both backends agree on the order). Each
    row is reduced to its canonical line as it is read: pixels are never all in memory at once."""
    _, key, _ = TABLES[table]
    columns = TABLES[table][0]
    at = [columns.index(k) for k in key]
    lines = sorted((tuple(str(r[i]).encode("utf-8", "surrogatepass") for i in at), _canonical(r))
                   for r in side.rows(table))
    digest = hashlib.sha256()
    for _, line in lines:
        digest.update(line)
    return Tally(len(lines), digest.hexdigest())


def copy_store(source: str, destination: str, out=None, *, timeout: float = 10.0) -> bool:
    """Copy every table from `source` to `destination` (which must be empty) and verify; True when every
    table's count and checksum match. Raises `CopyRefused`."""
    out = out or sys.stdout
    if source == destination:
        raise CopyRefused("--from and --to are the same database")
    src = _Side(source, timeout)
    try:
        dst = _Side(destination, timeout)
    except CopyRefused:
        src.close()
        raise
    try:
        busy = [t for t in TABLES if dst.count(t)]
        if busy:
            raise CopyRefused(f"the destination {dst.name} is not empty ({', '.join(busy)}): nothing was copied")
        print(f"copying {src.name} -> {dst.name}", file=out)
        for table in TABLES:  # conversations before their messages, messages before their image links
            batch: list[tuple] = []
            for row in src.rows(table):
                batch.append(row)
                if len(batch) >= _batch(table):
                    dst.insert(table, batch)
                    batch = []
            if batch:
                dst.insert(table, batch)
        dst.after_copy()
        ok = True
        for table in TABLES:
            before, after = tally(src, table), tally(dst, table)
            same = before == after
            ok &= same
            print(f"{table:22} {before.rows:>8} rows sha256 {before.sha256[:16]}  ->  {after.rows:>8} rows "
                  f"sha256 {after.sha256[:16]}  {'ok' if same else 'MISMATCH'}", file=out)
        print("verified: every table matches" if ok else "MISMATCH: the copy differs from the source", file=out)
        return ok
    finally:
        src.close()
        dst.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m qwenchat.store", description="Move an installation's store.")
    commands = parser.add_subparsers(dest="command", required=True)
    copy = commands.add_parser("copy", help="copy every conversation, tombstone, persona and image, then verify")
    copy.add_argument("--from", dest="source", required=True, help="a SQLite file or a postgresql:// URL")
    copy.add_argument("--to", dest="destination", required=True, help="a SQLite file or a postgresql:// URL")
    copy.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a PostgreSQL server")
    args = parser.parse_args(argv)
    try:
        return 0 if copy_store(args.source, args.destination, timeout=args.timeout) else 1
    except CopyRefused as exc:
        print(f"not copied: {exc}", file=sys.stderr)
        return 2
