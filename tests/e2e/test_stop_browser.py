"""Stop while a reply streams: the part received stays, marked stopped, and is saved."""

from __future__ import annotations

import pytest

from .conftest import require_chromium
from .helpers import CHAT_INPUT, chat_messages, open_app, send_message, wait_for_last_message, wait_idle

require_chromium()

pytestmark = pytest.mark.timeout(60)
STOP = '[data-testid="stChatInputStopButton"]'


def test_stop_keeps_the_partial_reply_marked_stopped_and_the_next_turn_carries_it(page, app_url, fake):
    open_app(page, app_url)
    send_message(page, "慢慢说 [[fake:slow:60]]")
    page.wait_for_function("() => document.body.innerText.includes('片段3')")
    page.locator(STOP).click()
    page.wait_for_function(f"() => !document.querySelector('{CHAT_INPUT}').disabled")
    wait_idle(page)

    send_message(page, "继续")  # the next run draws the stopped reply from the conversation
    wait_for_last_message(page, "收到：继续")
    wait_idle(page)
    shown = chat_messages(page)
    stopped = shown[1]["text"]
    assert "片段3" in stopped and "片段59" not in stopped
    assert "已停止" in page.locator('[data-testid="stChatMessage"]').nth(1).inner_text()
    sent = fake.requests()[-1]["body"]["messages"]
    assert sent[2]["role"] == "assistant" and sent[2]["content"].startswith("片段0 片段1 片段2 片段3")
