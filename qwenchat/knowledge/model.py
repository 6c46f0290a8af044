"""The nouns of the knowledge base: a knowledge base, a file's report, a search hit, the search result, the
progress phases and the typed failures. Plain frozen data; nothing here does I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from qwenchat.i18n import Msg

# --- progress: progress(phase, done, total) ---------------------------------------------------------------
READ = "read"        # extracting text (done/total in bytes: 0/1 then 1/1)
CHUNK = "chunk"      # cutting it into passages (total = passages)
EMBED = "embed"      # embedding the passages (done/total in passages, by batches of at most 10)
STORE = "store"      # writing them to the index (0/1 then 1/1)
DONE = "done"        # finished, whatever the outcome (1/1)
PHASES = (READ, CHUNK, EMBED, STORE, DONE)

Progress = Callable[[str, int, int], None]


def no_progress(phase: str, done: int, total: int) -> None:
    """The default progress callback: nothing."""


# --- file status -----------------------------------------------------------------------------------------
OK = "ok"                        # indexed for keyword and vector search
KEYWORDS_ONLY = "keywords_only"  # indexed, but the server has no embeddings (or no provider): keyword search
FAILED = "failed"                # not indexed; `error` says why

# --- why a file failed: catalog id "kb.error." + kind --------------------------------------------------
TOO_LARGE = "too_large"
UNSUPPORTED = "unsupported"
EMPTY = "empty"
CORRUPT = "corrupt"
ENCRYPTED = "encrypted"
NO_TEXT = "no_text"              # a scanned PDF: pages but no text layer
EMBEDDING = "embedding"          # the embedding call failed; `error.params["reason"]` is the ChatError's Msg
FILE_ERRORS = (TOO_LARGE, UNSUPPORTED, EMPTY, CORRUPT, ENCRYPTED, NO_TEXT, EMBEDDING)


class IngestError(Exception):
    """One file could not be read or indexed. `kind` is one of FILE_ERRORS; `msg` the catalog message."""

    def __init__(self, kind: str, *, msg_id: str = "", **params: object):
        super().__init__(kind)
        self.kind = kind
        self.msg_id = msg_id or f"kb.error.{kind}"
        self.params = params

    @property
    def msg(self) -> Msg:
        return Msg(self.msg_id, self.params)


class KnowledgeBaseNotFound(LookupError):
    """The owner has no knowledge base with this id (it may not exist, or belong to someone else)."""


class FileNotFound(LookupError):
    """The knowledge base has no file with this id or name."""


class NameTaken(ValueError):
    """The owner already has a knowledge base with this name."""


class BadName(ValueError):
    """A knowledge base or file name that is empty or too long."""


@dataclass(frozen=True)
class KnowledgeBase:
    id: int
    name: str
    files: int
    chunks: int
    created_at: float
    updated_at: float
    embedding_model: str      # what the stored vectors were made with ("" before any file)
    dimensions: int


@dataclass(frozen=True)
class FileReport:
    """One file of a knowledge base: what `add_file` and `reindex_file` return and `files` lists."""

    id: int                 # 0 when the file was not stored (e.g. over the size limit)
    name: str
    status: str             # OK | KEYWORDS_ONLY | FAILED
    size: int = 0           # bytes
    format: str = ""        # pdf | docx | md | txt | html | csv
    pages: int = 0          # PDF pages; 0 for other formats
    chunks: int = 0
    tokens: int = 0         # Qwen tokens of the passages
    embedding_tokens: int = 0   # billed by the embedding calls (the server's usage, else counted here)
    cost: float | None = None   # estimated CNY of those calls (qwenchat.pricing), None when unknown
    error: Msg | None = None    # why it failed (or a notice for KEYWORDS_ONLY), a catalog message
    error_kind: str = ""        # one of FILE_ERRORS, "" when none
    seconds: float = 0.0        # how long the last indexing took
    updated_at: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status != FAILED


@dataclass(frozen=True)
class Hit:
    """One retrieved passage. `text` is exactly `KnowledgeBases.document_text(kb, file_id)[start:end]`, the
    passage as the (normalised) document has it, so a citation quotes what was retrieved."""

    file: str
    text: str
    score: float            # higher is better; the rerank score when reranked, else the fused score
    page: int | None        # PDF page (1-based) where the passage starts, None for other formats
    heading: str            # heading path, " > " joined ("" when none)
    chunk_id: int
    start: int
    end: int
    file_id: int = 0
    kb_id: int = 0


class SearchResult(list):
    """The hits, best first (a plain `list[Hit]`), and what the search cost and how it went.

    `embedding_tokens` and `rerank_tokens` are what to charge to quotas (qwenchat.chat.spending); `notices`
    are catalog messages for what degraded (no vectors, rerank unavailable); `mode` is "hybrid", "keywords"
    or "vectors"; `reranked` whether the order is the reranker's."""

    def __init__(self, hits: list[Hit] | None = None, *, embedding_tokens: int = 0, rerank_tokens: int = 0,
                 notices: list[Msg] | None = None, mode: str = "hybrid", reranked: bool = False):
        super().__init__(hits or [])
        self.embedding_tokens = embedding_tokens
        self.rerank_tokens = rerank_tokens
        self.notices: list[Msg] = list(notices or [])
        self.mode = mode
        self.reranked = reranked

    @property
    def tokens(self) -> int:
        return self.embedding_tokens + self.rerank_tokens


@dataclass(frozen=True)
class EmbeddingConfig:
    """Which embedding and rerank models a knowledge base uses."""

    model: str = "text-embedding-v4"
    dimensions: int = 1024
    rerank_model: str = "qwen3-rerank"

    @property
    def key(self) -> str:
        """What a stored vector is tagged with: vectors of another key are stale and re-embedded."""
        return f"{self.model}:{self.dimensions}"


@dataclass
class Chunk:
    """A passage cut from a document: `text == document[start:end]`; `context` (the heading path, a table's
    header row) is prepended to what is embedded and keyword-indexed, never to what is quoted."""

    text: str
    start: int
    end: int
    page: int | None = None
    heading: str = ""
    context: str = ""
    tokens: int = 0
    kinds: tuple[str, ...] = field(default_factory=tuple)

    @property
    def indexed_text(self) -> str:
        return f"{self.context}\n{self.text}" if self.context else self.text
