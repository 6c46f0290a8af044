"""Under a grounded reply: its sources, each opening the exact passage (file, page or heading, text).

Markers `[n]` in the reply are drawn by `qwenchat.citations.mark`; here each cited passage is a popover
whose text is shown as code (never Markdown or HTML), so a document cannot restyle the page."""

from __future__ import annotations

import streamlit as st

from components.lang import tr
from qwenchat import citations
from qwenchat.conversation import Message
from qwenchat.rendering import escape_inline


def has_grounding(message: Message) -> bool:
    return any(p.type in (citations.CITATION, "retrieval") for p in message.parts)


def marked(message: Message) -> str:
    """The reply's text with its valid markers in bold and the others as plain text."""
    return citations.mark(message.content, [s.n for s in citations.sources(message)])


def render(message: Message) -> None:
    if not has_grounding(message) or not message.content:
        return
    sources = citations.sources(message)
    record = next((p for p in message.parts if p.type == "retrieval"), None)
    if not sources:
        st.caption(tr("chat.sources.none"))
        return
    numbers = citations.cited(message.content, [s.n for s in sources])
    shown = [s for s in sources if s.n in numbers]
    if shown:
        st.markdown(f"**{tr('chat.sources')}**")
        box = st.container(key=f"sources_{message.id}")
    else:
        box = st.expander(tr("chat.sources.retrieved"), expanded=False)
        shown = sources
    asked = record.data.get("query", "") if record is not None else ""
    queries = {p.data.get("n"): str(p.data["query"]) for p in message.parts  # the tool's searches: one query each
               if p.type == citations.CITATION and p.data.get("query")}
    with box:
        for source in shown:
            with st.popover(label(source), width="stretch"):
                passage(source, queries.get(source.n, asked))


def label(source: citations.Source) -> str:
    where = ""
    if source.page:
        where += tr("chat.source.page", page=source.page)
    if source.heading:
        where += tr("chat.source.heading", heading=escape_inline(source.heading.split(" > ")[-1])[:60])
    return tr("chat.source.label", n=source.n, file=escape_inline(source.file), where=where)


def passage(source: citations.Source, query: str) -> None:
    st.caption(label(source))
    if source.heading:
        st.caption(escape_inline(source.heading))
    st.code(source.text, language=None, wrap_lines=True)
    if source.kb_name:
        st.caption(tr("chat.source.kb", name=escape_inline(source.kb_name)))
    if query:
        st.caption(tr("chat.source.query", query=escape_inline(query)))
