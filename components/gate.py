"""The door of a shared app: an optional access code and an optional sign-in, checked on every page.

Each page calls `require_access()` first; it returns only when this browser session may use the app and
otherwise draws the form and stops the script. A secrets file that does not parse stops every page before
anything else: the access code, the limits and BYOK may be in it, so no request is made without it.
"""

from __future__ import annotations

import os
import time

import streamlit as st

from components.lang import lang, tr
from components.secrets import read_secrets, secrets_broken
from qwenchat import access, config


def require_access() -> None:
    if secrets_broken():
        st.title("⚠️ Qwen Chat")
        st.error(tr("gate.broken_config"))
        st.stop()
    secrets = read_secrets()
    if config.setting("QWENCHAT_REQUIRE_LOGIN", secrets, os.environ).lower() in config.TRUE:
        _require_login()
    code = access.access_code(secrets, os.environ)
    gate: access.AccessGate = st.session_state.setdefault("access_gate", access.AccessGate())
    if gate.is_open(code):
        return
    st.title("🔒 Qwen Chat")
    st.write(tr("gate.needs_code"))
    with st.form("access_form", clear_on_submit=True):
        typed = st.text_input(tr("gate.code"), type="password", key="access_code_input")
        submitted = st.form_submit_button(tr("gate.enter"))
    if submitted:
        result = gate.check(typed, code, time.monotonic())
        if result.ok:
            st.rerun()
        st.error(result.message(lang()))
    st.stop()


def _require_login() -> None:
    """Sign-in with `st.login` (needs `[auth]` in secrets.toml and `pip install streamlit[auth]`)."""
    try:
        logged_in = bool(st.user.get("is_logged_in"))
    except Exception:
        logged_in = False
    if logged_in:
        return
    st.title("🔒 Qwen Chat")
    st.write(tr("gate.sign_in_first"))
    st.button(tr("gate.sign_in"), on_click=_login, type="primary", key="sign_in")
    _show_login_problem()
    st.stop()


def _login() -> None:
    try:
        st.login()
    except Exception:  # auth not configured, or Authlib missing: say so instead of a traceback
        st.session_state["login_problem"] = True


def _show_login_problem() -> None:
    if st.session_state.pop("login_problem", False):
        st.error(tr("gate.login_not_set_up"))


def account_box() -> None:
    """In the sidebar: who is signed in, and a way out."""
    try:
        if not st.user.get("is_logged_in"):
            return
        name = st.user.get("name") or st.user.get("email") or ""
    except Exception:
        return
    st.caption(f"👤 {name}")
    st.button(tr("gate.sign_out"), on_click=st.logout, key="sign_out")
