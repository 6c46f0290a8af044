"""The `search_knowledge_base` tool: the model searches the conversation's knowledge base when it decides to,
and its answer cites the passages with the numbers it saw, across several searches in one turn.

Real parts: a SQLite store and knowledge base in tmp_path, the knowledge core, the real client against the
fake DashScope (`[[fake:kb_search:Q1|Q2]]`: one search per round, then each search's best line with its [n])."""

from __future__ import annotations

import json
import re
import time

import pytest

from qwenchat import accounting, citations, transfer
from qwenchat.chat.engine import ChatEngine, TurnOptions
from qwenchat.chat.events import ReplyEnded
from qwenchat.chat.retrieval import KnowledgeSearch, Retrieval
from qwenchat.chat.saving import Saver, SaveState
from qwenchat.conversation import COMPLETE, FAILED
from qwenchat.quotas import Limits
from qwenchat.tools import ToolContext, registry
from qwenchat.tools.knowledge import NAME
from tests.test_retrieval import Setup, sent_passages

TOOLS = ("calculator", NAME)


@pytest.fixture(autouse=True)
def clean(fake):
    fake.reset()


def engine(s: Setup, kb_id: int, tools=TOOLS, model="qwen-plus") -> ChatEngine:
    search = KnowledgeSearch(s.kbs, kb_id, s.spending) if kb_id else None
    context = ToolContext(owner=s.owner, knowledge_base=kb_id, search=search)
    retrieval = Retrieval(s.kbs, kb_id, s.provider, s.spending) if kb_id else None
    return ChatEngine(s.conversation, s.provider, s.spending, Saver(s.store, s.owner, SaveState()),
                      TurnOptions(model, tools=tools, tool_context=context), retrieval=retrieval)


def tool_outputs(reply) -> list[str]:
    return [p.data["output"] for p in reply.parts if p.type == "tool_result"]


def numbered(output: str) -> dict[int, str]:
    """The passages of one tool output, by the number the model saw."""
    heads = list(re.finditer(r"^\[(\d+)\] [^\n]*\n", output, re.MULTILINE))
    return {int(h.group(1)): output[h.end():(heads[i + 1].start() if i + 1 < len(heads) else len(output))].strip()
            for i, h in enumerate(heads)}


def test_the_model_searches_and_its_answer_cites_the_passage_it_quotes(fake, tmp_path):
    s = Setup(fake, tmp_path)
    kb_id = s.add_contacts()
    events = list(engine(s, kb_id).send("教研部的张伟邮箱是什么？[[fake:kb_search:教研部 张伟]]"))
    assert isinstance(events[-1], ReplyEnded)
    reply = s.conversation.messages[-1]
    first, second = s.chat_requests()
    # no automatic grounding: the question goes as typed, and the model gets the tool
    assert first["body"]["messages"][-1]["content"] == "教研部的张伟邮箱是什么？[[fake:kb_search:教研部 张伟]]"
    assert NAME in [t["function"]["name"] for t in first["body"]["tools"]]
    assert json.loads(reply.parts[0].data["arguments"]) == {"query": "教研部 张伟"}
    seen = numbered(second["body"]["messages"][-1]["content"])  # the tool message the model read
    assert seen and sorted(seen) == list(range(1, len(seen) + 1))
    sources = {src.n: src for src in citations.sources(reply)}
    assert {n: src.text.strip() for n, src in sources.items()} == seen
    [n] = citations.cited(reply.content, list(sources))
    quoted = reply.content.split("：", 1)[1].rsplit(" [", 1)[0]
    assert "zhangwei@educompany.com" in quoted and quoted in sources[n].text
    assert sources[n].file.endswith(".md") and sources[n].kb == kb_id
    # the search's tokens are on the reply, counted like a grounding's, and after a reload
    reloaded = s.store.load("alice", s.conversation.id)
    stored = reloaded.messages[-1]
    assert [(p.n, p.text) for p in citations.sources(stored)] == [(k, src.text) for k, src in sorted(sources.items())]
    assert accounting.retrieval_usage(stored).total_tokens > 0
    assert s.quota.tokens == reply.usage.total_tokens + accounting.retrieval_usage(reply).total_tokens
    imported = transfer.from_json(transfer.to_json(reloaded))
    assert [p.n for p in citations.sources(imported.messages[-1])] == sorted(sources)


