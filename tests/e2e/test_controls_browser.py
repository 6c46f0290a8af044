"""The chat controls in Chromium (issue 10): regenerate, edit and resend, personas, the language switch, and a
local OpenAI-compatible server that needs no key.

Each test asserts what a user would notice on the page, and what the fake server received.
"""

from __future__ import annotations

import re
import urllib.parse

import pytest

from qwenchat.conversation import DEFAULT_SYSTEM_PROMPT
from qwenchat.personas import builtin

from . import helpers
from .conftest import require_chromium
from .helpers import (
    CHAT_MESSAGE,
    chat_messages,
    message_controls,
    open_app,
    send_message,
    wait_for_last_message,
    wait_idle,
)

require_chromium()

pytestmark = pytest.mark.timeout(90)


def request_messages(fake) -> list[list[tuple[str, str]]]:
    """(role, content) of every message of every chat request the fake server received, in order."""
    return [[(m["role"], m["content"]) for m in r["body"]["messages"]] for r in fake.requests()]


def control(message, name: str):
    """One of a message's small buttons, by its key's prefix (`regenerate`, `previous`, `next`, `edit`, ...)."""
    return message.locator(f'[class*="st-key-{name}_"] button:visible').first


def talk(page, text: str, reply: str | None = None) -> None:
    send_message(page, text)
    wait_for_last_message(page, reply or f"收到：{text}")
    wait_idle(page)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}


def no_exception_shown(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, "a traceback is shown on the page"


def test_regenerate_sends_the_same_history_and_shows_the_new_reply_as_2_of_2(page, app_url, fake):
    open_app(page, app_url)
    talk(page, "讲个关于杭州的笑话")
    fake.enqueue({"kind": "text", "chunks": ["换一个：", "西湖的鱼", "都很淡定。"]})

    control(page.locator(CHAT_MESSAGE).last, "regenerate").click()
    wait_for_last_message(page, "西湖的鱼都很淡定。")
    wait_idle(page)

    assert [m["text"] for m in chat_messages(page)] == ["讲个关于杭州的笑话", "换一个：西湖的鱼都很淡定。"], \
        "the new reply should replace the old one on screen, not be added under it"
    reply = page.locator(CHAT_MESSAGE).last
    assert "2/2" in message_controls(reply)
    no_exception_shown(page)

    sent = request_messages(fake)
    assert len(sent) == 2, "regenerate should send exactly one more request"
    assert sent[1] == sent[0], "regenerate should send the same history again"
    assert sent[0][-1] == ("user", "讲个关于杭州的笑话")

    # The first reply is still there, one click away.
    control(reply, "previous").click()
    wait_for_last_message(page, "收到：讲个关于杭州的笑话")
    wait_idle(page)
    assert "1/2" in message_controls(page.locator(CHAT_MESSAGE).last)
    assert len(fake.requests()) == 2, "switching versions must not call the model"


def test_edit_and_resend_sends_the_edited_text_and_not_the_old_one(page, app_url, fake):
    open_app(page, app_url)
    talk(page, "北京有几个机场？")
    talk(page, "哪个离市区近？")

    first_question = page.locator(CHAT_MESSAGE).first
    control(first_question, "edit").click()
    box = first_question.locator("textarea")
    box.wait_for()
    box.fill("上海有几个机场？")
    first_question.locator('[data-testid="stForm"]').get_by_role(
        "button", name=re.compile("发送|Send")).click()
    wait_for_last_message(page, "收到：上海有几个机场？")
    wait_idle(page)

    assert [m["text"] for m in chat_messages(page)] == ["上海有几个机场？", "收到：上海有几个机场？"], \
        "after an edit the chat shows the edited branch only"
    assert "2/2" in message_controls(page.locator(CHAT_MESSAGE).first)
    no_exception_shown(page)

    sent = request_messages(fake)
    assert len(sent) == 3
    assert sent[2][1:] == [("user", "上海有几个机场？")], "the edited question goes alone, from where it was"
    assert not any("北京" in content or "哪个离市区近" in content for _, content in sent[2])

    # The old branch is kept, with its second turn.
    control(page.locator(CHAT_MESSAGE).first, "previous").click()
    wait_for_last_message(page, "收到：哪个离市区近？")
    wait_idle(page)
    assert [m["text"] for m in chat_messages(page)][0] == "北京有几个机场？"
    assert len(fake.requests()) == 3


def test_a_persona_s_system_prompt_is_the_first_message_of_the_next_request(page, app_url, fake):
    nutritionist = builtin("nutritionist")
    assert nutritionist is not None and nutritionist.name_zh == "营养师"
    open_app(page, app_url)
    talk(page, "你好")

    page.wait_for_function("() => new URLSearchParams(location.search).get('c')")
    conversation_id = query(page.url)["c"]
    persona = page.get_by_test_id("stSidebar").locator(f".st-key-persona_{conversation_id}")
    helpers.choose_option(page, persona, "营养师")
    wait_idle(page)
    assert persona.get_by_role("combobox").input_value() == "营养师"

    talk(page, "早餐吃什么比较好？")
    no_exception_shown(page)
    sent = request_messages(fake)
    assert len(sent) == 2
    assert sent[0][0] == ("system", DEFAULT_SYSTEM_PROMPT), "the persona applies from the next turn, not before"
    assert sent[1][0] == ("system", nutritionist.prompt)
    assert sent[1][1:] == [("user", "你好"), ("assistant", "收到：你好"), ("user", "早餐吃什么比较好？")]
