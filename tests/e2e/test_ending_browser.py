"""The end-of-conversation detector in a real browser: a farewell closes the chat, and both ways out work."""

from __future__ import annotations

import pytest

from . import helpers
from .conftest import require_chromium
from .helpers import CHAT_INPUT, chat_messages, open_app, send_message, wait_for_last_message, wait_idle

require_chromium()

pytestmark = pytest.mark.timeout(60)
FAREWELL = "感谢您的咨询，再见！"


def input_disabled(page) -> bool:
    return page.locator(CHAT_INPUT).is_disabled()


def test_a_farewell_closes_the_chat_keep_talking_reopens_and_new_conversation_starts_fresh(page, app_url, fake):
    open_app(page, app_url)
    send_message(page, "介绍一下西湖。")
    wait_for_last_message(page, "收到：介绍一下西湖。")
    wait_idle(page)

    send_message(page, "好的我知道了")
    wait_for_last_message(page, FAREWELL)
    wait_idle(page)
    assert len(fake.requests()) == 1, "the farewell must not call the model"
    assert input_disabled(page)
    assert page.get_by_text("对话已结束").first.is_visible()
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert "🔚 结束" in sidebar.inner_text()

    page.get_by_role("button", name="继续对话").click()
    page.wait_for_function(f"() => !document.querySelector('{CHAT_INPUT}').disabled")
    send_message(page, "那雷峰塔呢？")
    wait_for_last_message(page, "收到：那雷峰塔呢？")
    wait_idle(page)
    assert [m["text"] for m in chat_messages(page)][:4] == [
        "介绍一下西湖。", "收到：介绍一下西湖。", "好的我知道了", FAREWELL]
    sent = fake.requests()[-1]["body"]["messages"]
    assert [m["content"] for m in sent[1:]][:2] == ["介绍一下西湖。", "收到：介绍一下西湖。"]

    send_message(page, "bye")
    wait_for_last_message(page, FAREWELL)
    wait_idle(page)
    page.get_by_role("button", name="开始新对话").click()
    page.wait_for_function(f"() => !document.querySelector('{CHAT_INPUT}').disabled")
    wait_idle(page)
    assert chat_messages(page) == []
    send_message(page, "新的开始")
    wait_for_last_message(page, "收到：新的开始")
    assert [m["content"] for m in fake.requests()[-1]["body"]["messages"][1:]] == ["新的开始"]


def test_thanks_with_a_new_question_keeps_the_chat_open(page, app_url, fake):
    open_app(page, app_url)
    send_message(page, "谢谢，那尺码呢？")
    wait_for_last_message(page, "收到：谢谢，那尺码呢？")
    wait_idle(page)
    assert not input_disabled(page)
    assert helpers.VALID_KEY not in page.content()
