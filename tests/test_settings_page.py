"""The ⚙️ Settings page and the chat's short sidebar, driven by AppTest: what is chosen on one page applies on
the other, after a rerun and after a visit elsewhere (Streamlit drops a widget's value on a run that does
not draw it; the session's Preferences keep it)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from qwenchat.i18n import t
from tests.apptest import APP, HISTORY, TIMEOUT, USAGE, chat, on_chat, on_settings, send
from tests.fake_dashscope import VALID_KEY


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
