"""The Evaluate page's wiring: who the visitor is, which key and provider, their knowledge bases, the saved
runs and the limits. No painting beyond the explanations that stop the page when something is missing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import streamlit as st

from components import history, knowledge, session
from components.lang import tr
from qwenchat import access, config
from qwenchat.chat.spending import Spending
from qwenchat.knowledge import KnowledgeBases
from qwenchat.knowledge.evalstore import EvaluationRuns
from qwenchat.knowledge.service import sqlite_path


@dataclass
class Context:
    owner: str
    settings: config.Settings
    provider: Any
    kbs: KnowledgeBases
    runs: EvaluationRuns
    spending: Spending


@st.cache_resource(show_spinner=False)
def _runs_for(path: str) -> EvaluationRuns:
    return EvaluationRuns(path)  # one connection per database file, shared; every call names its owner


def context_or_stop() -> Context:
    """Everything the page needs; explains and stops the page when the key or the storage is missing."""
    owner = history.current_owner().id
    secrets, environ = access.for_resolve(session.read_secrets(), os.environ)
    settings = knowledge.settings()  # the key, region or URL chosen on the Settings page
    if not settings.ready:
        st.info(tr("eval.no_key"))
        st.stop()
    provider = session.client_for(settings)
    store = session.store()
    path = getattr(store, "path", None)
    if path is None:  # QWENCHAT_SAVE=0 keeps nothing on disk, knowledge bases included
        st.info(tr("eval.no_store"))
        st.stop()
    try:
        kbs = KnowledgeBases.from_settings(store, owner, provider, secrets=secrets, environ=environ)
        runs = _runs_for(str(sqlite_path(path)))
    except Exception:  # noqa: BLE001 - a store that is away: say so, never a traceback
        st.warning(tr("eval.no_store"))
        st.stop()
    return Context(owner, settings, provider, kbs, runs, session.spending(settings))
