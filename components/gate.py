"""The door of a shared app: an optional access code and an optional sign-in, checked on every page.

Each page calls `require_access()` first; it returns only when this browser session may use the app and
otherwise draws the form and stops the script. A secrets file that does not parse stops every page before
anything else: the access code, the limits and BYOK may be in it, so no request is made without it.
"""

from __future__ import annotations

import os
import time

import streamlit as st

from components.secrets import read_secrets, secrets_broken
from qwenchat import access, config

BROKEN_CONFIG = (
    "应用的配置文件（secrets.toml）无法读取，为安全起见应用已停止：不会使用任何服务器的 Key。请管理员修正该文件。 / "
    "The app's configuration file (secrets.toml) cannot be read, so the app has stopped for safety: no key of "
    "the app's is used. The operator needs to fix the file."
)


def require_access() -> None:
    if secrets_broken():
        st.title("⚠️ Qwen Chat")
        st.error(BROKEN_CONFIG)
        st.stop()
    secrets = read_secrets()
    if config.setting("QWENCHAT_REQUIRE_LOGIN", secrets, os.environ).lower() in config.TRUE:
        _require_login()
    code = access.access_code(secrets, os.environ)
    gate: access.AccessGate = st.session_state.setdefault("access_gate", access.AccessGate())
    if gate.is_open(code):
        return
    st.title("🔒 Qwen Chat")
    st.write("这个应用需要访问码。 / This app needs an access code.")
    with st.form("access_form", clear_on_submit=True):
        typed = st.text_input("访问码 / Access code", type="password", key="access_code_input")
        submitted = st.form_submit_button("进入 / Enter")
    if submitted:
        result = gate.check(typed, code, time.monotonic())
        if result.ok:
            st.rerun()
        st.error(result.message())
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
    st.write("请先登录。 / Please sign in first.")
    st.button("登录 / Sign in", on_click=_login, type="primary", key="sign_in")
    _show_login_problem()
    st.stop()


def _login() -> None:
    try:
        st.login()
    except Exception:  # auth not configured, or Authlib missing: say so instead of a traceback
        st.session_state["login_problem"] = True


def _show_login_problem() -> None:
    if st.session_state.pop("login_problem", False):
        st.error("登录未配置：请在 secrets.toml 中设置 [auth] 并安装 streamlit[auth]。 / Sign-in is not set up: "
                 "add [auth] to secrets.toml and install streamlit[auth].")


def account_box() -> None:
    """In the sidebar: who is signed in, and a way out."""
    try:
        if not st.user.get("is_logged_in"):
            return
        name = st.user.get("name") or st.user.get("email") or ""
    except Exception:
        return
    st.caption(f"👤 {name}")
    st.button("退出登录 / Sign out", on_click=st.logout, key="sign_out")
