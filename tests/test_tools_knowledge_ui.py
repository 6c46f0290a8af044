"""The `search_knowledge_base` tool on the page (AppTest against the fake DashScope and a real SQLite
knowledge base): switched on in ⚙️ Settings, with a knowledge base chosen in the chat, the reply shows the
search as a tool step and its sources under the answer, numbered as the model saw them."""

from __future__ import annotations

import pytest

from components.navigation import CHAT
from qwenchat.i18n import t
from qwenchat.knowledge import KnowledgeBases
from tests.apptest import on_settings
from tests.test_knowledge_page import OWNER, create, db, open_page, popover_labels, upload  # noqa: F401 - db: fixture
from tests.test_retrieval import CONTACTS, contact_bytes

pytestmark = pytest.mark.timeout(120)


def test_the_model_searches_the_chosen_knowledge_base_and_the_sources_are_under_its_answer(db, fake):  # noqa: F811
    at = create(open_page(), "公司资料")
    upload(at, (CONTACTS, contact_bytes()))
    on_settings(at).toggle(key="tool_search_knowledge_base").set_value(True).run()
    at.switch_page(CHAT).run()
    conversation = at.session_state["chat"].conversation
    at.sidebar.selectbox(key=f"kb_choice_{conversation.id}").set_value(
        KnowledgeBases(db, OWNER).find("公司资料").id).run()
    at.chat_input(key="chat_input").set_value("谢宇的邮箱？[[fake:kb_search:谢宇]]").run()
    assert not at.exception, at.exception
    reply = at.chat_message[-1]
    steps = reply.expander[0]
    assert steps.label == t("tools.steps", "zh", count=1)
    assert '{"query": "谢宇"}' in [c.value for c in steps.code]  # the step: what the model searched for
    body = "\n".join(md.value for md in reply.markdown)
    assert "xieyu@educompany.com" in body and "**[" in body  # the marker drawn as a citation
    labels = popover_labels(reply)
    assert len(labels) == 1 and (CONTACTS.replace(".", "\\.") in labels[0] or CONTACTS in labels[0])
    step_codes = {c.value for c in steps.code}
    assert any("xieyu@educompany.com" in c.value for c in reply.code if c.value not in step_codes)  # the passage
    assert any("知识库检索" in c.value for c in at.sidebar.caption)  # the search's tokens in the totals
    chat_requests = [r for r in fake.requests if r["path"].endswith("/chat/completions")]
    assert chat_requests[0]["body"]["messages"][-1]["content"] == "谢宇的邮箱？[[fake:kb_search:谢宇]]"


def test_two_searches_show_each_passage_with_the_query_that_found_it(db, fake):  # noqa: F811
    at = create(open_page(), "公司资料")
    upload(at, (CONTACTS, contact_bytes()))
    on_settings(at).toggle(key="tool_search_knowledge_base").set_value(True).run()
    at.switch_page(CHAT).run()
    conversation = at.session_state["chat"].conversation
    at.sidebar.selectbox(key=f"kb_choice_{conversation.id}").set_value(
        KnowledgeBases(db, OWNER).find("公司资料").id).run()
    at.chat_input(key="chat_input").set_value("[[fake:kb_search:教研部 张伟|谢宇]]").run()
    assert not at.exception, at.exception
    reply = at.chat_message[-1]
    assert reply.expander[0].label == t("tools.steps", "zh", count=2)
    labels = popover_labels(reply)
    assert len(labels) == 2 and labels[0].startswith("[1]") and not labels[1].startswith("[1]")
    captions = [c.value for c in reply.caption]
    assert t("chat.source.query", "zh", query="教研部 张伟") in captions
    assert t("chat.source.query", "zh", query="谢宇") in captions
