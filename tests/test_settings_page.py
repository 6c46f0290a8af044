"""The ⚙️ Settings page and the chat's short sidebar, driven by AppTest: what is chosen on one page applies on
the other, after a rerun and after a visit elsewhere (Streamlit drops a widget's value on a run that does
not draw it; the session's Preferences keep it)."""

from __future__ import annotations

import os
import socket

from streamlit.testing.v1 import AppTest

from components import settings
from qwenchat import personas
from qwenchat.i18n import t
from tests.apptest import APP, HISTORY, TIMEOUT, USAGE, chat, on_chat, on_settings, send
from tests.fake_dashscope import VALID_KEY, FakeDashScope


def chat_requests(fake) -> list[dict]:
    return [r for r in fake.requests if r["body"].get("stream")]


def test_settings_chosen_on_their_page_apply_in_the_chat_after_reruns_and_other_pages(app, fake):
    cid = app.session_state["chat"].conversation.id
    on_settings(app)
    app.text_input(key="farewell").input("后会有期！").run()
    app.number_input(key="budget_qwen-plus").set_value(5_000).run()
    app.text_area(key=f"system_prompt_{cid}").input("你是一只猫。").run()
    app.toggle(key=f"show_params_{cid}").set_value(True).run()
    app.number_input(key=f"param_seed_{cid}").set_value(7).run()
    for page in (USAGE, HISTORY):  # pages that draw none of those widgets
        app.switch_page(page).run()
    on_chat(app).run()  # and a rerun of the chat
    head = t("usage.budget", "zh", share="", budget=0).split("：")[0]
    assert next(bar for bar in app.sidebar.progress if bar.text.startswith(head)).text.endswith("共 5,000")
    send(app, "你好")
    body = chat_requests(fake)[-1]["body"]
    assert body["messages"][0] == {"role": "system", "content": "你是一只猫。"} and body["seed"] == 7
    send(app, "好的我知道了，再见")
    assert chat(app)[-1] == ("assistant", "后会有期！")

    on_settings(app)  # the page shows what was chosen, not its defaults
    assert app.text_input(key="farewell").value == "后会有期！"
    assert app.number_input(key="budget_qwen-plus").value == 5_000
    assert app.text_area(key=f"system_prompt_{cid}").value == "你是一只猫。"
    assert app.number_input(key=f"param_seed_{cid}").value == 7


def test_a_visitors_key_and_url_are_kept_across_pages(app_env, fake):
    app_env.delenv("DASHSCOPE_API_KEY")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    on_settings(at).text_input(key="api_key_input").input(VALID_KEY).run()
    at.selectbox(key="region").select("custom").run()
    at.text_input(key="custom_base_url").input(fake.base_url).run()
    assert t("settings.key_from", "zh", source=t("settings.key_source.sidebar", "zh")) in [c.value for c in at.caption]
    at.switch_page(USAGE).run()
    on_chat(at)
    send(at, "你好")
    assert chat(at)[-1] == ("assistant", "收到：你好")
    assert chat_requests(fake)[-1]["authorization"] == f"Bearer {VALID_KEY}"
    on_settings(at)
    assert at.selectbox(key="region").value == "custom" and at.text_input(key="custom_base_url").value == fake.base_url


def test_the_model_and_thinking_chosen_in_the_sidebar_survive_a_visit_to_another_page(app, fake):
    app.sidebar.selectbox(key="model_choice").select("qwen3-max").run()
    app.sidebar.toggle(key="thinking_qwen3-max").set_value(True).run()
    on_settings(app)
    assert app.subheader[1].value == t("settings_page.model", "zh", model="qwen3-max")
    app.switch_page(USAGE).run()
    on_chat(app)
    assert app.sidebar.selectbox(key="model_choice").value == "qwen3-max"
    assert app.sidebar.toggle(key="thinking_qwen3-max").value
    send(app, "你好")
    body = chat_requests(fake)[-1]["body"]
    assert body["model"] == "qwen3-max" and body["enable_thinking"] is True


def test_the_chat_sidebar_keeps_only_what_is_changed_while_chatting(app):
    """Every widget costs each rerun of the chat: the rarely changed settings are on their own page."""
    keys = {w.key for kind in ("text_input", "selectbox", "number_input", "text_area", "toggle")
            for w in app.sidebar.get(kind)}
    cid = app.session_state["chat"].conversation.id
    assert keys == {"model_choice", "thinking_qwen-plus", f"persona_{cid}", f"kb_choice_{cid}"}
    assert app.sidebar.get("page_link")  # the way to the rest
    on_settings(app)
    keys = {w.key for kind in ("text_input", "selectbox", "number_input", "text_area", "toggle") for w in app.get(kind)}
    assert {"api_key_input", "region", "budget_qwen-plus", "farewell", "judge", f"system_prompt_{cid}",
            f"show_params_{cid}", f"persona_{cid}"} <= keys


def test_the_open_conversation_is_exported_from_the_settings_page(app, fake):
    on_settings(app)
    assert not app.download_button and t("export.empty", "zh") in [c.value for c in app.caption]
    on_chat(app)
    send(app, "你好")
    cid = app.session_state["chat"].conversation.id
    assert not app.download_button  # not on the chat page: two buttons there cost every rerun
    on_settings(app)
    assert [b.key for b in app.download_button] == [f"export_md_{cid}", f"export_json_{cid}"]


# ---- what is changed on the Settings page is saved at once (a reload brings it back) ----------------------

def reload(at: AppTest) -> AppTest:
    """The same address opened again: a new session with the page's ?o= and ?c=."""
    again = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    again.query_params.update({name: at.query_params[name] for name in ("o", "c") if name in at.query_params})
    again.run()
    assert not again.exception, again.exception
    return again


