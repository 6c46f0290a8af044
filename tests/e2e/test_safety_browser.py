"""The shared app's safety in Chromium (issue 9): two tabs on one conversation lose nothing, and a model
request never follows a redirect.

Each test asserts what a user would notice, and what the fake servers received.
"""

from __future__ import annotations

import re
import urllib.parse

import pytest

from qwenchat.i18n import t

from . import helpers
from .conftest import require_chromium
from .helpers import (
    CHAT_MESSAGE,
    VALID_KEY,
    chat_messages,
    message_controls,
    open_app,
    send_message,
    wait_for_last_message,
    wait_idle,
)

require_chromium()

pytestmark = pytest.mark.timeout(120)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}


def talk(page, text: str) -> None:
    send_message(page, text)
    wait_for_last_message(page, f"收到：{text}")
    wait_idle(page)


def no_exception_shown(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, "a traceback is shown on the page"


def texts(page) -> list[str]:
    return [m["text"] for m in chat_messages(page)]


def test_two_tabs_on_one_conversation_both_messages_survive_a_reload(page, app_url, fake):
    open_app(page, app_url)
    talk(page, "我们聊聊旅行")
    page.wait_for_function("() => { const q = new URLSearchParams(location.search); return q.get('c') && q.get('o'); }")
    params = query(page.url)
    url = f"{app_url}/?{urllib.parse.urlencode({'c': params['c'], 'o': params['o']})}"

    other = page.context.new_page()  # a second tab of the same browser, on the same link
    other.set_default_timeout(15_000)
    open_app(other, url)
    wait_idle(other)
    assert texts(other) == ["我们聊聊旅行", "收到：我们聊聊旅行"], "the second tab did not open the conversation"

    talk(page, "第一个标签页：去杭州")
    talk(other, "第二个标签页：去成都")  # this tab never saw the first tab's turn
    no_exception_shown(page)
    no_exception_shown(other)
    assert other.get_by_text(re.compile("另一个标签页|another tab", re.IGNORECASE)).first.is_visible(), \
        "the second tab should say that the other tab changed the conversation too"

    for tab in (page, other):
        tab.reload(wait_until="domcontentloaded")
        tab.locator(CHAT_MESSAGE).nth(3).wait_for()
        wait_idle(tab)
        shown = texts(tab)
        assert shown[:2] == ["我们聊聊旅行", "收到：我们聊聊旅行"]
        assert len(shown) == 4, shown
        third = tab.locator(CHAT_MESSAGE).nth(2)
        switch = message_controls(third)
        assert re.search(r"\b[12]/2\b", switch), f"the two tabs' questions should be two branches: {switch!r}"

        # Both questions, each with its reply, one ‹ › click apart.
        seen = {tuple(shown[2:])}
        name = "previous" if "2/2" in switch else "next"
        third.locator(f'[class*="st-key-{name}_"] button:visible').first.click()
        tab.wait_for_function(
            """shown => {
                const all = document.querySelectorAll('[data-testid="stChatMessage"]');
                return all.length >= 3 && !all[2].innerText.includes(shown);
            }""", arg=shown[2])
        wait_idle(tab)
        seen.add(tuple(texts(tab)[2:]))
        assert seen == {("第一个标签页：去杭州", "收到：第一个标签页：去杭州"),
                        ("第二个标签页：去成都", "收到：第二个标签页：去成都")}, seen
        no_exception_shown(tab)
    other.close()


@pytest.fixture
def second_server():
    """A second local server: where a redirect would send the request, and must not."""
    from tests.fake_dashscope import FakeDashScope

    with FakeDashScope(api_key=None) as server:
        yield server


def test_a_custom_url_that_redirects_is_not_followed_and_the_chat_says_so(page, app_url, fake, second_server):
    open_app(page, app_url)
    helpers.go_to_page(page, t("page.settings", "zh"), "/settings", ".st-key-region")
    settings = page.get_by_test_id("stMain")
    helpers.choose_option(page, settings.locator(".st-key-region"), re.compile("Custom URL|自定义"))
    base_url = settings.locator(".st-key-custom_base_url input")
    base_url.fill(fake.base_url)
    base_url.press("Enter")
    wait_idle(page)
    key_box = settings.locator(".st-key-api_key_input input")
    key_box.fill(VALID_KEY)  # the visitor's own key (the one the fake accepts), typed on the settings page
    key_box.press("Enter")
    settings.get_by_text(re.compile(r"Key[:：]\s*(设置页|Settings page)")).wait_for()
    wait_idle(page)
    helpers.go_to_page(page, t("page.chat", "zh"), "/", helpers.CHAT_INPUT)

    target = f"{second_server.base_url}/chat/completions"
    fake.enqueue({"kind": "redirect", "location": target, "status": 307})
    question = "这条消息不能被转发"
    send_message(page, question)
    alert = page.locator(f'{CHAT_MESSAGE} [data-testid="stAlert"]')
    alert.first.wait_for()  # the streamed reply's alert, then the same one redrawn by the run after it
    wait_idle(page)
    assert helpers.wait_for(lambda: alert.count() == 1), "one error on screen"

    text = alert.inner_text()
    assert t("error.redirect", "zh") in text, text  # the UI's language, 中文 here
    no_exception_shown(page)
    assert texts(page)[0] == question, "the question stays in the chat"

    sent = fake.requests()
    assert len(sent) == 1, "the redirect was retried"
    assert sent[0]["authorization"] == f"Bearer {VALID_KEY}", "the request did not use the typed key"
    assert second_server.requests == [] and second_server.model_requests == [], \
        "the redirect was followed: the second server received the request"
