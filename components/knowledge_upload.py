"""The knowledge page's uploads: the file picker (with the size limit shown and enforced), then the queue,
processed one file per run with a progress bar, so a rerun or a visit to another page carries on where it
was. Each file's outcome is said on its own; a failure never stops the others."""

from __future__ import annotations

import streamlit as st

from components import knowledge
from components.knowledge_bases import flash
from components.lang import lang, tr
from qwenchat.i18n import Msg
from qwenchat.knowledge import FAILED, KEYWORDS_ONLY, PHASES, FileReport, KnowledgeBase, KnowledgeBases
from qwenchat.knowledge.uploads import MAX_PENDING_BYTES
from qwenchat.rendering import escape_inline
from qwenchat.transfer import format_bytes

TYPES = ["pdf", "docx", "md", "markdown", "txt", "html", "htm", "csv"]
MB = 1024 * 1024
SHOWN_ONE_BY_ONE = 3  # more files added in one batch are said in one line


def picker(kbs: KnowledgeBases, kb: KnowledgeBase) -> None:
    limit = format_bytes(kbs.max_file_bytes)
    round_ = st.session_state.setdefault("kb_upload_round", 0)  # a new key empties the picker after adding
    files = st.file_uploader(tr("kb.upload.label"), type=TYPES, accept_multiple_files=True,
                             key=f"kb_upload_{round_}", help=tr("kb.upload.help", limit=limit),
                             max_upload_size=max(1, -(-kbs.max_file_bytes // MB)))
    st.caption(tr("kb.upload.help", limit=limit))
    if st.button(tr("kb.upload.button"), key="kb_upload_add", disabled=not files, type="primary"):
        queue = knowledge.uploads()
        added = 0
        for file in files or []:
            data = file.getvalue()
            if len(data) > kbs.max_file_bytes:
                st.warning(tr("kb.upload.too_large_now", name=escape_inline(file.name), limit=limit))
                continue
            if not queue.add(kb.id, file.name, data):  # said after the rerun below
                flash("warning", Msg("kb.upload.queue_full", {"name": file.name,
                                                              "limit": format_bytes(MAX_PENDING_BYTES)}))
                continue
            added += 1
        st.session_state["kb_upload_round"] = round_ + 1
        if added:
            st.rerun()


def process(kbs: KnowledgeBases) -> None:
    """Show what waits, index the first file with its progress bar, then rerun for the next one."""
    queue = knowledge.uploads()
    if queue.stopped is not None:
        st.warning(tr("kb.queue.over_limit", reason=queue.stopped.message(lang())))
        queue.stopped = None
    show_results(queue.results)  # this batch's outcomes so far, each file on its own
    if not queue.pending:
        queue.results = []  # said once the batch is over
        return
    st.subheader(tr("kb.queue.title"))
    current = queue.pending[0]
    name = escape_inline(current.name)
    bar = st.progress(0.0, text=tr("kb.queue.file", name=name, phase=tr("kb.phase.read")))
    for waiting in queue.pending[1:]:
        st.caption(tr("kb.queue.waiting", name=escape_inline(waiting.name)))
    st.button(tr("kb.queue.cancel"), key="kb_queue_cancel", on_click=_cancel_waiting)

    def progress(phase: str, done: int, total: int) -> None:
        share = (PHASES.index(phase) + (done / total if total else 1)) / len(PHASES) if phase in PHASES else 0
        bar.progress(min(1.0, share), text=tr("kb.queue.file", name=name, phase=tr(f"kb.phase.{phase}")))

    queue.step(kbs, knowledge.spending(), progress)  # its report joins `queue.results`
    st.rerun()


def _cancel_waiting() -> None:
    queue = knowledge.uploads()
    queue.pending = queue.pending[:1]


def show_results(reports: list[FileReport]) -> None:
    """Each failure on its own line; the files added one by one, or in one line when there are many."""
    added = [r for r in reports if r.status not in (FAILED, KEYWORDS_ONLY)]
    for report in reports:
        if report.status == FAILED:
            st.error(_text(report.error) or tr("kb.status.failed"))
        elif report.status == KEYWORDS_ONLY:
            st.warning(_text(report.error) or tr("kb.status.keywords_only"))
        elif len(added) <= SHOWN_ONE_BY_ONE:
            st.success(tr("kb.result.ok", name=escape_inline(report.name), chunks=report.chunks,
                          tokens=report.tokens))
    if len(added) > SHOWN_ONE_BY_ONE:
        st.success(tr("kb.result.many", count=len(added), chunks=sum(r.chunks for r in added),
                      tokens=sum(r.tokens for r in added)))


def _text(msg: Msg | None) -> str:
    return knowledge.said(msg) if msg is not None else ""
