"""A shared app: the access code, BYOK mode, quotas and bad input, driven with AppTest."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import APP, PAGES, on_chat, on_settings, send, start
from tests.fake_dashscope import VALID_KEY, FakeDashScope

CODE = "open-sesame-2026"


def replies(at: AppTest) -> list[str]:
    return ["\n".join(md.value for md in m.markdown) for m in at.chat_message if m.name == "assistant"]


def test_the_access_code_guards_the_chat(app_env, fake):
    app_env.setenv("APP_ACCESS_CODE", CODE)
    at = start()
    assert not at.chat_input and "访问码" in at.markdown[0].value + at.title[0].value + " ".join(
        t.label for t in at.text_input)
    at.text_input(key="access_code_input").input("wrong")
    at.button[0].click().run()  # the form's submit button
    assert "不正确" in at.error[0].value and CODE not in str(at.error[0].value)
    at.text_input(key="access_code_input").input(CODE)
    at.button[0].click().run()
    assert at.chat_input(key="chat_input")
    send(at, "你好")
    assert replies(at) == ["收到：你好"]


def test_five_wrong_codes_make_the_visitor_wait_even_for_the_right_one(app_env):
    app_env.setenv("APP_ACCESS_CODE", CODE)
    at = start()
    for _ in range(5):
        at.text_input(key="access_code_input").input("guess")
        at.button[0].click().run()
    at.text_input(key="access_code_input").input(CODE)
    at.button[0].click().run()
    assert "秒后再试" in at.error[0].value
    assert not at.chat_input


def test_byok_mode_never_uses_the_operators_key(app_env, fake):
    app_env.setenv("QWENCHAT_BYOK", "1")
    at = start()
    assert at.chat_input(key="chat_input").disabled  # the operator's key is there, but not for visitors
    on_settings(at).text_input(key="api_key_input").input(VALID_KEY).run()
    at.selectbox(key="region").select("custom").run()
    at.text_input(key="custom_base_url").input(fake.base_url).run()
    on_chat(at)
    send(at, "我自己的 Key")
    assert replies(at) == ["收到：我自己的 Key"]


def test_the_message_quota_stops_requests_and_keeps_the_text(app_env, fake):
    app_env.setenv("QWENCHAT_MAX_MESSAGES_PER_SESSION", "2")
    at = start()
    send(at, "一")
    send(at, "二")
    send(at, "三")
    assert len(fake.requests) == 2
    assert "上限" in at.warning[0].value
    assert at.code[0].value == "三"
    progress = [p for p in at.sidebar.get("progress")]
    assert any("2 / 2" in str(p.proto) for p in progress)


def test_a_reset_does_not_reset_the_quota(app_env, fake):
    app_env.setenv("QWENCHAT_MAX_MESSAGES_PER_SESSION", "1")
    at = start()
    send(at, "一")
    at.sidebar.button(key="reset").click().run()
    send(at, "二")
    assert len(fake.requests) == 1 and "上限" in at.warning[0].value


def test_a_typed_key_does_not_lift_the_limits_of_the_operators_keyless_server(app_env):
    # Found in review: any key typed on Settings made the operator's own local server limitless.
    with FakeDashScope(api_key=None) as local:
        app_env.delenv("DASHSCOPE_API_KEY")
        app_env.delenv("QWENCHAT_PROVIDER")
        app_env.setenv("DASHSCOPE_BASE_URL", local.base_url)
        app_env.setenv("QWENCHAT_MAX_MESSAGES_PER_SESSION", "1")
        at = start()
        send(at, "一")
        on_settings(at).text_input(key="api_key_input").input("junk").run()
        on_chat(at)
        send(at, "二")
        assert len(local.requests) == 1 and "上限" in at.warning[0].value
        assert at.code[0].value == "二"  # the refused message is kept


def test_the_operators_server_spelled_another_way_in_settings_keeps_its_limits(app_env):
    # The second review: the operator's own server under another name counted as the visitor's.
    with FakeDashScope(api_key=None) as local:
        app_env.delenv("DASHSCOPE_API_KEY")
        app_env.delenv("QWENCHAT_PROVIDER")
        app_env.setenv("DASHSCOPE_BASE_URL", local.base_url)
        app_env.setenv("QWENCHAT_MAX_MESSAGES_PER_SESSION", "1")
        at = start()
        send(at, "一")
        on_settings(at).text_input(key="api_key_input").input("junk").run()
        at.selectbox(key="region").select("custom").run()
        at.text_input(key="custom_base_url").input(local.base_url.replace("127.0.0.1", "localhost")).run()
        on_chat(at)
        send(at, "二")
        assert len(local.requests) == 1 and "上限" in at.warning[0].value


def test_the_token_quota_uses_the_apis_usage(app_env, fake):
    app_env.setenv("QWENCHAT_MAX_TOKENS_PER_SESSION", "100")
    app_env.setenv("QWENCHAT_MAX_OUTPUT_TOKENS", "5")  # each request reserves its prompt plus this
    app_env.setenv("QWENCHAT_TOOLS", "none")  # their schemas alone would be over this tiny quota
    at = start()
    fake.enqueue({"kind": "text", "chunks": ["好"], "usage": {"prompt_tokens": 90, "completion_tokens": 20,
                                                             "total_tokens": 110}})
    send(at, "一")
    send(at, "二")
    assert len(fake.requests) == 1 and "Token" in at.warning[0].value


def test_a_long_paste_is_refused_with_the_limit_and_kept(app_env, fake):
    app_env.setenv("QWENCHAT_MAX_CHARS_PER_MESSAGE", "100")
    at = start()
    send(at, "字" * 101)
    assert not fake.requests and "100" in at.warning[0].value and at.code[0].value == "字" * 101


@pytest.mark.parametrize("text", [
    "\u200b\u200b",                             # only zero-width spaces: blank
    "hi\x00\x07 there\u202e",                   # control characters and a right-to-left override
    # A lone surrogate cannot arrive through the chat input (the browser sends UTF-8, which cannot hold
    # one); the core's handling of it is in tests/test_sanitize.py and tests/test_properties.py.
    "👨‍👩‍👧‍👦" * 500,                             # long emoji ZWJ sequences
    ">" * 3000 + " deep",                       # Markdown nesting bomb
    "| a | b |\n|---|---|\n" + "| 1 | 2 |\n" * 10_000,  # a 10,000-row table
])
def test_bad_input_never_crashes_or_loses_the_message(app_env, fake, text):
    app_env.setenv("QWENCHAT_MAX_CHARS_PER_MESSAGE", "0")  # let the bombs through to the chat
    at = start()
    send(at, text)
    shown = [m for m in at.chat_message if m.name == "user"] or [c for c in at.code if c.value.strip() == text.strip()]
    if text.strip("\u200b"):
        assert shown, "the message was lost"
        if fake.requests:
            sent = fake.requests[-1]["body"]["messages"][-1]["content"]
            sent.encode("utf-8")  # what went out is valid UTF-8
            assert "\u202e" not in sent and "\x00" not in sent
            assert replies(at)[-1].startswith("收到：")
        else:  # the 10,000-row table is larger than the context budget: said so, not sent, kept to copy
            assert "预算" in at.warning[0].value
    else:
        assert "空" in at.warning[0].value and not fake.requests


def test_a_1mb_paste_is_refused_cleanly(app_env, fake):
    at = start()
    send(at, "x" * 1_000_000)
    assert not fake.requests and at.warning and not at.exception


def test_every_page_is_behind_the_access_code(app_env):
    app_env.setenv("APP_ACCESS_CODE", CODE)
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.run()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, page
        assert at.text_input(key="access_code_input"), f"{page} is open without the code"
        assert not at.metric and not at.dataframe and not at.chat_input, page


def test_a_visitor_cannot_point_the_server_at_its_own_network(app_env, fake):
    app_env.delenv("QWENCHAT_ALLOW_PRIVATE_URLS")
    with FakeDashScope() as internal:  # stands for a service on the server's own network
        at = start()
        on_settings(at).text_input(key="api_key_input").input(VALID_KEY).run()
        at.selectbox(key="region").select("custom").run()
        at.text_input(key="custom_base_url").input(internal.base_url).run()
        assert "不能使用" in at.error[0].value
        on_chat(at)
        send(at, "探测内网")
        assert not internal.requests
        assert fake.requests  # it went to the app's own endpoint instead
