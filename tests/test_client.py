"""The client's stream of typed events, against the fake DashScope server through the real openai client."""

from __future__ import annotations

import pytest

from qwenchat import errors
from qwenchat.client import Failed, Finished, Heartbeat, QwenClient, ReasoningDelta, TextDelta, UsageReport
from qwenchat.config import Settings
from tests.fake_dashscope import VALID_KEY, FakeDashScope, split_pairs

HELLO = [{"role": "user", "content": "你好"}]


@pytest.fixture(scope="module")
def fake():
    with FakeDashScope() as server:
        yield server


@pytest.fixture(autouse=True)
def clean(fake):
    fake.reset()


def client_for(fake, key: str = VALID_KEY, **kwargs) -> QwenClient:
    return QwenClient(Settings(api_key=key, base_url=fake.base_url), max_retries=0, **kwargs)


def without_heartbeats(events):
    return [e for e in events if not isinstance(e, Heartbeat)]


def events_for(fake, messages=HELLO, model="qwen-plus", **kwargs):
    return without_heartbeats(client_for(fake).stream_chat(messages, model=model, **kwargs))


def text_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def test_a_reply_streams_as_text_then_usage_then_finished(fake):
    events = events_for(fake)
    assert text_of(events) == "收到：你好"
    assert [type(e) for e in events[-2:]] == [UsageReport, Finished]
    usage = events[-2].usage
    assert usage == fake_usage(fake)
    assert events[-1].reason == "stop"


def fake_usage(fake):
    raw = fake.usages[-1]
    from qwenchat.client import usage_from
    return usage_from(raw)


def test_request_asks_for_streamed_usage_and_sends_the_history(fake):
    history = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "a"},
               {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]
    events_for(fake, history)
    body = fake.requests[-1]["body"]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == history
    assert fake.requests[-1]["authorization"] == f"Bearer {VALID_KEY}"


def test_usage_chunk_with_empty_choices_and_null_content_are_handled(fake):
    fake.enqueue({"kind": "text", "reasoning": ["想", "一想"], "chunks": ["答", "案"]})
    events = events_for(fake, model="qwq-plus", thinking=True)
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["想", "一想"]
    assert text_of(events) == "答案"
    assert events[-2].usage.completion_tokens == 4
    assert events[-2].usage.reasoning_tokens == 2


def test_thinking_flag_is_sent_only_where_it_means_something(fake):
    events_for(fake, model="qwen-plus", thinking=True)
    assert fake.requests[-1]["body"]["enable_thinking"] is True
    events_for(fake, model="qwen-plus", thinking=False)
    assert "enable_thinking" not in fake.requests[-1]["body"]
    events_for(fake, model="qwq-plus", thinking=False)  # always thinks: false would be a 400
    assert "enable_thinking" not in fake.requests[-1]["body"]
    events_for(fake, model="qwen3.6-plus", thinking=False)  # thinks by default: false must be sent
    assert fake.requests[-1]["body"]["enable_thinking"] is False


@pytest.mark.parametrize("code, kind", [
    ("invalid_api_key", errors.INVALID_KEY),
    ("limit_requests", errors.RATE_LIMIT),
    ("insufficient_quota", errors.QUOTA),
    ("data_inspection_failed", errors.INPUT_MODERATION),
    ("arrearage", errors.ARREARS),
    ("context_too_long", errors.CONTEXT_TOO_LONG),
    ("model_not_found", errors.MODEL_NOT_FOUND),
    ("server_error", errors.SERVER),
])
def test_each_http_error_becomes_its_own_failure(fake, code, kind):
    fake.enqueue({"kind": "error", "code": code})
    events = events_for(fake)
    assert len(events) == 1 and isinstance(events[0], Failed)
    assert events[0].error.kind == kind
    assert events[0].error.message_zh and events[0].error.message_en


def test_request_id_is_kept_for_support(fake):
    fake.enqueue({"kind": "error", "code": "invalid_api_key"})
    error = events_for(fake)[0].error
    assert error.status == 401 and error.request_id.startswith("req-")


