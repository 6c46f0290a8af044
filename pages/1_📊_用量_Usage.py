"""Usage: tokens per turn and the running cost of the open conversation (estimates; the bill is the truth)."""

import streamlit as st

from components import gate, session
from qwenchat import accounting
from qwenchat.config import load_dotenv_once
from qwenchat.pricing import CURRENCY, PRICES_AS_OF

st.set_page_config(page_title="用量 / Usage · Qwen Chat", page_icon="📊")
load_dotenv_once()
gate.require_access()

st.title("📊 用量 / Usage")
conversation = session.conversation()
rows = accounting.turn_rows(conversation)
if not rows:
    st.info("还没有对话。回到聊天页发一条消息，这里就会显示每一轮的 Token 用量和费用。 / No conversation yet: send a "
            "message on the chat page, and each turn's tokens and cost will show here.")
    st.stop()

totals = accounting.totals(conversation)
prompt, completion, total = (accounting.format_tokens(getattr(totals.usage, field), totals.estimated)
                             for field in ("prompt_tokens", "completion_tokens", "total_tokens"))
left, middle, right, cost = st.columns(4)
left.metric("输入 / Prompt", prompt)
middle.metric("输出 / Completion", completion)
right.metric("合计 / Total", total)
cost.metric("估算费用 / Est. cost", accounting.format_cny(totals.cost))
st.caption(f"{conversation.title or '当前对话 / This conversation'} · 费用为估算（{CURRENCY}，价目表 {PRICES_AS_OF}），以阿里云"
           f"账单为准。 / Costs are estimates ({CURRENCY}, prices as of {PRICES_AS_OF}); the Alibaba Cloud bill is the "
           "truth. ≈ = 本地估算 / local estimate (a stopped or cut reply).")
if totals.cost.missing:
    st.caption(f"– 价目表中没有 {', '.join(sorted(totals.cost.missing))} 的价格，未计入费用。 / Not in the price table: "
               "not counted.")

TURN, PROMPT, COMPLETION, RUNNING = "轮 / Turn", "输入 / Prompt", "输出 / Completion", f"累计费用 / Running cost ({CURRENCY})"
st.subheader("每轮 Token / Tokens per turn")
st.bar_chart([{TURN: r.number, PROMPT: r.prompt_tokens, COMPLETION: r.completion_tokens} for r in rows],
             x=TURN, y=[PROMPT, COMPLETION], stack=False, y_label="tokens")
st.subheader("累计费用 / Running cost")
st.line_chart([{TURN: r.number, RUNNING: r.running_cost.cny} for r in rows], x=TURN, y=RUNNING)

st.subheader("各轮明细 / Turns")
st.dataframe([{
    "#": r.number, "消息 / Message": r.question, "模型 / Model": r.model or "–",
    PROMPT: r.prompt_tokens, COMPLETION: r.completion_tokens, "推理 / Reasoning": r.reasoning_tokens,
    "缓存 / Cached": r.cached_tokens, "结束判断 / Judge": r.judge_tokens, "≈ 本地估算 / Local estimate": r.estimated,
    "费用 / Cost": accounting.format_cny(r.cost), "累计 / Running": accounting.format_cny(r.running_cost),
} for r in rows], hide_index=True)
