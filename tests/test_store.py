"""The stores: round trips, the message tree, versions and conflicts, deletes that stay deleted, owner
isolation, search, migrations, a store that is away, two writers, a killed writer."""

from __future__ import annotations

import inspect
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qwenchat import migrations
from qwenchat.conversation import (
    COMPLETE,
    FAILED,
    STOPPED,
    STREAMING,
    WITHDRAWN,
    Conversation,
    Message,
    Part,
    Usage,
    copy_of,
)
from qwenchat.store import (
    ConversationDeleted,
    ConversationNotFound,
    ConversationStore,
    IdConflict,
    MemoryStore,
    RetryingStore,
    SaveResult,
    SchemaTooNew,
    Store,
    StoreUnavailable,
    Summary,
    default_path,
    open_store,
    web_busy_timeout,
)

ROOT = Path(__file__).resolve().parents[1]


def full_conversation() -> Conversation:
    c = Conversation(model="qwen-max", system_prompt="用中文回答 🀄", title="春天的诗 🌸", closed=True,
                     created_at=1700000000.123456)
    c.messages = [
        Message("user", "写一首关于春天的诗 ✍️", created_at=1700000001.5),
        Message("assistant", "春眠不觉晓，处处闻啼鸟。🐦", status=COMPLETE, reasoning="用户想要一首诗……",
                model="qwen-max", created_at=1700000002.25,
                usage=Usage(12, 34, 46, reasoning_tokens=7, cached_tokens=3, estimated=True)),
        Message("user", "再来一首", created_at=1700000003.0),
        Message("assistant", "夜来风雨声", status=STOPPED, model="qwen-plus", usage=Usage(1, 2, 3)),
        Message("assistant", "hidden", status=WITHDRAWN, error="data_inspection_failed", model="qwen-plus"),
        Message("assistant", "", status=FAILED, error="rate_limit", model="qwen-plus"),
    ]
    return c


def two_turns(title: str = "", user: str = "hello", reply: str = "hi there") -> Conversation:
    c = Conversation(title=title)
    c.add_user(user)
    r = c.start_reply("qwen-plus")
    r.content, r.status, r.usage = reply, COMPLETE, Usage(10, 5, 15)
    return c


# ---- round trips ----

@pytest.mark.parametrize("cls", [Store, MemoryStore, RetryingStore])
def test_every_store_has_the_protocol_methods(cls):
    methods = [n for n, v in vars(ConversationStore).items() if callable(v) and not n.startswith("_")]
    assert len(methods) == 16
    for name in methods:
        assert inspect.signature(getattr(cls, name)) == inspect.signature(getattr(ConversationStore, name))


def test_round_trip_keeps_every_field(store):
    c = full_conversation()
    store.save_conversation("alice", c)
    assert store.load("alice", c.id) == c


def test_load_returns_a_copy(store):
    c = two_turns()
    store.save_conversation("alice", c)
    loaded = store.load("alice", c.id)
    loaded.messages[0].content = "changed"
    loaded.messages.append(Message("user", "extra"))
    c.title = "changed too"
    assert store.load("alice", c.id).messages[0].content == "hello"
    assert len(store.load("alice", c.id).messages) == 2
    assert store.load("alice", c.id).title == "hello"


def test_save_conversation_never_deletes_a_message_the_copy_left_out(store):
    c = full_conversation()
    store.save_conversation("alice", c)
    left_out = c.messages[2:]
    c.messages = c.messages[:2]  # a copy that no longer holds the last four
    c.title = "新标题"
    store.save_conversation("alice", c)
    loaded = store.load("alice", c.id)
    assert loaded.title == "新标题" and loaded.messages == c.messages  # the visible branch is the copy's
    assert {m.id for m in loaded.hidden} == {m.id for m in left_out}  # the rest is kept, on another branch
    assert store.list_conversations("alice")[0].message_count == 6


