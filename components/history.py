"""The history page's parts: who can see these conversations, the list with its actions, import, and
deleting everything.

Everything here goes through the store with this session's owner, so a visitor only ever lists, opens,
renames or deletes their own conversations. Destructive actions take two clicks: the first one only
asks (`st.session_state["history_confirm"]` names what is being asked about).

Titles and model names may come from an imported file, so they are shown as text, never as Markdown.
Imports go through `qwenchat.imports` (size, count, total size and pace capped). A store that is away
(`StoreUnavailable`) is a warning on the page, never a traceback; so is a file that makes the import fail in
a way it did not foresee (its error is logged).
"""

from __future__ import annotations

import logging
import os
import string
from datetime import datetime

import streamlit as st

from components import navigation, session, transfer_buttons
from components.lang import lang, tr
from qwenchat import identity
from qwenchat.conversation import title_from
from qwenchat.imports import ImportLimits, ImportRateLimiter, import_conversation
from qwenchat.rendering import escape_inline
from qwenchat.sanitize import clean_user_text, is_blank
from qwenchat.store import ConversationNotFound, ConversationStore, StoreUnavailable, Summary
from qwenchat.transfer import InvalidImport, format_bytes

log = logging.getLogger(__name__)

TITLE_LIMIT = 100
LIST_LIMIT = 200
UNTITLED = "history.untitled"  # catalog ids, here and below
PRIVACY = {"token": "history.privacy.token", "single": "history.privacy.single",
           "signed_in": "history.privacy.signed_in"}


# ---- who and where ----

def current_owner() -> identity.Owner:
    """This session's owner; a URL token also goes into this page's URL, so bookmarking the page works."""
    owner = session.current_owner()
    if owner.url_token and st.query_params.get("o") != owner.url_token:
        st.query_params["o"] = owner.url_token
    return owner


def open_store_or_stop() -> ConversationStore:
    try:
        store = session.store()
        store.count_conversations(current_owner().id)  # one cheap read: is it there?
        return store
    except StoreUnavailable as exc:
        unavailable(exc)
        st.stop()


def unavailable(exc: StoreUnavailable) -> None:
    st.warning(store_problem(exc) + "\n\n" + tr("history.try_again"))


def store_problem(exc: StoreUnavailable) -> str:
    """The store's failure in the UI language: the file and the reason, never its contents."""
    return tr(getattr(exc, "message_id", "store.unavailable"), path=exc.path, reason=exc.reason)


def list_or_stop(store: ConversationStore, owner: identity.Owner, search: str) -> list[Summary]:
    try:
        return store.list_conversations(owner.id, search=search, limit=LIST_LIMIT)
    except StoreUnavailable as exc:
        unavailable(exc)
        st.stop()


def saving_to_disk() -> bool:
    return identity.storage_options(session.read_secrets(), os.environ).saving


def privacy_note(owner: identity.Owner) -> None:
    st.info(tr(PRIVACY.get(owner.kind, PRIVACY["token"])))
    if not saving_to_disk():
        st.warning(tr("history.memory_only"))


# ---- the list ----

def conversation_list(store: ConversationStore, owner: identity.Owner, summaries: list[Summary],
                      searching: bool) -> None:
    if not summaries:
        if searching:
            st.caption(tr("history.no_match"))
        else:
            st.caption(tr("history.empty"))
        return
    if len(summaries) >= LIST_LIMIT:
        st.caption(tr("history.newest_only", limit=LIST_LIMIT))
    for summary in summaries:
        with st.container(border=True, key=f"row_{summary.id}"):
            _row(store, owner, summary)


def _row(store: ConversationStore, owner: identity.Owner, summary: Summary) -> None:
    st.markdown(f"**{escape_markdown(summary.title) or tr(UNTITLED)}**")
    st.caption(describe(summary))
    asking = st.session_state.get("history_confirm")
    if asking == ("rename", summary.id):
        _rename_form(store, owner, summary)
        return
    if asking == ("delete", summary.id):
        st.warning(tr("history.confirm_delete"))
        yes, no = st.columns(2)
        yes.button(tr("history.delete_yes"), key=f"delete_yes_{summary.id}", type="primary", width="stretch",
                   on_click=_delete, args=(store, owner.id, summary.id))
        no.button(tr("history.cancel"), key=f"delete_no_{summary.id}", on_click=_ask, args=(None,), width="stretch")
        return
    open_, rename, delete = st.columns(3)
    if open_.button(tr("history.open"), key=f"open_{summary.id}", type="primary", width="stretch"):
        _open(store, owner, summary.id)
    rename.button(tr("history.rename"), key=f"rename_{summary.id}", on_click=_ask, args=(("rename", summary.id),),
                  width="stretch")
    delete.button(tr("history.delete"), key=f"delete_{summary.id}", on_click=_ask, args=(("delete", summary.id),),
                  width="stretch")
    transfer_buttons.buttons(lambda: store.load(owner.id, summary.id), summary.title, key=summary.id)


def describe(summary: Summary) -> str:
    """The row's caption. The model name may come from an imported file: it is escaped, not rendered."""
    try:
        when = datetime.fromtimestamp(summary.updated_at, transfer_buttons.browser_timezone()).strftime(
            "%Y-%m-%d %H:%M")
    except (OverflowError, ValueError, OSError):
        when = "?"
    return tr("history.describe", when=when, model=escape_inline(summary.model), tokens=summary.total_tokens,
              messages=summary.message_count)


def _ask(question: tuple[str, str] | None) -> None:
    st.session_state["history_confirm"] = question


