"""The tool switches and the steps on the chat page, driven by AppTest against the fake DashScope."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from qwenchat.i18n import t
from tests.apptest import TIMEOUT, on_chat, on_settings, send, start


def tools_sent(fake) -> list[str]:
    return [tool["function"]["name"] for tool in fake.requests[-1]["body"].get("tools", [])]


def test_a_tool_switched_off_is_not_offered_to_the_model(app_env, fake):
    at = start()
    on_settings(at).toggle(key="tool_calculator").set_value(False).run()
    on_chat(at)
    send(at, "几点了？")
    assert tools_sent(fake) == ["current_time"]


def test_the_operator_can_offer_no_tools_at_all(app_env, fake):
    app_env.setenv("QWENCHAT_TOOLS", "none")
    at = start()
    on_settings(at)
    assert not [w for w in at.toggle if w.key.startswith("tool_")]
    assert t("tools.none_offered", "zh") in [c.value for c in at.caption]
    on_chat(at)
    send(at, "你好")
    assert "tools" not in fake.requests[-1]["body"]


def test_a_model_without_function_calling_says_so_and_chats_without_tools(app_env, fake):
    at = start()
    at.sidebar.selectbox(key="model_choice").set_value("qwen-vl-plus").run()
    on_settings(at)
    assert t("tools.unsupported", "zh", model="qwen-vl-plus") in [c.value for c in at.caption]
    assert at.toggle(key="tool_calculator").disabled
    on_chat(at)
    send(at, "你好")
    assert "tools" not in fake.requests[-1]["body"] and not at.error


def test_the_steps_and_the_answer_are_on_the_page_after_the_turn(app_env, fake):
    at = start()
    send(at, "393 × 285 [[fake:calc:393*285]]")
    reply = at.chat_message[-1]
    assert reply.expander[0].label == t("tools.steps", "zh", count=1)
    assert [c.value for c in reply.expander[0].code] == ['{"expression": "393*285"}', "112005"]
    assert "结果：112005" in [md.value for md in reply.markdown]


def test_the_round_limit_notice_stays_with_the_reply(app_env, fake):
    app_env.setenv("QWENCHAT_MAX_TOOL_ROUNDS", "2")
    at = start()
    send(at, "[[fake:forever]]")
    assert len(fake.requests) == 2
    assert t("tools.note.round_limit", "zh", rounds=2) in [c.value for c in at.chat_message[-1].caption]


def test_a_failed_attempt_that_is_retried_leaves_no_error_box_by_the_answer():
    # A 400 to a request with tools is retried without them: the first attempt's "bad request" box was painted
    # and stayed next to the answer as it streamed, and after it
    def script():
        from components.chat_view import _Pace, paint_turn
        from qwenchat.chat.events import ReplyEnded, ReplyProgress, ReplyStarted
        from qwenchat.conversation import Message

        message = Message("assistant", "", status="streaming")

        def events():
            message.status, message.error = "failed", "bad_request"
            yield ReplyProgress(message)
            message.status, message.error, message.content = "streaming", "", "收到："
            yield ReplyProgress(message)
            message.status, message.content = "complete", "收到：你好"
            yield ReplyEnded(message)

        paint_turn(ReplyStarted(message), events(), _Pace())

    at = AppTest.from_function(script, default_timeout=TIMEOUT).run()
    assert not at.exception and not at.error
    assert "收到：你好" in [md.value for md in at.markdown]


def test_the_silent_retry_of_a_400_to_tools_ends_with_the_answer_and_no_error_on_the_page(app_env, fake):
    fake.enqueue({"kind": "error", "code": "bad_request"})
    at = start()
    send(at, "你好")
    assert "tools" in fake.requests[-2]["body"] and "tools" not in fake.requests[-1]["body"]
    assert not at.error and "收到：你好" in [md.value for md in at.chat_message[-1].markdown]