def test_two_searches_in_one_turn_number_on_and_each_marker_points_at_its_own_passage(fake, tmp_path):
    s = Setup(fake, tmp_path)
    kb_id = s.add_contacts()
    list(engine(s, kb_id).send("张伟和谢宇的邮箱？[[fake:kb_search:教研部 张伟|谢宇]]"))
    reply = s.conversation.messages[-1]
    first_seen, second_seen = (numbered(o) for o in tool_outputs(reply))
    assert min(second_seen) == max(first_seen) + 1  # the second search numbers on
    sources = {src.n: src.text.strip() for src in citations.sources(reply)}
    assert sources == {**first_seen, **second_seen}
    answers = reply.content.split("；")
    assert len(answers) == 2
    for answer, seen in zip(answers, (first_seen, second_seen)):
        n = int(re.search(r"\[(\d+)\]$", answer).group(1))
        quoted = answer.split("：", 1)[1].rsplit(" [", 1)[0]
        assert n in seen and quoted in sources[n]
    assert "xieyu@educompany.com" in answers[1]
    assert len([p for p in reply.parts if p.type == "retrieval"]) == 2


def test_without_a_knowledge_base_the_tool_is_not_offered(fake, tmp_path):
    s = Setup(fake, tmp_path)
    list(engine(s, 0).send("你好"))
    assert [t["function"]["name"] for t in s.chat_requests()[0]["body"]["tools"]] == ["calculator"]
    assert registry.chosen([NAME], ToolContext()) == {}


def test_with_the_tool_off_the_knowledge_base_grounds_the_question_as_before(fake, tmp_path):
    s = Setup(fake, tmp_path)
    kb_id = s.add_contacts()
    list(engine(s, kb_id, tools=("calculator",)).send("张伟是哪个部门的"))
    body = s.chat_requests()[-1]["body"]
    assert "张伟是哪个部门的" in body["messages"][-1]["content"] and "[1]" in body["messages"][-1]["content"]
    assert [t["function"]["name"] for t in body["tools"]] == ["calculator"]
    assert citations.sources(s.conversation.messages[-1])


@pytest.mark.parametrize("code", ["tools_unsupported", "bad_request"])
def test_a_server_that_refuses_tools_still_gets_the_knowledge_base_and_the_answer_cites_it(fake, tmp_path, code):
    # The search tool replaces the automatic grounding; the request retried without tools had neither, so the
    # model answered a knowledge-base question from its own knowledge, with no citation
    s = Setup(fake, tmp_path)
    kb_id = s.add_contacts()
    fake.enqueue({"kind": "error", "code": code})
    events = list(engine(s, kb_id).send("张伟是哪个部门的"))
    assert isinstance(events[-1], ReplyEnded)
    reply = s.conversation.messages[-1]
    refused, retry = s.chat_requests()
    assert "tools" in refused["body"] and "tools" not in retry["body"]
    sent = sent_passages(retry["body"])
    assert sent and "张伟" in "".join(sent.values())
    assert reply.status == COMPLETE
    sources = {src.n: src for src in citations.sources(reply)}
    assert {n: src.text.strip() for n, src in sources.items()} == sent
    [n] = citations.cited(reply.content, list(sources))
    quoted = reply.content.split("：", 1)[1].rsplit(" [", 1)[0]
    assert "张伟" in quoted and quoted in sources[n].text
    assert [p.text for p in reply.parts if p.type == "notice"] == ["tools.note.refused"]
    # the same limits: one message, and the tokens of the answer and of the retrieval
    assert s.quota.messages == 1
    assert s.quota.tokens == reply.usage.total_tokens + accounting.retrieval_usage(reply).total_tokens > 0
    assert s.spending.daily.used() == s.quota.tokens
    reloaded = s.store.load("alice", s.conversation.id).messages[-1]
    assert [p.n for p in citations.sources(reloaded)] == sorted(sources)