def test_save_message_appends_then_updates_in_place(store):
    c = two_turns()
    store.save_conversation("alice", c)
    c.add_user("第二个问题")
    store.save_message("alice", c.id, c.messages[-1])
    reply = c.start_reply("qwen-plus")
    for n in range(1, 6):
        reply.content = "流式回复"[:n]
        store.save_message("alice", c.id, reply)
    reply.status, reply.usage = COMPLETE, Usage(3, 4, 7)
    store.save_message("alice", c.id, reply)
    c.messages[0].content = "edited first"
    store.save_message("alice", c.id, c.messages[0])  # an old message keeps its place
    assert store.load("alice", c.id) == c


def test_summaries_newest_first_with_counts_and_tokens(store):
    old, new = two_turns("old"), two_turns("new")
    store.save_conversation("alice", old)
    store.save_conversation("alice", new)
    listed = store.list_conversations("alice")
    assert [s.title for s in listed] == ["new", "old"]
    assert listed[0] == Summary(new.id, "new", "qwen-plus", new.created_at, listed[0].updated_at, 2, 15)
    assert listed[0].updated_at >= listed[1].updated_at
    store.save_message("alice", old.id, Message("user", "bump"))  # activity moves it to the top
    assert [s.title for s in store.list_conversations("alice")] == ["old", "new"]
    assert store.list_conversations("alice")[0].message_count == 3
    assert len(store.list_conversations("alice", limit=1)) == 1


def test_rename_delete_and_owner_has(store):
    a, b = two_turns("a"), two_turns("b")
    store.save_conversation("alice", a)
    store.save_conversation("alice", b)
    assert store.rename("alice", a.id, "改名了")
    assert store.load("alice", a.id).title == "改名了"
    assert store.owner_has("alice", a.id)
    assert store.delete("alice", a.id)
    assert not store.delete("alice", a.id)
    assert not store.owner_has("alice", a.id)
    assert store.load("alice", a.id) is None
    assert not store.rename("alice", a.id, "gone")
    assert [s.id for s in store.list_conversations("alice")] == [b.id]
    assert store.delete_all("alice") == 1
    assert store.list_conversations("alice") == []


def test_a_deleted_conversations_messages_are_gone(tmp_path):
    with Store(tmp_path / "c.db") as s:
        c = full_conversation()
        s.save_conversation("alice", c)
        s.delete("alice", c.id)
        assert s._conn.execute("SELECT COUNT(*) FROM messages").fetchone() == (0,)
        again = Conversation(messages=c.messages)  # its message ids are free again, in another conversation
        s.save_conversation("alice", again)
        assert s.load("alice", again.id) == again


# ---- owners ----

def test_another_owner_sees_nothing_and_changes_nothing(store):
    a = two_turns("秘密计划", "我的秘密")
    store.save_conversation("alice", a)
    mine = two_turns("bob's own")
    store.save_conversation("bob", mine)

    assert store.load("bob", a.id) is None
    assert not store.owner_has("bob", a.id)
    assert [s.id for s in store.list_conversations("bob")] == [mine.id]
    assert store.list_conversations("bob", search="秘密") == []
    assert not store.rename("bob", a.id, "pwned")
    assert not store.delete("bob", a.id)
    with pytest.raises(ConversationNotFound):
        store.save_message("bob", a.id, Message("user", "injected"))
    with pytest.raises(ConversationNotFound):  # not even an existing message of theirs
        store.save_message("bob", a.id, Message("user", "overwrite", id=a.messages[0].id))
    stolen = Conversation.from_dict(a.to_dict())
    stolen.title, stolen.messages = "stolen", []
    with pytest.raises(IdConflict):
        store.save_conversation("bob", stolen)
    assert store.delete_all("bob") == 1

    assert store.load("alice", a.id) == a
    assert [s.title for s in store.list_conversations("alice")] == ["秘密计划"]


