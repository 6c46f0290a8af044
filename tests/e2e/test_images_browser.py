"""An image attached in Chromium: chosen through the chat input's own file input, refused politely by a
model that cannot see, answered by the vision model it offers, shown as a thumbnail, sent as an image part,
and still there after a reload.

AppTest cannot drive file attachments in `st.chat_input`: this is the proof for the UI.
"""

from __future__ import annotations

import base64
import io
import time

import pytest

from tests.e2e import helpers
from tests.e2e.helpers import CHAT_MESSAGE

PROBLEM = helpers.chromium_problem()
pytestmark = [pytest.mark.timeout(120), pytest.mark.skipif(bool(PROBLEM) and not helpers.in_ci(), reason=PROBLEM)]

FILE_INPUT = '[data-testid="stChatInput"] input[type="file"]'
THUMBNAIL = '[data-testid="stImage"] img'


def red_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (220, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_an_attached_png_is_offered_to_the_vision_model_sent_as_an_image_part_and_kept_after_a_reload(
        page, app_url, fake):
    started = time.monotonic()
    helpers.open_app(page, app_url)
    page.locator(FILE_INPUT).set_input_files(
        {"name": "red.png", "mimeType": "image/png", "buffer": red_png()})
    # Streamlit shows the attachment in the input before sending.
    page.locator('[data-testid="stChatInput"]').get_by_text("red.png").wait_for()
    helpers.send_message(page, "这张图是什么颜色？")

    # The default model (qwen-plus) cannot see: nothing is sent, the text is kept, the vision model offered.
    offer = page.get_by_role("button", name="👁 用 qwen-vl-plus 回答")
    offer.wait_for()
    assert "qwen-plus" in page.locator('[data-testid="stAlert"]').first.inner_text()
    assert [r for r in fake.requests() if r["path"].endswith("/chat/completions")] == []
    offer.click()

    helpers.wait_for_last_message(page, "收到：这张图是什么颜色？")
    helpers.wait_idle(page)
    user = page.locator(CHAT_MESSAGE).first
    user.locator(THUMBNAIL).wait_for()
    assert "这张图是什么颜色？" in user.inner_text()

    (request,) = [r for r in fake.requests() if r["path"].endswith("/chat/completions")]
    assert request["body"]["model"] == "qwen-vl-plus"
    content = request["body"]["messages"][-1]["content"]
    assert [p["type"] for p in content] == ["image_url", "text"]
    url = content[0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as sent:
        assert sent.size == (300, 200) and sent.getpixel((10, 10))[:3] == (220, 30, 30)

    page.wait_for_function("() => location.search.includes('c=')")
    page.reload(wait_until="domcontentloaded")
    page.locator(CHAT_MESSAGE).first.locator(THUMBNAIL).wait_for()
    helpers.wait_idle(page)
    assert page.locator(CHAT_MESSAGE).count() == 2
    print(f"\nimage browser test: {time.monotonic() - started:.1f} s")