def test_a_wrong_key_is_an_invalid_key_failure_and_the_message_names_the_region(fake):
    events = without_heartbeats(client_for(fake, key="sk-wrong").stream_chat(HELLO, model="qwen-plus"))
    assert events[0].error.kind == errors.INVALID_KEY
    assert "地域" in events[0].error.message_zh and "region" in events[0].error.message_en


def test_400_body_prefixed_with_data_is_still_understood(fake):
    fake.enqueue({"kind": "data_prefixed_400"})
    assert events_for(fake)[0].error.kind == errors.INPUT_MODERATION


def test_output_moderation_mid_stream_fails_after_the_text(fake):
    fake.enqueue({"kind": "mid_error", "chunks": split_pairs("已经说了一半")})
    events = events_for(fake)
    assert text_of(events) == "已经说了一半"
    assert isinstance(events[-1], Failed) and events[-1].error.kind == errors.OUTPUT_MODERATION


def test_throttling_frame_without_error_key_fails_the_stream(fake):
    fake.enqueue({"kind": "throttle_frame", "chunks": ["部分"]})
    events = events_for(fake)
    assert text_of(events) == "部分"
    assert isinstance(events[-1], Failed)
    assert events[-1].error.kind == errors.THROTTLED_MID_STREAM
    assert events[-1].error.keeps_partial


def test_a_cut_connection_keeps_the_text_and_is_interrupted(fake):
    fake.enqueue({"kind": "cut", "chunks": split_pairs("说到一半")})
    events = events_for(fake)
    assert text_of(events) == "说到一半"
    assert isinstance(events[-1], Failed) and events[-1].error.kind == errors.INTERRUPTED


def test_a_server_that_is_not_there_is_a_connection_failure():
    client = QwenClient(Settings(api_key=VALID_KEY, base_url="http://127.0.0.1:9/v1"), max_retries=0)
    events = without_heartbeats(client.stream_chat(HELLO, model="qwen-plus"))
    assert events[0].error.kind == errors.CONNECTION


def test_a_slow_server_times_out(fake):
    fake.enqueue({"kind": "text", "chunks": ["late"], "first_delay": 2})
    events = without_heartbeats(client_for(fake, timeout=0.5).stream_chat(HELLO, model="qwen-plus"))
    assert events[0].error.kind == errors.TIMEOUT


def test_retries_stay_on_for_rate_limits(fake):
    fake.enqueue({"kind": "error", "code": "limit_requests"})
    client = QwenClient(Settings(api_key=VALID_KEY, base_url=fake.base_url), max_retries=1)
    events = without_heartbeats(client.stream_chat(HELLO, model="qwen-plus"))
    assert text_of(events) == "收到：你好"  # the retry got the normal answer
    assert len(fake.requests) == 2


class FakeStop(BaseException):
    """Stands for Streamlit's StopException: a BaseException raised at the next st.* call."""


def test_a_stop_mid_stream_keeps_the_partial_text_marked_stopped(fake):
    from qwenchat.conversation import STOPPED, Conversation
    from qwenchat.reply import ReplyRecorder

    fake.enqueue({"kind": "text", "chunks": [f"{i} " for i in range(50)], "delay": 0.01})
    conversation = Conversation()
    conversation.add_user("hi")
    message = conversation.start_reply("qwen-plus")
    recorder = ReplyRecorder(message)
    events = client_for(fake).stream_chat(conversation.api_messages(), model="qwen-plus")
    with pytest.raises(FakeStop):
        try:
            for count, event in enumerate(e for e in events if not isinstance(e, Heartbeat)):
                recorder.feed(event)
                if count == 5:
                    raise FakeStop
        finally:
            events.close()
            recorder.finish()
    assert message.status == STOPPED
    assert message.content == "0 1 2 3 4 5 "
    assert conversation.api_messages()[-1] == {"role": "assistant", "content": "0 1 2 3 4 5 "}


def test_the_key_never_appears_in_an_error(fake):
    fake.enqueue({"kind": "error", "code": "invalid_api_key"})
    error = events_for(fake)[0].error
    assert VALID_KEY not in repr(error) + error.message_zh + error.message_en
