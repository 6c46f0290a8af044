"""`KnowledgeBases`: the one object the UI, the chat turn and the CLI use (see the package docstring)."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from qwenchat import errors, pricing
from qwenchat.i18n import Msg
from qwenchat.knowledge import chunking, extract, keywords
from qwenchat.knowledge.fusion import fuse
from qwenchat.knowledge.index import KnowledgeIndex, StoredChunk
from qwenchat.knowledge.model import (
    CHUNK,
    DONE,
    EMBED,
    EMBEDDING,
    FAILED,
    KEYWORDS_ONLY,
    OK,
    READ,
    STORE,
    TOO_LARGE,
    BadName,
    Chunk,
    EmbeddingConfig,
    FileNotFound,
    FileReport,
    Hit,
    IngestError,
    KnowledgeBase,
    KnowledgeBaseNotFound,
    Progress,
    SearchResult,
    no_progress,
)
from qwenchat.transfer import format_bytes

MAX_NAME_CHARS = 100
CANDIDATES = 50         # passages each retriever hands to fusion
RERANK_CANDIDATES = 20  # fused passages sent to the reranker
# Fusion: the keyword and the vector list weighted 1 : 0.8, reciprocal-rank constant 10 (the paper's 60
# flattens the top ranks: a passage first in one list and absent from the other falls behind passages both
# lists put in the middle). Chosen in the middle of a plateau on the dev questions with the fake's lexical
# embeddings: at k 10 every vector weight from 0.6 to 1.0, and at weight 0.8 every k from 5 to 15, give the
# same recall (the old 1 : 0.5 at k 60 was a single good point: 0.4 and 0.6 each lost a Chinese question).
# See benchmarks/README.md for the grid; re-tune with real embeddings.
KEYWORD_VECTOR_WEIGHTS = (1.0, 0.8)
RRF_K = 10
Admit = Callable[[int], None]


def _check_owner(owner: str) -> None:
    if not isinstance(owner, str) or not owner:
        raise ValueError("owner must be a non-empty string")


def _clean_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not name or len(name) > MAX_NAME_CHARS:
        raise BadName(MAX_NAME_CHARS)
    return name


class KnowledgeBases:
    """One owner's knowledge bases.

    `store`: an `index.KnowledgeIndex`, or the app's `qwenchat.store.Store`/`RetryingStore`, or a path to
    the SQLite file (the knowledge tables live in the same file as the conversations). `provider`: a
    provider with `embed`/`rerank` (`qwenchat.providers`), or None for keyword search only.
    """

    def __init__(self, store: Any, owner: str, provider: Any = None, *,
                 embedding: EmbeddingConfig | None = None, max_file_bytes: int | None = None,
                 max_chunk_tokens: int = chunking.MAX_TOKENS, max_store_bytes: int | None = None):
        _check_owner(owner)
        # Uploads stop when the database file is this large (`QWENCHAT_MAX_STORE_BYTES`, as imports do).
        self.max_store_bytes = int(max_store_bytes if max_store_bytes is not None else _default_max_store_bytes())
        self.owner = owner
        self.provider = provider
        self.embedding = embedding or EmbeddingConfig()
        self.max_file_bytes = int(max_file_bytes if max_file_bytes is not None else _default_max_bytes())
        self.max_chunk_tokens = max_chunk_tokens
        self.index: KnowledgeIndex = _index_for(store)

    @classmethod
    def from_settings(cls, store: Any, owner: str, provider: Any = None, *,
                      secrets: Mapping[str, object] | None = None,
                      environ: Mapping[str, str] | None = None) -> "KnowledgeBases":
        """With the embedding model, dimensions, rerank model and size limit read from the settings table."""
        from qwenchat.settings import read

        secrets = secrets or {}
        environ = os.environ if environ is None else environ
        config = EmbeddingConfig(str(read("QWENCHAT_EMBEDDING_MODEL", secrets, environ)),
                                 int(read("QWENCHAT_EMBEDDING_DIMENSIONS", secrets, environ)),  # type: ignore[arg-type]
                                 str(read("QWENCHAT_RERANK_MODEL", secrets, environ)))
        return cls(store, owner, provider, embedding=config,
                   max_file_bytes=int(read("QWENCHAT_KB_MAX_FILE_BYTES", secrets, environ)),  # type: ignore[arg-type]
                   max_store_bytes=int(read("QWENCHAT_MAX_STORE_BYTES", secrets, environ)))  # type: ignore[arg-type]

    # --- knowledge bases ------------------------------------------------------------------------------
    def list(self) -> list[KnowledgeBase]:
        return self.index.list_bases(self.owner)

    def get(self, kb: int) -> KnowledgeBase:
        found = self.index.get_base(self.owner, int(kb))
        if found is None:
            raise KnowledgeBaseNotFound(kb)
        return found

    def find(self, name: str) -> KnowledgeBase | None:
        return self.index.find_base(self.owner, " ".join(str(name).split()))

    def create(self, name: str) -> KnowledgeBase:
        """A new, empty knowledge base; `NameTaken` if the owner has one of that name."""
        return self.index.create_base(self.owner, _clean_name(name))

    def rename(self, kb: int, name: str) -> KnowledgeBase:
        if not self.index.rename_base(self.owner, int(kb), _clean_name(name)):
            raise KnowledgeBaseNotFound(kb)
        return self.get(kb)

    def delete(self, kb: int) -> bool:
        """Delete a knowledge base with its files and passages; False when the owner has none of that id."""
        return self.index.delete_base(self.owner, int(kb))

    # --- files ------------------------------------------------------------------------------------------
    def files(self, kb: int) -> list[FileReport]:
        self._check(kb)
        return self.index.list_files(self.owner, int(kb))

    def file(self, kb: int, file: int | str) -> FileReport:
        found = (self.index.get_file(self.owner, int(kb), file) if isinstance(file, int)
                 else self.index.find_file(self.owner, int(kb), file))
        if found is None:
            raise FileNotFound(file)
        return found

    def document_text(self, kb: int, file_id: int) -> str:
        """The normalised text of a file, as its passages index it: `text[hit.start:hit.end] == hit.text`."""
        text = self.index.document_text(self.owner, int(kb), int(file_id))
        if text is None:
            raise FileNotFound(file_id)
        return text

    def add_file(self, kb: int, name: str, data: bytes, progress: Progress = no_progress,
                 admit: Admit | None = None) -> FileReport:
        """Read, chunk, embed and index one file (replacing a file of the same name). Never raises for a
        bad file: the report says FAILED with a catalog message (`error`), and the others go on. `admit`
        is called with the tokens the passages will cost to embed before anything is sent: what it raises
        stops the file there (the limits of whoever pays, `qwenchat.knowledge.uploads`)."""
        self._check(kb)
        name = " ".join(os.path.basename(str(name).replace("\\", "/")).split()) or "file"
        return self._ingest(int(kb), name, bytes(data), progress, admit)

    def reindex_file(self, kb: int, file: int | str, progress: Progress = no_progress,
                     admit: Admit | None = None) -> FileReport:
        """Read the stored file again with the current extraction, chunking and embedding model."""
        report = self.file(kb, file)
        data = self.index.file_data(self.owner, int(kb), report.id)
        if data is None:
            raise FileNotFound(file)
        return self._ingest(int(kb), report.name, data, progress, admit)

    def remove_file(self, kb: int, file: int | str) -> bool:
        try:
            report = self.file(kb, file)
        except FileNotFound:
            return False
        return self.index.remove_file(self.owner, int(kb), report.id)

    def reembed(self, kb: int, progress: Progress = no_progress, admit: Admit | None = None) -> int:
        """Embed every passage whose vector is missing or was made with another model or dimension;
        returns the embedding tokens billed. Raises `ProviderError` when the server fails (what was
        embedded is kept: the next call goes on from there). `admit`, as for `add_file`, is called with
        the tokens before anything is sent."""
        self._check(kb)
        if self.provider is None:
            return 0
        missing = self.index.missing_vectors(self.owner, int(kb), self.embedding.key)
        if admit is not None and missing:
            admit(sum(chunking.count(text) for _, text in missing))
        tokens = 0
        total = len(missing)
        progress(EMBED, 0, total)
        for i in range(0, total, 100):
            part = missing[i:i + 100]
            result = self.provider.embed([text for _, text in part], model=self.embedding.model,
                                         dimensions=self.embedding.dimensions)
            tokens += result.tokens
            self.index.set_vectors(self.owner, int(kb), list(zip((cid for cid, _ in part), result.vectors)),
                                   self.embedding.key)
            progress(EMBED, min(total, i + len(part)), total)
        self.index.set_embedding(self.owner, int(kb), self.embedding.key)
        return tokens

    def needs_reembed(self, kb: int) -> bool:
        """Whether the knowledge base's vectors were made with another model or dimension than configured."""
        key = self.index.embedding_key_of(self.owner, int(kb))
        if key is None:
            raise KnowledgeBaseNotFound(kb)
        return self.provider is not None and key not in ("", self.embedding.key)

    def _check(self, kb: int) -> None:
        if not self.index.exists(self.owner, int(kb)):
            raise KnowledgeBaseNotFound(kb)

    # --- search ---------------------------------------------------------------------------------------
    def search(self, kb: int, query: str, top_k: int = 5, rerank: bool = False,
               admit: Admit | None = None) -> SearchResult:
        """The `top_k` best passages for `query`: keyword (BM25 over jieba words and CJK bigrams) and vector
        results fused by reciprocal rank, then reranked with `qwen3-rerank` when `rerank` (on failure the
        fused order stays, with a notice). Vectors made with another model or dimension are re-embedded
        first (`admit` is called with their tokens before that); without embeddings the search is keywords
        only."""
        kb = int(kb)
        key = self.index.embedding_key_of(self.owner, kb)  # also the existence check: one query, not two
        if key is None:
            raise KnowledgeBaseNotFound(kb)
        top_k = max(1, int(top_k))
        notices: list[Msg] = []
        embedding_tokens = rerank_tokens = 0
        ranked_lists: list[list[int]] = []
        keyword_hits = self.index.keyword_search(self.owner, kb, keywords.query_terms(query), CANDIDATES)
        ranked_lists.append([cid for cid, _ in keyword_hits])
        mode = "keywords"
        if self.provider is not None and query.strip():
            try:
                if key not in ("", self.embedding.key):
                    embedding_tokens += self.reembed(kb, admit=admit)
                if self.index.has_vectors(self.owner, kb, self.embedding.key):
                    result = self.provider.embed([query], model=self.embedding.model,
                                                 dimensions=self.embedding.dimensions)
                    embedding_tokens += result.tokens
                    vector_hits = self.index.vector_search(self.owner, kb, result.vectors[0], self.embedding.key,
                                                           CANDIDATES)
                    ranked_lists.append([cid for cid, _ in vector_hits])
                    mode = "hybrid"
            except Exception as exc:  # noqa: BLE001 - a failed embedding leaves keyword search
                if not _is_provider_error(exc):
                    raise
                notices.append(Msg("kb.notice.search_keywords_only"))
        fused = fuse(ranked_lists, KEYWORD_VECTOR_WEIGHTS[:len(ranked_lists)], k=RRF_K)
        chosen = fused[:max(top_k, RERANK_CANDIDATES if rerank else top_k)]
        chunks = {c.id: c for c in self.index.chunks(self.owner, kb, [cid for cid, _ in chosen])}
        scored = [(chunks[cid], score) for cid, score in chosen if cid in chunks]
        reranked = False
        if rerank and scored and self.provider is not None:
            try:
                result = self.provider.rerank(query, [c.text for c, _ in scored], model=self.embedding.rerank_model,
                                              top_n=min(top_k, len(scored)))
                rerank_tokens += result.tokens
                scored = [(scored[i][0], score) for i, score in result.results if 0 <= i < len(scored)]
                reranked = True
            except Exception as exc:  # noqa: BLE001 - rerank is optional: the fused order stands
                if not _is_provider_error(exc):
                    raise
                notices.append(Msg("kb.notice.rerank_unavailable"))
        elif rerank:
            notices.append(Msg("kb.notice.rerank_unavailable"))
        hits = [_hit(c, score) for c, score in scored[:top_k]]
        return SearchResult(hits, embedding_tokens=embedding_tokens, rerank_tokens=rerank_tokens,
                            notices=notices, mode=mode, reranked=reranked)

    # --- ingestion -----------------------------------------------------------------------------------
    def _ingest(self, kb: int, name: str, data: bytes, progress: Progress, admit: Admit | None = None) -> FileReport:
        started = time.monotonic()
        base = FileReport(0, name, FAILED, size=len(data), format=extract.format_of(name, data))
        try:
            progress(READ, 0, 1)
            if len(data) > self.max_file_bytes:
                raise IngestError(TOO_LARGE, name=name, size=len(data), limit=self.max_file_bytes)
            stored = getattr(self.index, "stored_bytes", None)
            if stored is not None and stored() + len(data) > self.max_store_bytes:
                raise IngestError(TOO_LARGE, msg_id="kb.error.storage_full", name=name,
                                  limit=format_bytes(self.max_store_bytes))
            document = extract.read_document(name, data)
            progress(READ, 1, 1)
            chunks = chunking.chunk_document(document, max_tokens=self.max_chunk_tokens)
            progress(CHUNK, len(chunks), len(chunks))
            report = replace(base, pages=document.pages, chunks=len(chunks), tokens=sum(c.tokens for c in chunks),
                             format=document.format)
            if admit is not None and self.provider is not None and chunks:
                admit(sum(chunking.count(c.indexed_text) for c in chunks))
            vectors, report = self._embed(chunks, report, progress)
            progress(STORE, 0, 1)
            terms = [keywords.index_terms(c.indexed_text) for c in chunks]
            report = replace(report, seconds=round(time.monotonic() - started, 3), updated_at=time.time())
            file_id = self.index.put_file(self.owner, kb, report, data, document.text, chunks, terms, vectors,
                                          self.embedding.key)
            progress(STORE, 1, 1)
            return replace(report, id=file_id)
        except IngestError as exc:
            report = replace(base, error=exc.msg, error_kind=exc.kind,
                             seconds=round(time.monotonic() - started, 3), updated_at=time.time())
            keep = data if exc.kind != TOO_LARGE else None
            file_id = self.index.record_failure(self.owner, kb, report, keep) if exc.kind != TOO_LARGE else 0
            return replace(report, id=file_id)
        finally:
            progress(DONE, 1, 1)

    def _embed(self, chunks: Sequence[Chunk], report: FileReport,
               progress: Progress) -> tuple[list[list[float]] | None, FileReport]:
        if self.provider is None or not chunks:
            notice = Msg("kb.notice.keywords_only", {"name": report.name}) if chunks else None
            return None, replace(report, status=KEYWORDS_ONLY if chunks else OK, error=notice)
        texts = [c.indexed_text for c in chunks]
        vectors: list[list[float]] = []
        tokens = 0
        progress(EMBED, 0, len(texts))
        try:
            for i in range(0, len(texts), 10):
                result = self.provider.embed(texts[i:i + 10], model=self.embedding.model,
                                             dimensions=self.embedding.dimensions)
                vectors.extend(result.vectors)
                tokens += result.tokens or sum(c.tokens for c in chunks[i:i + 10])
                progress(EMBED, len(vectors), len(texts))
        except Exception as exc:  # noqa: BLE001 - the provider's failure, named
            if not _is_provider_error(exc):
                raise
            kind = exc.error.kind  # type: ignore[attr-defined]
            if kind == errors.NO_EMBEDDINGS:
                return None, replace(report, status=KEYWORDS_ONLY, error=Msg("kb.notice.keywords_only",
                                                                             {"name": report.name}))
            raise IngestError(EMBEDDING, name=report.name, reason=exc.error.msg) from None  # type: ignore[attr-defined]
        cost = pricing.estimate_embedding_cost(self.embedding.model, tokens)
        return vectors, replace(report, status=OK, embedding_tokens=tokens, cost=cost)