def test_a_message_id_cannot_move_between_conversations(store):
    a, b = two_turns("a"), two_turns("b")
    store.save_conversation("alice", a)
    store.save_conversation("bob", b)
    with pytest.raises(IdConflict):
        store.save_message("bob", b.id, Message("user", "x", id=a.messages[0].id))
    copy = two_turns("copy")
    copy.messages = [a.messages[0]]
    with pytest.raises(IdConflict):
        store.save_conversation("bob", copy)
    assert not store.owner_has("bob", copy.id)  # the refused save left nothing behind
    assert store.load("alice", a.id) == a
    assert store.load("bob", b.id) == b


def test_a_conversation_id_without_an_owner_opens_nothing(store):
    c = two_turns()
    store.save_conversation("alice", c)
    for owner in ("", None):
        with pytest.raises(ValueError):
            store.load(owner, c.id)
        with pytest.raises(ValueError):
            store.list_conversations(owner)
    assert store.load("alice", "no-such-id") is None


# ---- search ----

def test_search_titles_and_text_in_chinese(store):
    weather = two_turns("出行", "明天北京的天气怎么样？", "晴，最高气温 25°C。")
    poem = two_turns("Spring poem", "write a poem", "Roses are red")
    store.save_conversation("alice", weather)
    store.save_conversation("alice", poem)
    ids = lambda q: {s.id for s in store.list_conversations("alice", search=q)}  # noqa: E731
    assert ids("天气") == {weather.id}
    assert ids("出行") == {weather.id}
    assert ids("气温 25") == {weather.id}
    assert ids("SPRING") == {poem.id}  # ASCII case-insensitive
    assert ids("roses") == {poem.id}
    assert ids("  ") == {weather.id, poem.id}
    assert ids("没有这个") == set()


def test_search_takes_wildcards_literally(store):
    percent = two_turns("discount", "打折 100% 真的吗", "是的")
    underscore = two_turns("code", "my_var is", "ok")
    other = two_turns("other", "1000 apples and myXvar", "ok")
    backslash = two_turns("path", r"C:\temp\x", "ok")
    for c in (percent, underscore, other, backslash):
        store.save_conversation("alice", c)
    ids = lambda q: {s.id for s in store.list_conversations("alice", search=q)}  # noqa: E731
    assert ids("100%") == {percent.id}
    assert ids("%") == {percent.id}
    assert ids("my_var") == {underscore.id}
    assert ids("_") == {underscore.id}
    assert ids("\\") == {backslash.id}
    assert ids(r"\temp") == {backslash.id}


def test_a_withdrawn_reply_is_not_searchable(store):
    c = two_turns("t", "question", "visible answer")
    c.messages.append(Message("assistant", "moderated words", status=WITHDRAWN))
    store.save_conversation("alice", c)
    assert store.list_conversations("alice", search="moderated") == []
    assert len(store.list_conversations("alice", search="visible")) == 1


# ---- property: anything text round-trips ----

texts = st.text(max_size=200)
usages = st.none() | st.builds(Usage, *[st.integers(0, 2**40)] * 5, st.booleans())
messages = st.builds(
    Message, role=st.sampled_from(["user", "assistant"]), content=texts,
    status=st.sampled_from([COMPLETE, STREAMING, STOPPED, WITHDRAWN, FAILED]), reasoning=texts, error=texts,
    model=texts, usage=usages, created_at=st.floats(0, 4e9),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=texts, system_prompt=texts, closed=st.booleans(), msgs=st.lists(messages, max_size=6))
def test_any_conversation_round_trips(store, title, system_prompt, closed, msgs):
    c = Conversation(model="qwen-turbo", system_prompt=system_prompt, title=title, closed=closed, messages=msgs)
    store.save_conversation("alice", c)
    assert store.load("alice", c.id) == c


# ---- SQLite: file, pragmas, migrations ----

def test_default_path_from_env_or_home(monkeypatch, tmp_path):
    monkeypatch.setenv("QWENCHAT_DB", str(tmp_path / "elsewhere" / "x.db"))
    assert default_path() == tmp_path / "elsewhere" / "x.db"
    monkeypatch.delenv("QWENCHAT_DB")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / ".qwenchat" / "chats.db"
    with open_store() as s:
        assert s.path == tmp_path / "home" / ".qwenchat" / "chats.db"
        assert s.path.parent.is_dir()
        assert s.path.stat().st_mode & 0o077 == 0  # private to its owner


