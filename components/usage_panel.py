"""The sidebar's token usage panel: the next request's size, the last reply's bill and the conversation's totals.

Draws what `qwenchat.accounting` works out; kept narrow for the sidebar (captions, two gauges, one table).
"""

from __future__ import annotations

import streamlit as st

from components.settings import ChatOptions
from qwenchat import accounting
from qwenchat.conversation import Conversation, Usage
from qwenchat.pricing import CURRENCY, PRICES_AS_OF

# Chinese labels in the narrow table; the caption under it gives them in English.
ROWS = (("输入", "prompt_tokens"), ("输出", "completion_tokens"), ("推理", "reasoning_tokens"),
        ("缓存", "cached_tokens"), ("合计", "total_tokens"))
LEGEND = ("输入 prompt · 输出 completion · 推理 reasoning · 缓存 cached · 合计 total; "
          "上条 = the last reply · 本对话 = this conversation")


def render(conversation: Conversation, options: ChatOptions) -> None:
    st.subheader("Token 用量 / Usage")
    show_next_request(accounting.next_request(conversation, options.settings.model, options.budget))
    show_usage(accounting.last_reply(conversation), accounting.totals(conversation))


def show_next_request(request: accounting.NextRequest) -> None:
    st.markdown(f"**下一次请求 · 估算 / Next request · estimate:** {request.prompt_tokens:,} tokens")
    st.progress(request.window_fraction, text=f"上下文窗口 / Context window: "
                f"{accounting.format_share(request.window_fraction)} of {request.context_window:,}")
    st.progress(request.budget_fraction, text=f"预算 / Budget: "
                f"{accounting.format_share(request.budget_fraction)} of {request.budget:,}")
    if request.too_large:
        st.caption("⚠️ 只算系统提示词和最新一条消息也已超出预算：请调高预算。 / The system prompt and the newest "
                   "message alone exceed the budget: raise it.")
    elif request.dropped:
        st.caption(f"✂️ 超出预算：较早的 {request.dropped} 条消息不会发送。 / Over budget: {request.dropped} older "
                   f"messages are left out.")
    note = "系统提示词 + 历史，不含你的下一条消息。 / System prompt + history, before your next message."
    if not request.exact:
        note += " 非 Qwen 模型，按 Qwen 词表估算。 / Not a Qwen model: counted with the Qwen vocabulary."
    st.caption(note)


def _cells(usage: Usage | None, estimated: bool) -> list[str]:
    return [accounting.format_tokens(getattr(usage, field), estimated) if usage else "–" for _, field in ROWS]


def show_usage(last: accounting.LastReply | None, totals: accounting.Totals) -> None:
    """The last reply as the API billed it (≈ when counted locally) next to the conversation's totals."""
    last_cells = _cells(last.usage if last else None, bool(last and last.estimated))
    total_cells = _cells(totals.usage, totals.estimated)
    table = ["| | 上条 | 本对话 |", "|---|---:|---:|"]
    table += [f"| {label} | {a} | {b} |" for (label, _), a, b in zip(ROWS, last_cells, total_cells)]
    st.markdown("\n".join(table))
    st.caption(LEGEND)
    st.markdown(f"**估算费用 / Est. cost:** 上一条 / Last {accounting.format_cny(last.cost) if last else '–'} · "
                f"本对话 / Chat {accounting.format_cny(totals.cost)}")

    if last and last.estimated:
        st.caption("≈ 本地估算 / local estimate：回复被停止或中断，API 没有返回用量。 The reply was stopped or cut "
                   "before the API reported its usage.")
    elif totals.estimated:
        st.caption("≈ 本对话含本地估算 / The totals include local estimates (stopped or cut replies).")
    if totals.judge.total_tokens:
        st.caption(f"本对话含结束判断 {totals.judge.total_tokens:,} tokens。 / The totals include "
                   f"{totals.judge.total_tokens:,} tokens of the end-of-conversation judge.")
    missing = totals.cost.missing | (last.cost.missing if last else frozenset())
    if missing:
        names = ", ".join(sorted(missing))
        st.caption(f"– 价目表中没有 {names} 的价格（或该输入长度的档位），未计入费用。 / No price for {names} "
                   f"(or for that input length) in the table: not counted.")
    st.caption(f"费用为估算（{CURRENCY}，价目表 {PRICES_AS_OF}），以账单为准。 / An estimate ({CURRENCY}, prices as "
               f"of {PRICES_AS_OF}); the bill is the truth.")
