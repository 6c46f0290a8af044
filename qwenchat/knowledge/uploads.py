"""The queue of files waiting to be indexed, kept in a browser session's typed state (`ChatSession.uploads`).

The knowledge page adds uploads to it and processes one file per run (`step`), so a rerun, or leaving the
page and coming back, carries on where it was: files already done are in the store, the rest wait here.
A file interrupted mid-way (the page left during its run) stays first in the queue and is read again
(`add_file` replaces a file of the same name). A failure of one file is its report, never the queue's end.
The embeddings a file needs are paid by whoever pays for the chat: with `spending`, each file's passages
are counted once it is read and their embedding tokens reserved before the first is sent (a file bigger
than what the limits leave stops the queue), then settled with the tokens billed.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from qwenchat.i18n import Msg
from qwenchat.knowledge.model import FAILED, FileNotFound, FileReport, KnowledgeBaseNotFound, Progress, no_progress
from qwenchat.store import StoreUnavailable

KEEP_RESULTS = 50
MAX_PENDING_BYTES = 100 * 1024 * 1024  # waiting files kept in one session's memory (five files at the 20 MB limit)


class _Refused(Exception):
    """The limits refused a file's embeddings (`problem`, a turns.Problem)."""

    def __init__(self, problem: Any):
        super().__init__(getattr(problem, "kind", "limit"))
        self.problem = problem


@dataclass(frozen=True)
class Upload:
    kb: int
    name: str
    data: bytes | None = None   # None: re-index the stored file of this name
    size: int = 0


@dataclass
class UploadQueue:
    pending: list[Upload] = field(default_factory=list)
    results: list[FileReport] = field(default_factory=list)   # newest last, for the page to report
    stopped: Any = None   # the limits' problem (a turns.Problem) that stopped the queue, until shown

    def add(self, kb: int, name: str, data: bytes) -> bool:
        """Queue a file; False (nothing queued) when the waiting files would pass `MAX_PENDING_BYTES`."""
        if sum(u.size for u in self.pending) + len(data) > MAX_PENDING_BYTES:
            return False
        self.pending.append(Upload(int(kb), name, bytes(data), len(data)))
        return True

    def add_reindex(self, kb: int, name: str) -> None:
        self.pending.append(Upload(int(kb), name))

    def waiting(self, kb: int) -> list[Upload]:
        return [u for u in self.pending if u.kb == int(kb)]

    def cancel(self, kb: int) -> None:
        self.pending = [u for u in self.pending if u.kb != int(kb)]

    def step(self, kbs: Any, spending: Any = None, progress: Progress = no_progress) -> FileReport | None:
        """Index the first waiting file; its report (also kept in `results`), or None when nothing waits or
        the limits stopped the queue (`stopped` says why; the waiting files are dropped)."""
        if not self.pending:
            return None
        upload = self.pending[0]
        hold = spending.reserve(0, 0, counts_as_message=False) if spending is not None else None
        if hold is not None and not hasattr(hold, "settled"):  # a problem, not a Hold
            self.stopped = hold
            self.pending.clear()
            return None

        def admit(tokens: int) -> None:  # the passages' embedding tokens, before the first is sent
            nonlocal hold
            more = spending.reserve(tokens, 0, counts_as_message=False)
            if not hasattr(more, "settled"):
                raise _Refused(more)
            spending.settle(hold, 0)
            hold = more

        report = None
        try:
            if upload.data is None:
                report = kbs.reindex_file(upload.kb, upload.name, progress=progress,
                                          admit=admit if spending is not None else None)
            else:
                report = kbs.add_file(upload.kb, upload.name, upload.data, progress=progress,
                                      admit=admit if spending is not None else None)
        except _Refused as refused:
            self.stopped = refused.problem
            self.pending.clear()
            return None
        except (KnowledgeBaseNotFound, FileNotFound):
            report = FileReport(0, upload.name, FAILED, size=upload.size,
                                error=Msg("kb.file_not_found", {"name": upload.name}), error_kind="missing")
        except (sqlite3.Error, StoreUnavailable):  # the database locked by another writer, read-only, full
            report = FileReport(0, upload.name, FAILED, size=upload.size,
                                error=Msg("kb.error.store_unavailable", {"name": upload.name}), error_kind="store",
                                embedding_tokens=hold.tokens if hold is not None else 0)
        finally:
            if hold is not None:
                # Interrupted (a rerun at the progress bar, the store away) after its embeddings were admitted:
                # some were billed and none reported, so the whole reservation counts.
                spending.settle(hold, report.embedding_tokens if report is not None else hold.tokens)
        self.pending.pop(0)
        self.results = [*self.results, report][-KEEP_RESULTS:]
        return report