def _open(store: ConversationStore, owner: identity.Owner, conversation_id: str) -> None:
    try:
        conversation = store.load(owner.id, conversation_id)
    except StoreUnavailable as exc:
        unavailable(exc)
        return
    if conversation is None:  # deleted meanwhile, in another tab
        st.warning(tr("history.gone"))
        return
    conversation.recover()
    session.open_conversation(conversation)
    params = {"c": conversation.id, **({"o": owner.url_token} if owner.url_token else {})}
    st.switch_page(navigation.CHAT, query_params=params)


def _rename_form(store: ConversationStore, owner: identity.Owner, summary: Summary) -> None:
    with st.form(key=f"rename_form_{summary.id}", border=False):
        title = st.text_input(tr("history.new_title"), value=summary.title, max_chars=TITLE_LIMIT,
                              key=f"title_{summary.id}")
        save, cancel = st.columns(2)
        saved = save.form_submit_button(tr("history.save"), type="primary", width="stretch")
        cancelled = cancel.form_submit_button(tr("history.cancel"), width="stretch")
    if cancelled:
        _ask(None)
        st.rerun()
    if saved:
        clean = title_from(clean_user_text(title), TITLE_LIMIT)  # one line, as a typed message is cleaned
        if is_blank(clean):
            st.warning(tr("history.title_empty"))
            return
        try:
            store.rename(owner.id, summary.id, clean)
        except StoreUnavailable as exc:
            unavailable(exc)
            return
        open_now = session.conversation()
        if open_now.id == summary.id:  # or the chat's next save would write the old title back
            open_now.title = clean
        _ask(None)
        st.rerun()


def _delete(store: ConversationStore, owner_id: str, conversation_id: str) -> None:
    try:
        store.delete(owner_id, conversation_id)
    except StoreUnavailable as exc:
        st.session_state["history_result"] = ("warning", store_problem(exc))
        return
    if session.conversation().id == conversation_id:  # or the chat's next save would bring it back
        session.reset_conversation()
    _ask(None)


# ---- everything at once ----

def delete_everything(store: ConversationStore, owner: identity.Owner) -> None:
    try:
        count = store.count_conversations(owner.id)
    except StoreUnavailable:
        return  # the page already says so
    if not count:
        return
    if st.session_state.get("history_confirm") == ("delete_all", ""):
        st.warning(tr("history.confirm_delete_all", count=count))
        yes, no = st.columns(2)
        yes.button(tr("history.delete_all_yes"), key="delete_all_yes", type="primary", width="stretch",
                   on_click=_delete_all, args=(store, owner.id))
        no.button(tr("history.cancel"), key="delete_all_no", on_click=_ask, args=(None,), width="stretch")
    else:
        st.button(tr("history.delete_all"), key="delete_all", on_click=_ask,
                  args=(("delete_all", ""),))


def _delete_all(store: ConversationStore, owner_id: str) -> None:
    try:
        removed = store.delete_all(owner_id)
    except StoreUnavailable as exc:
        st.session_state["history_result"] = ("warning", store_problem(exc))
        return
    if session.conversation().messages:  # it was one of them, saved or about to be
        session.reset_conversation()
    _ask(None)
    st.session_state["history_result"] = ("success", tr("history.deleted_all", count=removed))


# ---- import ----

@st.cache_resource(show_spinner=False)
def import_limiter() -> ImportRateLimiter:
    """The pace of imports on this server: one limiter shared by every session, on purpose."""
    return ImportRateLimiter()


def import_limits() -> ImportLimits:
    return ImportLimits.from_config(session.read_secrets(), os.environ)


def import_box(store: ConversationStore, owner: identity.Owner) -> None:
    """A JSON export becomes a new conversation of this owner; a bad file writes nothing."""
    generation = st.session_state.get("import_generation", 0)
    size = format_bytes(import_limits().max_import_bytes)
    st.file_uploader(
        tr("history.import"), type=["json"], key=f"import_{generation}",
        on_change=_import, args=(store, owner.id, f"import_{generation}"), help=tr("history.import_help", size=size))


def _import(store: ConversationStore, owner_id: str, key: str) -> None:
    uploaded = st.session_state.get(key)
    if uploaded is None:
        return
    limits = import_limits()
    try:
        # One byte over the limit is enough for the import to refuse the file with its usual message.
        conversation = import_conversation(store, owner_id, uploaded.read(limits.max_import_bytes + 1), limits,
                                           import_limiter())
    except InvalidImport as exc:
        st.session_state["history_result"] = ("error", exc.message(lang()))
    except StoreUnavailable as exc:
        st.session_state["history_result"] = ("warning", store_problem(exc))
    except ConversationNotFound:
        st.session_state["history_result"] = ("warning", tr("history.gone"))
    except Exception:  # noqa: BLE001 - whatever else a damaged file makes a parser raise: a message, no traceback
        log.exception("import failed on an unexpected error")
        st.session_state["history_result"] = ("error", InvalidImport("import.unreadable").message(lang()))
    else:
        title = escape_markdown(conversation.title) or tr(UNTITLED)  # text from the file: shown, not rendered
        st.session_state["history_result"] = ("success", tr("history.imported", title=title))
    # A fresh uploader, so the same file is not imported again on the next rerun.
    st.session_state["import_generation"] = st.session_state.get("import_generation", 0) + 1


def show_result() -> None:
    """The outcome of the last import or delete-everything, shown once."""
    result = st.session_state.pop("history_result", None)
    if result:
        kind, text = result
        {"error": st.error, "warning": st.warning}.get(kind, st.success)(text)


_MARKDOWN_PUNCTUATION = set(string.punctuation)


def escape_markdown(text: str) -> str:
    """Show a title as the user typed it: every ASCII punctuation mark backslash-escaped."""
    return "".join("\\" + ch if ch in _MARKDOWN_PUNCTUATION else ch for ch in " ".join(text.split()))
