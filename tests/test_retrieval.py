"""Answers from a knowledge base in the chat: the passages sent, the citations stored with the reply, the
markers that point at them, the limits every paid call passes, and one owner's bases closed to another.

Real parts: a SQLite store in tmp_path, the knowledge core, the real client against the fake DashScope."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qwenchat import accounting, citations, transfer
from qwenchat.chat.engine import ChatEngine, TurnOptions
from qwenchat.chat.events import Refused, ReplyEnded
from qwenchat.chat.retrieval import Retrieval
from qwenchat.chat.saving import Saver, SaveState
from qwenchat.chat.spending import Spending
from qwenchat.config import SOURCE_ENV, Settings
from qwenchat.conversation import Conversation
from qwenchat.knowledge import KnowledgeBases
from qwenchat.providers import provider_for
from qwenchat.quotas import DailyCounter, Limits, SessionQuota
from qwenchat.store import Store
from tests.fake_dashscope import VALID_KEY

KB_DATA = Path(__file__).resolve().parents[1] / "qwenchat" / "knowledge" / "demo" / "zh"
CONTACTS = "内容公司各部门职责与关键角色联系信息汇总.md"
CONTACT_TEXT = """# 公司各部门联系信息

## 教研部
| 部门 | 姓名 | 邮箱 |
|---|---|---|
| 教研部 | 张伟 | zhangwei@educompany.com |

