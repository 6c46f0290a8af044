"""Owner tokens in the app: a token this server did not mint is refused with a note, while a bookmark from
before tokens were signed still opens its history."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from qwenchat import identity
from qwenchat.conversation import Conversation
from qwenchat.i18n import t
from qwenchat.store import Store
from tests.apptest import APP, TIMEOUT

OLD_TOKEN = "oldBookmarkToken_0123456789"  # well-formed, made before tokens carried a signature


def open_with(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.run()
    assert not at.exception
    return at


def test_a_chosen_token_gets_a_new_private_history_and_says_so(app_env):
    at = open_with({"o": "attacker-chose-this-token-1234"})
    assert at.session_state["owner"].url_token != "attacker-chose-this-token-1234"
    assert any(t("session.token_rejected", "zh") in i.value for i in at.info)


def test_a_bookmark_from_before_signed_tokens_still_opens_its_history(app_env, tmp_path):
    old = Conversation(title="旧的对话")
    old.add_user("以前的问题")
    with Store(tmp_path / "chats.db") as store:
        store.save_conversation(identity.owner_for(url_token=OLD_TOKEN).id, old)
    at = open_with({"o": OLD_TOKEN, "c": old.id})
    assert at.session_state["chat"].conversation.messages[0].content == "以前的问题"
    assert not any(t("session.token_rejected", "zh") in i.value for i in at.info)