def _is_provider_error(exc: BaseException) -> bool:
    from qwenchat.providers import ProviderError

    return isinstance(exc, ProviderError)


def _hit(chunk: StoredChunk, score: float) -> Hit:
    return Hit(file=chunk.file, text=chunk.text, score=float(score), page=chunk.page, heading=chunk.heading,
               chunk_id=chunk.id, start=chunk.start, end=chunk.end, file_id=chunk.file_id, kb_id=chunk.kb_id)


def _default_max_bytes() -> int:
    from qwenchat.settings import SETTINGS

    return int(SETTINGS["QWENCHAT_KB_MAX_FILE_BYTES"].default)  # type: ignore[arg-type]


def shared_postgres(url: str) -> Any:
    """The process's PostgreSQL store for `url` (`qwenchat.store.shared_postgres`): the knowledge tables live
    in the same database as the conversations, so every server behind a load balancer sees them."""
    from qwenchat.store import shared_postgres as shared

    return shared(url)


def sqlite_path(path: str | os.PathLike) -> Path:
    """The SQLite file of the knowledge tables for a conversation store at `path`. A PostgreSQL URL never
    becomes a file name (its password would be written to disk): `_index_for` puts those on PostgreSQL;
    this fallback is only `knowledge.db` in this server's `~/.qwenchat` folder."""
    from qwenchat.database_url import is_postgres_url

    if is_postgres_url(str(path)):
        return Path.home() / ".qwenchat" / "knowledge.db"
    return Path(path)