def stored_conversations(at: AppTest) -> int:
    from qwenchat.store import Store

    store = Store(os.environ["QWENCHAT_DB"])
    try:
        return store.count_conversations(at.session_state["owner"].id)
    finally:
        store.close()


def test_a_system_prompt_persona_and_parameters_changed_after_a_message_survive_a_reload(app, fake):
    send(app, "hi there")
    cid = app.session_state["chat"].conversation.id
    on_settings(app)
    app.text_area(key=f"system_prompt_{cid}").input("You are a pirate. Answer like one.").run()
    again = on_settings(reload(app))
    assert again.session_state["chat"].conversation.id == cid
    assert again.text_area(key=f"system_prompt_{cid}").value == "You are a pirate. Answer like one."

    app.toggle(key=f"show_params_{cid}").set_value(True).run()
    app.number_input(key=f"param_seed_{cid}").set_value(7).run()
    again = on_settings(reload(app))
    assert again.number_input(key=f"param_seed_{cid}").value == 7
    app.button(key=f"params_reset_{cid}").click().run()
    assert app.number_input(key=f"param_seed_{cid}").value is None
    assert reload(app).session_state["chat"].conversation.params == {}
    app.number_input(key=f"param_seed_{cid}").set_value(7).run()

    on_chat(app).sidebar.selectbox(key=f"persona_{cid}").select("translator").run()
    again = reload(app)
    assert again.sidebar.selectbox(key=f"persona_{cid}").value == "translator"
    assert again.session_state["chat"].conversation.system_prompt == personas.builtin("translator").prompt
    send(again, "hello")
    assert chat_requests(fake)[-1]["body"]["messages"][0]["content"] == personas.builtin("translator").prompt


def test_opening_settings_of_an_empty_conversation_saves_no_conversation(app):
    cid = app.session_state["chat"].conversation.id
    on_settings(app)
    app.text_area(key=f"system_prompt_{cid}").input("You are a pirate.").run()
    app.toggle(key=f"show_params_{cid}").set_value(True).run()
    app.number_input(key=f"param_seed_{cid}").set_value(7).run()
    assert stored_conversations(app) == 0 and "c" not in app.query_params
    on_chat(app)  # the choice still applies to the first message
    send(app, "hi")
    assert app.session_state["chat"].conversation.system_prompt == "You are a pirate." and stored_conversations(app) == 1


# ---- a local server's model list -------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_local_server_that_comes_up_after_the_page_lists_its_models(app_env, monkeypatch):
    port = free_port()
    app_env.delenv("DASHSCOPE_API_KEY")
    app_env.delenv("QWENCHAT_PROVIDER")
    app_env.setenv("DASHSCOPE_BASE_URL", f"http://127.0.0.1:{port}/compatible-mode/v1")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert at.sidebar.selectbox(key="model_choice").options[0].startswith("qwen-plus · ")  # the Qwen catalog
    with FakeDashScope(port=port, api_key=None, models=["llama3:8b", "qwen3:8b"]) as local:
        at.run()  # within the retry interval: not asked again on every rerun
        assert local.model_requests == []
        monkeypatch.setattr(settings, "SERVED_MODELS_RETRY_S", 0.0)
        at.run()
        assert at.sidebar.selectbox(key="model_choice").options[:2] == ["llama3:8b", "qwen3:8b"]
        at.run()
        at.run()
        assert len(local.model_requests) == 1  # a list that came is kept


# ---- the user's own personas: deleted from the Settings page; the cap has its own message ----------------

def save_persona(at: AppTest, name: str) -> AppTest:
    at.text_input(key="persona_name").input(name).run()
    at.button(key="save_persona").click().run()
    assert not at.exception, at.exception
    return at


def test_a_saved_persona_is_deleted_after_a_confirmation(app):
    cid = app.session_state["chat"].conversation.id
    on_settings(app)
    app.text_area(key=f"system_prompt_{cid}").input("You are a pirate.").run()
    save_persona(app, "Pirate")
    assert "Pirate" in app.selectbox(key=f"persona_{cid}").options
    app.button(key="persona_delete_user:Pirate").click().run()
    assert t("settings.persona_confirm_delete", "zh", name="Pirate") in [w.value for w in app.warning]
    assert "Pirate" in app.selectbox(key=f"persona_{cid}").options  # only asked so far
    app.button(key="persona_delete_no_user:Pirate").click().run()
    assert not app.warning
    app.button(key="persona_delete_user:Pirate").click().run()
    app.button(key="persona_delete_yes_user:Pirate").click().run()
    assert not app.exception
    assert "Pirate" not in app.selectbox(key=f"persona_{cid}").options
    again = on_settings(reload(app))  # gone from the store too
    assert "Pirate" not in again.selectbox(key=f"persona_{again.session_state['chat'].conversation.id}").options
    assert app.text_area(key=f"system_prompt_{cid}").value == "You are a pirate."  # the prompt itself stays


def test_saving_past_the_cap_says_to_delete_one_first(app):
    store_owner = app.session_state["owner"].id
    from qwenchat.store import Store

    store = Store(os.environ["QWENCHAT_DB"])
    for i in range(personas.MAX_SAVED):
        store.save_persona(store_owner, personas.custom(f"p{i}", "x"))
    store.close()
    on_settings(app)
    save_persona(app, "one more")
    warnings = [w.value for w in app.warning]
    assert t("settings.too_many_personas", "zh", limit=personas.MAX_SAVED) in warnings
    assert t("settings.persona_not_saved", "zh") not in warnings
