"""qwenchat.accounting: the next request's size, per-turn rows, running cost and totals."""

from __future__ import annotations

import pytest

from qwenchat import accounting
from qwenchat.accounting import Cost, format_cny, format_share, format_tokens
from qwenchat.budget import fit_to_budget
from qwenchat.conversation import COMPLETE, FAILED, STOPPED, Conversation, Usage
from qwenchat.pricing import estimate_cost
from qwenchat.tokens import count_prompt


def reply(conversation: Conversation, text: str, usage: Usage | None, *, model: str = "qwen-plus",
          status: str = COMPLETE, reasoning: str = "") -> None:
    message = conversation.start_reply(model)
    message.content, message.status, message.usage, message.reasoning = text, status, usage, reasoning


def three_turns() -> Conversation:
    """Turn 1 billed; turn 2 judged (qwen-flash) then billed; turn 3 stopped and counted locally."""
    c = Conversation(model="qwen-plus")
    c.add_user("你好")
    reply(c, "你好！", Usage(22, 17, 39, 0, 0))
    c.add_user("介绍一下长城。").usage = Usage(120, 8, 128)
    reply(c, "长城是……", Usage(60, 300, 360, 0, 16))
    c.add_user("再详细一点")
    reply(c, "好的，", Usage(400, 5, 405, estimated=True), status=STOPPED)
    return c


# --- the next request ----------------------------------------------------------------------------------


def test_next_request_is_what_fit_to_budget_would_send_counted_as_the_api_bills():
    c = three_turns()
    request = accounting.next_request(c, "qwen-plus", 32_000)
    assert request.prompt_tokens == count_prompt(c.api_messages(), "qwen-plus")
    assert (request.dropped, request.too_large, request.exact) == (0, False, True)
    assert request.context_window == 1_000_000 and request.budget == 32_000
    assert request.window_fraction == pytest.approx(request.prompt_tokens / 1_000_000)
    assert request.budget_fraction == pytest.approx(request.prompt_tokens / 32_000)


def test_a_small_budget_leaves_older_turns_out_of_the_estimate():
    c = Conversation()
    for i in range(6):
        c.add_user(f"第{i}段：" + "长城是中国古代的军事防御工程，" * 6)
        reply(c, f"收到第{i}段。", Usage(1, 1, 2))
    request = accounting.next_request(c, "qwen-plus", 300)
    sent = fit_to_budget(c.api_messages(), "qwen-plus", 300)
    assert request.dropped == sent.dropped > 0
    assert request.prompt_tokens == count_prompt(sent.messages, "qwen-plus") <= 300
    assert request.budget_fraction == pytest.approx(request.prompt_tokens / 300)


def test_an_empty_conversation_counts_the_system_prompt_and_a_too_small_budget_says_so():
    c = Conversation()
    assert accounting.next_request(c, "qwen-plus", 32_000).prompt_tokens == \
        count_prompt([{"role": "system", "content": c.system_prompt}], "qwen-plus")
    c.add_user("长" * 2000)
    request = accounting.next_request(c, "qwen-plus", 256)
    assert request.too_large and request.budget_fraction == 1.0


def test_a_model_that_is_not_qwen_is_counted_as_an_estimate():
    assert not accounting.next_request(Conversation(), "deepseek-r1", 1000).exact


# --- rows, costs, totals -------------------------------------------------------------------------------


def test_turn_rows_hold_each_turns_billed_tokens_and_judge_tokens():
    rows = accounting.turn_rows(three_turns())
    assert [(r.number, r.question, r.prompt_tokens, r.completion_tokens, r.judge_tokens) for r in rows] == [
        (1, "你好", 22, 17, 0), (2, "介绍一下长城。", 60, 300, 128), (3, "再详细一点", 400, 5, 0)]
    assert rows[1].cached_tokens == 16 and rows[1].total_tokens == 60 + 300 + 128
    assert [r.model for r in rows] == ["qwen-plus"] * 3


def test_running_cost_sums_the_turns_and_prices_the_judge_as_its_model():
    rows = accounting.turn_rows(three_turns())
    turn1 = estimate_cost("qwen-plus", 22, 17)
    turn2 = estimate_cost("qwen-flash", 120, 8) + estimate_cost("qwen-plus", 60, 300)
    turn3 = estimate_cost("qwen-plus", 400, 5)
    assert [r.cost.cny for r in rows] == pytest.approx([turn1, turn2, turn3])
    assert [r.running_cost.cny for r in rows] == pytest.approx([turn1, turn1 + turn2, turn1 + turn2 + turn3])
    assert all(r.running_cost.complete for r in rows)
    assert accounting.totals(three_turns()).cost.cny == pytest.approx(rows[-1].running_cost.cny)


def test_a_locally_estimated_reply_is_flagged_on_its_row_the_last_reply_and_the_totals():
    c = three_turns()
    assert [r.estimated for r in accounting.turn_rows(c)] == [False, False, True]
    last = accounting.last_reply(c)
    assert last.estimated and last.usage.prompt_tokens == 400
    assert accounting.totals(c).estimated


def test_totals_include_the_judges_usage_on_a_user_message():
    c = three_turns()
    totals = accounting.totals(c)
    assert totals.usage == c.total_usage()
    assert totals.usage.prompt_tokens == 22 + 120 + 60 + 400
    assert totals.usage.completion_tokens == 17 + 8 + 300 + 5
    assert (totals.judge.prompt_tokens, totals.judge.completion_tokens) == (120, 8)
    assert totals.calls == 4


