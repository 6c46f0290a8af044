"""The knowledge page's list of knowledge bases: create one, load the demo in one click, choose one, rename
or delete it. What happened is said on the next run (`flash`), in the visitor's language."""

from __future__ import annotations

import streamlit as st

from components import knowledge
from components.lang import tr
from qwenchat.i18n import Msg
from qwenchat.knowledge import BadName, KnowledgeBase, KnowledgeBases, NameTaken, demo_files
from qwenchat.rendering import escape_inline
from qwenchat.store import StoreUnavailable

CHOICE = "kb_page_choice"
FLASH = "kb_flash"


def flash(kind: str, msg: Msg) -> None:
    st.session_state[FLASH] = (kind, msg)


def show_flash() -> None:
    kind, msg = st.session_state.pop(FLASH, ("", None))
    if msg is not None:
        {"success": st.success, "warning": st.warning, "error": st.error}.get(kind, st.info)(knowledge.said(msg))


def name_problem(exc: Exception, name: str) -> Msg:
    if isinstance(exc, NameTaken):
        return Msg("kb.name_taken", {"name": name})
    return Msg("kb.bad_name", {"limit": exc.args[0] if exc.args else 100})


def create_box(kbs: KnowledgeBases) -> None:
    """The new-knowledge-base form and the demo button (on_click: they run before the page is drawn)."""
    with st.form("kb_create", clear_on_submit=True, border=False):
        left, right = st.columns([4, 1], vertical_alignment="bottom")
        name = left.text_input(tr("kb.create.label"), key="kb_new_name", max_chars=100)
        created = right.form_submit_button(tr("kb.create.button"), width="stretch")
    if created:
        try:
            kb = kbs.create(name)
        except (NameTaken, BadName) as exc:
            st.error(knowledge.said(name_problem(exc, " ".join(name.split()))))
        else:
            st.session_state[CHOICE] = kb.id
            flash("success", Msg("kb.created", {"name": kb.name}))
            st.rerun()
    st.button(tr("kb.demo.button"), key="kb_demo", help=tr("kb.demo.help"), on_click=_load_demo, args=(kbs,))


def _load_demo(kbs: KnowledgeBases) -> None:
    try:
        files = demo_files()
    except OSError:
        files = []
    if not files:
        flash("warning", Msg("kb.demo.missing"))
        return
    name = tr("kb.demo.name")
    try:
        kb = kbs.find(name) or kbs.create(name)
    except StoreUnavailable:
        flash("warning", Msg("kb.page.unavailable"))
        return
    queue = knowledge.uploads()
    for file_name, data in files:
        queue.add(kb.id, file_name, data)
    st.session_state[CHOICE] = kb.id
    flash("info", Msg("kb.demo.queued", {"count": len(files)}))


def choose(bases: list[KnowledgeBase]) -> KnowledgeBase | None:
    """The knowledge base the page shows (None when there is none yet)."""
    if not bases:
        st.info(tr("kb.page.empty"))
        return None
    by_id = {kb.id: kb for kb in bases}
    if st.session_state.get(CHOICE) not in by_id:
        st.session_state[CHOICE] = bases[0].id
    chosen = st.selectbox(tr("kb.select"), list(by_id), key=CHOICE, format_func=lambda i: by_id[i].name)
    kb = by_id[chosen]
    st.caption(tr("kb.summary", files=kb.files, chunks=kb.chunks))
    return kb


def manage(kbs: KnowledgeBases, kb: KnowledgeBase) -> None:
    with st.expander(tr("kb.manage")):
        with st.form(f"kb_rename_{kb.id}", border=False):
            new_name = st.text_input(tr("kb.rename.label"), value=kb.name, key=f"kb_rename_name_{kb.id}",
                                     max_chars=100)
            renamed = st.form_submit_button(tr("kb.rename.button"))
        if renamed:
            try:
                kbs.rename(kb.id, new_name)
            except (NameTaken, BadName) as exc:
                st.error(knowledge.said(name_problem(exc, " ".join(new_name.split()))))
            else:
                flash("success", Msg("kb.renamed", {"name": " ".join(new_name.split())}))
                st.rerun()
        sure = st.checkbox(tr("kb.delete.confirm", name=escape_inline(kb.name)), key=f"kb_delete_sure_{kb.id}")
        if st.button(tr("kb.delete.button"), key=f"kb_delete_{kb.id}", disabled=not sure, type="primary"):
            knowledge.uploads().cancel(kb.id)
            kbs.delete(kb.id)
            st.session_state.pop(CHOICE, None)
            flash("success", Msg("kb.deleted", {"name": kb.name}))
            st.rerun()
