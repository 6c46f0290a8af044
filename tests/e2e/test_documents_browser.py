"""A Markdown file attached in Chromium through the chat input's own file input: read, sent before the
question, the note of its tokens under the message, the reply, and both still there after a reload.

AppTest cannot drive file attachments in `st.chat_input`: this is the proof for the UI.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e import helpers
from tests.e2e.helpers import CHAT_MESSAGE

PROBLEM = helpers.chromium_problem()
pytestmark = [pytest.mark.timeout(120), pytest.mark.skipif(bool(PROBLEM) and not helpers.in_ci(), reason=PROBLEM)]

FILE_INPUT = '[data-testid="stChatInput"] input[type="file"]'
NOTES = "# 会议纪要\n\n下周三上线新版本，负责人是林雪。\n".encode()


def test_an_attached_markdown_file_is_sent_with_the_question_and_its_tokens_are_noted(page, app_url, fake):
    started = time.monotonic()
    helpers.open_app(page, app_url)
    page.locator(FILE_INPUT).set_input_files({"name": "纪要.md", "mimeType": "text/markdown", "buffer": NOTES})
    page.locator('[data-testid="stChatInput"]').get_by_text("纪要.md").wait_for()
    helpers.send_message(page, "负责人是谁？")

    helpers.wait_for_last_message(page, "林雪")  # the fake echoes 收到： and everything it got: the file too
    helpers.wait_idle(page)
    user = page.locator(CHAT_MESSAGE).first
    note = user.get_by_text("📄 纪要.md")
    note.wait_for()
    assert "Token" in note.inner_text() and "负责人是谁？" in user.inner_text()
    reply = page.locator(CHAT_MESSAGE).last.inner_text()
    assert "收到：" in reply and "林雪" in reply  # the model got the file's text

    (request,) = [r for r in fake.requests() if r["path"].endswith("/chat/completions")]
    content = request["body"]["messages"][-1]["content"]
    assert content.startswith('<document name="纪要.md">') and content.endswith("负责人是谁？")

    page.wait_for_function("() => location.search.includes('c=')")
    page.reload(wait_until="domcontentloaded")
    page.locator(CHAT_MESSAGE).first.get_by_text("📄 纪要.md").wait_for()
    helpers.wait_idle(page)
    assert page.locator(CHAT_MESSAGE).count() == 2
    print(f"\ndocument browser test: {time.monotonic() - started:.1f} s")
