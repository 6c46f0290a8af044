"""The history page and conversations carried by the URL, driven by AppTest over a temporary SQLite file.

Most tests run once per kind of visitor: single-user mode, a URL token (`?o=`), and a signed-in user.
No DashScope key is set: nothing here talks to a model, and the pages must work without one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from streamlit.testing.v1 import AppTest

from components import history
from components.navigation import HISTORY
from qwenchat import identity
from qwenchat.conversation import Conversation, Message, Usage
from qwenchat.i18n import Msg, t
from qwenchat.store import Store
from qwenchat.transfer import MAX_BYTES, to_json
from tests.conftest import TEST_SECRET

pytestmark = pytest.mark.timeout(90)

TIMEOUT = 30
ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
SECRET = TEST_SECRET.encode()
TOKEN = identity.mint_token(SECRET)  # owner tokens are accepted only when this server minted them
OTHER_TOKEN = identity.mint_token(SECRET)
NOT_SIGNED_IN = {"email": "test@example.com"}  # AppTest's default user


@dataclass
class Visitor:
    """Who opens the page, and how the store knows them."""

    kind: str
    owner: str
    notice: str  # what the privacy note must say
    query: dict[str, str] = field(default_factory=dict)
    user: dict[str, object] = field(default_factory=lambda: dict(NOT_SIGNED_IN))

    def run(self, page: str | None = None, **query: str) -> AppTest:
        """The chat page, then `page` if given, the way a visitor reaches it: the chat first, then the link."""
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        at.user = dict(self.user)
        at.query_params.update({**self.query, **query})
        at.run()
        if page:
            at.switch_page(page).run()
        assert not at.exception, at.exception
        return at

    def history(self) -> AppTest:
        return self.run(HISTORY)


VISITORS = {
    "single": Visitor("single", "local", t("history.privacy.single", "zh").split(" ", 1)[1]),  # Chinese; the emoji is the icon
    "token": Visitor("token", identity.owner_for(url_token=TOKEN, secret=SECRET).id, t("history.privacy.token", "zh").split(" ", 1)[1],
                     query={"o": TOKEN}),
    "signed_in": Visitor("signed_in", "user:alice@example.org", t("history.privacy.signed_in", "zh").split(" ", 1)[1],
                         user={"is_logged_in": True, "email": "Alice@Example.org", "name": "Alice"}),
}
# Owners who are not the visitor: none of theirs may ever show.
STRANGERS = ["local", identity.owner_for(url_token=OTHER_TOKEN, secret=SECRET).id, "user:bob@example.org"]


@pytest.fixture
def db(monkeypatch, tmp_path):
    """A fresh SQLite file as QWENCHAT_DB; no key, no secrets, no .env, no access code."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL", "QWEN_MODEL", "QWENCHAT_SAVE", "QWENCHAT_SINGLE_USER",
                 "APP_ACCESS_CODE", "QWENCHAT_REQUIRE_LOGIN", "QWENCHAT_BYOK"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "chats.db"
    monkeypatch.setenv("QWENCHAT_DB", str(path))
    monkeypatch.setenv("QWENCHAT_SECRET", TEST_SECRET)  # the key the tests' owner tokens were minted with
    for name in ("QWENCHAT_MAX_IMPORT_BYTES", "QWENCHAT_MAX_CONVERSATIONS_PER_OWNER", "QWENCHAT_MAX_STORE_BYTES"):
        monkeypatch.delenv(name, raising=False)
    history.import_limiter.clear()  # one per server process: each test starts with no imports this minute
    with Store(path) as store:
        yield store


@pytest.fixture(params=list(VISITORS))
def visitor(request, db, monkeypatch) -> Visitor:
    chosen = VISITORS[request.param]
    if chosen.kind == "single":
        monkeypatch.setenv("QWENCHAT_SINGLE_USER", "1")
    return chosen


@pytest.fixture
def token_visitor(db) -> Visitor:
    return VISITORS["token"]