def _default_max_store_bytes() -> int:
    from qwenchat.settings import SETTINGS

    return int(SETTINGS["QWENCHAT_MAX_STORE_BYTES"].default)  # type: ignore[arg-type]


def _index_for(store: Any) -> KnowledgeIndex:
    from qwenchat.knowledge.sqlite_index import SqliteIndex

    if isinstance(store, (str, os.PathLike)):
        from qwenchat.database_url import is_postgres_url

        if is_postgres_url(str(store)):  # the app's and the CLI's `QWENCHAT_DB=postgresql://...`
            store = shared_postgres(str(store))
        else:
            return SqliteIndex.shared(sqlite_path(store))
    if hasattr(store, "keyword_search"):
        return store  # already an index
    if _postgres_store(store) is not None:
        from qwenchat.knowledge.postgres_index import PostgresIndex

        return PostgresIndex(store)
    path = getattr(store, "path", None)
    if path is None:
        raise TypeError("store must be a KnowledgeIndex, a qwenchat.store.Store or a path")
    return SqliteIndex.shared(sqlite_path(path))


def _postgres_store(store: Any) -> Any:
    """The `PostgresStore` behind `store` (itself, or the one a `RetryingStore` holds), else None."""
    inner = store._current() if hasattr(store, "_current") else store
    return inner if type(inner).__name__ == "PostgresStore" else None
