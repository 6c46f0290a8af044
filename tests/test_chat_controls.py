"""The chat's controls in AppTest: regenerate with its 1/2 switch, edit and resend, delete a pair, copy,
personas and parameters, each checked in what the fake DashScope received."""

from __future__ import annotations

from qwenchat.i18n import t
from tests.apptest import chat, on_chat, on_settings, send
from tests.fake_dashscope import VALID_KEY


def chat_requests(fake):
    return [r for r in fake.requests if r["path"].endswith("/chat/completions")]


def click(at, key):
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    return at


def conversation(at):
    return at.session_state["chat"].conversation


def test_regenerate_resends_the_same_history_and_shows_both_versions(app, fake):
    send(app, "讲个笑话")
    reply = conversation(app).messages[-1]
    fake.enqueue({"kind": "text", "chunks": ["第二个笑话"]})
    click(app, f"regenerate_{reply.id}")
    first, second = chat_requests(fake)
    assert first["body"]["messages"] == second["body"]["messages"]
    assert chat(app)[-1] == ("assistant", "第二个笑话")
    assert "2/2" in [c.value for c in app.caption]
    click(app, f"previous_{conversation(app).messages[-1].id}")
    assert chat(app)[-1] == ("assistant", "收到：讲个笑话") and "1/2" in [c.value for c in app.caption]


def test_edit_and_resend_sends_the_edited_text_not_the_old_one(app, fake):
    send(app, "第一问")
    send(app, "错字的问题")
    question = conversation(app).messages[2]
    click(app, f"edit_{question.id}")
    app.text_area(key=f"edit_text_{question.id}").input("改好的问题")
    app.button(key=f"FormSubmitter:edit_{question.id}-{t('chat.send', 'zh')}").click().run()
    assert not app.exception
    sent = [m["content"] for m in chat_requests(fake)[-1]["body"]["messages"]]
    assert sent[-1] == "改好的问题" and "错字的问题" not in sent
    assert [text for _, text in chat(app)] == ["第一问", "收到：第一问", "改好的问题", "收到：改好的问题"]


def test_deleting_a_pair_leaves_it_out_of_the_next_request(app, fake):
    send(app, "忘掉这个")
    send(app, "记住这个")
    click(app, f"delete_{conversation(app).messages[0].id}")
    assert [text for _, text in chat(app)] == ["记住这个", "收到：记住这个"]
    send(app, "然后呢")
    sent = [m["content"] for m in chat_requests(fake)[-1]["body"]["messages"]]
    assert "忘掉这个" not in sent and "记住这个" in sent


def test_deleting_a_pair_whose_question_was_edited_removes_only_that_pair(app, fake):
    send(app, "q1")
    send(app, "q2")
    question = conversation(app).messages[0]
    click(app, f"edit_{question.id}")
    app.text_area(key=f"edit_text_{question.id}").input("q1-edited")
    app.button(key=f"FormSubmitter:edit_{question.id}-{t('chat.send', 'zh')}").click().run()
    click(app, f"previous_{conversation(app).messages[0].id}")  # back on the original q1
    assert [text for _, text in chat(app)] == ["q1", "收到：q1", "q2", "收到：q2"]
    click(app, f"delete_{question.id}")
    assert [text for _, text in chat(app)] == ["q2", "收到：q2"]  # what followed keeps its place
    assert len(conversation(app).all_messages()) == 4  # the edited branch is still there, one switch away


def test_deleting_the_only_pair_leaves_no_trace_of_its_words_in_the_saved_history(app, fake):
    # The second review: History went on listing the emptied conversation under the deleted words.
    import os
    import sqlite3

    send(app, "Secret subject line")
    click(app, f"delete_{conversation(app).messages[0].id}")
    with sqlite3.connect(os.environ["QWENCHAT_DB"]) as db:
        stored = db.execute("SELECT title FROM conversations").fetchall()
        words = db.execute("SELECT COUNT(*) FROM messages WHERE content LIKE '%Secret%'").fetchone()[0]
    assert stored and all("Secret" not in title for (title,) in stored) and words == 0
    send(app, "New subject")
    with sqlite3.connect(os.environ["QWENCHAT_DB"]) as db:
        assert db.execute("SELECT title FROM conversations").fetchall() == [("New subject",)]


def test_copy_shows_the_replys_markdown_source(app, fake):
    fake.enqueue({"kind": "text", "chunks": ["**粗体** 和 `代码`"]})
    send(app, "格式")
    reply = conversation(app).messages[-1]
    click(app, f"copy_{reply.id}")
    assert [c.value for c in app.code] == ["**粗体** 和 `代码`"]


def test_a_persona_sets_the_system_prompt_of_the_next_request(app, fake):
    send(app, "你好")
    app.sidebar.selectbox(key=f"persona_{conversation(app).id}").select("nutritionist").run()
    send(app, "早餐吃什么")
    system = chat_requests(fake)[-1]["body"]["messages"][0]
    assert system["role"] == "system" and "营养师" in system["content"]
    assert "营养师" not in chat_requests(fake)[0]["body"]["messages"][0]["content"]


