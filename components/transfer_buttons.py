"""Export buttons: a conversation as Markdown to read or as JSON to import again, for the Settings page (the
open conversation) and the history page.

The files are built only when a button is clicked (`st.download_button` with a callable), so a history
list of two hundred conversations costs nothing until one is downloaded. What goes into them is decided
by `qwenchat.transfer`, which never writes an API key; the JSON carries the conversation's images, read from
this owner's store.
"""

from __future__ import annotations

from datetime import timezone, tzinfo
from typing import Callable
from zoneinfo import ZoneInfo

import streamlit as st

from components import session
from components.lang import tr
from qwenchat.conversation import Conversation
from qwenchat.transfer import file_stem, to_json, to_markdown


def render(conversation: Conversation, *, key: str = "") -> None:
    """Markdown and JSON download buttons for `conversation` (what it holds when the button is clicked).

    `key` tells apart two sets of buttons for the same conversation on one page; by default the
    conversation's id does.
    """
    if not conversation.messages:
        st.caption(tr("export.empty"))
        return
    buttons(lambda: conversation, conversation.title, key=key or conversation.id)


def buttons(load: Callable[[], Conversation | None], title: str, *, key: str) -> None:
    """The two buttons for a conversation that `load()` reads when one of them is clicked."""
    tz = browser_timezone()
    stem = file_stem(title)

    def markdown() -> str:
        conversation = load()
        return to_markdown(conversation, tz) if conversation else ""

    def json() -> str:
        conversation = load()
        return to_json(conversation, session.saver().image) if conversation else ""

    left, right = st.columns(2)
    left.download_button("⬇️ Markdown", data=markdown, file_name=f"{stem}.md", mime="text/markdown",
                         key=f"export_md_{key}", on_click="ignore", width="stretch",
                         help=tr("export.markdown_help"))
    right.download_button("⬇️ JSON", data=json, file_name=f"{stem}.json", mime="application/json",
                          key=f"export_json_{key}", on_click="ignore", width="stretch",
                          help=tr("export.json_help"))


def browser_timezone() -> tzinfo:
    """The visitor's time zone when the browser told us, else UTC."""
    try:
        name = st.context.timezone
        return ZoneInfo(name) if name else timezone.utc
    except Exception:  # an unknown zone name, or no browser context (tests)
        return timezone.utc
