"""Per-browser-session state and the shared things a session uses, wired to Streamlit.

The session's own state is one `ChatSession` under `st.session_state["chat"]` (the open conversation, the
limits' counters, how saving goes, a button's pending action). Shared by the whole process, through
`st.cache_resource`: the store (every call names its owner) and the daily token counter.

The URL carries the open conversation's id (`?c=`) and, for visitors who are not signed in, the owner token
(`?o=`), so a reload or a bookmark brings the conversation back and nobody else's.
"""

from __future__ import annotations

import os

import streamlit as st

from components.secrets import read_secrets  # noqa: F401 - the pages' one way to read secrets
from qwenchat import identity
from qwenchat.chat.saving import Saver
from qwenchat.chat.spending import Spending
from qwenchat.chat.state import ChatSession
from qwenchat.config import Settings
from qwenchat.conversation import Conversation
from qwenchat.database_url import is_postgres_url
from qwenchat.providers import Provider, provider_for
from qwenchat.quotas import DailyCounter, Limits, SessionQuota
from qwenchat.store import ConversationStore, MemoryStore, open_store, shared_postgres, web_busy_timeout

SAVE_EVERY = 1.0  # seconds between saves of a streaming reply


def state() -> ChatSession:
    """This browser session's state, created on its first run."""
    if "chat" not in st.session_state:
        st.session_state["chat"] = ChatSession()
        loaded = _from_url()
        if loaded is not None:
            st.session_state["chat"].open(loaded)
    return st.session_state["chat"]


@st.cache_resource(show_spinner=False)
def _shared_store(path: str, saving: bool) -> ConversationStore:
    # Shared by every session of this process; it holds no session's data outside its owner's rows.
    if not saving:
        return MemoryStore()
    # On PostgreSQL, the same pool as the knowledge base and the evaluation runs use (one per process).
    return shared_postgres(path) if is_postgres_url(path) else open_store(path)


def store() -> ConversationStore:
    options = identity.storage_options(read_secrets(), os.environ)
    return _shared_store(options.path, options.saving)


def owner() -> str:
    """Who this browser session is: the signed-in user, the single local user, or a token in the URL."""
    return current_owner().id


def current_owner() -> identity.Owner:
    if "owner" not in st.session_state:
        secrets = read_secrets()
        owner = identity.owner_for(
            signed_in_email=_signed_in_email(), url_token=st.query_params.get("o", ""),
            single_user=identity.single_user(secrets, os.environ),
            secret=identity.secret_for(secrets, os.environ, identity.storage_options(secrets, os.environ)))
        if owner.token_rejected and _has_history(legacy := identity.owner_for(url_token=owner_token())):
            # A bookmark from before tokens were signed, whose history is in the store: it was this server's.
            owner = legacy
        if owner.token_rejected:
            st.session_state["note"] = "session.token_rejected"  # a catalog id, shown by the chat view
        st.session_state["owner"] = owner
    return st.session_state["owner"]


def owner_token() -> str:
    return st.query_params.get("o", "")


def _has_history(owner: identity.Owner) -> bool:
    try:
        return store().count_conversations(owner.id) > 0
    except Exception:  # noqa: BLE001 - a store that is away: treat the link as unknown
        return False


def _signed_in_email() -> str:
    try:
        return st.user.get("email", "") if st.user.get("is_logged_in") else ""
    except Exception:  # st.login not configured
        return ""


def conversation() -> Conversation:
    chat = state()
    # Moving between pages drops the query string: put it back on every run so a reload still works.
    _sync_url(chat.conversation)
    return chat.conversation


def _from_url() -> Conversation | None:
    conversation_id = st.query_params.get("c", "")
    if not conversation_id:
        return None
    loaded = None
    if identity.looks_like_id(conversation_id):
        try:
            loaded = store().load(owner(), conversation_id)
        except Exception:  # noqa: BLE001 - a store that is away opens a fresh conversation, with a note
            st.session_state["note"] = "session.store_unavailable"
            return None
    if loaded is None:
        st.session_state["note"] = "session.not_found"
        return None
    loaded.recover()
    return loaded


def open_conversation(conversation: Conversation) -> None:
    state().open(conversation)
    _sync_url(conversation)


def reset_conversation() -> None:
    """A fresh conversation keeping the user's model and system prompt; nothing of the old one is sent."""
    old = conversation()
    open_conversation(Conversation(model=old.model, system_prompt=old.system_prompt))


def _sync_url(conversation: Conversation) -> None:
    """Put the conversation (once it has messages) and the owner token in the URL; set only what changed."""
    token = current_owner().url_token
    if token and st.query_params.get("o") != token:
        st.query_params["o"] = token
    if conversation.messages:
        if st.query_params.get("c") != conversation.id:
            st.query_params["c"] = conversation.id
    elif "c" in st.query_params:
        del st.query_params["c"]


def saver() -> Saver:
    """Saves this session's conversation; a store that is away never breaks the chat (see `SaveState`)."""
    return Saver(store(), owner(), state().saving, every=SAVE_EVERY)


def save(conversation: Conversation) -> None:
    """Save the whole conversation (after a rename, a close, a reopen); empty ones are not kept."""
    saver().save(conversation)
    if conversation.messages:
        _sync_url(conversation)


def limits() -> Limits:
    return Limits.from_config(read_secrets(), os.environ)


def quota() -> SessionQuota:
    """This session's use of the limits. Not reset with the conversation, or a reset would bypass them."""
    return state().quota


def daily() -> DailyCounter:
    """Tokens spent today by the whole server (every server, on PostgreSQL): the one counter shared on purpose."""
    options = identity.storage_options(read_secrets(), os.environ)
    return _shared_daily(options.path if options.saving and is_postgres_url(options.path) else "")


@st.cache_resource(show_spinner=False)
def _shared_daily(url: str) -> DailyCounter:
    if url:
        from qwenchat.quota_postgres import PostgresDailyCounter

        return PostgresDailyCounter(url, timeout=web_busy_timeout())
    return DailyCounter()


daily.clear = _shared_daily.clear  # reset like the cached resource it used to be (tests do)


def spending(settings: Settings) -> Spending:
    return Spending(limits(), quota(), daily(), operator_pays=not settings.visitor_pays)


def client_for(settings: Settings) -> Provider:
    """One provider per session and settings: building an HTTP client on every rerun is wasted work."""
    cached = st.session_state.get("_client")
    if cached is None or cached.settings != settings:
        cached = provider_for(settings)
        st.session_state["_client"] = cached
    return cached
