"""The SQLite backend of the knowledge base (`index.KnowledgeIndex`): tables of migration m004 in the app's
own database file (QWENCHAT_DB), nothing to install.

- Keyword search: FTS5 (`kb_fts`, BM25) over terms made by `keywords`, joined to `kb_chunks` on the owner
  and the knowledge base.
- Vector search: vectors are stored unit-length as float16 BLOBs (half the size of float32; the cosine
  changes by about 1e-3, far below the gaps that order passages) and searched in numpy over a copy cached
  in this process per (database, owner, knowledge base, embedding key), rebuilt when the knowledge base's
  `version` changes (every write bumps it, in any process). Up to `EXACT_UP_TO` passages the search is
  exact (float32); above, binary quantization with rescoring: the signs of the coordinates (128 bytes a
  passage at 1,024 dimensions) give the `OVERSAMPLE`x nearest by Hamming distance, rescored exactly from
  the float16 copy. Stdlib sqlite3 here cannot load sqlite-vec, and brute force over 100k float32 vectors
  costs ~50-120 ms on this shared 2-core machine against ~6 ms this way (benchmarks/retrieval.py).
- One connection per database file per process (`SqliteIndex.shared`), used under a lock; WAL mode, so the
  chat's own store and other processes keep working beside it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np

from qwenchat.i18n import Msg
from qwenchat.knowledge.index import StoredChunk
from qwenchat.knowledge.model import Chunk, FileReport, KnowledgeBase, NameTaken
from qwenchat.migrations import migrate

BUSY_TIMEOUT_S = 10.0
CACHE_BYTES = 1 << 30  # vector matrices kept in memory, all knowledge bases of the process together


def _msg_json(msg: Msg | None) -> str | None:
    return json.dumps({"id": msg.id, "params": {k: _plain(v) for k, v in msg.params.items()}},
                      ensure_ascii=False) if msg else None


def _plain(value: object) -> object:
    if isinstance(value, Msg):
        return {"__msg__": value.id, "params": {k: _plain(v) for k, v in value.params.items()}}
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def _unplain(value: object) -> object:
    if isinstance(value, dict) and "__msg__" in value:
        return Msg(str(value["__msg__"]), {k: _unplain(v) for k, v in (value.get("params") or {}).items()})
    return value


def _msg(text: str | None) -> Msg | None:
    if not text:
        return None
    try:
        data = json.loads(text)
        return Msg(str(data["id"]), {k: _unplain(v) for k, v in (data.get("params") or {}).items()})
    except (ValueError, KeyError, TypeError):
        return None


EXACT_UP_TO = 5_000   # passages searched exactly in float32; above, sign bits first, then float16 rescoring
OVERSAMPLE = 10       # candidates kept by the sign-bit pass per passage asked for (at least MIN_CANDIDATES)
MIN_CANDIDATES = 500


class _Vectors:
    """One knowledge base's vectors in memory: exact float32 for a small one; for a large one, the signs of
    the coordinates as bits (128 bytes a passage at 1,024 dimensions) to find candidates by Hamming
    distance, and float16 vectors to rescore them exactly (binary quantization with rescoring)."""

    def __init__(self, ids: np.ndarray, half: np.ndarray):
        self.ids = ids
        self.dims = half.shape[1]
        if len(ids) <= EXACT_UP_TO:
            self.exact: np.ndarray | None = half.astype(np.float32)
            self.half = self.bits = None
        else:
            self.exact = None
            self.half = half
            self.bits = np.ascontiguousarray(_pack(half).T)  # word-major: one pass per 64 dimensions
        self.nbytes = sum(a.nbytes for a in (self.exact, self.half, self.bits) if a is not None)

    def search(self, q: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """(row numbers, cosine scores) of the best `limit`, best first."""
        # einsum, not `@`: a matrix-vector product in multi-threaded OpenBLAS costs ~30 ms of thread wake-ups
        # on a busy 2-core machine, whatever the size; einsum's own loop is single-threaded and steady.
        if self.exact is not None:
            rows = np.arange(len(self.ids))
            scores = np.einsum("ij,j->i", self.exact, q)
        else:
            assert self.bits is not None and self.half is not None
            words = _pack(q[None, :])[0]
            distance = np.zeros(len(self.ids), dtype=np.uint16)
            for j in range(len(words)):  # summing along rows of 16 words is 3x slower than this
                distance += np.bitwise_count(self.bits[j] ^ words[j])
            keep = min(len(distance), max(MIN_CANDIDATES, limit * OVERSAMPLE))
            rows = np.argpartition(distance, keep - 1)[:keep] if keep < len(distance) else np.arange(len(distance))
            scores = np.einsum("ij,j->i", self.half[rows].astype(np.float32), q)
        k = min(limit, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return rows[top], scores[top]


def _pack(matrix: np.ndarray) -> np.ndarray:
    """The signs of each row as bits, in 64-bit words when the width allows (fewer, faster popcounts)."""
    bits = np.packbits(matrix > 0, axis=1)
    return bits.view(np.uint64) if bits.shape[1] % 8 == 0 else bits


class _MatrixCache:
    """`_Vectors` per key, LRU, bounded in bytes."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, tuple[int, _Vectors]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple, version: int) -> _Vectors | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] != version:
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: tuple, version: int, vectors: _Vectors) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1].nbytes
            if vectors.nbytes > self.max_bytes:
                return
            self._items[key] = (version, vectors)
            self._bytes += vectors.nbytes
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes

    def drop(self, prefix: tuple) -> None:
        with self._lock:
            for key in [k for k in self._items if k[:len(prefix)] == prefix]:
                self._bytes -= self._items.pop(key)[1].nbytes


