"""The app's pages: their files, their titles and icons in the UI language, and the menu in the sidebar.

`app.py` calls `current_page()` on every run; with `st.navigation` called, Streamlit does not list the
`pages/` folder, so the page files live in `views/` and only this list says what the app has.
"""

from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from components.lang import tr

CHAT = "views/chat.py"
USAGE = "views/usage.py"
HISTORY = "views/history.py"
KNOWLEDGE = "views/knowledge.py"
EVALUATE = "views/evaluate.py"
SETTINGS = "views/settings.py"
PAGES = (CHAT, USAGE, HISTORY, KNOWLEDGE, EVALUATE, SETTINGS)  # paths from the app's folder, as st.switch_page and AppTest name them


def current_page() -> StreamlitPage:
    """The menu of pages, and the page this run shows."""
    chat = st.Page(CHAT, title=tr("page.chat"), icon="💬", default=True)
    pages = [
        chat,
        st.Page(USAGE, title=tr("page.usage"), icon="📊", url_path="usage"),
        st.Page(HISTORY, title=tr("page.history"), icon="🗂️", url_path="history"),
        st.Page(KNOWLEDGE, title=tr("page.knowledge"), icon="📚", url_path="knowledge"),
        st.Page(EVALUATE, title=tr("page.evaluate"), icon="📏", url_path="evaluate"),
        st.Page(SETTINGS, title=tr("page.settings"), icon="⚙️", url_path="settings"),
        # Addresses from before the menu (files in pages/), so bookmarked links still open their page.
        st.Page(USAGE, title=tr("page.usage"), url_path="用量_Usage", visibility="hidden"),
        st.Page(HISTORY, title=tr("page.history"), url_path="历史对话_History", visibility="hidden"),
    ]
    return st.navigation(pages)