def test_connection_settings(tmp_path):
    with Store(tmp_path / "c.db") as s:
        assert s._conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert s._conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert s._conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_no_column_could_hold_a_key(tmp_path):
    with Store(tmp_path / "c.db") as s:
        tables = [r[0] for r in s._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        columns = [c[1] for t in tables for c in s._conn.execute(f"PRAGMA table_info({t})")]
    assert columns and not [c for c in columns if "key" in c.lower() or "secret" in c.lower()]


def applied(path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]


def test_migrations_from_an_empty_file_then_never_twice(tmp_path):
    path = tmp_path / "c.db"
    c = two_turns()
    with Store(path) as s:
        s.save_conversation("alice", c)
    names = [fn.__name__ for fn in migrations.MIGRATIONS]
    assert applied(path) == names
    with Store(path) as s:
        assert migrations.migrate(s._conn) == []
        assert s.load("alice", c.id) == c
    assert applied(path) == names


def test_a_migration_added_at_the_end_runs_once(tmp_path):
    path = tmp_path / "c.db"
    c = two_turns()
    with Store(path) as s:
        s.save_conversation("alice", c)
    calls = []

    def m999_pinned(conn):
        calls.append(1)
        conn.execute("ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")

    newer = migrations.MIGRATIONS + [m999_pinned]  # a copy: the real list is untouched
    with sqlite3.connect(path, isolation_level=None) as conn:
        assert migrations.migrate(conn, newer) == ["m999_pinned"]
        assert migrations.migrate(conn, newer) == []
        assert "pinned" in [col[1] for col in conn.execute("PRAGMA table_info(conversations)")]
    conn.close()
    assert calls == [1]
    assert applied(path)[-1] == "m999_pinned"
    with pytest.raises(SchemaTooNew) as refused:  # older code refuses a newer file instead of writing into it
        Store(path)
    assert refused.value.unknown == ["m999_pinned"] and refused.value.message_id == "store.schema_too_new"
    assert isinstance(refused.value, StoreUnavailable)  # so the app carries on in memory, "not saved"
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM conversations").fetchone()[0] == 1  # left as it was
    conn.close()


def test_a_failing_migration_leaves_nothing_behind(tmp_path):
    path = tmp_path / "c.db"
    Store(path).close()

    def m999_broken(conn):
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("boom")

    with sqlite3.connect(path, isolation_level=None) as conn:
        with pytest.raises(RuntimeError):
            migrations.migrate(conn, migrations.MIGRATIONS + [m999_broken])
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchone() is None
    conn.close()
    assert "m999_broken" not in applied(path)


# ---- concurrency ----

def stored_texts(s: Store, conversation_id: str) -> list[str]:
    """Message texts in the order they were stored (the writers below save parentless messages, so each is
    a root of its own: the order of arrival is what is checked)."""
    rows = s._conn.execute("SELECT content FROM messages WHERE conversation_id = ? ORDER BY seq", (conversation_id,))
    return [r[0] for r in rows]


def run_children(code: str, *args: str, count: int = 2) -> None:
    """Start `count` Python processes that wait for a go file, so they really start together."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    go = Path(args[0]).with_suffix(".go")
    prelude = f"import os, sys, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.001)\n"
    procs = [subprocess.Popen([sys.executable, "-c", prelude + code, *args, str(i)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(count)]
    time.sleep(0.3)  # let the interpreters start
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert "locked" not in err


def test_processes_opening_a_fresh_file_together_migrate_once(tmp_path):
    path = tmp_path / "fresh.db"
    run_children("from qwenchat.store import Store\nStore(sys.argv[1]).close()\n", str(path), count=3)
    assert applied(path) == [fn.__name__ for fn in migrations.MIGRATIONS]


def test_two_processes_writing_interleaved_messages(tmp_path):
    path = tmp_path / "c.db"
    shared = two_turns("shared")
    with Store(path) as s:
        s.save_conversation("alice", shared)
    code = """
from qwenchat.store import Store
from qwenchat.conversation import Conversation, Message
path, cid, me = sys.argv[1], sys.argv[2], sys.argv[3]
s = Store(path)
own = Conversation(title="writer " + me)
s.save_conversation("alice", own)
for i in range(150):
    s.save_message("alice", cid, Message("user", f"writer {me} message {i} 你好"))
    s.save_message("alice", own.id, Message("assistant", f"own {i}"))
"""
    run_children(code, str(path), shared.id)
    with Store(path) as s:
        texts = stored_texts(s, shared.id)[2:]
        assert len(texts) == 300
        for me in ("0", "1"):
            assert [t for t in texts if t.startswith(f"writer {me} ")] == [
                f"writer {me} message {i} 你好" for i in range(150)]
        own = {s_.title: s_.message_count for s_ in s.list_conversations("alice")}
        assert own == {"shared": 302, "writer 0": 150, "writer 1": 150}


def test_threads_writing_at_once_through_separate_and_shared_stores(tmp_path):
    path = tmp_path / "c.db"
    shared = two_turns("shared")
    first = Store(path)
    first.save_conversation("alice", shared)
    stores = [first, first, Store(path), Store(path)]
    errors = []

    def write(n: int, s: Store) -> None:
        try:
            for i in range(100):
                s.save_message("alice", shared.id, Message("user", f"{n}:{i}"))
                s.list_conversations("alice", search=f"{n}:")
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(n, s)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    texts = stored_texts(first, shared.id)[2:]
    assert sorted(texts) == sorted(f"{n}:{i}" for n in range(4) for i in range(100))
    for n in range(4):
        assert [t for t in texts if t.startswith(f"{n}:")] == [f"{n}:{i}" for i in range(100)]
    for s in stores[1:]:
        s.close()


STREAMER = """
import sys, time
from qwenchat.store import Store
from qwenchat.conversation import Conversation
s = Store(sys.argv[1])
c = Conversation(title="流式")
c.add_user("写一首很长的诗")
s.save_conversation("alice", c)
reply = c.start_reply("qwen-plus")
full = "".join(f"第{i}行：春眠不觉晓🌸\\n" for i in range(100000))
n = 0
while True:
    n += 5
    reply.content = full[:n]
    s.save_message("alice", c.id, reply)
    if n == 100:
        print(c.id, flush=True)
    time.sleep(0.002)
"""
FULL = "".join(f"第{i}行：春眠不觉晓🌸\n" for i in range(100000))


@pytest.mark.parametrize("delay", [0.05, 0.21, 0.43])
def test_a_writer_killed_mid_stream_leaves_a_consistent_prefix(tmp_path, delay):
    path = tmp_path / "c.db"
    child = subprocess.Popen([sys.executable, "-c", STREAMER, str(path)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    conversation_id = child.stdout.readline().strip()
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()
    with Store(path) as s:
        c = s.load("alice", conversation_id)
    assert [m.role for m in c.messages] == ["user", "assistant"]
    reply = c.messages[1]
    assert reply.status == STREAMING
    assert len(reply.content) >= 100
    assert FULL.startswith(reply.content)


# ---- the tree: branches, parts, and the visible leaf survive a save ----

def branched() -> Conversation:
    c = two_turns("branches", "写一首诗", "旧的诗")
    c.messages[0].parts = [Part("image", data={"url": "https://example.com/a.png", "w": 640})]
    c.regenerate_point(c.messages[1].id)
    new = c.start_reply("qwen-max")
    new.content, new.status = "新的诗", COMPLETE
    new.parts = [Part("citation", text="来源", data={"doc": "kb-1", "score": 0.5})]
    c.add_user("再来一首")
    return c


def test_every_branch_parts_and_the_visible_leaf_round_trip(store):
    c = branched()
    store.save_conversation("alice", c)
    loaded = store.load("alice", c.id)
    assert loaded == c
    assert [m.content for m in loaded.messages] == ["写一首诗", "新的诗", "再来一首"]
    assert [m.content for m in loaded.hidden] == ["旧的诗"]
    loaded.switch_to(loaded.hidden[0].id)
    store.save_conversation("alice", loaded)
    assert [m.content for m in store.load("alice", c.id).messages] == ["写一首诗", "旧的诗"]


def test_a_streamed_message_becomes_the_leaf(store):
    c = two_turns()
    store.save_conversation("alice", c)
    c.regenerate_point(c.messages[1].id)
    reply = c.start_reply("qwen-plus")
    reply.content = "regenerated, half way"
    store.save_message("alice", c.id, reply)  # the page dies here: a reload shows the new reply, 2/2
    loaded = store.load("alice", c.id)
    assert [m.content for m in loaded.messages] == ["hello", "regenerated, half way"]
    assert [m.content for m in loaded.hidden] == ["hi there"]


# ---- versions: two tabs on one conversation keep both sides ----

def test_two_tabs_answering_after_the_same_message_keep_both_replies(store):
    c = two_turns()
    store.save_conversation("alice", c)
    one, two = store.load("alice", c.id), store.load("alice", c.id)
    one.add_user("from tab one")
    first = store.save_conversation("alice", one)
    two.add_user("from tab two")
    second = store.save_conversation("alice", two)
    assert first == SaveResult(version=2, conflict=False)
    assert second == SaveResult(version=3, conflict=True) and two.version == 3
    loaded = store.load("alice", c.id)
    assert [m.content for m in loaded.messages] == ["hello", "hi there", "from tab two"]  # the last writer's
    assert [m.content for m in loaded.hidden] == ["from tab one"]
    assert [m.content for m in loaded.siblings(loaded.messages[-1].id)] == ["from tab one", "from tab two"]
    assert store.save_conversation("alice", two) == SaveResult(4, False)  # it has the new version now


def test_saving_bumps_the_version_and_streaming_does_not(store):
    c = two_turns()
    assert store.save_conversation("alice", c) == SaveResult(1, False) and c.version == 1
    store.save_message("alice", c.id, c.add_user("more"))
    assert store.load("alice", c.id).version == 1
    assert store.save_conversation("alice", c).version == 2 == store.load("alice", c.id).version


def test_only_delete_messages_deletes_and_what_it_deleted_is_never_written_again(store):
    c = two_turns()
    q2 = c.add_user("delete me")
    a2 = c.start_reply("qwen-plus")
    store.save_conversation("alice", c)
    stale = store.load("alice", c.id)  # another tab, still holding the pair
    removed = c.delete_pair(q2.id)
    assert store.delete_messages("alice", c.id, removed) == 2
    assert [m.content for m in store.load("alice", c.id).all_messages()] == ["hello", "hi there"]
    store.save_conversation("alice", stale)
    store.save_message("alice", c.id, a2)  # the stale tab's reply still streaming
    assert [m.content for m in store.load("alice", c.id).all_messages()] == ["hello", "hi there"]
    assert store.list_conversations("alice")[0].message_count == 2
    with pytest.raises(ConversationNotFound):
        store.delete_messages("bob", c.id, [c.messages[0].id])
    assert len(store.load("alice", c.id).messages) == 2


def test_a_deleted_pair_with_an_edited_version_round_trips_with_what_followed_in_place_and_the_edit_kept(store):
    c = Conversation(system_prompt="")
    q1 = c.add_user("q1")
    c.start_reply("qwen-plus").content = "a1"
    c.add_user("q2")
    a2 = c.start_reply("qwen-plus")
    a2.content = "a2"
    c.branch_from(q1.id)
    c.add_user("q1-edited")
    c.start_reply("qwen-plus").content = "a1-edited"
    c.switch_to(q1.id)
    store.save_conversation("alice", c)
    removed = c.delete_pair(q1.id)
    assert store.delete_messages("alice", c.id, removed) == 2
    store.save_conversation("alice", c)
    loaded = store.load("alice", c.id)
    assert [m.content for m in loaded.messages] == ["q2", "a2"] and loaded.messages[-1].id == a2.id
    assert sorted(m.content for m in loaded.all_messages()) == ["a1-edited", "a2", "q1-edited", "q2"]
    loaded.add_user("q3")
    store.save_conversation("alice", loaded)
    assert [m.content for m in store.load("alice", c.id).messages] == ["q2", "a2", "q3"]


def test_a_conversation_emptied_by_deleting_its_pairs_is_named_again_by_its_next_message(store):
    c = Conversation(system_prompt="")
    q1 = c.add_user("Old subject")
    store.save_conversation("alice", c)
    store.delete_messages("alice", c.id, c.delete_pair(q1.id))
    store.save_conversation("alice", c)
    assert store.load("alice", c.id).title == "" and store.load("alice", c.id).messages == []
    c.add_user("New subject")
    store.save_conversation("alice", c)
    assert store.load("alice", c.id).title == "New subject"
    assert [s.title for s in store.list_conversations("alice")] == ["New subject"]


# ---- deleted stays deleted ----

@pytest.mark.parametrize("how", ["delete", "delete_all"])
def test_a_deleted_conversation_is_not_brought_back_by_another_tab(store, how):
    c = two_turns()
    store.save_conversation("alice", c)
    other_tab = store.load("alice", c.id)
    store.delete("alice", c.id) if how == "delete" else store.delete_all("alice")
    other_tab.add_user("still typing")
    with pytest.raises(ConversationDeleted):
        store.save_conversation("alice", other_tab)
    with pytest.raises(ConversationDeleted):
        store.save_message("alice", c.id, other_tab.messages[-1])
    with pytest.raises(IdConflict):  # someone else cannot take the id either
        store.save_conversation("bob", other_tab)
    with pytest.raises(ConversationNotFound):
        store.save_message("bob", c.id, Message("user", "x"))
    assert store.load("alice", c.id) is None and store.list_conversations("alice") == []
    copy = copy_of(other_tab)
    store.save_conversation("alice", copy)
    assert [m.content for m in store.load("alice", copy.id).messages] == ["hello", "hi there", "still typing"]


# ---- capacity, for capped imports ----

def test_counts_and_bytes(store):
    assert store.count_conversations("alice") == 0
    empty = store.stored_bytes()
    for n in range(3):
        store.save_conversation("alice", two_turns(f"c{n}", "长" * 20_000))
    store.save_conversation("bob", two_turns())
    assert store.count_conversations("alice") == 3 and store.count_conversations("bob") == 1
    assert store.stored_bytes() >= empty + 3 * 60_000


def test_huge_token_counts_do_not_break_the_list(store):
    c = two_turns()
    c.messages += [Message("assistant", "x", usage=Usage(0, 0, 2**63 - 1)),
                   Message("assistant", "y", usage=Usage(0, 0, 2**63 - 1))]
    store.save_conversation("alice", c)
    (summary,) = store.list_conversations("alice")
    assert summary.total_tokens == 2**63 - 1


# ---- older files ----

def test_rows_written_before_the_tree_load_as_one_chain(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path, isolation_level=None) as conn:
        migrations.migrate(conn, migrations.MIGRATIONS[:1])  # the schema as it was
        conn.execute("INSERT INTO conversations VALUES ('c1', 'alice', 't', 'qwen-plus', '', 0, 1.0, 2.0)")
        for seq, (mid, role) in enumerate([("m1", "user"), ("m2", "assistant"), ("m3", "user")]):
            conn.execute("INSERT INTO messages (id, conversation_id, seq, role, content, status, created_at) "
                         "VALUES (?, 'c1', ?, ?, ?, 'complete', ?)", (mid, seq, role, mid, 10.0 - seq))
    conn.close()
    with Store(path) as s:
        c = s.load("alice", "c1")
        assert [(m.id, m.parent_id) for m in c.messages] == [("m1", ""), ("m2", "m1"), ("m3", "m2")]
        assert c.hidden == [] and c.version == 0
        c.start_reply("qwen-plus").content = "new"
        s.save_conversation("alice", c)
        assert [m.content for m in s.load("alice", "c1").messages] == ["m1", "m2", "m3", "new"]


# ---- a store that is away ----

def test_a_path_under_a_regular_file_is_unavailable_not_a_crash(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreUnavailable) as away:
        Store(tmp_path / "file" / "chats.db")
    assert str(tmp_path / "file" / "chats.db") in str(away.value)


def test_a_file_that_is_not_a_database_is_unavailable_and_its_contents_are_not_shown(tmp_path):
    path = tmp_path / "chats.db"
    path.write_text("SECRET-CONTENTS " * 100)
    with pytest.raises(StoreUnavailable) as away:
        Store(path)
    assert "SECRET" not in str(away.value) and str(path) in str(away.value)
    folder = tmp_path / "dir.db"
    folder.mkdir()
    with pytest.raises(StoreUnavailable):
        Store(folder)


def test_a_read_only_database_reads_but_writes_raise_unavailable(tmp_path):
    with Store(tmp_path / "c.db") as s:
        c = two_turns()
        s.save_conversation("alice", c)
        s._conn.execute("PRAGMA query_only = ON")  # root ignores file modes: this is what a read-only file does
        assert s.load("alice", c.id) == c
        for write in (lambda: s.save_conversation("alice", c), lambda: s.save_message("alice", c.id, c.messages[0]),
                      lambda: s.rename("alice", c.id, "x"), lambda: s.delete("alice", c.id)):
            with pytest.raises(StoreUnavailable) as away:
                write()
            assert "readonly" in str(away.value)
        s._conn.execute("PRAGMA query_only = OFF")
        assert s.rename("alice", c.id, "writable again")


def test_a_database_locked_by_another_process_fails_soon_then_works_again(tmp_path):
    path = tmp_path / "c.db"
    with Store(path, busy_timeout=0.3) as s:
        c = two_turns()
        s.save_conversation("alice", c)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as away:
            s.save_message("alice", c.id, Message("user", "blocked"))
        assert time.monotonic() - started < 3 and "locked" in str(away.value)
        holder.execute("ROLLBACK")
        holder.close()
        s.save_message("alice", c.id, Message("user", "after"))
        assert store_has(s, c.id, "after")


def store_has(s, conversation_id: str, text: str) -> bool:
    return text in [m.content for m in s.load("alice", conversation_id).all_messages()]


def test_the_web_apps_busy_timeout_is_short_and_configurable(tmp_path, monkeypatch):
    monkeypatch.delenv("QWENCHAT_DB_BUSY_TIMEOUT", raising=False)
    assert web_busy_timeout() == 2.5
    monkeypatch.setenv("QWENCHAT_DB_BUSY_TIMEOUT", "0.5")
    with open_store(tmp_path / "c.db") as s:
        assert s._current()._conn.execute("PRAGMA busy_timeout").fetchone() == (500,)
    for bad in ("soon", "nan", "-3"):
        assert 0 <= web_busy_timeout({"QWENCHAT_DB_BUSY_TIMEOUT": bad}) <= 2.5


def test_a_retrying_store_never_raises_at_start_and_opens_once_the_path_is_back(tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the folder should be")
    now = [100.0]
    s = RetryingStore(blocker / "chats.db", clock=lambda: now[0], retry_every=3.0)
    assert not s.available
    with pytest.raises(StoreUnavailable):
        s.list_conversations("alice")
    blocker.unlink()
    blocker.mkdir()
    now[0] += 1.0
    with pytest.raises(StoreUnavailable):  # not tried again yet: at most once every 3 s
        s.save_conversation("alice", two_turns())
    now[0] += 2.5
    c = two_turns()
    assert s.save_conversation("alice", c).version == 1 and s.available
    assert s.load("alice", c.id) == c
    s.close()