def test_parameters_are_sent_and_saved_with_the_conversation(app, fake):
    cid = conversation(app).id
    on_settings(app).toggle(key=f"show_params_{cid}").set_value(True).run()
    app.number_input(key=f"param_temperature_{cid}").set_value(0.2).run()
    on_chat(app)
    send(app, "你好")
    assert chat_requests(fake)[-1]["body"]["temperature"] == 0.2
    assert conversation(app).params == {"temperature": 0.2}


def test_a_local_openai_compatible_server_needs_no_key_and_lists_its_models(app_env, fake):
    from tests.apptest import start

    app_env.delenv("DASHSCOPE_API_KEY")
    app_env.delenv("QWENCHAT_PROVIDER")  # 127.0.0.1 is not DashScope: an Ollama-like server
    fake.models, fake.api_key = ["llama3.2", "qwen2.5:7b"], None
    at = start()
    assert at.sidebar.selectbox(key="model_choice").options[:2] == ["llama3.2", "qwen2.5:7b"]
    at.sidebar.selectbox(key="model_choice").select("qwen2.5:7b").run()
    send(at, "你好")
    request = chat_requests(fake)[-1]
    assert request["body"]["model"] == "qwen2.5:7b" and "enable_thinking" not in request["body"]
    assert chat(at)[-1] == ("assistant", "收到：你好") and request["authorization"] != f"Bearer {VALID_KEY}"


def test_a_long_conversation_shows_the_older_messages_controls_on_request(app_env, fake):
    from streamlit.testing.v1 import AppTest

    from qwenchat.chat.state import ChatSession
    from qwenchat.conversation import Conversation, Message
    from tests.apptest import APP, TIMEOUT

    long = Conversation()
    for i in range(20):
        long.add_user(f"问题{i}")
        long.messages.append(Message("assistant", f"回答{i}"))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["chat"] = ChatSession(conversation=long)
    at.run()
    first, newest = long.messages[0], long.messages[-2]
    keys = {b.key for b in at.button}
    assert f"edit_{newest.id}" in keys and f"edit_{first.id}" not in keys  # a rerun stays cheap
    click(at, "all_controls")
    click(at, f"edit_{first.id}")
    at.text_area(key=f"edit_text_{first.id}").input("改写的第一问")
    at.button(key=f"FormSubmitter:edit_{first.id}-{t('chat.send', 'zh')}").click().run()
    assert chat_requests(fake)[-1]["body"]["messages"][-1]["content"] == "改写的第一问"


def test_a_saved_output_cap_above_a_newly_chosen_models_maximum_is_clamped_not_a_crash(app, fake):
    cid = conversation(app).id
    on_settings(app).toggle(key=f"show_params_{cid}").set_value(True).run()
    app.number_input(key=f"param_max_tokens_{cid}").set_value(30_000).run()
    on_chat(app).sidebar.selectbox(key="model_choice").select("qwen-max").run()
    assert not app.exception and app.chat_input
    send(app, "你好")
    assert chat_requests(fake)[-1]["body"]["max_tokens"] <= 8_192
    assert on_settings(app).number_input(key=f"param_max_tokens_{cid}").value <= 8_192  # the page opens, clamped


def test_deleting_the_pair_that_closed_the_conversation_opens_it_again(app, fake):
    send(app, "你好")
    send(app, "好的我知道了，谢谢")
    assert app.chat_input(key="chat_input").disabled
    click(app, f"delete_{conversation(app).messages[2].id}")
    assert not conversation(app).closed and not app.chat_input(key="chat_input").disabled


def test_a_persona_chosen_before_a_regenerate_shows_above_the_new_reply(app, fake):
    send(app, "你好")
    reply = conversation(app).messages[-1]
    app.sidebar.selectbox(key=f"persona_{conversation(app).id}").select("translator").run()
    click(app, f"regenerate_{reply.id}")
    assert "translator" in chat_requests(fake)[-1]["body"]["messages"][0]["content"]
    assert t("chat.persona_from_here", "zh", name="翻译") in [c.value for c in app.caption]
    assert [m.role for m in conversation(app).messages if m.parts] == ["assistant"]
    send(app, "早上好")  # the next message is not marked again
    assert [m.role for m in conversation(app).messages if m.parts] == ["assistant"]
    assert [c.value for c in app.caption].count(t("chat.persona_from_here", "zh", name="翻译")) == 1


def test_a_persona_switch_shows_in_the_chat_where_it_starts(app, fake):
    send(app, "你好")
    app.sidebar.selectbox(key=f"persona_{conversation(app).id}").select("translator").run()
    send(app, "早上好")
    captions = [c.value for c in app.caption]
    assert any(t("chat.persona_from_here", "zh", name="翻译") == c for c in captions)
    assert [m.content for m in conversation(app).messages if m.parts] == ["早上好"]