def test_when_the_retry_without_tools_cannot_be_grounded_the_turn_says_why_and_sends_nothing_ungrounded(
        fake, tmp_path):
    s = Setup(fake, tmp_path, limits=Limits(max_tokens_per_session=2_500, max_output_tokens=200))
    kb_id = s.add_contacts()
    fake.enqueue({"kind": "error", "code": "tools_unsupported"})
    events = list(engine(s, kb_id).send("张伟是哪个部门的"))
    assert isinstance(events[-1], ReplyEnded)
    reply = s.conversation.messages[-1]
    assert len(s.chat_requests()) == 1  # no answer from the model's own knowledge
    assert reply.status == FAILED and citations.sources(reply) == []
    notices = [p for p in reply.parts if p.type == "notice"]
    assert [p.text for p in notices] == ["tools.note.refused", "tools.note.ungrounded"]
    assert notices[1].data["reason"].startswith(("quota.", "rag."))
    assert s.quota.messages == 1 and s.spending.daily.used() == s.quota.tokens  # nothing left reserved


def test_a_search_the_limits_refuse_goes_back_to_the_model_and_nothing_is_cited(fake, tmp_path):
    s = Setup(fake, tmp_path, limits=Limits(max_tokens_per_session=3_000, max_output_tokens=200))
    kb_id = s.add_contacts()
    list(engine(s, kb_id).send("张伟？[[fake:kb_search:张伟]]"))
    reply = s.conversation.messages[-1]
    result = next(p for p in reply.parts if p.type == "tool_result")
    assert result.data["error"] == "tool_error" and "usage limits" in result.data["output"]
    assert citations.sources(reply) == [] and reply.content == "知识库里没有找到。"


class SlowBases:
    """The real knowledge bases, with a search that waits for the test to let it finish (a slow index)."""

    def __init__(self, kbs, gate):
        self._kbs, self._gate = kbs, gate

    def search(self, *args, **kwargs):
        self._gate.wait(10)
        return self._kbs.search(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._kbs, name)


def test_a_search_that_times_out_cites_nothing_even_when_it_ends_later(fake, tmp_path):
    import threading

    from qwenchat.tools.runner import TIMEOUT, ToolLimits

    s = Setup(fake, tmp_path)
    kb_id = s.add_contacts()
    gate = threading.Event()
    search = KnowledgeSearch(SlowBases(s.kbs, gate), kb_id, s.spending)
    e = ChatEngine(s.conversation, s.provider, s.spending, Saver(s.store, s.owner, SaveState()),
                   TurnOptions("qwen-plus", tools=TOOLS, tool_limits=ToolLimits(timeout_s=0.3),
                               tool_context=ToolContext(owner=s.owner, knowledge_base=kb_id, search=search)))
    list(e.send("张伟？[[fake:kb_search:张伟]]"))
    reply = s.conversation.messages[-1]
    assert next(p for p in reply.parts if p.type == "tool_result").data["error"] == TIMEOUT
    gate.set()  # the search ends now, after the model was told it timed out
    deadline = time.monotonic() + 10
    while any(t.name == "qwenchat-tool-search_knowledge_base" and t.is_alive() for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the search never ended"
        time.sleep(0.02)
    assert search.drain() == [] and search.next_n == 1
    assert citations.sources(reply) == []


def test_bad_arguments_go_back_to_the_model_as_errors_it_can_correct(fake, tmp_path):
    from qwenchat.providers.base import ToolCall
    from qwenchat.tools.runner import BAD_ARGUMENTS, TOOL_ERROR, ToolLimits, run

    s = Setup(fake, tmp_path)
    kb_id = s.add_contacts()
    search = KnowledgeSearch(s.kbs, kb_id, s.spending)
    context = ToolContext(owner=s.owner, knowledge_base=kb_id, search=search)
    tools = registry.chosen([NAME], context)

    def call(arguments: str):
        return run(ToolCall("c1", NAME, arguments), tools, context, ToolLimits())

    assert call("{}").error == BAD_ARGUMENTS and "query" in call("{}").output
    for bad in ('{"query": "  "}', '{"query": "张伟", "top_k": "many"}', '{"query": "张伟", "top_k": 2.5}'):
        result = call(bad)
        assert result.error == TOOL_ERROR, bad
    assert search.drain() == []  # nothing searched, nothing to cite
    result = call('{"query": "张伟", "top_k": 2}')
    assert result.ok and sorted(numbered(result.output)) == [1, 2]
    assert [p.data["n"] for p in search.drain() if p.type == "citation"] == [1, 2]
