"""Per-browser-session state: the open conversation and the client, kept in `st.session_state` only."""

from __future__ import annotations

import streamlit as st

from qwenchat.client import QwenClient
from qwenchat.config import Settings
from qwenchat.conversation import Conversation


def conversation() -> Conversation:
    if "conversation" not in st.session_state:
        st.session_state["conversation"] = Conversation()
    return st.session_state["conversation"]


def reset_conversation() -> None:
    """A fresh conversation keeping the user's model and system prompt; nothing of the old one is sent."""
    old = conversation()
    st.session_state["conversation"] = Conversation(model=old.model, system_prompt=old.system_prompt)
    st.session_state.pop("retry_requested", None)


def client_for(settings: Settings) -> QwenClient:
    """One client per session and settings: building an HTTP client on every rerun is wasted work."""
    cached = st.session_state.get("_client")
    if cached is None or cached.settings != settings:
        cached = QwenClient(settings)
        st.session_state["_client"] = cached
    return cached


def read_secrets() -> dict[str, object]:
    """`st.secrets` as a plain dict; empty when no secrets.toml exists (reading it would raise)."""
    try:
        return {name: st.secrets[name] for name in st.secrets.keys()}
    except Exception:  # FileNotFoundError / StreamlitSecretNotFoundError / a malformed file
        return {}
