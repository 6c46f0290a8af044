"""The storage seam of the knowledge base: the `KnowledgeIndex` protocol that a backend implements.

`sqlite_index.SqliteIndex` (tables in the app's SQLite file, vectors as BLOBs searched in numpy) is the
one backend now; a PostgreSQL + pgvector backend (issue #14) is one more module with the same methods.

Rules every backend keeps:
- Every method takes the `owner` and touches only that owner's knowledge bases: the owner is part of every
  query's WHERE clause (and of any cache key), so a forged kb, file or chunk id of someone else reads as
  absent and is never written.
- `put_file` replaces a file of the same name in one transaction: searches see the old passages or the
  new ones, never a mix. Any change bumps the knowledge base's `version`.
- A vector is stored with its embedding key (`model:dimensions`); `vector_search` uses only vectors of
  the key asked for, and `missing_vectors` lists passages to (re-)embed. The knowledge base's own key
  (`embedding_key_of`) is set by its first vectors and changed by `set_embedding` only once a re-embed is
  complete, so one cheap look tells whether a search must re-embed first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from qwenchat.knowledge.model import Chunk, FileReport, KnowledgeBase


@dataclass(frozen=True)
class StoredChunk:
    id: int
    kb_id: int
    file_id: int
    file: str
    text: str
    start: int
    end: int
    page: int | None
    heading: str
    context: str


class KnowledgeIndex(Protocol):
    def list_bases(self, owner: str) -> list[KnowledgeBase]: ...

    def get_base(self, owner: str, kb_id: int) -> KnowledgeBase | None: ...

    def find_base(self, owner: str, name: str) -> KnowledgeBase | None: ...

    def exists(self, owner: str, kb_id: int) -> bool: ...

    def embedding_key_of(self, owner: str, kb_id: int) -> str | None: ...

    def set_embedding(self, owner: str, kb_id: int, embedding_key: str) -> None: ...

    def create_base(self, owner: str, name: str) -> KnowledgeBase: ...

    def rename_base(self, owner: str, kb_id: int, name: str) -> bool: ...

    def delete_base(self, owner: str, kb_id: int) -> bool: ...

    def list_files(self, owner: str, kb_id: int) -> list[FileReport]: ...

    def get_file(self, owner: str, kb_id: int, file_id: int) -> FileReport | None: ...

    def find_file(self, owner: str, kb_id: int, name: str) -> FileReport | None: ...

    def file_data(self, owner: str, kb_id: int, file_id: int) -> bytes | None: ...

    def document_text(self, owner: str, kb_id: int, file_id: int) -> str | None: ...

    def put_file(self, owner: str, kb_id: int, report: FileReport, data: bytes | None, text: str,
                 chunks: Sequence[Chunk], terms: Sequence[str], vectors: Sequence[Sequence[float]] | None,
                 embedding_key: str) -> int: ...

    def record_failure(self, owner: str, kb_id: int, report: FileReport, data: bytes | None) -> int: ...

    def remove_file(self, owner: str, kb_id: int, file_id: int) -> bool: ...

    def missing_vectors(self, owner: str, kb_id: int, embedding_key: str) -> list[tuple[int, str]]: ...

    def set_vectors(self, owner: str, kb_id: int, vectors: Sequence[tuple[int, Sequence[float]]],
                    embedding_key: str) -> None: ...

    def keyword_search(self, owner: str, kb_id: int, terms: Sequence[str], limit: int) -> list[tuple[int, float]]: ...

    def vector_search(self, owner: str, kb_id: int, vector: Sequence[float], embedding_key: str,
                      limit: int) -> list[tuple[int, float]]: ...

    def has_vectors(self, owner: str, kb_id: int, embedding_key: str) -> bool: ...

    def chunks(self, owner: str, kb_id: int, ids: Sequence[int]) -> list[StoredChunk]: ...

    def close(self) -> None: ...
