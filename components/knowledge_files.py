"""The knowledge page's files of one knowledge base: pages, passages, tokens and embedding cost per file,
why a file failed, and the buttons to delete a file or index it again."""

from __future__ import annotations

import streamlit as st

from components import knowledge
from components.knowledge_bases import flash
from components.lang import tr
from qwenchat import accounting
from qwenchat.i18n import Msg
from qwenchat.knowledge import FAILED, KEYWORDS_ONLY, FileReport, KnowledgeBase, KnowledgeBases
from qwenchat.pricing import CURRENCY
from qwenchat.store import StoreUnavailable
from qwenchat.transfer import format_bytes


def render(kbs: KnowledgeBases, kb: KnowledgeBase) -> None:
    st.subheader(tr("kb.files.title"))
    files = kbs.files(kb.id)
    if not files:
        st.caption(tr("kb.files.empty"))
        return
    st.dataframe(rows(files), hide_index=True, width="stretch")
    st.caption(tr("kb.files.cost_note", currency=CURRENCY))
    for report in files:
        if report.error is not None and report.status in (FAILED, KEYWORDS_ONLY):
            (st.error if report.status == FAILED else st.warning)(knowledge.said(report.error))
    actions(kbs, kb, files)


def rows(files: list[FileReport]) -> list[dict[str, object]]:
    """One row per file, with the column names in the visitor's language (data, never Markdown)."""
    return [{tr("kb.files.col.name"): f.name,
             tr("kb.files.col.status"): tr(f"kb.status.{f.status}"),
             tr("kb.files.col.size"): format_bytes(f.size),
             tr("kb.files.col.pages"): f.pages or "–",
             tr("kb.files.col.chunks"): f.chunks,
             tr("kb.files.col.tokens"): f.tokens,
             tr("kb.files.col.embedding"): f.embedding_tokens,
             tr("kb.files.col.cost"): accounting.format_cny(accounting.Cost(f.cost, priced=1))
             if f.cost is not None else "–"} for f in files]


def actions(kbs: KnowledgeBases, kb: KnowledgeBase, files: list[FileReport]) -> None:
    by_id = {f.id: f for f in files if f.id}
    row = st.container(horizontal=True, vertical_alignment="bottom")
    with row:
        chosen = st.selectbox(tr("kb.files.pick"), list(by_id), key=f"kb_file_pick_{kb.id}",
                              format_func=lambda i: by_id[i].name)
        st.button(tr("kb.files.reindex"), key=f"kb_reindex_{kb.id}", on_click=_reindex,
                  args=(kb.id, by_id[chosen].name) if chosen in by_id else (kb.id, ""), disabled=chosen not in by_id)
        st.button(tr("kb.files.remove"), key=f"kb_remove_{kb.id}", on_click=_remove,
                  args=(kb.id, chosen, by_id[chosen].name) if chosen in by_id else (kb.id, 0, ""),
                  disabled=chosen not in by_id)


def _reindex(kb_id: int, name: str) -> None:
    knowledge.uploads().add_reindex(kb_id, name)
    flash("info", Msg("kb.files.reindex_queued", {"name": name}))


def _remove(kb_id: int, file_id: int, name: str) -> None:
    try:
        removed = knowledge.bases().remove_file(kb_id, file_id)
    except StoreUnavailable:
        flash("warning", Msg("kb.page.unavailable"))
        return
    if removed:
        flash("success", Msg("kb.files.removed", {"name": name}))
