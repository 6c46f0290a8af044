"""The PostgreSQL backend of the knowledge base (`index.KnowledgeIndex`): the tables of `pg_migrations`
m004 on the server of the app's `PostgresStore` (QWENCHAT_DB=postgresql://...), through its pool, so every
app server sees every knowledge base at once (the only cache, keyword statistics, is keyed by the
knowledge base's version).

- Vectors: pgvector. A knowledge base's width is set by its embedding model (64 .. 2,048 dimensions), so the
  column is `vector` of any width with the width beside it (`dims`), and each common width has its own
  partial HNSW index over `embedding::vector(N)` (see `pg_migrations.HNSW_DIMENSIONS`). A search names that
  expression and `dims = N`, so PostgreSQL can walk the HNSW graph; the graph holds every owner's passages
  of that width, and pgvector (0.6) filters its candidates afterwards, so when the walk returns fewer than
  asked for (a small knowledge base among large ones), the search is done again exactly over the knowledge
  base's own rows (`ORDER BY embedding <=> q`, which no HNSW index matches). Vectors are stored unit-length
  and rounded through float16 as SQLite stores them: scores agree, and a copy either way is exact.
- Keywords: the same terms `keywords.py` makes (Chinese bigrams and jieba words, lower-case Latin words;
  PostgreSQL's `simple` parser alone would take a run of Chinese characters for one word), space-joined in
  `terms`, stored as `tsv = to_tsvector('simple', terms)` with a GIN index. Ranking is BM25 as FTS5 computes it
  (k1 1.2, b 0.75, idf floored at 1e-6), with the statistics of the owner's knowledge base: one GIN index scan
  per query word gives its document frequency (ids and lengths, no tsvector read), the matching passages are
  ordered by their score as if each word occurred once, and only the best `POOL_MIN` (or `POOL_FACTOR` x the
  limit) are scored exactly, term frequencies from their tsvectors' positions. The passage count and average
  length are cached per (owner, knowledge base, version): every write bumps the version in its transaction.
  The GIN index has no pending list (m006), so a search never scans unsorted entries, and a passage's row is
  toasted down to 128 bytes (m007), so reading the ids and lengths of thousands of matches reads few pages.
- The owner is in the WHERE clause of every statement; a forged id of someone else's reads as absent.
- Failures are the store's: `StoreUnavailable` with the URL's password removed (`PostgresStore._run`).
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from qwenchat.knowledge.index import StoredChunk
from qwenchat.knowledge.model import Chunk, FileReport, KnowledgeBase, KnowledgeBaseNotFound, NameTaken
from qwenchat.knowledge.sqlite_index import _msg, _msg_json
from qwenchat.pg_migrations import HNSW_DIMENSIONS

BM25_K1 = 1.2
BM25_B = 0.75
EF_SEARCH_MIN = 40  # pgvector's default; raised to twice the passages asked for
POOL_MIN, POOL_FACTOR = 1000, 20  # keyword search scores exactly the best max(1000, 20 x limit) by the estimate
STATS_CACHE = 256  # (owner, knowledge base, version) -> (passages, average length), oldest dropped first


def unit_half(vector: Sequence[float]) -> np.ndarray:
    """The vector as stored: unit length, rounded through float16 (as SQLite's BLOBs), held as float32."""
    v = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    return (v / norm if norm > 0 else v).astype(np.float16).astype(np.float32)


class PostgresIndex:
    """Knowledge bases on the server of `store`: a `qwenchat.store_postgres.PostgresStore`, or the app's
    `RetryingStore` holding one (looked up on each call: it may have been opened again meanwhile)."""

    def __init__(self, store: Any):
        self._store = store
        self._stats: dict[tuple[str, int, int], tuple[float, float]] = {}

    @property
    def store(self) -> Any:
        return self._store._current() if hasattr(self._store, "_current") else self._store

    def close(self) -> None:  # the store owns the pool
        pass

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        return self.store._run(lambda db: db.execute(sql, params).fetchall(), write=False)

    def _write(self, fn):  # type: ignore[no-untyped-def]
        return self.store._run(fn)

    @staticmethod
    def _bump(db, kb_id: int, **fields: object) -> None:  # type: ignore[no-untyped-def]
        extra = "".join(f", {name} = %s" for name in fields)
        db.execute(f"UPDATE kb_bases SET version = version + 1, updated_at = %s{extra} WHERE id = %s",
                   (time.time(), *fields.values(), kb_id))

    @staticmethod
    def _owns(db, owner: str, kb_id: int, *, lock: bool = True) -> bool:  # type: ignore[no-untyped-def]
        """Whether the owner has this knowledge base; its row is locked (writers of one base queue)."""
        return db.execute("SELECT 1 FROM kb_bases WHERE id = %s AND owner = %s" + (" FOR UPDATE" if lock else ""),
                          (kb_id, owner)).fetchone() is not None

    # --- knowledge bases ------------------------------------------------------------------------------
    _BASE = """SELECT b.id, b.name,
                      (SELECT COUNT(*) FROM kb_files f WHERE f.kb_id = b.id AND f.owner = b.owner),
                      (SELECT COUNT(*) FROM kb_chunks c WHERE c.kb_id = b.id AND c.owner = b.owner),
                      b.created_at, b.updated_at, b.embedding_model, b.dimensions
               FROM kb_bases b"""

    def list_bases(self, owner: str) -> list[KnowledgeBase]:
        rows = self._read(f'{self._BASE} WHERE b.owner = %s ORDER BY b.name COLLATE "C", b.id', (owner,))
        return [KnowledgeBase(*row) for row in rows]

    def get_base(self, owner: str, kb_id: int) -> KnowledgeBase | None:
        rows = self._read(f"{self._BASE} WHERE b.owner = %s AND b.id = %s", (owner, int(kb_id)))
        return KnowledgeBase(*rows[0]) if rows else None

    def find_base(self, owner: str, name: str) -> KnowledgeBase | None:
        rows = self._read(f"{self._BASE} WHERE b.owner = %s AND b.name = %s", (owner, name))
        return KnowledgeBase(*rows[0]) if rows else None

    def exists(self, owner: str, kb_id: int) -> bool:
        return bool(self._read("SELECT 1 FROM kb_bases WHERE id = %s AND owner = %s", (int(kb_id), owner)))

    def embedding_key_of(self, owner: str, kb_id: int) -> str | None:
        rows = self._read("SELECT embedding_model, dimensions FROM kb_bases WHERE id = %s AND owner = %s",
                          (int(kb_id), owner))
        if not rows:
            return None
        return f"{rows[0][0]}:{rows[0][1]}" if rows[0][0] else ""

    def set_embedding(self, owner: str, kb_id: int, embedding_key: str) -> None:
        model, _, dims = embedding_key.rpartition(":")
        self._write(lambda db: db.execute(
            "UPDATE kb_bases SET embedding_model = %s, dimensions = %s WHERE id = %s AND owner = %s",
            (model, int(dims or 0), int(kb_id), owner)))

    def create_base(self, owner: str, name: str) -> KnowledgeBase:
        now = time.time()

        def create(db) -> int | None:  # type: ignore[no-untyped-def]
            row = db.execute("""INSERT INTO kb_bases (owner, name, created_at, updated_at) VALUES (%s, %s, %s, %s)
                                ON CONFLICT (owner, name) DO NOTHING RETURNING id""", (owner, name, now, now)).fetchone()
            return row[0] if row else None

        kb_id = self._write(create)
        if kb_id is None:
            raise NameTaken(name)
        found = self.get_base(owner, kb_id)
        assert found is not None
        return found

    def rename_base(self, owner: str, kb_id: int, name: str) -> bool:
        def rename(db) -> bool:  # type: ignore[no-untyped-def]
            if not self._owns(db, owner, int(kb_id)):
                return False
            taken = db.execute("SELECT 1 FROM kb_bases WHERE owner = %s AND name = %s AND id <> %s",
                               (owner, name, int(kb_id))).fetchone()
            if taken:
                raise NameTaken(name)
            return db.execute("UPDATE kb_bases SET name = %s, updated_at = %s WHERE id = %s AND owner = %s",
                              (name, time.time(), int(kb_id), owner)).rowcount == 1

        return self._write(rename)

    def delete_base(self, owner: str, kb_id: int) -> bool:
        def delete(db) -> bool:  # type: ignore[no-untyped-def]
            if not self._owns(db, owner, int(kb_id)):
                return False
            db.execute("DELETE FROM kb_chunks WHERE kb_id = %s AND owner = %s", (int(kb_id), owner))
            return db.execute("DELETE FROM kb_bases WHERE id = %s AND owner = %s", (int(kb_id), owner)).rowcount == 1

        return self._write(delete)

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
        rows = self._read(f'{self._FILE} WHERE owner = %s AND kb_id = %s ORDER BY name COLLATE "C"',
                          (owner, int(kb_id)))
        return [self._report(r) for r in rows]

    def get_file(self, owner: str, kb_id: int, file_id: int) -> FileReport | None:
        rows = self._read(f"{self._FILE} WHERE owner = %s AND kb_id = %s AND id = %s",
                          (owner, int(kb_id), int(file_id)))
        return self._report(rows[0]) if rows else None

    def find_file(self, owner: str, kb_id: int, name: str) -> FileReport | None:
        rows = self._read(f"{self._FILE} WHERE owner = %s AND kb_id = %s AND name = %s", (owner, int(kb_id), name))
        return self._report(rows[0]) if rows else None

    def file_data(self, owner: str, kb_id: int, file_id: int) -> bytes | None:
        rows = self._read("SELECT data FROM kb_files WHERE owner = %s AND kb_id = %s AND id = %s",
                          (owner, int(kb_id), int(file_id)))
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    def document_text(self, owner: str, kb_id: int, file_id: int) -> str | None:
        from qwenchat.store_postgres import _unescape

        rows = self._read("SELECT text FROM kb_files WHERE owner = %s AND kb_id = %s AND id = %s",
                          (owner, int(kb_id), int(file_id)))
        return _unescape(rows[0][0]) if rows else None

    def _upsert_file(self, db, owner: str, kb_id: int, report: FileReport, data: bytes | None,  # type: ignore[no-untyped-def]
                     text: str) -> int:
        from qwenchat.store_postgres import _escape

        values = (report.status, report.size, report.format, report.pages, report.chunks, report.tokens,
                  report.embedding_tokens, report.cost, _msg_json(report.error), report.error_kind, report.seconds,
                  report.updated_at or time.time(), data, _escape(text))
        old = db.execute("SELECT id FROM kb_files WHERE kb_id = %s AND owner = %s AND name = %s",
                         (kb_id, owner, report.name)).fetchone()
        if old is not None:
            db.execute("DELETE FROM kb_chunks WHERE file_id = %s", (old[0],))
            db.execute("""UPDATE kb_files SET status = %s, size = %s, format = %s, pages = %s, chunks = %s,
                              tokens = %s, embedding_tokens = %s, cost = %s, error = %s, error_kind = %s,
                              seconds = %s, updated_at = %s, data = %s, text = %s WHERE id = %s""", (*values, old[0]))
            return int(old[0])
        return int(db.execute("""INSERT INTO kb_files (status, size, format, pages, chunks, tokens, embedding_tokens,
                                     cost, error, error_kind, seconds, updated_at, data, text, kb_id, owner, name)
                                 VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                                 RETURNING id""", (*values, kb_id, owner, report.name)).fetchone()[0])

    def put_file(self, owner: str, kb_id: int, report: FileReport, data: bytes | None, text: str,
                 chunks: Sequence[Chunk], terms: Sequence[str], vectors: Sequence[Sequence[float]] | None,
                 embedding_key: str) -> int:
        from qwenchat.store_postgres import _escape

        kb_id = int(kb_id)
        stored = [unit_half(v) for v in vectors] if vectors is not None else None
        model, _, dims = embedding_key.rpartition(":")

        def put(db) -> int:  # type: ignore[no-untyped-def]
            if not self._owns(db, owner, kb_id):
                raise KnowledgeBaseNotFound(kb_id)
            file_id = self._upsert_file(db, owner, kb_id, report, data, text)
            rows = []
            for seq, chunk in enumerate(chunks):
                vector = stored[seq] if stored is not None else None
                rows.append((kb_id, file_id, owner, seq, chunk.start, chunk.end, chunk.page, _escape(chunk.heading),
                             _escape(chunk.context), _escape(chunk.text), chunk.tokens,
                             embedding_key if vector is not None else "", len(vector) if vector is not None else 0,
                             vector, terms[seq], len(terms[seq].split())))
            with db.cursor() as cur:
                cur.executemany("""INSERT INTO kb_chunks (kb_id, file_id, owner, seq, start, "end", page, heading,
                                       context, text, tokens, embedded_with, dims, embedding, terms, nterms)
                                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""", rows)
            first = db.execute("SELECT embedding_model FROM kb_bases WHERE id = %s", (kb_id,)).fetchone()[0] == ""
            if stored is not None and first:  # otherwise the key changes only once a re-embed is complete
                self._bump(db, kb_id, embedding_model=model, dimensions=int(dims or 0))
            else:
                self._bump(db, kb_id)
            return file_id

        return self._write(put)

    def record_failure(self, owner: str, kb_id: int, report: FileReport, data: bytes | None) -> int:
        def record(db) -> int:  # type: ignore[no-untyped-def]
            if not self._owns(db, owner, int(kb_id)):
                return 0
            old = db.execute("SELECT id, status FROM kb_files WHERE kb_id = %s AND owner = %s AND name = %s",
                             (int(kb_id), owner, report.name)).fetchone()
            if old is not None and old[1] != "failed":
                return int(old[0])  # the indexed version stays searchable
            file_id = self._upsert_file(db, owner, int(kb_id), report, data, "")
            self._bump(db, int(kb_id))
            return file_id

        return self._write(record)

    def remove_file(self, owner: str, kb_id: int, file_id: int) -> bool:
        def remove(db) -> bool:  # type: ignore[no-untyped-def]
            if not self._owns(db, owner, int(kb_id)):
                return False
            row = db.execute("SELECT id FROM kb_files WHERE id = %s AND kb_id = %s AND owner = %s",
                             (int(file_id), int(kb_id), owner)).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM kb_chunks WHERE file_id = %s AND owner = %s", (row[0], owner))
            db.execute("DELETE FROM kb_files WHERE id = %s AND owner = %s", (row[0], owner))
            self._bump(db, int(kb_id))
            return True

        return self._write(remove)

    # --- vectors ----------------------------------------------------------------------------------------
    def missing_vectors(self, owner: str, kb_id: int, embedding_key: str) -> list[tuple[int, str]]:
        from qwenchat.store_postgres import _unescape

        rows = self._read(
            """SELECT c.id, c.context, c.text FROM kb_chunks c JOIN kb_files f ON f.id = c.file_id
               WHERE c.owner = %s AND c.kb_id = %s AND f.owner = %s AND c.embedded_with <> %s
                     AND f.status <> 'keywords_only'
               ORDER BY c.id""", (owner, int(kb_id), owner, embedding_key))
        return [(cid, Chunk(_unescape(text), 0, 0, context=_unescape(context)).indexed_text)
                for cid, context, text in rows]

    def set_vectors(self, owner: str, kb_id: int, vectors: Sequence[tuple[int, Sequence[float]]],
                    embedding_key: str) -> None:
        def put(db) -> None:  # type: ignore[no-untyped-def]
            if not self._owns(db, owner, int(kb_id)):
                return
            rows = []
            for cid, v in vectors:
                u = unit_half(v)
                rows.append((u, len(u), embedding_key, int(cid), owner, int(kb_id)))
            with db.cursor() as cur:
                cur.executemany("UPDATE kb_chunks SET embedding = %s, dims = %s, embedded_with = %s "
                                "WHERE id = %s AND owner = %s AND kb_id = %s", rows)
            self._bump(db, int(kb_id))

        self._write(put)

    def has_vectors(self, owner: str, kb_id: int, embedding_key: str) -> bool:
        return bool(self._read("SELECT 1 FROM kb_chunks WHERE owner = %s AND kb_id = %s AND embedded_with = %s "
                               "AND embedding IS NOT NULL LIMIT 1", (owner, int(kb_id), embedding_key)))

    def vector_search(self, owner: str, kb_id: int, vector: Sequence[float], embedding_key: str,
                      limit: int) -> list[tuple[int, float]]:
        q = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(q))
        if norm > 0:
            q = q / norm
        n = int(q.shape[0])
        limit = int(limit)
        where = "owner = %s AND kb_id = %s AND embedded_with = %s AND embedding IS NOT NULL"
        params = (owner, int(kb_id), embedding_key)

        def search(db) -> list[tuple[int, float]]:  # type: ignore[no-untyped-def]
            if n in HNSW_DIMENSIONS:  # `n` is an int from our own tuple: the literal matches the index
                db.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH_MIN, 2 * limit)}")
                found = db.execute(
                    f"""SELECT id, 1 - (embedding::vector({n}) <=> %s::vector({n})) FROM kb_chunks
                        WHERE {where} AND dims = {n}
                        ORDER BY embedding::vector({n}) <=> %s::vector({n}) LIMIT %s""",
                    (q, *params, q, limit)).fetchall()
                if len(found) >= limit:
                    return found
            # Exact, over this knowledge base's rows (no HNSW index matches `embedding <=> q`).
            return db.execute(f"""SELECT id, 1 - (embedding <=> %s) FROM kb_chunks WHERE {where} AND dims = %s
                                  ORDER BY embedding <=> %s, id LIMIT %s""", (q, *params, n, q, limit)).fetchall()

        return [(int(cid), float(score)) for cid, score in self.store._run(search, write=False)]

    # --- keywords and passages ----------------------------------------------------------------------------
    def _kb_stats(self, db, owner: str, kb_id: int) -> tuple[float, float] | None:  # type: ignore[no-untyped-def]
        """(passages, average terms per passage) of the knowledge base, cached per its version (every write
        bumps it in the same transaction), so the count over all its rows is made once per version."""
        row = db.execute("SELECT version FROM kb_bases WHERE id = %s AND owner = %s", (kb_id, owner)).fetchone()
        if row is None:
            return None
        key = (owner, kb_id, int(row[0]))
        stats = self._stats.get(key)
        if stats is None:
            n, avgdl = db.execute("SELECT COUNT(*)::float8, GREATEST(AVG(nterms), 1)::float8 FROM kb_chunks "
                                  "WHERE owner = %s AND kb_id = %s", (owner, kb_id)).fetchone()
            stats = (float(n), float(avgdl))
            if len(self._stats) >= STATS_CACHE:
                self._stats.pop(next(iter(self._stats)))
            self._stats[key] = stats
        return stats

    def keyword_search(self, owner: str, kb_id: int, terms: Sequence[str], limit: int) -> list[tuple[int, float]]:
        """BM25 as FTS5 computes it, in two steps so that few tsvectors are read: each query word's matching
        passages come from the GIN index (ids and lengths only: document frequencies, and a score as if every
        term occurred once), then the best `pool` of those are scored exactly from their tsvectors' positions."""
        terms = [t for t in terms if t]
        if not terms or limit <= 0:
            return []
        kb_id, limit = int(kb_id), int(limit)
        pool = max(POOL_MIN, POOL_FACTOR * limit)
        norm = f"{BM25_K1}::float8 * ({1 - BM25_B}::float8 + {BM25_B}::float8 * h.nterms / %(avgdl)s)"  # float8: numeric is 2x slower

        def search(db) -> list[tuple]:  # type: ignore[no-untyped-def]
            stats = self._kb_stats(db, owner, kb_id)
            if stats is None or stats[0] == 0:
                return []
            params = {"text": " ".join(terms), "owner": owner, "kb": kb_id, "n": stats[0], "avgdl": stats[1],
                      "pool": pool, "limit": limit}
            return db.execute(
                f"""WITH words AS (SELECT DISTINCT w.lexeme AS word FROM unnest(to_tsvector('simple', %(text)s)) w),
                         hits AS (SELECT c.id, c.nterms, w.word FROM words w,
                                  LATERAL (SELECT id, nterms FROM kb_chunks
                                           WHERE tsv @@ plainto_tsquery('simple', w.word)
                                                 AND owner = %(owner)s AND kb_id = %(kb)s) c),
                         idf AS (SELECT word, GREATEST(ln((%(n)s - COUNT(*) + 0.5) / (COUNT(*) + 0.5)), 1e-6) AS idf
                                 FROM hits GROUP BY word),
                         pre AS (SELECT h.id, h.nterms FROM hits h JOIN idf USING (word)
                                 GROUP BY h.id, h.nterms
                                 ORDER BY SUM(idf.idf) / (1 + {norm}) DESC, h.id
                                 LIMIT %(pool)s),
                         tf AS (SELECT h.id, h.nterms, t.lexeme AS word, cardinality(t.positions)::float8 AS tf
                                FROM pre h JOIN kb_chunks c ON c.id = h.id AND c.owner = %(owner)s
                                                              AND c.kb_id = %(kb)s,
                                     unnest(ts_filter(setweight(c.tsv, 'A', (SELECT array_agg(word) FROM words)),
                                                      '{{a}}')) t)
                    SELECT tf.id, SUM(idf.idf * tf.tf * {BM25_K1 + 1} / (tf.tf + {norm.replace('h.', 'tf.')})) AS score
                    FROM tf JOIN idf USING (word)
                    GROUP BY tf.id ORDER BY score DESC, tf.id LIMIT %(limit)s""", params).fetchall()

        return [(int(cid), float(score)) for cid, score in self.store._run(search, write=False)]

    def chunks(self, owner: str, kb_id: int, ids: Sequence[int]) -> list[StoredChunk]:
        from qwenchat.store_postgres import _unescape

        if not ids:
            return []
        rows = self._read(
            """SELECT c.id, c.kb_id, c.file_id, f.name, c.text, c.start, c."end", c.page, c.heading, c.context
               FROM kb_chunks c JOIN kb_files f ON f.id = c.file_id
               WHERE c.owner = %s AND c.kb_id = %s AND f.owner = %s AND c.id = ANY(%s)""",
            (owner, int(kb_id), owner, [int(i) for i in ids]))
        return [StoredChunk(cid, kid, fid, name, _unescape(text), start, end, page, _unescape(heading),
                            _unescape(context))
                for cid, kid, fid, name, text, start, end, page, heading, context in rows]
