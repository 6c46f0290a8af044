"""The sidebar: settings, the token usage panel and the reset button."""

from __future__ import annotations

import streamlit as st

from components import ending_panel, session, settings
from qwenchat.conversation import Conversation, Usage


def render(conversation: Conversation) -> settings.ChatOptions:
    with st.sidebar:
        st.title("💬 Qwen Chat")
        options = settings.render(conversation)
        st.divider()
        usage_panel(conversation)
        st.divider()
        ending_panel.render()
        st.divider()
        st.button("🔄 重置对话 / Reset conversation", on_click=session.reset_conversation,
                  width="stretch", key="reset")
    return options


def _cell(usage: Usage | None, field: str) -> str:
    return f"{getattr(usage, field):,}" if usage else "–"


def usage_panel(conversation: Conversation) -> None:
    """Token usage as the API reported it: the last reply and the conversation's totals."""
    st.subheader("Token 用量 / Usage")
    last = conversation.last_usage()
    total = conversation.total_usage()
    rows = [("输入 / Prompt", "prompt_tokens"), ("输出 / Completion", "completion_tokens"),
            ("合计 / Total", "total_tokens")]
    table = ["| | 上一条 / Last reply | 本对话 / Conversation |", "|---|---:|---:|"]
    table += [f"| {label} | {_cell(last, field)} | {_cell(total, field)} |" for label, field in rows]
    st.markdown("\n".join(table))