def regenerated_and_edited() -> Conversation:
    """One question answered, then regenerated (the old reply hidden); a second question, then edited (the
    old question and its reply hidden). Every reply was paid for."""
    c = Conversation(model="qwen-plus")
    c.add_user("hello there")
    reply(c, "first", Usage(20, 8, 28))
    c.regenerate_point(c.messages[-1].id)
    reply(c, "second", Usage(20, 9, 29))
    old = c.add_user("typo")
    old.usage = Usage(100, 5, 105)  # the judge read it
    reply(c, "about the typo", Usage(40, 10, 50), model="qwen-max")
    c.branch_from(old.id)
    c.add_user("fixed")
    reply(c, "about the fix", Usage(41, 11, 52))
    return c


def test_totals_count_every_paid_message_of_the_tree_not_only_the_visible_branch():
    c = regenerated_and_edited()
    assert len(c.hidden) == 3  # the first reply, the typo and its answer
    totals = accounting.totals(c)
    assert totals.usage == c.total_usage()  # as the Markdown export counts
    assert totals.usage.total_tokens == 28 + 29 + 105 + 50 + 52
    assert totals.judge.total_tokens == 105 and totals.calls == 5
    paid = [estimate_cost("qwen-plus", 20, 8), estimate_cost("qwen-plus", 20, 9), estimate_cost("qwen-flash", 100, 5),
            estimate_cost("qwen-max", 40, 10), estimate_cost("qwen-plus", 41, 11)]
    assert totals.cost.cny == pytest.approx(sum(paid)) and totals.cost.priced == 5
    # the last reply and the next request stay the visible branch's
    assert accounting.last_reply(c).usage.total_tokens == 52
    assert accounting.next_request(c, "qwen-plus", 32_000).prompt_tokens == count_prompt(c.api_messages(), "qwen-plus")


def test_turn_rows_count_a_turns_older_versions_so_the_running_cost_ends_at_the_total():
    c = regenerated_and_edited()
    rows = accounting.turn_rows(c)
    assert [r.question for r in rows] == ["hello there", "fixed"]  # the visible turns
    assert [(r.prompt_tokens, r.completion_tokens, r.judge_tokens) for r in rows] == [
        (20 + 20, 8 + 9, 0), (40 + 41, 10 + 11, 105)]
    assert [r.model for r in rows] == ["qwen-plus", "qwen-plus"]  # the visible reply's
    assert rows[-1].running_cost.cny == pytest.approx(accounting.totals(c).cost.cny)
    assert rows[-1].running_cost.priced == accounting.totals(c).cost.priced


def test_the_last_reply_is_the_newest_assistant_message_with_usage():
    c = three_turns()
    c.add_user("还在吗")
    reply(c, "", None, status=FAILED)  # a failed reply has no usage: the one before is the last billed
    last = accounting.last_reply(c)
    assert last.usage == c.last_usage() and last.usage.completion_tokens == 5
    assert accounting.last_reply(Conversation()) is None


def test_a_turn_without_a_reply_and_a_failed_reply_have_zero_tokens():
    c = Conversation()
    c.add_user("第一句")
    c.add_user("第二句")
    reply(c, "", None, status=FAILED)
    rows = accounting.turn_rows(c)
    assert [(r.prompt_tokens, r.completion_tokens, r.model, r.cost.priced) for r in rows] == [
        (0, 0, "", 0), (0, 0, "", 0)]
    assert format_cny(rows[-1].running_cost) == "¥0"


def test_thinking_replies_are_priced_at_the_thinking_output_price():
    c = Conversation()
    c.add_user("想一想")
    reply(c, "42", Usage(10, 100, 110, reasoning_tokens=90), reasoning="……")
    assert accounting.totals(c).cost.cny == pytest.approx(estimate_cost("qwen-plus", 10, 100, thinking=True))


def test_an_unknown_model_is_unpriced_and_shown_as_a_dash():
    c = Conversation(model="my-own-model")
    c.add_user("hi")
    reply(c, "hello", Usage(10, 5, 15), model="my-own-model")
    cost = accounting.totals(c).cost
    assert (cost.priced, cost.unpriced, cost.missing) == (0, 1, frozenset({"my-own-model"}))
    assert format_cny(cost) == "–"
    c.add_user("again")
    reply(c, "ok", Usage(1_000, 500, 1_500))
    assert format_cny(accounting.totals(c).cost).startswith("≥¥")


# --- formatting ------------------------------------------------------------------------------------------


def test_formats():
    assert format_cny(Cost()) == "¥0"
    assert format_cny(Cost(0.0000312, priced=1)) == "¥0.000031"
    assert format_cny(Cost(0.0123456, priced=1)) == "¥0.0123"
    assert format_cny(Cost(1234.5, priced=3)) == "¥1,234.50"
    assert format_cny(Cost(0.0000001, priced=1)) == "<¥0.000001"
    assert format_cny(Cost(0.0000001, priced=1, unpriced=1)) == "≥¥0"
    assert format_tokens(1234) == "1,234" and format_tokens(1234, estimated=True) == "≈1,234"
    assert format_share(0.0000123) == "<0.1%" and format_share(0) == "0.0%" and format_share(0.5) == "50.0%"
