"""Streamed tool calls: recorded chunk sequences through the stream reader, and the real client against the
fake DashScope. The caller only ever sees whole calls, once, just before the stream's `Finished`."""

from __future__ import annotations

import json

import pytest

from qwenchat.client import QwenClient
from qwenchat.config import SOURCE_ENV, Settings
from qwenchat.providers import Failed, Finished, TextDelta, ToolCall, ToolCallsReady, UsageReport
from qwenchat.providers.streaming import ChunkReader
from qwenchat.providers.tool_calls import MAX_CALLS
from tests.fake_dashscope import VALID_KEY, calc_call, tool_call_chunks, tool_history_problem

# A qwen-plus reply calling get_time for two cities at once, as DashScope streams it (ids shortened).
RECORDED_PARALLEL = [
    '{"choices":[{"delta":{"content":null,"role":"assistant","tool_calls":[{"index":0,"id":"call_a1","type":"function","function":{"name":"calculator","arguments":""}}]},"finish_reason":null,"index":0,"logprobs":null}],"object":"chat.completion.chunk","usage":null,"model":"qwen-plus","id":"chatcmpl-1"}',
    '{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"expression\\": \\""}}]},"finish_reason":null,"index":0}],"usage":null}',
    '{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"call_b2","type":"function","function":{"name":"current_time","arguments":""}}]},"finish_reason":null,"index":0}],"usage":null}',
    '{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"393*285\\"}"}}]},"finish_reason":null,"index":0}],"usage":null}',
    '{"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\\"timezone\\": \\"Asia/Shanghai\\"}"}}]},"finish_reason":null,"index":0}],"usage":null}',
    '{"choices":[{"delta":{"content":""},"finish_reason":"tool_calls","index":0}],"usage":null}',
    '{"choices":[],"usage":{"prompt_tokens":300,"completion_tokens":40,"total_tokens":340}}',
    "[DONE]",
]


def read(payloads):
    reader = ChunkReader()
    out = []
    for payload in payloads:
        failure = reader.events([payload.encode() if isinstance(payload, str) else payload], out)
        assert failure is None
    return [*out, reader.ending()]


def test_parallel_calls_are_told_apart_by_index_and_parsed_only_at_the_end():
    events = read(RECORDED_PARALLEL)
    ready = [e for e in events if isinstance(e, ToolCallsReady)]
    assert len(ready) == 1
    assert ready[0].calls == (ToolCall("call_a1", "calculator", '{"expression": "393*285"}'),
                              ToolCall("call_b2", "current_time", '{"timezone": "Asia/Shanghai"}'))
    # the calls come once, after every piece and before the usage and the one Finished
    kinds = [type(e) for e in events]
    assert kinds == [ToolCallsReady, UsageReport, Finished] and events[-1] == Finished("tool_calls")


def test_a_call_split_in_one_character_pieces_is_whole():
    arguments = json.dumps({"expression": "(1/3 + 0.25) * 12"})
    pieces = tool_call_chunks([{"name": "calculator", "arguments": arguments, "id": "call_x"}], split=1)
    chunks = [json.dumps({"choices": [{"delta": {"tool_calls": [p]}, "index": 0}]}) for p in pieces]
    chunks.append(json.dumps({"choices": [{"delta": {}, "finish_reason": "tool_calls", "index": 0}]}))
    events = read(chunks)
    assert events[0] == ToolCallsReady((ToolCall("call_x", "calculator", arguments),))


def test_interleaved_pieces_of_parallel_calls_land_on_their_own_call():
    calls = [{"name": "calculator", "arguments": json.dumps({"expression": f"{n}*{n}"}), "id": f"id{n}"}
             for n in range(3)]
    pieces = tool_call_chunks(calls, split=2, interleave=True)
    chunks = [json.dumps({"choices": [{"delta": {"tool_calls": [p]}, "index": 0}]}) for p in pieces]
    events = read([*chunks, "[DONE]"])  # a local server: no finish reason, only [DONE]
    assert [c.arguments for c in events[0].calls] == [c["arguments"] for c in calls]
    assert events[-1] == Finished("tool_calls")


def test_text_before_a_call_streams_as_text_and_malformed_arguments_are_passed_on_unparsed():
    chunks = [json.dumps({"choices": [{"delta": {"content": "我来算一下。"}, "index": 0}]}),
              json.dumps({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "c", "type": "function",
                                                                  "function": {"name": "calculator",
                                                                               "arguments": '{"expression": '}}]},
                                       "index": 0}]}),
              json.dumps({"choices": [{"delta": {}, "finish_reason": "tool_calls", "index": 0}]})]
    events = read(chunks)
    assert events[0] == TextDelta("我来算一下。")
    assert events[1].calls[0].arguments == '{"expression": '


