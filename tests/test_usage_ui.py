"""The sidebar's usage panel and the Usage page, driven by AppTest (the chat against the fake DashScope server)."""

from __future__ import annotations

import re

import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from qwenchat import accounting
from qwenchat.budget import fit_to_budget
from qwenchat.chat.state import ChatSession
from qwenchat.conversation import STOPPED, Conversation, Usage
from qwenchat.i18n import t
from qwenchat.pricing import CURRENCY, PRICES_AS_OF, estimate_cost
from qwenchat.tokens import count_completion, count_prompt
from tests.apptest import APP, TIMEOUT, USAGE, on_chat, on_settings, send


def sidebar_text(at: AppTest) -> str:
    return "\n".join([md.value for md in at.sidebar.markdown] + [c.value for c in at.sidebar.caption])


def estimate_in_sidebar(at: AppTest) -> int:
    head = t("usage.next_request", "zh", tokens=0).rsplit("0", 1)[0]  # the app starts in Chinese
    line = next(md.value for md in at.sidebar.markdown if md.value.startswith(head))
    return int(re.fullmatch(r"([\d,]+).*", line[len(head):]).group(1).replace(",", ""))


def row(label_id: str, last: str, total: str) -> str:
    return f"| {t(label_id, 'zh')} | {last} | {total} |"


def bar(at: AppTest, message_id: str):
    head = t(message_id, "zh", share="", window=0, budget=0).split("：")[0]
    return next(bar for bar in at.sidebar.progress if bar.text.startswith(head))


# --- the sidebar ----------------------------------------------------------------------------------------


def test_after_a_turn_the_sidebar_shows_the_usage_the_api_billed(app, fake):
    send(app, "你好")
    billed = fake.usages[-1]
    p, c = billed["prompt_tokens"], billed["completion_tokens"]
    text = sidebar_text(app)
    assert row("usage.row.prompt", f"{p:,}", f"{p:,}") in text
    assert row("usage.row.completion", f"{c:,}", f"{c:,}") in text
    assert row("usage.row.reasoning", "0", "0") in text and row("usage.row.cached", "0", "0") in text
    assert row("usage.row.total", f"{billed['total_tokens']:,}", f"{billed['total_tokens']:,}") in text
    cost = accounting.format_cny(accounting.Cost(estimate_cost("qwen-plus", p, c), priced=1))
    assert t("usage.cost", "zh", last=cost, chat=cost) in text
    assert t("usage.estimate_note", "zh", currency=CURRENCY, as_of=PRICES_AS_OF) in text
    assert t("usage.last_estimated", "zh") not in text and "≈" not in text


def test_the_next_request_estimate_counts_the_conversation_as_it_will_be_sent(app, fake):
    send(app, "第一句")
    send(app, "第二句")
    conversation = app.session_state["chat"].conversation
    # What went out last, plus the reply to it: that is the history the next request carries (with the
    # tools' schemas: the tools are on by default).
    body = fake.requests[-1]["body"]
    sent = body["messages"] + [{"role": "assistant", "content": "收到：第二句"}]
    assert estimate_in_sidebar(app) == count_prompt(sent, "qwen-plus", body["tools"]) == \
        count_prompt(conversation.api_messages(), "qwen-plus", body["tools"])
    window, budget = bar(app, "usage.window"), bar(app, "usage.budget")
    assert window.text == t("usage.window", "zh", share="<0.1%", window=1_000_000)
    assert window.value == 0  # under 0.5% of a 1M window
    assert "✂️" not in sidebar_text(app)
    chosen = on_settings(app).number_input(key="budget_qwen-plus").value  # the budget is set on the settings page
    assert budget.text.endswith(f"共 {chosen:,}")


def test_a_cut_reply_shows_a_local_estimate_marked_as_such(app, fake):
    send(app, "[[fake:cut]]")
    assert not fake.usages  # the API never reported this reply's usage
    body = fake.requests[-1]["body"]
    prompt = count_prompt(body["messages"], "qwen-plus", body["tools"])
    completion = count_completion("这段回答说到一半，", "qwen-plus")
    text = sidebar_text(app)
    assert row("usage.row.prompt", f"≈{prompt:,}", f"≈{prompt:,}") in text
    assert row("usage.row.completion", f"≈{completion:,}", f"≈{completion:,}") in text
    assert t("usage.last_estimated", "zh") in text


def test_a_tiny_budget_leaves_older_turns_out_and_says_so(app, fake):
    page = on_settings(app)
    for tool in ("calculator", "current_time"):  # their schemas alone are more than 256 tokens
        page.toggle(key=f"tool_{tool}").set_value(False)
    page.number_input(key="budget_qwen-plus").set_value(256).run()
    on_chat(app)
    for i in range(3):
        send(app, f"第{i}段：" + "长城是中国古代的军事防御工程，" * 8)
    conversation = app.session_state["chat"].conversation
    expected = fit_to_budget(conversation.api_messages(), "qwen-plus", 256)
    assert expected.dropped > 0
    assert estimate_in_sidebar(app) == expected.prompt_tokens <= 256
    assert t("usage.dropped", "zh", dropped=expected.dropped) in sidebar_text(app)
    budget = bar(app, "usage.budget")
    assert budget.text.endswith("共 256") and budget.value == int(expected.prompt_tokens / 256 * 100)
    assert any(c.value.startswith("✂️") for c in app.main.caption)  # the chat's marker
    assert len(fake.requests[-1]["body"]["messages"]) < len(conversation.api_messages())


# --- the Usage page --------------------------------------------------------------------------------------


@pytest.fixture
def no_secrets(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)


def usage_page(conversation: Conversation | None = None, lang: str = "zh") -> AppTest:
    """The app with `conversation` open, switched to the Usage page in `lang`."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if conversation is not None:
        at.session_state["chat"] = ChatSession(conversation=conversation)
    at.session_state["ui_lang"] = lang
    at.run()
    at.switch_page(USAGE).run()
    return at


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

    at = usage_page(conversation)
    assert not at.exception
    tokens, cost = charted(at)
    tokens = tokens.pivot(index=t("usage_page.col.turn", "zh"), columns=tokens.columns[1],
                          values=tokens.columns[2])  # long form
    assert tokens[t("usage.row.prompt", "zh")].tolist() == [22, 60]
    assert tokens[t("usage.row.completion", "zh")].tolist() == [17, 3]
    rows = accounting.turn_rows(conversation)
    assert cost.iloc[:, -1].tolist() == pytest.approx([r.running_cost.cny for r in rows])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[t("usage.row.total", "zh")] == f"≈{39 + 128 + 63}"
    assert metrics[t("usage_page.cost", "zh")] == accounting.format_cny(accounting.totals(conversation).cost)
    table = at.dataframe[0].value
    assert table[t("usage_page.col.judge", "zh")].tolist() == [0, 128]
    assert table[t("usage_page.col.estimated", "zh")].tolist() == [False, True]


def test_the_usage_page_without_a_conversation_says_so(no_secrets):
    at = usage_page(lang="en")
    assert not at.exception
    assert at.title[0].value == t("usage_page.title", "en") and at.info[0].value == t("usage_page.empty", "en")
    assert not at.get("vega_lite_chart")