def saved(store: Store, owner: str, title: str, *texts: str, model: str = "qwen-plus") -> Conversation:
    conversation = Conversation(model=model, title=title)
    for text in texts:
        conversation.messages.append(Message("user", text))
        conversation.messages.append(Message("assistant", "回答：" + text, model=model, usage=Usage(10, 5, 15)))
    store.save_conversation(owner, conversation)
    time.sleep(0.002)  # distinct update times: the list is newest first
    return conversation


def strangers_of(visitor: Visitor) -> list[str]:
    return [owner for owner in STRANGERS if owner != visitor.owner]


def titles(at: AppTest) -> list[str]:
    return [md.value.strip("*") for md in at.markdown if md.value.startswith("**")]


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    return at


def submit_rename(at: AppTest, conversation_id: str, title: str) -> AppTest:
    at.text_input(key=f"title_{conversation_id}").input(title)
    at.button[[b.label for b in at.button].index(t("history.save", "zh"))].click().run()  # the form's submit
    assert not at.exception, at.exception
    return at


def alerts(at: AppTest) -> str:
    return "\n".join(a.value for a in [*at.info, *at.warning, *at.error, *at.success])


def param(at: AppTest, name: str) -> str:
    value = at.query_params.get(name, "")
    return value[0] if isinstance(value, list) else value


# ---- the list ----

def test_saved_conversations_are_listed_newest_first_with_date_model_and_tokens(visitor, db):
    saved(db, visitor.owner, "first one", "a")
    second = saved(db, visitor.owner, "second one", "b", "c", model="qwen-max")
    at = visitor.history()
    assert titles(at) == ["second one", "first one"]
    (summary,) = [s for s in db.list_conversations(visitor.owner) if s.id == second.id]
    when = datetime.fromtimestamp(summary.updated_at, timezone.utc).strftime("%Y-%m-%d %H:%M")  # no browser: UTC
    assert at.caption[0].value == t("history.describe", "zh", when=when, model="qwen-max", tokens=30, messages=4)
    assert visitor.notice in alerts(at)
    assert not at.warning  # saving is on: no memory-only warning