CACHE = _MatrixCache()


def encode_vector(vector: Sequence[float]) -> bytes:
    v = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    return (v / norm if norm > 0 else v).astype(np.float16).tobytes()


class SqliteIndex:
    _shared: dict[str, "SqliteIndex"] = {}
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls, path: str | Path) -> "SqliteIndex":
        """One index per database file in this process (its connection and lock shared by all callers)."""
        key = str(Path(path).expanduser().resolve())
        with cls._shared_lock:
            index = cls._shared.get(key)
            if index is None or index._closed:
                from qwenchat.store import web_busy_timeout  # the conversations' wait: QWENCHAT_DB_BUSY_TIMEOUT

                index = cls._shared[key] = cls(key, busy_timeout=web_busy_timeout())
            return index

    def __init__(self, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT_S):
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._closed = False
        conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
        self._conn = conn
        self._cache_prefix = (str(self.path.resolve()),)

    def stored_bytes(self) -> int:
        """The database's size on disk, its write-ahead log included (what `QWENCHAT_MAX_STORE_BYTES` caps)."""
        with self._lock:
            pages = self._conn.execute("PRAGMA page_count").fetchone()[0] * \
                self._conn.execute("PRAGMA page_size").fetchone()[0]
        wal = Path(f"{self.path}-wal")
        return pages + (wal.stat().st_size if wal.exists() else 0)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    # --- plumbing -------------------------------------------------------------------------------------
    def _write(self, fn):  # type: ignore[no-untyped-def]
        """Run `fn(conn)` in one write transaction; a database locked by another writer for longer than the
        busy timeout, read-only or full raises `StoreUnavailable`, which pages say in words."""
        try:
            return self._write_now(fn)
        except sqlite3.OperationalError as exc:
            from qwenchat.store import StoreUnavailable

            raise StoreUnavailable(self.path, str(exc)) from None

    def _write_now(self, fn):  # type: ignore[no-untyped-def]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(self._conn)
                self._conn.execute("COMMIT")
                return result
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    @staticmethod
    def _bump(db: sqlite3.Connection, kb_id: int, **fields: object) -> None:
        extra = "".join(f", {name} = ?" for name in fields)
        db.execute(f"UPDATE kb_bases SET version = version + 1, updated_at = ?{extra} WHERE id = ?",
                   (time.time(), *fields.values(), kb_id))

    def _owns(self, db: sqlite3.Connection, owner: str, kb_id: int) -> bool:
        return db.execute("SELECT 1 FROM kb_bases WHERE id = ? AND owner = ?", (kb_id, owner)).fetchone() is not None

    # --- knowledge bases ------------------------------------------------------------------------------
    _BASE = """SELECT b.id, b.name,
                      (SELECT COUNT(*) FROM kb_files f WHERE f.kb_id = b.id),
                      (SELECT COUNT(*) FROM kb_chunks c WHERE c.kb_id = b.id AND c.owner = b.owner),
                      b.created_at, b.updated_at, b.embedding_model, b.dimensions
               FROM kb_bases b"""

    def list_bases(self, owner: str) -> list[KnowledgeBase]:
        return [KnowledgeBase(*row) for row in self._rows(f"{self._BASE} WHERE b.owner = ? ORDER BY b.name, b.id",
                                                          (owner,))]

    def get_base(self, owner: str, kb_id: int) -> KnowledgeBase | None:
        rows = self._rows(f"{self._BASE} WHERE b.owner = ? AND b.id = ?", (owner, int(kb_id)))
        return KnowledgeBase(*rows[0]) if rows else None

    def find_base(self, owner: str, name: str) -> KnowledgeBase | None:
        rows = self._rows(f"{self._BASE} WHERE b.owner = ? AND b.name = ?", (owner, name))
        return KnowledgeBase(*rows[0]) if rows else None

    def exists(self, owner: str, kb_id: int) -> bool:
        return bool(self._rows("SELECT 1 FROM kb_bases WHERE id = ? AND owner = ?", (int(kb_id), owner)))

    def embedding_key_of(self, owner: str, kb_id: int) -> str | None:
        """`model:dimensions` every vector of the knowledge base was made with ("" before any), None when the
        owner has no such knowledge base."""
        rows = self._rows("SELECT embedding_model, dimensions FROM kb_bases WHERE id = ? AND owner = ?",
                          (int(kb_id), owner))
        if not rows:
            return None
        return f"{rows[0][0]}:{rows[0][1]}" if rows[0][0] else ""

    def set_embedding(self, owner: str, kb_id: int, embedding_key: str) -> None:
        """Record that every vector is now of this key (after a complete re-embed)."""
        model, _, dims = embedding_key.rpartition(":")
        self._write(lambda db: db.execute(
            "UPDATE kb_bases SET embedding_model = ?, dimensions = ? WHERE id = ? AND owner = ?",
            (model, int(dims or 0), int(kb_id), owner)))

    def create_base(self, owner: str, name: str) -> KnowledgeBase:
        now = time.time()

        def create(db: sqlite3.Connection) -> int:
            try:
                return db.execute("INSERT INTO kb_bases (owner, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
                                  (owner, name, now, now)).lastrowid
            except sqlite3.IntegrityError:
                raise NameTaken(name) from None

        kb_id = self._write(create)
        found = self.get_base(owner, kb_id)
        assert found is not None
        return found

    def rename_base(self, owner: str, kb_id: int, name: str) -> bool:
        def rename(db: sqlite3.Connection) -> bool:
            try:
                return db.execute("UPDATE kb_bases SET name = ?, updated_at = ? WHERE id = ? AND owner = ?",
                                  (name, time.time(), int(kb_id), owner)).rowcount == 1
            except sqlite3.IntegrityError:
                raise NameTaken(name) from None

        return self._write(rename)

    def delete_base(self, owner: str, kb_id: int) -> bool:
        def delete(db: sqlite3.Connection) -> bool:
            if not self._owns(db, owner, int(kb_id)):
                return False
            db.execute("DELETE FROM kb_fts WHERE rowid IN (SELECT id FROM kb_chunks WHERE kb_id = ? AND owner = ?)",
                       (int(kb_id), owner))
            db.execute("DELETE FROM kb_chunks WHERE kb_id = ? AND owner = ?", (int(kb_id), owner))
            return db.execute("DELETE FROM kb_bases WHERE id = ? AND owner = ?", (int(kb_id), owner)).rowcount == 1

        done = self._write(delete)
        CACHE.drop((*self._cache_prefix, owner, int(kb_id)))
        return done

    # --- files ------------------------------------------------------------------------------------------
    _FILE = """SELECT id, name, status, size, format, pages, chunks, tokens, embedding_tokens, cost, error,
                      error_kind, seconds, updated_at FROM kb_files"""

    @staticmethod
    def _report(row: tuple) -> FileReport:
        (fid, name, status, size, fmt, pages, chunks, tokens, embedding_tokens, cost, error, error_kind, seconds,
         updated_at) = row
        return FileReport(fid, name, status, size, fmt, pages, chunks, tokens, embedding_tokens, cost, _msg(error),
                          error_kind, seconds, updated_at)

    def list_files(self, owner: str, kb_id: int) -> list[FileReport]:
        return [self._report(r) for r in self._rows(f"{self._FILE} WHERE owner = ? AND kb_id = ? ORDER BY name",
                                                    (owner, int(kb_id)))]

    def get_file(self, owner: str, kb_id: int, file_id: int) -> FileReport | None:
        rows = self._rows(f"{self._FILE} WHERE owner = ? AND kb_id = ? AND id = ?", (owner, int(kb_id), int(file_id)))
        return self._report(rows[0]) if rows else None

    def find_file(self, owner: str, kb_id: int, name: str) -> FileReport | None:
        rows = self._rows(f"{self._FILE} WHERE owner = ? AND kb_id = ? AND name = ?", (owner, int(kb_id), name))
        return self._report(rows[0]) if rows else None

    def file_data(self, owner: str, kb_id: int, file_id: int) -> bytes | None:
        rows = self._rows("SELECT data FROM kb_files WHERE owner = ? AND kb_id = ? AND id = ?",
                          (owner, int(kb_id), int(file_id)))
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    def document_text(self, owner: str, kb_id: int, file_id: int) -> str | None:
        rows = self._rows("SELECT text FROM kb_files WHERE owner = ? AND kb_id = ? AND id = ?",
                          (owner, int(kb_id), int(file_id)))
        return rows[0][0] if rows else None

    def _upsert_file(self, db: sqlite3.Connection, owner: str, kb_id: int, report: FileReport, data: bytes | None,
                     text: str) -> int:
        values = (report.status, report.size, report.format, report.pages, report.chunks, report.tokens,
                  report.embedding_tokens, report.cost, _msg_json(report.error), report.error_kind, report.seconds,
                  report.updated_at or time.time(), data, text)
        old = db.execute("SELECT id FROM kb_files WHERE kb_id = ? AND owner = ? AND name = ?",
                         (kb_id, owner, report.name)).fetchone()
        if old is not None:
            db.execute("DELETE FROM kb_fts WHERE rowid IN (SELECT id FROM kb_chunks WHERE file_id = ?)", (old[0],))
            db.execute("DELETE FROM kb_chunks WHERE file_id = ?", (old[0],))
            db.execute("""UPDATE kb_files SET status = ?, size = ?, format = ?, pages = ?, chunks = ?, tokens = ?,
                              embedding_tokens = ?, cost = ?, error = ?, error_kind = ?, seconds = ?, updated_at = ?,
                              data = ?, text = ? WHERE id = ?""", (*values, old[0]))
            return int(old[0])
        return int(db.execute("""INSERT INTO kb_files (status, size, format, pages, chunks, tokens, embedding_tokens,
                                     cost, error, error_kind, seconds, updated_at, data, text, kb_id, owner, name)
                                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                              (*values, kb_id, owner, report.name)).lastrowid)

    def put_file(self, owner: str, kb_id: int, report: FileReport, data: bytes | None, text: str,
                 chunks: Sequence[Chunk], terms: Sequence[str], vectors: Sequence[Sequence[float]] | None,
                 embedding_key: str) -> int:
        kb_id = int(kb_id)
        encoded = [encode_vector(v) for v in vectors] if vectors is not None else None
        model, _, dims = embedding_key.rpartition(":")

        def put(db: sqlite3.Connection) -> int:
            if not self._owns(db, owner, kb_id):
                from qwenchat.knowledge.model import KnowledgeBaseNotFound

                raise KnowledgeBaseNotFound(kb_id)
            file_id = self._upsert_file(db, owner, kb_id, report, data, text)
            for seq, chunk in enumerate(chunks):
                vector = encoded[seq] if encoded is not None else None
                cid = db.execute(
                    """INSERT INTO kb_chunks (kb_id, file_id, owner, seq, start, "end", page, heading, context,
                           text, tokens, embedded_with, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (kb_id, file_id, owner, seq, chunk.start, chunk.end, chunk.page, chunk.heading, chunk.context,
                     chunk.text, chunk.tokens, embedding_key if vector is not None else "", vector)).lastrowid
                db.execute("INSERT INTO kb_fts (rowid, terms) VALUES (?, ?)", (cid, terms[seq]))
            first = db.execute("SELECT embedding_model FROM kb_bases WHERE id = ?", (kb_id,)).fetchone()[0] == ""
            if encoded is not None and first:  # otherwise the key changes only once a re-embed is complete
                self._bump(db, kb_id, embedding_model=model, dimensions=int(dims or 0))
            else:
                self._bump(db, kb_id)
            return file_id

        return self._write(put)

    def record_failure(self, owner: str, kb_id: int, report: FileReport, data: bytes | None) -> int:
        """Keep a failed file's report (and bytes, to retry) without touching a stored good version."""
        def record(db: sqlite3.Connection) -> int:
            if not self._owns(db, owner, int(kb_id)):
                return 0
            old = db.execute("SELECT id, status FROM kb_files WHERE kb_id = ? AND owner = ? AND name = ?",
                             (int(kb_id), owner, report.name)).fetchone()
            if old is not None and old[1] != "failed":
                return int(old[0])  # the indexed version stays searchable
            file_id = self._upsert_file(db, owner, int(kb_id), report, data, "")
            self._bump(db, int(kb_id))
            return file_id

        return self._write(record)

    def remove_file(self, owner: str, kb_id: int, file_id: int) -> bool:
        def remove(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT id FROM kb_files WHERE id = ? AND kb_id = ? AND owner = ?",
                             (int(file_id), int(kb_id), owner)).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM kb_fts WHERE rowid IN (SELECT id FROM kb_chunks WHERE file_id = ?)", (row[0],))
            db.execute("DELETE FROM kb_chunks WHERE file_id = ?", (row[0],))
            db.execute("DELETE FROM kb_files WHERE id = ?", (row[0],))
            self._bump(db, int(kb_id))
            return True

        return self._write(remove)

    # --- vectors ----------------------------------------------------------------------------------------
    def missing_vectors(self, owner: str, kb_id: int, embedding_key: str) -> list[tuple[int, str]]:
        """(chunk id, text to embed) of passages without a vector of this key."""
        rows = self._rows(
            """SELECT c.id, c.context, c.text FROM kb_chunks c
               JOIN kb_files f ON f.id = c.file_id
               WHERE c.owner = ? AND c.kb_id = ? AND c.embedded_with != ? AND f.status != 'keywords_only'
               ORDER BY c.id""", (owner, int(kb_id), embedding_key))
        return [(cid, Chunk(text, 0, 0, context=context).indexed_text) for cid, context, text in rows]

    def set_vectors(self, owner: str, kb_id: int, vectors: Sequence[tuple[int, Sequence[float]]],
                    embedding_key: str) -> None:
        def put(db: sqlite3.Connection) -> None:
            if not self._owns(db, owner, int(kb_id)):
                return
            db.executemany("UPDATE kb_chunks SET vector = ?, embedded_with = ? WHERE id = ? AND owner = ? AND kb_id = ?",
                           [(encode_vector(v), embedding_key, int(cid), owner, int(kb_id)) for cid, v in vectors])
            self._bump(db, int(kb_id))

        self._write(put)

    def has_vectors(self, owner: str, kb_id: int, embedding_key: str) -> bool:
        return bool(self._rows("SELECT 1 FROM kb_chunks WHERE owner = ? AND kb_id = ? AND embedded_with = ? LIMIT 1",
                               (owner, int(kb_id), embedding_key)))

    def _vectors(self, owner: str, kb_id: int, embedding_key: str) -> _Vectors | None:
        rows = self._rows("SELECT version FROM kb_bases WHERE id = ? AND owner = ?", (int(kb_id), owner))
        if not rows:
            return None
        key = (*self._cache_prefix, owner, int(kb_id), embedding_key)
        cached = CACHE.get(key, rows[0][0])
        if cached is not None:
            return cached
        with self._lock:
            self._conn.execute("BEGIN")  # one snapshot: the version and the vectors agree
            try:
                version = self._conn.execute("SELECT version FROM kb_bases WHERE id = ? AND owner = ?",
                                             (int(kb_id), owner)).fetchone()[0]
                data = self._conn.execute(
                    "SELECT id, vector FROM kb_chunks WHERE owner = ? AND kb_id = ? AND embedded_with = ? "
                    "AND vector IS NOT NULL ORDER BY id", (owner, int(kb_id), embedding_key)).fetchall()
            finally:
                self._conn.execute("COMMIT")
        if not data:
            return None
        ids = np.fromiter((r[0] for r in data), dtype=np.int64, count=len(data))
        half = np.frombuffer(b"".join(r[1] for r in data), dtype=np.float16).reshape(len(data), -1)
        vectors = _Vectors(ids, half)
        CACHE.put(key, version, vectors)
        return vectors

    def vector_search(self, owner: str, kb_id: int, vector: Sequence[float], embedding_key: str,
                      limit: int) -> list[tuple[int, float]]:
        found = self._vectors(owner, int(kb_id), embedding_key)
        if found is None:
            return []
        q = np.asarray(vector, dtype=np.float32)
        if q.shape[0] != found.dims:
            return []
        norm = float(np.linalg.norm(q))
        if norm > 0:
            q = q / norm
        rows, scores = found.search(q, limit)
        return [(int(found.ids[r]), float(s)) for r, s in zip(rows, scores)]

    # --- keywords and passages ----------------------------------------------------------------------------
    def keyword_search(self, owner: str, kb_id: int, terms: Sequence[str], limit: int) -> list[tuple[int, float]]:
        terms = [t for t in terms if t]
        if not terms:
            return []
        query = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        rows = self._rows(
            """SELECT c.id, bm25(kb_fts) AS score FROM kb_fts JOIN kb_chunks c ON c.id = kb_fts.rowid
               WHERE kb_fts MATCH ? AND +c.owner = ? AND +c.kb_id = ? ORDER BY score LIMIT ?""",
            (query, owner, int(kb_id), int(limit)))
        return [(cid, -score) for cid, score in rows]

    # The unary `+` keeps SQLite from walking the (owner, kb_id) index for these filters (it does, with bound
    # parameters and no statistics: 19 ms at 100k passages); the owner and the knowledge base are still
    # checked on every row found by rowid or by FTS5.

    def chunks(self, owner: str, kb_id: int, ids: Sequence[int]) -> list[StoredChunk]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._rows(
            f"""SELECT c.id, c.kb_id, c.file_id, f.name, c.text, c.start,
                       c."end", c.page, c.heading, c.context
                FROM kb_chunks c JOIN kb_files f ON f.id = c.file_id
                WHERE +c.owner = ? AND +c.kb_id = ? AND f.owner = ? AND c.id IN ({marks})""",
            (owner, int(kb_id), owner, *[int(i) for i in ids]))
        return [StoredChunk(*row) for row in rows]
