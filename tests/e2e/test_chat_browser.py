"""The chat in a real browser (Debian's Chromium under Playwright) against the fake DashScope server.

Each test asserts what a user would notice: the reply streaming into a chat message, a reset that really
forgets, an error that explains itself, a hostile reply that stays text, and a key that never reaches
the page. One test also refreshes docs/screenshot.png for the README.
"""

from __future__ import annotations

import pytest

from qwenchat.i18n import t

from . import helpers
from .conftest import require_chromium
from .helpers import CHAT_MESSAGE, VALID_KEY, chat_messages, open_app, send_message, wait_for_last_message, wait_idle

require_chromium()  # the whole module: skip here, or fail under CI, when Chromium is missing

pytestmark = pytest.mark.timeout(60)

SCREENSHOT = helpers.REPO_ROOT / "docs" / "screenshot.png"
ARTIFACT_SCREENSHOT = helpers.REPO_ROOT / "test-artifacts" / "screenshot-without-cjk-font.png"


def request_messages(fake: helpers.FakeServer) -> list[list[tuple[str, str]]]:
    """(role, content) of every message in every chat request the fake server received, in order."""
    return [[(m["role"], m["content"]) for m in r["body"]["messages"]] for r in fake.requests()]


def chunks_of(text: str, size: int = 3) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def no_exception_shown(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, "a traceback is shown on the page"


def test_two_turns_stream_and_the_second_request_carries_the_first_turn(page, app_url, fake):
    open_app(page, app_url)

    send_message(page, "你好，千问")
    wait_for_last_message(page, "收到：你好，千问")
    wait_idle(page)

    # The second reply arrives over two seconds: it must be seen growing, not only appear at the end.
    send_message(page, "再说一点 [[fake:slow:20]]")
    page.wait_for_function(
        """() => {
            const all = document.querySelectorAll('[data-testid="stChatMessage"]');
            const text = all[all.length - 1].innerText;
            return text.includes('片段3') && !text.includes('片段19');
        }""")
    wait_for_last_message(page, "片段19")
    wait_idle(page)

    shown = chat_messages(page)
    assert [m["role"] for m in shown] == ["user", "assistant", "user", "assistant"]
    assert shown[0]["text"] == "你好，千问"
    assert shown[1]["text"] == "收到：你好，千问"
    assert "▌" not in shown[3]["text"], "the streaming cursor stayed after the reply ended"
    no_exception_shown(page)

    sent = request_messages(fake)
    assert len(sent) == 2
    assert [role for role, _ in sent[0]] == ["system", "user"]
    assert sent[1][1:] == [("user", "你好，千问"), ("assistant", "收到：你好，千问"),
                           ("user", "再说一点 [[fake:slow:20]]")]


def test_reset_clears_the_chat_and_the_next_request_has_no_old_turn(page, app_url, fake):
    open_app(page, app_url)
    send_message(page, "记住暗号：蓝鲸")
    wait_for_last_message(page, "收到：记住暗号：蓝鲸")
    wait_idle(page)

    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("button", name="重置对话").click()  # the browser is zh-CN: the UI is in Chinese
    page.locator(CHAT_MESSAGE).first.wait_for(state="detached")
    wait_idle(page)
    assert page.locator(CHAT_MESSAGE).count() == 0
    assert page.get_by_text("你好！我是通义千问").is_visible()

    send_message(page, "暗号是什么？")
    wait_for_last_message(page, "收到：暗号是什么？")
    wait_idle(page)
    assert [m["text"] for m in chat_messages(page)] == ["暗号是什么？", "收到：暗号是什么？"]

    sent = request_messages(fake)
    assert len(sent) == 2
    after_reset = sent[-1]
    assert [role for role, _ in after_reset] == ["system", "user"]
    assert after_reset[-1] == ("user", "暗号是什么？")
    assert not any("蓝鲸" in content for _, content in after_reset)


def test_invalid_key_shows_a_clear_message_keeps_the_question_and_offers_retry(page, app_url, fake):
    open_app(page, app_url)
    question = "你好 [[fake:invalid_api_key]]"
    send_message(page, question)

    alert = page.locator(f'{CHAT_MESSAGE} [data-testid="stAlert"]')
    alert.first.wait_for(state="visible")  # the streamed reply's alert, then the same one redrawn by the next run
    wait_idle(page)
    assert helpers.wait_for(lambda: alert.count() == 1), "one error on screen"
    text = alert.inner_text()
    assert t("error.invalid_key", "zh") in text and "地域" in text, text  # in the UI's language, 中文 here
    no_exception_shown(page)

    shown = chat_messages(page)
    assert shown[0] == {"role": "user", "text": question}
    assert len(shown) == 2

    retry = page.get_by_role("button", name=t("chat.retry", "zh"))
    assert retry.is_visible()
    retry.click()
    assert helpers.wait_for(lambda: len(fake.requests()) == 2), "Retry did not send the question again"
    wait_idle(page)  # the retry's own reply replaces the failed one on screen (which stays as version 1/2)
    assert helpers.wait_for(lambda: alert.count() == 1), "one error on screen after the retry"
    assert request_messages(fake)[1][-1] == ("user", question)
    assert [m["role"] for m in chat_messages(page)] == ["user", "assistant"], "Retry duplicated a message"
    no_exception_shown(page)


def test_an_xss_payload_in_a_reply_stays_inert_text(page, app_url, fake):
    open_app(page, app_url)
    send_message(page, "[[fake:xss]]")
    wait_for_last_message(page, "bold?")
    wait_idle(page)
    page.wait_for_timeout(500)  # an <img onerror> would fire asynchronously, after its failed load

    assert page.evaluate("() => typeof window.__xss") == "undefined"
    reply = page.locator(CHAT_MESSAGE).last
    assert page.evaluate(
        "() => [...document.scripts].filter(s => s.textContent.includes('__xss')).length") == 0
    assert page.locator("[onerror]").count() == 0
    assert reply.locator("script, img, b").count() == 0, "HTML from the reply became elements"
    hrefs = reply.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href') || '')")
    assert not any(href.strip().lower().startswith("javascript:") for href in hrefs), hrefs

    text = reply.inner_text()
    assert "Here:" in text and "a link" in text and "bold?" in text
    assert "<script>window.__xss=1</script>" in text, "the markup should be shown as text"

    # The check itself can see an attack: the same payload injected as raw HTML does fire.
    page.evaluate("""html => {
        const probe = document.createElement('div');
        probe.innerHTML = html;
        document.body.appendChild(probe);
    }""", "<img src=x onerror=\"window.__xss=2\">")
    page.wait_for_function("() => window.__xss === 2", timeout=5_000)


def test_no_image_form_in_a_message_makes_the_browser_load_it(page, app_url, fake):
    # The echo puts the same Markdown in the reply: both bubbles must show links, never <img>.
    open_app(page, app_url)
    payload = ("![line1\nline2](http://127.0.0.1:9/exfil1.png) and ![a [b] c](http://127.0.0.1:9/exfil2.png) "
               "and ![x][r] and !![y](http://127.0.0.1:9/exfil4.png) end\n\n[r]: http://127.0.0.1:9/exfil3.png")
    send_message(page, payload)
    wait_for_last_message(page, "end")
    wait_idle(page)
    messages = page.locator(CHAT_MESSAGE)
    assert messages.count() == 2
    assert messages.locator("img").count() == 0, "an image in a message became an <img>"
    assert messages.last.locator("a").count() >= 4, "each image should be a link the user may follow"


def test_the_api_key_never_reaches_the_page(page, app_url, fake, received_frames):
    open_app(page, app_url)
    send_message(page, "你好")
    wait_for_last_message(page, "收到：你好")
    wait_idle(page)

    assert any("收到：你好".encode() in frame for frame in received_frames), \
        "no websocket frame carried the reply: the recording is not watching the app's stream"
    assert VALID_KEY not in page.content()
    assert not any(VALID_KEY.encode() in frame for frame in received_frames)

    # A visitor's own key, sent to the fake server through a custom URL (never to a real region).
    typed_key = "sk-typed-by-a-visitor-5e6f7a8b9c0d"
    helpers.go_to_page(page, t("page.settings", "zh"), "/settings", ".st-key-region")
    settings = page.get_by_test_id("stMain")
    helpers.choose_option(page, settings.get_by_test_id("stSelectbox").filter(has_text=t("settings.region", "zh")),
                          t("settings.custom_url", "zh"))
    base_url = settings.get_by_role("textbox", name="Base URL")
    base_url.fill(fake.base_url)
    base_url.press("Enter")
    wait_idle(page)
    key_box = settings.get_by_role("textbox", name="DashScope API Key")
    key_box.fill(typed_key)
    key_box.press("Enter")
    settings.get_by_text(t("settings.key_from", "zh", source=t("settings.key_source.sidebar", "zh"))).wait_for()
    wait_idle(page)
    helpers.go_to_page(page, t("page.chat", "zh"), "/", CHAT_MESSAGE)  # the key and URL apply in the chat
    page.get_by_test_id("stSidebar").get_by_text(
        t("settings.key_from", "zh", source=t("settings.key_source.sidebar", "zh"))).wait_for()

    send_message(page, "用我自己的 Key")
    page.locator(f'{CHAT_MESSAGE} [data-testid="stAlert"]').first.wait_for()  # the fake accepts only VALID_KEY
    wait_idle(page)
    assert fake.requests()[-1]["authorization"] == f"Bearer {typed_key}", "the typed key was not used"
    no_exception_shown(page)

    assert not any(typed_key.encode() in frame for frame in received_frames)
    assert not any(VALID_KEY.encode() in frame for frame in received_frames)


def test_screenshot_of_a_short_chinese_conversation(page, app_url, fake):
    """Refreshes docs/screenshot.png for the README (only where a Chinese font is installed)."""
    fake.enqueue({"kind": "text", "chunks": chunks_of(
        "杭州是浙江省的省会，以**西湖**闻名，也是阿里巴巴和通义千问的家乡。")})
    fake.enqueue({"kind": "text", "chunks": chunks_of(
        "推荐三道杭帮菜：\n\n1. **西湖醋鱼**：酸甜鲜嫩；\n2. **龙井虾仁**：用龙井茶清炒虾仁；\n"
        "3. **东坡肉**：肥而不腻，入口即化。")})
    open_app(page, app_url)
    send_message(page, "用一句话介绍一下杭州。")
    wait_for_last_message(page, "家乡")
    wait_idle(page)
    send_message(page, "那里有什么好吃的？")
    wait_for_last_message(page, "入口即化")
    wait_idle(page)
    no_exception_shown(page)
    assert page.get_by_test_id("stSidebar").is_visible()

    page.mouse.move(1270, 400)  # no hover highlight in the picture
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.wait_for_timeout(300)
    target = SCREENSHOT if helpers.has_cjk_font() else ARTIFACT_SCREENSHOT
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target))
    assert target.stat().st_size > 10_000