def test_dates_are_shown_in_the_browsers_time_zone(db, monkeypatch):
    monkeypatch.setenv("QWENCHAT_SINGLE_USER", "1")
    conversation = saved(db, "local", "dated", "a")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.context = {"timezone": "Asia/Shanghai"}
    at.run()
    at.switch_page(HISTORY).run()
    (summary,) = db.list_conversations("local")
    when = datetime.fromtimestamp(summary.updated_at, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert at.caption[0].value.startswith(f"🕒 {when} ·") and summary.id == conversation.id


def test_the_page_never_raises_without_secrets_a_key_or_any_conversation(visitor):
    at = visitor.history()
    assert titles(at) == []
    assert t("history.empty", "zh") in [c.value for c in at.caption]
    assert "delete_all" not in [b.key for b in at.button]  # nothing to delete


def test_search_filters_by_title_and_content(visitor, db):
    saved(db, visitor.owner, "菜谱", "红烧肉怎么做")
    saved(db, visitor.owner, "旅行计划", "去杭州玩三天")
    at = visitor.history()
    at.text_input(key="history_search").input("杭州").run()
    assert titles(at) == ["旅行计划"]
    at.text_input(key="history_search").input("菜谱").run()
    assert titles(at) == ["菜谱"]
    at.text_input(key="history_search").input("nothing like this").run()
    assert titles(at) == [] and t("history.no_match", "zh") in [c.value for c in at.caption]


def test_rename_persists(visitor, db):
    conversation = saved(db, visitor.owner, "old title", "hello")
    at = visitor.history()
    click(at, f"rename_{conversation.id}")
    submit_rename(at, conversation.id, "新的   title\n")
    assert titles(at) == ["新的 title"]
    assert db.load(visitor.owner, conversation.id).title == "新的 title"
    assert titles(visitor.history()) == ["新的 title"]  # a new session reads it from the store


def test_an_empty_title_is_refused(db, monkeypatch):
    monkeypatch.setenv("QWENCHAT_SINGLE_USER", "1")
    conversation = saved(db, "local", "keep this title", "hello")
    at = VISITORS["single"].history()
    click(at, f"rename_{conversation.id}")
    submit_rename(at, conversation.id, "  \u200b ")  # nothing visible
    assert t("history.title_empty", "zh") in alerts(at)
    assert db.load("local", conversation.id).title == "keep this title"


def test_delete_asks_first_then_removes_it_from_the_page_and_the_store(visitor, db):
    keep = saved(db, visitor.owner, "keep me", "a")
    drop = saved(db, visitor.owner, "drop me", "b")
    at = visitor.history()
    click(at, f"delete_{drop.id}")
    assert titles(at) == ["drop me", "keep me"]  # only asked so far
    assert t("history.confirm_delete", "zh") in alerts(at)
    click(at, f"delete_no_{drop.id}")
    assert db.load(visitor.owner, drop.id) is not None
    click(at, f"delete_{drop.id}")
    click(at, f"delete_yes_{drop.id}")
    assert titles(at) == ["keep me"]
    assert db.load(visitor.owner, drop.id) is None and db.load(visitor.owner, keep.id) is not None


def test_delete_everything_asks_first_and_removes_only_this_owners(visitor, db):
    saved(db, visitor.owner, "mine 1", "a")
    saved(db, visitor.owner, "mine 2", "b")
    others = {owner: saved(db, owner, "theirs", "c").id for owner in strangers_of(visitor)}
    at = visitor.history()
    assert titles(at) == ["mine 2", "mine 1"]
    click(at, "delete_all")
    assert t("history.confirm_delete_all", "zh", count=2) in alerts(at)
    assert len(db.list_conversations(visitor.owner)) == 2
    click(at, "delete_all_no")
    assert len(db.list_conversations(visitor.owner)) == 2
    click(at, "delete_all")
    click(at, "delete_all_yes")
    assert titles(at) == [] and t("history.deleted_all", "zh", count=2) in alerts(at)
    assert db.list_conversations(visitor.owner) == []
    for owner, conversation_id in others.items():
        assert [s.id for s in db.list_conversations(owner)] == [conversation_id]


def test_another_owners_conversations_never_appear(visitor, db):
    saved(db, visitor.owner, "mine", "我的问题")
    for owner in strangers_of(visitor):
        saved(db, owner, "theirs", "别人的问题")
    at = visitor.history()
    assert titles(at) == ["mine"]
    at.text_input(key="history_search").input("别人").run()
    assert titles(at) == []


def test_a_token_stays_in_the_history_pages_url_and_a_second_token_sees_only_its_own(token_visitor, db):
    saved(db, token_visitor.owner, "mine", "a")
    saved(db, identity.owner_for(url_token=OTHER_TOKEN, secret=SECRET).id, "theirs", "b")
    at = token_visitor.history()
    assert param(at, "o") == TOKEN
    assert titles(token_visitor.run(HISTORY, o=OTHER_TOKEN)) == ["theirs"]


def test_without_a_token_a_visitor_sees_nothing_and_gets_a_token_to_bookmark(token_visitor, db):
    saved(db, token_visitor.owner, "mine", "a")
    at = Visitor("token", "", "", query={}).history()
    assert titles(at) == []
    given = param(at, "o")
    assert identity.looks_like_id(given) and given != TOKEN


def test_when_saving_is_off_the_page_says_history_lives_in_memory(visitor, monkeypatch):
    monkeypatch.setenv("QWENCHAT_SAVE", "0")
    at = visitor.history()
    assert t("history.memory_only", "zh") in alerts(at)


def test_behind_an_access_code_the_page_shows_the_door_and_no_conversation(visitor, db, monkeypatch):
    saved(db, visitor.owner, "private", "a")
    monkeypatch.setenv("APP_ACCESS_CODE", "open-sesame-0123456789")
    at = visitor.history()
    assert titles(at) == [] and not at.file_uploader
    assert t("gate.needs_code", "zh") in " ".join(m.value for m in at.markdown)


# ---- open ----

def test_open_puts_the_conversation_in_the_chat_and_the_url(visitor, db):
    conversation = saved(db, visitor.owner, "to open", "第一个问题", "第二个问题")
    at = visitor.history()
    click(at, f"open_{conversation.id}")
    messages = [(m.name, m.markdown[0].value) for m in at.chat_message]
    assert messages == [("user", "第一个问题"), ("assistant", "回答：第一个问题"),
                        ("user", "第二个问题"), ("assistant", "回答：第二个问题")]
    assert param(at, "c") == conversation.id
    assert param(at, "o") == (TOKEN if visitor.kind == "token" else "")  # only a token goes in the URL


def test_deleting_or_renaming_the_open_conversation_reaches_the_chat(visitor, db):
    renamed = saved(db, visitor.owner, "renamed later", "a")
    deleted = saved(db, visitor.owner, "deleted later", "b")
    at = visitor.history()
    click(at, f"open_{renamed.id}")
    at.switch_page(HISTORY).run()
    click(at, f"rename_{renamed.id}")
    submit_rename(at, renamed.id, "new name")
    assert at.session_state["chat"].conversation.title == "new name"  # the chat's next save keeps the new title

    click(at, f"open_{deleted.id}")
    at.switch_page(HISTORY).run()
    click(at, f"delete_{deleted.id}")
    click(at, f"delete_yes_{deleted.id}")
    open_now = at.session_state["chat"].conversation
    assert open_now.id != deleted.id and not open_now.messages  # so no later save brings it back
    assert db.load(visitor.owner, deleted.id) is None and titles(at) == ["new name"]


# ---- import ----

def test_importing_a_valid_export_adds_one_conversation_of_this_owner(visitor, db):
    original = Conversation(model="qwen-max", title="导入的对话")
    original.messages += [Message("user", "问题"), Message("assistant", "答案")]
    at = visitor.history()
    at.file_uploader[0].upload("export.json", to_json(original).encode(), "application/json").run()
    assert not at.exception, at.exception
    assert t("history.imported", "zh", title="导入的对话") in alerts(at)
    assert titles(at) == ["导入的对话"]
    (summary,) = db.list_conversations(visitor.owner)
    imported = db.load(visitor.owner, summary.id)
    assert summary.id != original.id and [m.content for m in imported.messages] == ["问题", "答案"]
    at.run()  # the same file is not imported again on the next rerun
    assert len(db.list_conversations(visitor.owner)) == 1
    assert all(not db.list_conversations(owner) for owner in strangers_of(visitor))


@pytest.mark.parametrize("content, reason", [
    (b"{not json", t("import.not_json", "zh")),
    (json.dumps({"format": "something else"}).encode(), t("import.not_export", "zh")),
    (b" " * (MAX_BYTES + 1), t("import.too_large", "zh", size="2 MB")),
])
def test_a_bad_file_shows_the_error_in_the_ui_language_and_adds_nothing(visitor, db, content, reason):
    saved(db, visitor.owner, "already here", "a")
    at = visitor.history()
    at.file_uploader[0].upload("bad.json", content, "application/json").run()
    assert not at.exception, at.exception
    error = " ".join(e.value for e in at.error)
    assert t("import.failed", "zh", reason=reason) in error and "Import failed" not in error
    assert titles(at) == ["already here"] and len(db.list_conversations(visitor.owner)) == 1


def deeply_nested_export(depth: int) -> bytes:
    """A valid version 2 export but for its first part's data: `depth` objects, one inside the other."""
    file = json.loads(to_json(Conversation(messages=[Message("user", "q")])))
    file["version"] = 2
    del file["conversation"]["images"], file["conversation"]["params"]
    file["conversation"]["messages"][0]["parts"] = [{"type": "notice", "text": "x", "data": "DATA"}]
    return json.dumps(file).replace('"DATA"', '{"a": ' * depth + "{}" + "}" * depth).encode()


@pytest.mark.parametrize("depth", [500, 900])
def test_a_deeply_nested_file_says_import_failed_instead_of_crashing_the_page(token_visitor, db, depth):
    at = token_visitor.history()
    at.file_uploader[0].upload("deep.json", deeply_nested_export(depth), "application/json").run()
    assert not at.exception, at.exception
    error = " ".join(e.value for e in at.error)
    assert error.startswith(t("import.failed", "zh", reason="")) and "嵌套" in error
    assert not db.list_conversations(token_visitor.owner)


def test_whatever_a_corrupt_file_raises_the_page_says_import_failed(token_visitor, db, monkeypatch):
    def breaks(data, max_bytes):
        raise MemoryError  # anything a parser may raise that is not an InvalidImport

    monkeypatch.setattr("qwenchat.imports.from_json_with_images", breaks)
    at = token_visitor.history()
    at.file_uploader[0].upload("export.json", to_json(Conversation(messages=[Message("user", "q")])).encode(),
                               "application/json").run()
    assert not at.exception, at.exception
    assert t("import.failed", "zh", reason=Msg("import.unreadable")) in " ".join(e.value for e in at.error)
    assert not db.list_conversations(token_visitor.owner)


# ---- export ----

def test_every_row_offers_markdown_and_json_downloads(token_visitor, db):
    conversation = saved(db, token_visitor.owner, "Spring poems", "写一首诗")
    at = token_visitor.history()
    keys = {b.key: b.proto for b in at.download_button}
    markdown, json_ = keys[f"export_md_{conversation.id}"], keys[f"export_json_{conversation.id}"]
    assert markdown.deferred_file_id and json_.deferred_file_id  # built only when clicked
    assert (markdown.label, json_.label) == ("⬇️ Markdown", "⬇️ JSON")


def test_the_export_buttons_export_the_open_conversation_and_wait_for_a_first_message():
    def script(with_messages: bool):
        from components import transfer_buttons
        from qwenchat.conversation import Conversation, Message

        conversation = Conversation(id="c" * 22)
        if with_messages:
            conversation.messages.append(Message("user", "hi"))
        transfer_buttons.render(conversation)

    empty = AppTest.from_function(script, args=(False,), default_timeout=TIMEOUT).run()
    assert not empty.exception and not empty.download_button
    assert empty.caption[0].value == t("export.empty", "zh")  # no browser locale: Chinese
    full = AppTest.from_function(script, args=(True,), default_timeout=TIMEOUT).run()
    assert not full.exception
    assert [b.key for b in full.download_button] == ["export_md_" + "c" * 22, "export_json_" + "c" * 22]


def test_export_file_names_come_from_the_title():
    from qwenchat.transfer import file_stem

    assert file_stem("Spring poems: 春天 / 2025") == "qwenchat-Spring-poems-春天-2025"
    assert file_stem("../../etc/passwd") == "qwenchat-etc-passwd"
    assert file_stem("???") == file_stem("") == "qwenchat-conversation"
    assert len(file_stem("长" * 300)) == len("qwenchat-") + 40


# ---- the chat page and the URL ----

def test_the_chat_page_opens_a_saved_conversation_from_its_url(token_visitor, db):
    conversation = saved(db, token_visitor.owner, "from the url", "你好")
    at = token_visitor.run(c=conversation.id)
    assert [(m.name, m.markdown[0].value) for m in at.chat_message] == [("user", "你好"), ("assistant", "回答：你好")]
    assert all(t("session.not_found", "zh") != i.value for i in at.info)


@pytest.mark.parametrize("bad_id", ["x" * 22, "../../etc/passwd", "<script>", "a" * 300])
def test_an_unknown_or_malformed_id_opens_a_new_conversation_with_a_note(token_visitor, db, bad_id):
    saved(db, token_visitor.owner, "mine", "你好")
    at = token_visitor.run(c=bad_id)
    assert len(at.chat_message) == 0
    assert t("session.not_found", "zh") in [i.value for i in at.info]
    assert param(at, "c") in ("", bad_id)  # nothing else was put in its place


def test_someone_elses_id_is_not_found(token_visitor, db):
    theirs = saved(db, identity.owner_for(url_token=OTHER_TOKEN, secret=SECRET).id, "theirs", "秘密")
    at = token_visitor.run(c=theirs.id)
    assert len(at.chat_message) == 0 and t("session.not_found", "zh") in [i.value for i in at.info]


# ---- imported text is shown as text; imports are capped; a store that is away ----

def test_an_imported_model_name_and_title_are_not_rendered_as_markdown(token_visitor, db):
    saved(db, token_visitor.owner, "**bold** ![t](https://evil.example/t.png)", "a",
          model="**qwen** ![m](https://evil.example/leak.png) [click](https://evil.example)")
    at = token_visitor.history()
    caption = at.caption[0].value
    assert "![" not in caption and "](" not in caption and "\\*\\*qwen\\*\\*" in caption
    assert "![" not in titles(at)[0] and "](" not in titles(at)[0]


def test_the_imported_title_in_the_success_message_is_plain_text(token_visitor, db):
    original = Conversation(title="![x](https://evil.example/x.png) **hi**")
    original.messages.append(Message("user", "问题"))
    at = token_visitor.history()
    at.file_uploader[0].upload("export.json", to_json(original).encode(), "application/json").run()
    success = " ".join(s.value for s in at.success)
    assert success.startswith(t("history.imported", "zh", title="")[:3]) and "![" not in success and "\\*\\*hi\\*\\*" in success


def test_a_sixth_import_in_a_minute_is_refused_with_the_limit(token_visitor, db):
    at = token_visitor.history()
    for n in range(6):
        original = Conversation(title=f"第 {n} 个")
        original.messages.append(Message("user", "问题"))
        at.file_uploader[0].upload("export.json", to_json(original).encode(), "application/json").run()
        assert not at.exception, at.exception
    assert t("import.too_often", "zh", limit=5) in " ".join(e.value for e in at.error)
    assert len(db.list_conversations(token_visitor.owner)) == 5


def test_imports_stop_at_the_configured_number_of_conversations(token_visitor, db, monkeypatch):
    monkeypatch.setenv("QWENCHAT_MAX_CONVERSATIONS_PER_OWNER", "1")
    saved(db, token_visitor.owner, "already here", "a")
    at = token_visitor.history()
    at.file_uploader[0].upload("export.json", to_json(Conversation(messages=[Message("user", "q")])).encode(),
                               "application/json").run()
    error = " ".join(e.value for e in at.error)
    assert t("import.failed", "zh", reason=Msg("import.too_many_conversations", {"limit": 1})) in error
    assert len(db.list_conversations(token_visitor.owner)) == 1


def test_huge_token_counts_from_an_old_import_do_not_break_the_list(token_visitor, db):
    conversation = saved(db, token_visitor.owner, "huge", "a")
    db._conn.execute("UPDATE messages SET usage = json_set(usage, '$.total_tokens', 9223372036854775807) "
                     "WHERE conversation_id = ?", (conversation.id,))
    at = token_visitor.history()
    assert titles(at) == ["huge"] and "9,223,372,036,854,775,807 tokens" in at.caption[0].value


def test_a_database_path_under_a_regular_file_shows_a_warning_not_a_crash(token_visitor, db, monkeypatch, tmp_path):
    (tmp_path / "not-a-folder").write_text("x")
    monkeypatch.setenv("QWENCHAT_DB", str(tmp_path / "not-a-folder" / "chats.db"))
    at = token_visitor.history()
    assert not at.exception
    warning = " ".join(w.value for w in [*at.warning, *at.error])
    assert t("history.try_again", "zh") in warning and "not-a-folder" in warning
