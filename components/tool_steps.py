"""A reply's tool steps on the page: one compact expandable block before the answer (each call's tool,
arguments, result or error, and time) and the reply's notices (tools dropped, the round limit).

Everything shown comes from the message's parts, so a streaming reply and a saved one look the same. The
model wrote the names, arguments and outputs: names are escaped, arguments and outputs sit in code blocks,
and only notices with a known catalog id are shown.
"""

from __future__ import annotations

import json

import streamlit as st

from components.lang import tr
from qwenchat.conversation import Message
from qwenchat.i18n import Msg
from qwenchat.rendering import escape_inline
from qwenchat.tools.runner import ERROR_KINDS

NOTICES = ("tools.note.refused", "tools.note.round_limit", "tools.note.limits", "tools.note.ungrounded")


def has_steps(message: Message) -> bool:
    return any(p.type in ("tool_call", "notice") for p in message.parts)


def show_tool_steps(message: Message, *, running: bool = False) -> None:
    calls = [p for p in message.parts if p.type == "tool_call"]
    if calls:
        results = {p.data.get("id"): p for p in message.parts if p.type == "tool_result"}
        with st.expander(tr("tools.steps", count=len(calls)), expanded=running):
            for call in calls:
                _show_step(call.data, results.get(call.data.get("id")))
    for part in message.parts:
        if part.type == "notice" and part.text in NOTICES:
            st.caption(_notice_text(part.text, part.data))


def _show_step(call: dict, result) -> None:
    name = escape_inline(str(call.get("name") or "?"))
    if result is None:
        st.markdown(tr("tools.step_running", name=name))
    else:
        seconds = result.data.get("seconds")
        st.markdown(tr("tools.step", name=name, seconds=seconds if isinstance(seconds, (int, float)) else 0))
    st.code(_pretty(call.get("arguments")), language="json", wrap_lines=True)
    if result is None:
        return
    error = result.data.get("error")
    if error:
        st.caption(tr(f"tools.error.{error}" if error in ERROR_KINDS else "tools.error.crashed"))
    elif result.data.get("truncated"):
        st.caption(tr("tools.truncated"))
    output = result.data.get("output")
    st.code(output if isinstance(output, str) else "", language=None, wrap_lines=True)


def _pretty(arguments) -> str:
    if not isinstance(arguments, str):
        return ""
    try:
        return json.dumps(json.loads(arguments), ensure_ascii=False)
    except (ValueError, RecursionError):
        return arguments  # as the model wrote it (the step's error says it was not JSON)


def _notice_text(message_id: str, data: dict) -> str:
    params = {k: escape_inline(v) if isinstance(v, str) else v for k, v in data.items()}
    reason = data.get("reason")
    if isinstance(reason, str):
        params["reason"] = Msg(reason, {k: v for k, v in data.items() if k != "reason"}) \
            if reason.startswith(("quota.", "turn.", "rag.")) else ""
    return tr(message_id, **params)
