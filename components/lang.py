"""The UI language: the visitor's choice in the sidebar, at first the browser's (`st.context.locale`).

The choice is kept under its own key, apart from the switch's widget key, so that it survives pages that
do not draw the switch (Streamlit drops a widget's state on a run that does not draw the widget).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from qwenchat.i18n import DEFAULT_LANG, LANGS, language_from_locale, t

CHOICE = "ui_lang"  # session state: "zh" or "en"
SWITCH = "ui_lang_switch"  # the widget


def _browser_locale() -> str | None:
    try:
        return st.context.locale
    except Exception:  # no browser context (a bare script)
        return None


def lang() -> str:
    """This session's UI language: "zh" or "en". (Called for every text on a page: one session-state read.)"""
    code = st.session_state.get(CHOICE)
    if code not in LANGS:
        code = language_from_locale(_browser_locale())
        st.session_state[CHOICE] = code
    return code or DEFAULT_LANG


def tr(message_id: str, /, **params: Any) -> str:
    """The catalog text of `message_id` in this session's UI language."""
    return t(message_id, lang(), **params)


def _chosen() -> None:
    if st.session_state.get(SWITCH) in LANGS:
        st.session_state[CHOICE] = st.session_state[SWITCH]


def switch() -> str:
    """The 中文 / English switch in the sidebar; every page draws it (app.py does, before the page)."""
    st.session_state[SWITCH] = lang()
    st.sidebar.segmented_control(tr("lang.label"), LANGS, format_func=lambda code: t("lang.name", code),
                                 key=SWITCH, on_change=_chosen, required=True, label_visibility="collapsed")
    return lang()
