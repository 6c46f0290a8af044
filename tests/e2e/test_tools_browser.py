"""Tools in a real browser (Debian's Chromium) against the fake DashScope: the user sees each step (which
tool, its arguments, its result) in a block before the answer, parallel calls both shown and answered, and
a model that never stops calling ends at the round limit with its message."""

from __future__ import annotations

import pytest

from qwenchat.i18n import t

from . import helpers
from .conftest import require_chromium
from .helpers import CHAT_MESSAGE, open_app, send_message, wait_for_last_message, wait_idle

require_chromium()

pytestmark = pytest.mark.timeout(90)


def no_exception_shown(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, "a traceback is shown on the page"


def open_steps(page, count: int):
    """The last reply's steps block, opened; returns the reply."""
    reply = page.locator(CHAT_MESSAGE).last
    summary = reply.get_by_text(t("tools.steps", "zh", count=count))
    summary.wait_for(state="visible")
    summary.click()
    reply.locator('[data-testid="stCode"]').first.wait_for(state="visible")
    return reply


def test_the_calculator_step_is_shown_before_the_answer_112005(page, app_url, fake):
    open_app(page, app_url)
    send_message(page, "393 × 285 等于多少？[[fake:calc:393*285]]")
    wait_for_last_message(page, "结果：112005")
    wait_idle(page)

    reply = open_steps(page, 1)
    text = reply.inner_text()
    assert "calculator" in text and "393*285" in text
    assert text.index("393*285") < text.index("结果：112005"), "the step comes before the answer"
    codes = reply.locator('[data-testid="stCode"]').all_inner_texts()
    assert any("112005" == c.strip() for c in codes), codes  # the tool's own result, in a code block
    no_exception_shown(page)

    follow_up = fake.requests()[-1]["body"]["messages"]
    assert follow_up[-1]["role"] == "tool" and follow_up[-1]["content"] == "112005"
    assert follow_up[-2]["tool_calls"][0]["id"] == follow_up[-1]["tool_call_id"]


def test_two_parallel_calls_are_both_shown_and_both_answered(page, app_url, fake):
    open_app(page, app_url)
    send_message(page, "两个一起算 [[fake:parallel:393*285|2**10]]")
    wait_for_last_message(page, "结果：112005；1024")
    wait_idle(page)

    reply = open_steps(page, 2)
    codes = [c.strip() for c in reply.locator('[data-testid="stCode"]').all_inner_texts()]
    assert "112005" in codes and "1024" in codes, codes
    assert sum("393*285" in c for c in codes) == 1 and sum("2**10" in c for c in codes) == 1
    assert len(fake.requests()) == 2, "both calls were answered in one follow-up request"
    no_exception_shown(page)


def test_a_model_that_keeps_calling_ends_at_the_round_limit_with_its_message(page, app_url, fake):
    open_app(page, app_url)
    send_message(page, "[[fake:forever]]")
    notice = t("tools.note.round_limit", "zh", rounds=8)
    page.get_by_text(notice).first.wait_for(state="visible", timeout=45_000)
    wait_idle(page)
    assert helpers.wait_for(lambda: page.get_by_text(notice).count() == 1), "one notice on screen"
    assert len(fake.requests()) == 8
    assert page.locator(CHAT_MESSAGE).last.get_by_text(t("tools.steps", "zh", count=8)).is_visible()
    no_exception_shown(page)
