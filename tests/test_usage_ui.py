"""The sidebar's usage panel and the Usage page, driven by AppTest (the chat against the fake DashScope server)."""

from __future__ import annotations

import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from qwenchat import accounting
from qwenchat.budget import fit_to_budget
from qwenchat.chat.state import ChatSession
from qwenchat.conversation import STOPPED, Conversation, Usage
from qwenchat.pricing import PRICES_AS_OF, estimate_cost
from qwenchat.tokens import count_completion, count_prompt
from tests.apptest import ROOT, TIMEOUT, send

(USAGE_PAGE,) = (ROOT / "pages").glob("*Usage.py")


def sidebar_text(at: AppTest) -> str:
    return "\n".join([md.value for md in at.sidebar.markdown] + [c.value for c in at.sidebar.caption])


def estimate_in_sidebar(at: AppTest) -> int:
    line = next(md.value for md in at.sidebar.markdown if "Next request · estimate" in md.value)
    return int(line.rsplit("**", 1)[1].split("tokens")[0].replace(",", ""))


def row(label: str, last: str, total: str) -> str:
    return f"| {label} | {last} | {total} |"


# --- the sidebar ----------------------------------------------------------------------------------------


def test_after_a_turn_the_sidebar_shows_the_usage_the_api_billed(app, fake):
    send(app, "你好")
    billed = fake.usages[-1]
    p, c = billed["prompt_tokens"], billed["completion_tokens"]
    text = sidebar_text(app)
    assert row("输入", f"{p:,}", f"{p:,}") in text
    assert row("输出", f"{c:,}", f"{c:,}") in text
    assert row("推理", "0", "0") in text and row("缓存", "0", "0") in text
    assert row("合计", f"{billed['total_tokens']:,}", f"{billed['total_tokens']:,}") in text
    cost = accounting.format_cny(accounting.Cost(estimate_cost("qwen-plus", p, c), priced=1))
    assert f"**估算费用 / Est. cost:** 上一条 / Last {cost} · 本对话 / Chat {cost}" in text
    assert f"prices as of {PRICES_AS_OF}" in text and "本地估算" not in text and "≈" not in text


def test_the_next_request_estimate_counts_the_conversation_as_it_will_be_sent(app, fake):
    send(app, "第一句")
    send(app, "第二句")
    conversation = app.session_state["chat"].conversation
    # What went out last, plus the reply to it: that is the history the next request carries.
    sent = fake.requests[-1]["body"]["messages"] + [{"role": "assistant", "content": "收到：第二句"}]
    assert estimate_in_sidebar(app) == count_prompt(sent, "qwen-plus") == \
        count_prompt(conversation.api_messages(), "qwen-plus")
    window, budget = (next(bar for bar in app.sidebar.progress if name in bar.text)
                      for name in ("Context window", "Budget"))
    assert "of 1,000,000" in window.text and window.value == 0  # under 0.5% of a 1M window
    assert f"of {app.sidebar.number_input(key='budget_qwen-plus').value:,}" in budget.text
    assert "left out" not in sidebar_text(app)


def test_a_cut_reply_shows_a_local_estimate_marked_as_such(app, fake):
    send(app, "[[fake:cut]]")
    assert not fake.usages  # the API never reported this reply's usage
    prompt = count_prompt(fake.requests[-1]["body"]["messages"], "qwen-plus")
    completion = count_completion("这段回答说到一半，", "qwen-plus")
    text = sidebar_text(app)
    assert row("输入", f"≈{prompt:,}", f"≈{prompt:,}") in text
    assert row("输出", f"≈{completion:,}", f"≈{completion:,}") in text
    assert "本地估算 / local estimate" in text


def test_a_tiny_budget_leaves_older_turns_out_and_says_so(app, fake):
    app.sidebar.number_input(key="budget_qwen-plus").set_value(256).run()
    for i in range(3):
        send(app, f"第{i}段：" + "长城是中国古代的军事防御工程，" * 8)
    conversation = app.session_state["chat"].conversation
    expected = fit_to_budget(conversation.api_messages(), "qwen-plus", 256)
    assert expected.dropped > 0
    assert estimate_in_sidebar(app) == expected.prompt_tokens <= 256
    assert f"Over budget: {expected.dropped} older messages are left out." in sidebar_text(app)
    budget = next(bar for bar in app.sidebar.progress if "Budget" in bar.text)
    assert "of 256" in budget.text and budget.value == int(expected.prompt_tokens / 256 * 100)
    assert any(c.value.startswith("✂️") for c in app.main.caption)  # the chat's marker
    assert len(fake.requests[-1]["body"]["messages"]) < len(conversation.api_messages())


# --- the Usage page --------------------------------------------------------------------------------------


@pytest.fixture
def no_secrets(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)


def charted(at: AppTest) -> list:
    return [convert_arrow_bytes_to_pandas_df(chart.proto.datasets[0].data.data) for chart in at.get("vega_lite_chart")]


def test_the_usage_page_charts_tokens_per_turn_and_the_running_cost(no_secrets):
    conversation = Conversation()
    conversation.add_user("你好")
    first = conversation.start_reply("qwen-plus")
    first.content, first.status, first.usage = "你好！", "complete", Usage(22, 17, 39)
    conversation.add_user("介绍一下长城。").usage = Usage(120, 8, 128)  # the judge's tokens
    second = conversation.start_reply("qwen-plus")
    second.content, second.status, second.usage = "长城是", STOPPED, Usage(60, 3, 63, estimated=True)

    at = AppTest.from_file(str(USAGE_PAGE), default_timeout=TIMEOUT)
    at.session_state["chat"] = ChatSession(conversation=conversation)
    at.run()
    assert not at.exception
    tokens, cost = charted(at)
    tokens = tokens.pivot(index="轮 / Turn", columns=tokens.columns[1], values=tokens.columns[2])  # long form
    assert tokens["输入 / Prompt"].tolist() == [22, 60] and tokens["输出 / Completion"].tolist() == [17, 3]
    rows = accounting.turn_rows(conversation)
    assert cost.iloc[:, -1].tolist() == pytest.approx([r.running_cost.cny for r in rows])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["合计 / Total"] == f"≈{39 + 128 + 63}"
    assert metrics["估算费用 / Est. cost"] == accounting.format_cny(accounting.totals(conversation).cost)
    table = at.dataframe[0].value
    assert table["结束判断 / Judge"].tolist() == [0, 128]
    assert table["≈ 本地估算 / Local estimate"].tolist() == [False, True]


def test_the_usage_page_without_a_conversation_says_so(no_secrets):
    at = AppTest.from_file(str(USAGE_PAGE), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert "No conversation yet" in at.info[0].value
    assert not at.get("vega_lite_chart")
