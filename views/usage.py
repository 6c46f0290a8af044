"""Usage: tokens per turn and the running cost of the open conversation (estimates; the bill is the truth)."""

import streamlit as st

from components import session
from components.lang import tr
from qwenchat import accounting
from qwenchat.pricing import CURRENCY, PRICES_AS_OF
from qwenchat.rendering import escape_inline

st.title(tr("usage_page.title"))
conversation = session.conversation()
rows = accounting.turn_rows(conversation)
if not rows:
    st.info(tr("usage_page.empty"))
    st.stop()

totals = accounting.totals(conversation)
prompt, completion, total = (accounting.format_tokens(getattr(totals.usage, field), totals.estimated)
                             for field in ("prompt_tokens", "completion_tokens", "total_tokens"))
left, middle, right, cost = st.columns(4)
left.metric(tr("usage.row.prompt"), prompt)
middle.metric(tr("usage.row.completion"), completion)
right.metric(tr("usage.row.total"), total)
cost.metric(tr("usage_page.cost"), accounting.format_cny(totals.cost))
st.caption(tr("usage_page.caption", title=escape_inline(conversation.title) or tr("usage_page.this_conversation"),
              currency=CURRENCY, as_of=PRICES_AS_OF))
if totals.cost.missing:
    st.caption(tr("usage_page.no_price", models=", ".join(escape_inline(m) for m in sorted(totals.cost.missing))))

TURN, PROMPT, COMPLETION = tr("usage_page.col.turn"), tr("usage.row.prompt"), tr("usage.row.completion")
RUNNING = tr("usage_page.running_cost_unit", currency=CURRENCY)
st.subheader(tr("usage_page.tokens_per_turn"))
st.bar_chart([{TURN: r.number, PROMPT: r.prompt_tokens, COMPLETION: r.completion_tokens} for r in rows],
             x=TURN, y=[PROMPT, COMPLETION], stack=False, y_label=tr("usage_page.tokens_axis"))
st.subheader(tr("usage_page.running_cost"))
st.line_chart([{TURN: r.number, RUNNING: r.running_cost.cny} for r in rows], x=TURN, y=RUNNING)

st.subheader(tr("usage_page.turns"))
st.dataframe([{
    "#": r.number, tr("usage_page.col.message"): r.question, tr("usage_page.col.model"): r.model or "–",
    PROMPT: r.prompt_tokens, COMPLETION: r.completion_tokens, tr("usage.row.reasoning"): r.reasoning_tokens,
    tr("usage.row.cached"): r.cached_tokens, tr("usage_page.col.judge"): r.judge_tokens,
    tr("usage_page.col.estimated"): r.estimated, tr("usage_page.col.cost"): accounting.format_cny(r.cost),
    tr("usage_page.col.running"): accounting.format_cny(r.running_cost),
} for r in rows], hide_index=True)