def test_a_reply_cut_at_the_length_limit_releases_no_half_call():
    chunks = [json.dumps({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "c", "type": "function",
                                                                  "function": {"name": "calculator",
                                                                               "arguments": '{"expr'}}]},
                                       "index": 0}]}),
              json.dumps({"choices": [{"delta": {}, "finish_reason": "length", "index": 0}]})]
    assert read(chunks) == [Finished("length")]


def test_pieces_without_index_or_id_still_make_calls_with_ids():
    chunks = [json.dumps({"choices": [{"delta": {"tool_calls": [{"function": {"name": "current_time",
                                                                               "arguments": "{}"}}]},
                                       "index": 0}]}),
              json.dumps({"choices": [{"delta": {"tool_calls": ["junk", {"index": "x"}]}, "index": 0}]}),
              json.dumps({"choices": [{"delta": {}, "finish_reason": "tool_calls", "index": 0}]})]
    call = read(chunks)[0].calls[0]
    assert call.name == "current_time" and call.arguments == "{}" and call.id.startswith("call_")


def test_a_flood_of_calls_is_cut_to_the_first_few():
    pieces = tool_call_chunks([calc_call("1+1") for _ in range(MAX_CALLS + 10)])
    chunks = [json.dumps({"choices": [{"delta": {"tool_calls": [p]}, "index": 0}]}) for p in pieces]
    events = read([*chunks, json.dumps({"choices": [{"delta": {}, "finish_reason": "tool_calls", "index": 0}]})])
    assert len(events[0].calls) == MAX_CALLS


# ---- the real client against the fake server ---------------------------------------------------------------

@pytest.fixture
def client(fake):
    fake.reset()
    return QwenClient(Settings(api_key=VALID_KEY, base_url=fake.base_url, key_source=SOURCE_ENV,
                               operator_base_url=fake.base_url, provider="dashscope"), max_retries=0)


SCHEMA = [{"type": "function", "function": {"name": "calculator", "description": "math",
                                            "parameters": {"type": "object", "properties": {}}}}]


def test_the_client_sends_tools_and_gets_whole_parallel_calls(client, fake):
    events = list(client.stream_chat([{"role": "user", "content": "[[fake:parallel:393*285|2**10]]"}],
                                     model="qwen-plus", tools=SCHEMA))
    ready = [e for e in events if isinstance(e, ToolCallsReady)][0]
    assert [json.loads(c.arguments) for c in ready.calls] == [{"expression": "393*285"}, {"expression": "2**10"}]
    assert len({c.id for c in ready.calls}) == 2
    assert isinstance(events[-1], Finished) and events[-1].reason == "tool_calls"
    body = fake.requests[-1]["body"]
    assert body["tools"] == SCHEMA and body["tool_choice"] == "auto"


def test_without_tools_nothing_about_tools_is_sent(client, fake):
    list(client.stream_chat([{"role": "user", "content": "你好"}], model="qwen-plus"))
    assert "tools" not in fake.requests[-1]["body"] and "tool_choice" not in fake.requests[-1]["body"]


@pytest.mark.parametrize("history, problem", [
    ([{"role": "assistant", "content": "", "tool_calls": [{"id": "a", "type": "function",
                                                           "function": {"name": "calculator", "arguments": "{}"}}]},
      {"role": "user", "content": "hi"}], "must be followed by tool messages"),
    ([{"role": "tool", "tool_call_id": "zzz", "content": "1"}], "does not follow"),
    ([{"role": "assistant", "content": "", "tool_calls": [{"id": "a", "type": "function",
                                                           "function": {"name": "calculator", "arguments": "{"}}]},
      {"role": "tool", "tool_call_id": "a", "content": "1"}], "JSON format"),
    ([{"role": "assistant", "content": "", "tool_calls": [{"id": "a", "type": "function",
                                                           "function": {"name": "calculator", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "b", "content": "1"}], "Expected ['a']"),
])
def test_the_fake_refuses_a_broken_tool_history_like_dashscope(client, fake, history, problem):
    messages = [{"role": "user", "content": "q"}, *history, {"role": "user", "content": "again"}]
    events = list(client.stream_chat(messages, model="qwen-plus"))
    assert isinstance(events[-1], Failed) and events[-1].error.status == 400
    assert events[-1].error.kind == "bad_request"
    assert problem in tool_history_problem({"messages": messages})
