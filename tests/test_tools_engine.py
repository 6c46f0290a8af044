"""A turn with tools, against the fake DashScope through the real client: every step saved on the reply,
every round a request that passes the limits and counts, a history the API accepts afterwards (the fake
refuses a broken one with DashScope's 400), and nothing that runs away."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from qwenchat import transfer
from qwenchat.chat.engine import ChatEngine, TurnOptions
from qwenchat.chat.events import Noticed, ReplyEnded, ReplyProgress, ToolFinished, ToolStarted
from qwenchat.conversation import COMPLETE, FAILED, STOPPED, Conversation
from qwenchat.providers.base import ToolCall
from qwenchat.quotas import Limits
from qwenchat.tokens import count_prompt
from qwenchat.tools import REGISTRY, Tool, ToolContext, ToolError, schemas
from qwenchat.tools.clock import current_time
from qwenchat.tools.runner import CRASHED, ROUND_LIMIT, TIMEOUT, UNKNOWN_TOOL, ToolLimits, run
from tests import fake_dashscope
from tests.test_engine import Setup

TOOLS = ("calculator", "current_time")


@pytest.fixture(autouse=True)
def clean(fake):
    fake.reset()


def with_tools(fake, model="qwen-plus", limits=None, tool_limits=None, **kwargs):
    return Setup(fake, limits=limits, options=TurnOptions(model, tools=TOOLS, tool_limits=tool_limits or ToolLimits()),
                 **kwargs)


def steps(message):
    return [(p.type, p.data.get("name"), p.data.get("arguments") or p.data.get("output"), p.data.get("error"))
            for p in message.parts if p.type in ("tool_call", "tool_result")]


def last_history(s):
    return s.chat_requests()[-1]["body"]["messages"]


def test_the_calculator_answers_393_times_285_and_the_follow_up_carries_the_call_and_its_result(fake):
    s = with_tools(fake)
    events = s.send("393 × 285 等于多少？[[fake:calc:393*285]]")
    reply = s.conversation.messages[-1]
    assert reply.status == COMPLETE and "112005" in reply.content
    assert steps(reply) == [("tool_call", "calculator", '{"expression": "393*285"}', None),
                            ("tool_result", "calculator", "112005", "")]
    kinds = [type(e) for e in events]
    assert kinds.index(ToolStarted) < kinds.index(ToolFinished) < kinds.index(ReplyEnded)
    first, second = s.chat_requests()
    assert [t["function"]["name"] for t in first["body"]["tools"]] == list(TOOLS)
    call_id = reply.parts[0].data["id"]
    assert second["body"]["messages"][-2:] == [
        {"role": "assistant", "content": "", "tool_calls": [{"id": call_id, "type": "function", "function": {
            "name": "calculator", "arguments": '{"expression": "393*285"}'}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "112005"}]
    # both rounds are counted and settled, and the steps are saved with the reply
    assert reply.usage.total_tokens == sum(u["total_tokens"] for u in fake.usages)
    assert s.quota.messages == 2 and s.quota.tokens == reply.usage.total_tokens == s.daily.used()
    assert steps(s.store.load("alice", s.conversation.id).messages[-1]) == steps(reply)


def test_two_parallel_calls_both_run_and_both_answers_go_back(fake):
    s = with_tools(fake)
    s.send("[[fake:parallel:393*285|2**10]]")
    reply = s.conversation.messages[-1]
    assert [o for t, _, o, _ in steps(reply) if t == "tool_result"] == ["112005", "1024"]
    assert reply.content == "结果：112005；1024"
    history = last_history(s)
    ids = [c["id"] for c in history[-3]["tool_calls"]]
    assert len(set(ids)) == 2 and [m["tool_call_id"] for m in history[-2:]] == ids


def test_malformed_arguments_go_back_as_an_error_the_model_corrects(fake):
    s = with_tools(fake)
    s.send("[[fake:bad_json]]")
    reply = s.conversation.messages[-1]
    (_, _, _, first_error), (_, _, second_output, second_error) = \
        [step for step in steps(reply) if step[0] == "tool_result"]
    assert first_error == "bad_arguments" and second_output == "42" and not second_error
    assert "42" in reply.content and len(s.chat_requests()) == 3
    error_message = s.chat_requests()[1]["body"]["messages"][-1]
    assert error_message["role"] == "tool" and "not valid JSON" in error_message["content"]
    # the malformed call goes back as `{}`: DashScope refuses arguments that are not JSON in a history
    assert s.chat_requests()[1]["body"]["messages"][-2]["tool_calls"][0]["function"]["arguments"] == "{}"


def test_a_model_that_keeps_calling_stops_at_the_round_limit_with_a_notice(fake):
    s = with_tools(fake, tool_limits=ToolLimits(max_rounds=3))
    events = s.send("[[fake:forever]]")
    reply = s.conversation.messages[-1]
    assert len(s.chat_requests()) == 3 and s.quota.messages == 3
    notices = [e.notice for e in events if isinstance(e, Noticed)]
    assert [(n.text, n.data) for n in notices] == [("tools.note.round_limit", {"rounds": 3})]
    assert reply.status == COMPLETE and steps(reply)[-1][3] == ROUND_LIMIT  # the last call was not run
    # the next turn's history is one the API accepts (the fake checks it)
    s.send("好的，继续")
    assert s.conversation.messages[-1].content == "收到：好的，继续"


def test_stop_between_rounds_keeps_the_steps_counts_them_and_leaves_a_valid_history(fake):
    s = with_tools(fake)
    turn = s.engine.send("[[fake:calc:6*7]]")
    for event in turn:
        if isinstance(event, ToolFinished):
            break
    turn.close()  # what Streamlit's Stop does
    reply = s.conversation.messages[-1]
    assert reply.status == STOPPED and steps(reply)[-1][2] == "42"
    assert len(s.chat_requests()) == 1 and s.quota.tokens == reply.usage.total_tokens > 0
    stored = s.store.load("alice", s.conversation.id).messages[-1]
    assert stored.status == STOPPED and steps(stored) == steps(reply)
    s.send("然后呢")
    assert s.conversation.messages[-1].status == COMPLETE


@pytest.fixture
def slow_tool():
    def sleepy(arguments, context):
        time.sleep(float(arguments.get("seconds", 3)))
        return "awake"
    REGISTRY["sleepy"] = Tool("sleepy", "sleeps", {"type": "object", "properties": {}}, sleepy)
    yield
    del REGISTRY["sleepy"]


def test_stop_while_a_tool_runs_ends_at_once_and_marks_the_call_stopped(fake, slow_tool):
    s = Setup(fake, options=TurnOptions("qwen-plus", tools=("sleepy",)))
    fake.enqueue({"kind": "tool_calls", "calls": [{"name": "sleepy", "arguments": '{"seconds": 3}'}]})
    turn = s.engine.send("睡一会儿")
    for event in turn:
        if isinstance(event, ToolStarted):
            break
    started = time.monotonic()
    turn.close()
    assert time.monotonic() - started < 1.0
    reply = s.conversation.messages[-1]
    assert reply.status == STOPPED and steps(reply)[-1][3] == "stopped"


def test_a_slow_tool_times_out_and_a_long_output_is_cut(fake, slow_tool):
    limits = ToolLimits(timeout_s=0.3, max_output_chars=50)
    s = Setup(fake, options=TurnOptions("qwen-plus", tools=("sleepy", "calculator"), tool_limits=limits))
    fake.enqueue({"kind": "tool_calls", "calls": [{"name": "sleepy", "arguments": '{"seconds": 2}'},
                                                  {"name": "calculator", "arguments": '{"expression": "2**1000"}'}]},
                 {"kind": "text", "chunks": ["好的"]})
    s.send("试试")
    results = [p.data for p in s.conversation.messages[-1].parts if p.type == "tool_result"]
    assert results[0]["error"] == TIMEOUT and results[0]["seconds"] < 1.5
    assert results[1]["truncated"] and results[1]["output"].startswith(str(2**1000)[:50])
    sent = last_history(s)[-1]["content"]
    assert len(sent) < 120 and "cut" in sent


def test_a_model_without_function_calling_gets_no_tools(fake):
    s = with_tools(fake, model="qwen-vl-plus")
    s.send("你好")
    assert "tools" not in s.chat_requests()[0]["body"]
    assert s.conversation.messages[-1].content == "收到：你好"


def test_a_server_that_refuses_tools_is_asked_again_without_them_with_a_notice(fake):
    s = with_tools(fake)
    events = s.send("[[fake:no_tools]]")
    first, second = s.chat_requests()
    assert "tools" in first["body"] and "tools" not in second["body"]
    reply = s.conversation.messages[-1]
    assert reply.status == COMPLETE and reply.content == "没有工具也能聊。" and not reply.error
    assert [e.notice.text for e in events if isinstance(e, Noticed)] == ["tools.note.refused"]
    assert s.quota.messages == 1  # the refused request cost nothing and is not a second message


def test_a_refusal_of_tools_is_remembered_for_the_session_not_paid_for_again_each_turn(fake):
    s = with_tools(fake)
    s.send("[[fake:no_tools]]")

    def next_run(options):  # the chat view builds a new engine each run, with the session's options
        s.engine = ChatEngine(s.conversation, s.engine.provider, s.engine.spending, s.engine.saver, options)

    next_run(s.engine.options)
    before = len(s.chat_requests())
    events = s.send("再问一次")
    sent = s.chat_requests()[before:]
    assert len(sent) == 1 and "tools" not in sent[0]["body"]  # one request, not a 400 and a retry
    assert not [e for e in events if isinstance(e, Noticed)]
    next_run(replace(s.engine.options, model="qwen-max"))  # another model on that server is asked afresh
    s.send("换个模型")
    assert "tools" in s.chat_requests()[-1]["body"]



def test_a_400_for_the_users_own_temperature_is_the_turns_error_and_leaves_tools_on(fake):
    # DashScope's 400 for a temperature out of [0, 2) came back to a request with tools, so it was taken for a
    # refusal of tools: the same request went again without them and failed the same way, the reply said the
    # server takes no tools, and this model was offered none until the page was reloaded
    s = with_tools(fake)
    s.engine.options = replace(s.engine.options, params={"temperature": 2.5})
    events = s.send("你好")
    first, second = s.chat_requests()
    assert "tools" in first["body"] and "tools" not in second["body"]  # (the retry cannot know either)
    reply = s.conversation.messages[-1]
    assert reply.status == FAILED and reply.error == "bad_request"  # the parameters' error, shown as the turn's
    assert not [e for e in events if isinstance(e, Noticed)] and not [p for p in reply.parts if p.type == "notice"]
    assert not s.engine.options.tools_refused
    s.engine = ChatEngine(s.conversation, s.engine.provider, s.engine.spending, s.engine.saver,
                          replace(s.engine.options, params={}))  # the next run, the temperature put right
    before = len(s.chat_requests())
    s.send("[[fake:calc:393*285]]")
    assert "tools" in s.chat_requests()[before]["body"] and "112005" in s.conversation.messages[-1].content


def test_a_bare_400_to_tools_is_a_refusal_once_the_request_without_them_is_answered(fake):
    s = with_tools(fake)
    fake.enqueue({"kind": "error", "code": "bad_request"})
    events = s.send("你好")
    reply = s.conversation.messages[-1]
    assert reply.status == COMPLETE and reply.content == "收到：你好"
    assert [e.notice.text for e in events if isinstance(e, Noticed)] == ["tools.note.refused"]
    assert len(s.engine.options.tools_refused) == 1


def test_the_first_attempt_of_a_silent_retry_is_neither_shown_nor_saved_as_failed(fake):
    # its 400 went out as a progress event of a FAILED reply (the chat painted a "bad request" box that stayed
    # next to the retried answer) and was saved so
    s = with_tools(fake)
    saved = []
    save_message = s.engine.saver.save_message

    def spy(conversation, message, **kwargs):
        saved.append((message.status, message.error))
        return save_message(conversation, message, **kwargs)

    s.engine.saver.save_message = spy
    fake.enqueue({"kind": "error", "code": "bad_request"})
    shown = [(e.message.status, e.message.error) for e in s.engine.send("你好") if isinstance(e, ReplyProgress)]
    assert shown and (FAILED, "bad_request") not in shown and (FAILED, "bad_request") not in saved
    assert s.conversation.messages[-1].status == COMPLETE


def test_a_400_that_names_tools_is_a_refusal_even_when_the_request_without_them_fails_too(fake):
    s = with_tools(fake)
    fake.enqueue({"kind": "error", "code": "tools_unsupported"}, {"kind": "error", "code": "server_error"})
    events = s.send("你好")
    reply = s.conversation.messages[-1]
    assert reply.status == FAILED and reply.error == "server"
    assert [e.notice.text for e in events if isinstance(e, Noticed)] == ["tools.note.refused"]
    assert len(s.engine.options.tools_refused) == 1

def test_a_400_about_a_function_call_turn_is_the_turns_error_and_leaves_tools_on(fake, monkeypatch):
    # Gemini's history-order 400 names "function call": it was taken for a refusal of tools, so the reply said
    # the server takes no tool calls and tools stayed off until a reload, though the retry failed the same way
    monkeypatch.setitem(fake_dashscope.ERRORS, "history_order", (400, {
        "message": "Please ensure that function call turn comes immediately after a user turn or after a function "
                   "response turn.", "type": "invalid_request_error", "param": None, "code": "invalid_argument"}))
    s = with_tools(fake)
    fake.enqueue({"kind": "error", "code": "history_order"}, {"kind": "error", "code": "history_order"})
    events = s.send("你好")
    reply = s.conversation.messages[-1]
    assert reply.status == FAILED and reply.error == "bad_request"
    assert not [e for e in events if isinstance(e, Noticed)] and not [p for p in reply.parts if p.type == "notice"]
    assert not s.engine.options.tools_refused


def test_a_400_in_a_later_round_is_not_a_refusal_of_tools_the_server_just_took(fake):
    # round 1 got a tool call back, round 2 a bare 400 and its retry without tools an answer: the reply showed the
    # call and its result AND "this server does not take tool calls", and tools were off for the session
    s = with_tools(fake)
    fake.enqueue({"kind": "tool_calls", "calls": [{"name": "calculator", "arguments": '{"expression": "6*7"}'}]},
                 {"kind": "error", "code": "bad_request"})
    events = s.send("6*7?")
    reply = s.conversation.messages[-1]
    assert steps(reply) == [("tool_call", "calculator", '{"expression": "6*7"}', None),
                            ("tool_result", "calculator", "42", "")]
    assert reply.status == FAILED and reply.error == "bad_request"
    assert len(s.chat_requests()) == 2  # no retry without tools
    assert not [e for e in events if isinstance(e, Noticed)] and not [p for p in reply.parts if p.type == "notice"]
    assert not s.engine.options.tools_refused


def test_every_round_passes_the_limits_and_a_refused_round_ends_the_turn_with_a_notice(fake):
    s = with_tools(fake, limits=Limits(max_messages_per_session=1))
    events = s.send("[[fake:calc:1+1]]")
    assert len(s.chat_requests()) == 1
    notice = [e.notice for e in events if isinstance(e, Noticed)][0]
    assert notice.text == "tools.note.limits" and notice.data["reason"] == "quota.messages"
    assert s.conversation.messages[-1].status == COMPLETE


def test_the_tools_schemas_count_in_the_prompt_the_limits_see(fake):
    conversation = Conversation()
    plain = count_prompt([*conversation.api_messages(), {"role": "user", "content": "hi"}], "qwen-plus")
    with_schemas = count_prompt([*conversation.api_messages(), {"role": "user", "content": "hi"}], "qwen-plus",
                                schemas(TOOLS))
    assert with_schemas > plain + 100
    cap = (plain + with_schemas) // 2 + 100  # room for the prompt without the schemas, not with them
    s = with_tools(fake, limits=Limits(max_tokens_per_session=cap, max_output_tokens=100))
    events = s.send("hi")
    assert events[0].problem.params["needed"] == with_schemas + 100 and not s.chat_requests()


def test_regenerate_after_a_tool_turn_sends_the_same_valid_history(fake):
    s = with_tools(fake)
    s.send("[[fake:calc:393*285]]")
    s.send("再说一遍")
    before = last_history(s)
    assert [m["role"] for m in before[1:]] == ["user", "assistant", "tool", "assistant", "user"]
    list(s.engine.regenerate(s.conversation.messages[-1].id))
    assert last_history(s) == before


def test_tool_messages_count_in_the_prompt():
    call = {"role": "assistant", "content": "", "tool_calls": [
        {"id": "a", "type": "function", "function": {"name": "calculator", "arguments": '{"expression": "1+1"}'}}]}
    short = [call, {"role": "tool", "tool_call_id": "a", "content": "2"}]
    long = [call, {"role": "tool", "tool_call_id": "a", "content": "数据" * 500}]
    assert count_prompt(short, "qwen-plus") > count_prompt([{"role": "assistant", "content": ""}], "qwen-plus") + 10
    assert count_prompt(long, "qwen-plus") > count_prompt(short, "qwen-plus") + 400


def test_the_steps_survive_a_json_export_and_show_briefly_in_markdown(fake):
    s = with_tools(fake)
    s.send("[[fake:parallel:393*285|1/0]]")
    again = transfer.from_json(transfer.to_json(s.conversation))
    assert steps(again.messages[-1]) == steps(s.conversation.messages[-1])
    assert again.api_messages() == s.conversation.api_messages()
    markdown = transfer.to_markdown(s.conversation, lang="en")
    assert '🔧 `calculator`({"expression": "393*285"}) → 112005' in markdown
    assert '🔧 `calculator`({"expression": "1/0"}) → error: tool_error' in markdown


def test_a_reply_whose_tool_round_did_not_finish_is_sent_as_plain_text(fake):
    s = with_tools(fake)
    s.send("[[fake:calc:2+2]]")
    reply = s.conversation.messages[-1]
    reply.parts = [p for p in reply.parts if p.type != "tool_result"]  # as if stopped before the result
    assert s.conversation.api_messages()[-1] == {"role": "assistant", "content": reply.content}
    assert all(m["role"] != "tool" for m in s.conversation.api_messages())


# ---- the runner and the clock ---------------------------------------------------------------------------------

def test_an_unknown_tool_or_a_crashing_one_is_a_result_never_an_exception():
    def broken(arguments, context):
        raise RuntimeError("secret detail")
    tools = {"broken": Tool("broken", "", {"type": "object"}, broken)}
    unknown = run(ToolCall("1", "rm_rf", "{}"), tools, ToolContext(), ToolLimits())
    assert unknown.error == UNKNOWN_TOOL and "broken" in unknown.output
    crashed = run(ToolCall("2", "broken", "{}"), tools, ToolContext(), ToolLimits())
    assert crashed.error == CRASHED and "RuntimeError" in crashed.output and "secret" not in crashed.output


def test_the_clock_tells_the_users_time_or_a_named_zones():
    noon_utc = ToolContext(timezone="Asia/Shanghai", now=lambda: datetime(2025, 3, 1, 4, 0, tzinfo=timezone.utc))
    assert current_time({}, noon_utc).startswith("2025-03-01 12:00:00 Saturday, time zone Asia/Shanghai (UTC+08:00)")
    assert current_time({"timezone": "Europe/London"}, noon_utc).startswith("2025-03-01 04:00:00")
    with pytest.raises(ToolError, match="unknown time zone"):
        current_time({"timezone": "Mars/Olympus"}, noon_utc)


def test_the_time_tool_runs_in_a_turn(fake):
    s = with_tools(fake)
    s.send("现在几点？[[fake:time]]")
    output = [p.data["output"] for p in s.conversation.messages[-1].parts if p.type == "tool_result"][0]
    assert json.dumps(output) and "time zone" in output and s.conversation.messages[-1].content.startswith("结果：")


def test_a_tight_budget_leaves_a_tool_turn_out_whole_and_marks_where_the_context_starts(fake):
    s = with_tools(fake)
    s.send("[[fake:calc:393*285]]")
    s.send("第二个问题")
    conversation = s.conversation
    sent = conversation.api_messages()
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "assistant", "user", "assistant"]
    # a budget with room for the second turn only: the tool turn (four API messages) goes out as one
    conversation.mark_context_start(4)
    assert conversation.context_start == conversation.messages[2].id  # the second question
    s.engine.options = TurnOptions("qwen-plus", tools=TOOLS, budget=count_prompt(
        [sent[0], *sent[5:], {"role": "user", "content": "第三个"}], "qwen-plus", schemas(TOOLS)) + 5)
    s.send("第三个")
    assert [m["role"] for m in last_history(s)] == ["system", "user", "assistant", "user"]
    assert conversation.context_start == conversation.messages[2].id