## IT部
| 部门 | 姓名 | 邮箱 |
|---|---|---|
| IT部 | 马云 | mayun@educompany.com |
"""


def contact_bytes() -> bytes:
    path = KB_DATA / CONTACTS
    return path.read_bytes() if path.exists() else CONTACT_TEXT.encode()


@pytest.fixture(autouse=True)
def clean(fake):
    fake.reset()


class Setup:
    def __init__(self, fake, tmp_path, owner="alice", limits=None):
        self.fake = fake
        self.store = Store(tmp_path / "chats.db")
        settings = Settings(api_key=VALID_KEY, base_url=fake.base_url, key_source=SOURCE_ENV,
                            operator_base_url=fake.base_url, provider="dashscope")
        self.provider = provider_for(settings, max_retries=0)
        self.quota = SessionQuota()
        self.spending = Spending(limits or Limits(), self.quota, DailyCounter(), operator_pays=True)
        self.kbs = KnowledgeBases(self.store, owner, self.provider)
        self.conversation = Conversation()
        self.owner = owner

    def add_contacts(self) -> int:
        kb = self.kbs.create("公司资料")
        report = self.kbs.add_file(kb.id, CONTACTS, contact_bytes())
        assert report.ok, report.error
        return kb.id

    def engine(self, kb_id: int | None, kbs=None) -> ChatEngine:
        retrieval = Retrieval(kbs or self.kbs, kb_id, self.provider, self.spending) if kb_id else None
        return ChatEngine(self.conversation, self.provider, self.spending,
                          Saver(self.store, self.owner, SaveState()), TurnOptions("qwen-plus"), retrieval=retrieval)

    def chat_requests(self):
        return [r for r in self.fake.requests if r["path"].endswith("/chat/completions")]


def sent_passages(request_body: dict) -> dict[int, str]:
    """The passages the model got, by the number it saw."""
    text = request_body["messages"][-1]["content"]
    heads = list(re.finditer(r"^\[(\d+)\] [^\n]*\n", text, re.MULTILINE))
    end_of_passages = text.rindex("\n\n问题：") if "问题：" in text else text.rindex("\n\nQuestion:")
    passages = {}
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else end_of_passages
        passages[int(head.group(1))] = text[head.end():end].strip()
    return passages


def test_the_answer_cites_the_passage_numbered_as_sent_and_keeps_it_after_a_reload(fake, tmp_path):
    s = Setup(fake, tmp_path)
    kb_id = s.add_contacts()
    events = list(s.engine(kb_id).send("张伟是哪个部门的"))
    assert isinstance(events[-1], ReplyEnded)
    reply = s.conversation.messages[-1]
    body = s.chat_requests()[-1]["body"]
    sent = sent_passages(body)
    assert sent and sorted(sent) == list(range(1, len(sent) + 1))
    # The conversation keeps the question as typed; only the request carries the passages.
    assert s.conversation.messages[0].content == "张伟是哪个部门的"
    assert "张伟是哪个部门的" in body["messages"][-1]["content"]

    sources = citations.sources(reply)
    assert [src.n for src in sources] == sorted(sent)
    for src in sources:  # passage n on the reply is exactly the passage the model saw as [n]
        assert src.text.strip() == sent[src.n]
        assert src.file == CONTACTS and src.kb == kb_id and src.chunk_id > 0
        assert s.kbs.document_text(kb_id, s.kbs.file(kb_id, CONTACTS).id)[src.start:src.end] == src.text
    numbers = citations.cited(reply.content, [src.n for src in sources])
    assert numbers, reply.content
    quoted = reply.content.split("：", 1)[1].rsplit(" [", 1)[0]
    assert quoted in sent[numbers[0]] and "张伟" in quoted  # the marker points at the passage it quotes

    stored = s.store.load("alice", s.conversation.id)
    assert [(p.n, p.text) for p in citations.sources(stored.messages[-1])] == [(p.n, p.text) for p in sources]
    exported = json.loads(transfer.to_json(stored))
    parts = exported["conversation"]["messages"][-1]["parts"]
    assert {p["type"] for p in parts} == {"citation", "retrieval"}
    assert all({"file", "page", "heading", "start", "end", "chunk_id", "kb"} <= set(p["data"])
               for p in parts if p["type"] == "citation")
    assert citations.knowledge_base_of(stored) == kb_id
    imported = transfer.from_json(transfer.to_json(stored))  # and an export imports back with its sources
    assert [(p.n, p.file, p.text) for p in citations.sources(imported.messages[-1])] == \
        [(p.n, p.file, p.text) for p in sources]


def test_markers_without_a_sent_passage_are_plain_text():
    assert citations.mark("见 [1] 和 [7]，另见 [2](http://x)", [1, 2]) == "见 **[1]** 和 \\[7\\]，另见 [2](http://x)"
    assert citations.cited("[3] then [1] and [3] and [9]", {1, 3}) == [3, 1]


def test_nothing_relevant_gives_a_refusal_to_answer_not_an_invention(fake, tmp_path):
    s = Setup(fake, tmp_path)
    kb_id = s.add_contacts()
    list(s.engine(kb_id).send("年假有多少天"))
    reply = s.conversation.messages[-1]
    assert reply.content == "无法根据知识库中的资料回答这个问题。"
    assert citations.cited(reply.content, [src.n for src in citations.sources(reply)]) == []
    prompt = s.chat_requests()[-1]["body"]["messages"][-1]["content"]
    assert "无法根据知识库中的资料回答" in prompt and "同名" in prompt  # the course's rules are in the prompt


def test_a_follow_up_is_rewritten_and_every_paid_call_is_counted(fake, tmp_path):
    s = Setup(fake, tmp_path)
    kb_id = s.add_contacts()
    engine = s.engine(kb_id)
    list(engine.send("张伟是哪个部门的"))
    first = s.quota.tokens
    list(engine.send("他的邮箱是什么"))
    rewrites = [r for r in s.chat_requests() if not r["body"].get("stream")]
    assert len(rewrites) == 1 and "standalone" in rewrites[0]["body"]["messages"][0]["content"]
    assert "张伟是哪个部门的" in rewrites[0]["body"]["messages"][1]["content"]  # the history goes with it
    record = next(p for p in s.conversation.messages[-1].parts if p.type == "retrieval").data
    assert record["rewrite_prompt_tokens"] > 0 and record["embedding_tokens"] > 0 and record["rerank_tokens"] > 0
    reply_tokens = s.conversation.messages[-1].usage.total_tokens
    paid = (record["rewrite_prompt_tokens"] + record["rewrite_completion_tokens"] + record["embedding_tokens"]
            + record["rerank_tokens"])
    assert s.quota.tokens - first == reply_tokens + paid  # the quota saw the rewrite, embeddings and rerank
    totals = accounting.totals(s.conversation)
    assert totals.retrieval.total_tokens >= paid and totals.usage.total_tokens >= totals.retrieval.total_tokens
    assert record["unpriced"] == [] and record["cost"] > 0  # the rerank has a price too: the cost has no gap


def test_the_search_is_refused_by_the_limits_before_anything_is_sent(fake, tmp_path):
    s = Setup(fake, tmp_path, limits=Limits(max_tokens_per_session=50))
    kb_id = s.add_contacts()
    fake.reset()
    events = list(s.engine(kb_id).send("张伟是哪个部门的"))
    assert len(events) == 1 and isinstance(events[0], Refused)
    assert not s.chat_requests() and not fake.embedding_requests and not s.conversation.messages


def test_another_owners_knowledge_base_cannot_be_searched_from_the_chat(fake, tmp_path):
    alice = Setup(fake, tmp_path)
    kb_id = alice.add_contacts()
    bob = Setup(fake, tmp_path, owner="bob")
    events = list(bob.engine(kb_id).send("张伟是哪个部门的"))
    assert len(events) == 1 and isinstance(events[0], Refused) and events[0].problem.kind == "kb_missing"
    assert not bob.chat_requests()
    assert bob.kbs.list() == []


def test_regenerate_searches_again_and_cites_again(fake, tmp_path):
    s = Setup(fake, tmp_path)
    kb_id = s.add_contacts()
    engine = s.engine(kb_id)
    list(engine.send("张伟是哪个部门的"))
    first = s.conversation.messages[-1]
    list(engine.regenerate(first.id))
    again = s.conversation.messages[-1]
    assert again.id != first.id and citations.sources(again)
    assert "资料：" in s.chat_requests()[-1]["body"]["messages"][-1]["content"]
