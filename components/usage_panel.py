"""The sidebar's token usage panel: the next request's size, the last reply's bill and the conversation's totals.

Draws what `qwenchat.accounting` works out; kept narrow for the sidebar (captions, two gauges, one table).
"""

from __future__ import annotations

import streamlit as st

from components.lang import tr
from components.settings import ChatOptions
from qwenchat import accounting
from qwenchat.conversation import Conversation, Usage
from qwenchat.pricing import CURRENCY, PRICES_AS_OF
from qwenchat.rendering import escape_inline
from qwenchat.tools import schemas

# The table's rows: the catalog id of the label, and the Usage field.
ROWS = (("usage.row.prompt", "prompt_tokens"), ("usage.row.completion", "completion_tokens"),
        ("usage.row.reasoning", "reasoning_tokens"), ("usage.row.cached", "cached_tokens"),
        ("usage.row.total", "total_tokens"))


def render(conversation: Conversation, options: ChatOptions) -> None:
    st.subheader(tr("usage.title"))
    show_next_request(accounting.next_request(conversation, options.settings.model, options.budget,
                                              schemas(options.tools)))
    show_usage(accounting.last_reply(conversation), accounting.totals(conversation))


def show_next_request(request: accounting.NextRequest) -> None:
    st.markdown(tr("usage.next_request", tokens=request.prompt_tokens))
    st.progress(request.window_fraction, text=tr("usage.window", share=accounting.format_share(request.window_fraction),
                                                window=request.context_window))
    st.progress(request.budget_fraction, text=tr("usage.budget", share=accounting.format_share(request.budget_fraction),
                                                budget=request.budget))
    # One caption of several lines: every element costs each rerun of the chat, in the script and the browser.
    notes = [tr("usage.too_large")] if request.too_large else \
        [tr("usage.dropped", dropped=request.dropped)] if request.dropped else []
    notes.append(tr("usage.next_note") + (" " + tr("usage.not_qwen") if not request.exact else ""))
    st.caption("  \n".join(notes))


def _cells(usage: Usage | None, estimated: bool) -> list[str]:
    return [accounting.format_tokens(getattr(usage, field), estimated) if usage else "–" for _, field in ROWS]


def show_usage(last: accounting.LastReply | None, totals: accounting.Totals) -> None:
    """The last reply as the API billed it (≈ when counted locally) next to the conversation's totals."""
    last_cells = _cells(last.usage if last else None, bool(last and last.estimated))
    total_cells = _cells(totals.usage, totals.estimated)
    table = [f"| | {tr('usage.col.last')} | {tr('usage.col.chat')} |", "|---|---:|---:|"]
    table += [f"| {tr(label)} | {a} | {b} |" for (label, _), a, b in zip(ROWS, last_cells, total_cells)]
    cost = tr("usage.cost", last=accounting.format_cny(last.cost) if last else "–",
              chat=accounting.format_cny(totals.cost))
    st.markdown("\n".join(table) + "\n\n" + cost)  # the table and the cost: one element

    notes = []
    if last and last.estimated:
        notes.append(tr("usage.last_estimated"))
    elif totals.estimated:
        notes.append(tr("usage.totals_estimated"))
    if totals.judge.total_tokens:
        notes.append(tr("usage.judge_tokens", tokens=totals.judge.total_tokens))
    if totals.retrieval.total_tokens:
        notes.append(tr("usage.retrieval_tokens", tokens=totals.retrieval.total_tokens))
    missing = totals.cost.missing | (last.cost.missing if last else frozenset())
    if missing:
        notes.append(tr("usage.no_price", models=", ".join(escape_inline(m) for m in sorted(missing))))
    notes.append(tr("usage.estimate_note", currency=CURRENCY, as_of=PRICES_AS_OF))
    st.caption("  \n".join(notes))
