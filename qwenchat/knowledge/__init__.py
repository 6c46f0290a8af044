"""The knowledge base (issue #11): upload documents, search them in Chinese and English, cite passages.

The UI, the chat turn and the CLI use one facade, `KnowledgeBases`, scoped to one owner like the
conversation store (every call touches only that owner's knowledge bases; another owner's id reads as
absent):

    kbs = KnowledgeBases(store, owner, provider)        # store: qwenchat.store.Store, a path, or an index
    kb = kbs.create("公司资料")                           # -> KnowledgeBase(id, name, files, chunks, ...)
    kbs.list(); kbs.get(kb.id); kbs.find("公司资料"); kbs.rename(kb.id, "新名字"); kbs.delete(kb.id)
    report = kbs.add_file(kb.id, "手册.pdf", data, progress=lambda phase, done, total: ...)
    # -> FileReport(id, name, status ok|keywords_only|failed, size, format, pages, chunks, tokens,
    #               embedding_tokens, cost, error: Msg | None, error_kind, seconds, updated_at)
    kbs.files(kb.id); kbs.reindex_file(kb.id, file_id_or_name); kbs.remove_file(kb.id, file_id_or_name)
    hits = kbs.search(kb.id, "张伟是哪个部门的", top_k=5, rerank=True)
    # -> SearchResult, a list[Hit] best first: Hit(file, text, score, page, heading, chunk_id, start, end,
    #    file_id, kb_id), plus .embedding_tokens / .rerank_tokens (charge them to quotas) and .notices
    kbs.document_text(kb.id, hit.file_id)[hit.start:hit.end] == hit.text   # always

`KnowledgeBases.from_settings(store, owner, provider)` reads the embedding model, dimensions, rerank model
and file size limit from `qwenchat.settings`. Failures of one file are never raised: the report is FAILED
with a catalog message (`kb.error.*`). Progress phases: read, chunk, embed, store, done.

Modules, each owning one thing: `model` (the nouns), `text` (normalisation), `extract` (PDF, DOCX,
Markdown, TXT, HTML, CSV to text with structure), `chunking` (passages in Qwen tokens), `keywords`
(Chinese and English search terms), `fusion` (reciprocal rank fusion), `index` (the storage protocol),
`sqlite_index` (the SQLite backend: FTS5 + float16 vectors + an in-process numpy cache), `service` (the
facade), `__main__` (the CLI: `python -m qwenchat.knowledge add|list|remove|search`). `demo/` holds the
course's sample documents, the demo knowledge base.
"""

from __future__ import annotations

from qwenchat.knowledge.model import (
    DONE,
    FAILED,
    KEYWORDS_ONLY,
    OK,
    PHASES,
    BadName,
    EmbeddingConfig,
    FileNotFound,
    FileReport,
    Hit,
    IngestError,
    KnowledgeBase,
    KnowledgeBaseNotFound,
    NameTaken,
    SearchResult,
)
from qwenchat.knowledge.service import KnowledgeBases

__all__ = ["DONE", "FAILED", "KEYWORDS_ONLY", "OK", "PHASES", "BadName", "EmbeddingConfig", "FileNotFound",
           "FileReport", "Hit", "IngestError", "KnowledgeBase", "KnowledgeBaseNotFound", "KnowledgeBases",
           "NameTaken", "SearchResult", "demo_files"]


def demo_files() -> list[tuple[str, bytes]]:
    """The demo knowledge base's documents as (name, bytes): the course's sample company files (zh/, en/)."""
    from pathlib import Path

    root = Path(__file__).with_name("demo")
    return [(p.name, p.read_bytes()) for folder in ("zh", "en") for p in sorted((root / folder).iterdir())
            if p.is_file()]
