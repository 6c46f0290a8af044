"""Several app servers on one PostgreSQL: what one saves the other opens, the daily cap is one counter,
concurrent saves lose nothing, a restarted database loses no reply, servers migrating together apply each
migration once, a newer schema is refused, the password never shows, and an installation moves between
SQLite and PostgreSQL verified. Every test runs against a real PostgreSQL (tests/pg.py)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from qwenchat import identity, store_copy
from qwenchat.chat.saving import SAVED, UNAVAILABLE, Saver, SaveState
from qwenchat.conversation import COMPLETE, STREAMING, Conversation, Usage
from qwenchat.database_url import from_secrets, redact
from qwenchat.quota_postgres import PostgresDailyCounter
from qwenchat.quotas import QuotaProblem, Reservation
from qwenchat.store import RetryingStore, SchemaTooNew, StoreUnavailable, open_store
from qwenchat.store_copy import main as copy_main
from qwenchat.store_postgres import PostgresStore, open_postgres
from tests import pg

ROOT = Path(__file__).resolve().parents[1]


def two_turns(user: str = "hello", reply: str = "hi there") -> Conversation:
    c = Conversation(title="t")
    c.add_user(user)
    r = c.start_reply("qwen-plus")
    r.content, r.status, r.usage = reply, COMPLETE, Usage(10, 5, 15)
    return c


@pytest.fixture
def servers(pg_url):
    """Two app servers' worth of objects on one database, each with its own pools."""
    a, b = PostgresStore(pg_url, max_size=4), PostgresStore(pg_url, max_size=4)
    da, db = PostgresDailyCounter(pg_url), PostgresDailyCounter(pg_url)
    yield a, b, da, db
    for x in (a, b, da, db):
        x.close()


# ---- two servers, one database ----

def test_a_conversation_saved_on_one_server_opens_on_the_other(servers):
    a, b, _, _ = servers
    c = two_turns("你好，世界", "你好！")
    a.save_conversation("alice", c)
    opened = b.load("alice", c.id)
    assert opened == c and opened.id == c.id
    assert b.load("bob", c.id) is None  # and only for its owner
    assert [s.id for s in b.list_conversations("alice")] == [c.id]


def test_the_daily_cap_spent_on_one_server_refuses_on_the_other(servers):
    _, _, da, db = servers
    held = da.reserve(1000, 800)
    assert isinstance(held, Reservation)
    refused = db.reserve(1000, 300)
    assert isinstance(refused, QuotaProblem) and refused.id == "quota.daily_request"
    da.settle(held, 650)  # used less than reserved: the rest comes back, on every server
    assert db.used() == 650 and isinstance(db.reserve(1000, 300), Reservation)
    assert da.used() == 950
    spent = db.reserve(1000, 100)
    assert isinstance(spent, QuotaProblem) and spent.kind == "daily_tokens"


def test_reservations_from_many_threads_on_two_servers_never_pass_the_cap(servers):
    _, _, da, db = servers
    granted = []

    def work(counter):
        for _ in range(25):
            r = counter.reserve(1000, 7)
            if isinstance(r, Reservation):
                granted.append(r)

    threads = [threading.Thread(target=work, args=(c,)) for c in (da, db) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 1000 // 7 and da.used() == 7 * (1000 // 7)


def test_a_reply_that_ran_past_midnight_counts_on_the_new_day(pg_url):
    now = [1_700_000_000.0]
    counter = PostgresDailyCounter(pg_url, clock=lambda: now[0])
    try:
        held = counter.reserve(10_000, 500)
        now[0] += 86_400
        counter.settle(held, 120)
        assert counter.used() == 120
        now[0] -= 86_400
        assert counter.used() == 0  # the old day's reservation was given back
    finally:
        counter.close()


def test_saves_from_both_servers_at_once_never_lose_a_message(servers):
    a, b, _, _ = servers
    c = two_turns()
    a.save_conversation("alice", c)
    errors, conflicts = [], []

    def tab(store, name):
        try:
            mine = store.load("alice", c.id)
            for n in range(10):
                mine.add_user(f"{name} {n}")
                result = store.save_conversation("alice", mine)
                conflicts.append(result.conflict)
                reply = mine.start_reply("qwen-plus")
                reply.content = f"{name} reply {n}"
                store.save_message("alice", c.id, reply)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=tab, args=(s, f"{s is a and 'A' or 'B'}{i}")) for s in (a, b) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stored = {m.content for m in b.load("alice", c.id).all_messages()}
    for name in ("A0", "A1", "B0", "B1"):
        for n in range(10):
            assert f"{name} {n}" in stored and f"{name} reply {n}" in stored
    assert any(conflicts)  # tabs that wrote over each other were told so


# ---- a database that goes away ----

def test_a_reply_streaming_while_the_database_restarts_is_kept_and_saved_when_it_is_back(tmp_path):
    server = pg.start_server(tmp_path / "pg")
    try:
        url = pg.fresh_database(server)
        store = open_postgres(url, timeout=1.0, pool_max_size=4)
        state = SaveState()
        saver = Saver(store, "alice", state, every=0.0)
        c = Conversation()
        c.add_user("讲个长故事")
        saver.save(c)
        reply = c.start_reply("qwen-plus")
        reply.content = "从前"
        saver.save_message(c, reply)
        assert state.status == SAVED

        pg.stop(server)  # the database goes away mid-reply
        for chunk in "有座山，山里有座庙。":
            reply.content += chunk
            saver.save_message(c, reply)
        assert state.status == UNAVAILABLE and state.pending  # the screen says "not saved"
        assert reply.content == "从前有座山，山里有座庙。"  # and the reply is still all there

        pg.start_again(server)
        time.sleep(2.0)  # the store tries the server again 2 s after it found it away
        reply.content += "庙里有个老和尚。"
        reply.status = COMPLETE
        saver.save_message(c, reply, force=True)
        assert state.status == SAVED and not state.pending
        assert store.load("alice", c.id) == c
        store.close()
    finally:
        server.cleanup()


def test_a_dropped_connection_is_retried_without_the_user_noticing(pg_url):
    store = PostgresStore(pg_url, max_size=2)
    try:
        c = two_turns()
        store.save_conversation("alice", c)
        with psycopg.connect(pg_url, autocommit=True) as admin:  # an admin (or a failover) cuts every connection
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = 'qwenchat' AND pid != pg_backend_pid()")
        reply = c.start_reply("qwen-plus")
        reply.content = "still here"
        store.save_message("alice", c.id, reply)
        assert store.load("alice", c.id).messages[-1].content == "still here"
    finally:
        store.close()


def test_the_daily_counter_refuses_while_the_database_is_away_and_keeps_what_it_could_not_write(tmp_path):
    server = pg.start_server(tmp_path / "pg")
    try:
        url = pg.fresh_database(server)
        counter = PostgresDailyCounter(url, timeout=0.5)
        held = counter.reserve(1000, 100)
        pg.stop(server)
        away = counter.reserve(1000, 10)
        assert isinstance(away, QuotaProblem) and away.id == "quota.daily_unavailable"
        counter.settle(held, 40)  # cannot be written now: kept
        pg.start_again(server)
        assert counter.used() == 40
        counter.close()
    finally:
        server.cleanup()


# ---- migrations ----

def test_servers_migrating_a_fresh_database_together_apply_each_migration_once(tmp_path):
    url = pg.fresh_database()
    go = tmp_path / "go"
    code = (f"import os, sys, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.001)\n"
            "import psycopg\nfrom qwenchat.pg_migrations import migrate\n"
            "with psycopg.connect(sys.argv[1], autocommit=True) as conn:\n    print(','.join(migrate(conn)))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, url], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    time.sleep(0.5)
    go.touch()
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        outputs.append(out.strip())
    from qwenchat.pg_migrations import MIGRATIONS

    names = ",".join(fn.__name__ for fn in MIGRATIONS)
    assert sorted(outputs) == ["", "", names]  # exactly one applied them
    with PostgresStore(url) as store:  # and the database works for everyone
        c = two_turns()
        store.save_conversation("alice", c)
        assert store.load("alice", c.id) == c


def test_a_server_older_than_its_database_refuses_clearly_and_writes_nothing(pg_url):
    PostgresStore(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO _migrations VALUES ('m999_from_the_future', 0)")
    with pytest.raises(SchemaTooNew) as refused:
        PostgresStore(pg_url)
    assert refused.value.unknown == ["m999_from_the_future"] and refused.value.message_id == "store.schema_too_new"
    app = open_postgres(pg_url, timeout=1.0)
    with pytest.raises(SchemaTooNew):  # the app carries on in memory, saying why
        app.save_conversation("alice", two_turns())
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM conversations").fetchone()[0] == 0
    from qwenchat.i18n import t

    assert "newer version" in t("store.schema_too_new", "en", path="db", reason="x")
    assert "更新版本" in t("store.schema_too_new", "zh", path="db", reason="x")


# ---- choosing the backend, and the password ----

def test_a_url_opens_postgresql_and_a_path_opens_sqlite(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("QWENCHAT_DB", pg_url)
    with open_store() as s:
        c = two_turns()
        s.save_conversation("alice", c)
        assert isinstance(s._current(), PostgresStore)
    monkeypatch.setenv("QWENCHAT_DB", str(tmp_path / "chats.db"))
    with open_store() as s:
        assert s.load("alice", c.id) is None and s.path == tmp_path / "chats.db"


def test_a_connection_in_secrets_toml_is_used_when_qwenchat_db_is_not_set():
    secrets = {"connections": {"qwenchat": {"dialect": "postgresql", "host": "db.internal", "port": 5432,
                                            "database": "chat", "username": "app", "password": "p@ss/word"}}}
    url = from_secrets(secrets)
    assert url == "postgresql://app:p%40ss%2Fword@db.internal:5432/chat"
    assert identity.storage_options(secrets, {}).path == url
    assert identity.storage_options(secrets, {"QWENCHAT_DB": "/data/c.db"}).path == "/data/c.db"
    assert from_secrets({"connections": {"qwenchat": {"url": "postgresql://x@y/z"}}}) == "postgresql://x@y/z"


def test_every_server_on_a_database_accepts_the_owner_links_the_others_made(pg_url):
    options = identity.StorageOptions(pg_url, True)
    secret = identity.secret_for({}, {}, options)
    from qwenchat import store_postgres

    store_postgres._secrets.clear()  # as a second server process would start
    assert identity.secret_for({}, {}, options) == secret
    token = identity.mint_token(secret)
    assert identity.owner_for(url_token=token, secret=identity.secret_for({}, {}, options)).url_token == token


def test_the_password_never_appears_in_an_error_or_a_log(caplog, tmp_path):
    password = "Sup3r-Secret-pw"
    url = f"postgresql://qwen:{password}@/chat?host={tmp_path}/nowhere&connect_timeout=1"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StoreUnavailable) as away:
        PostgresStore(url, timeout=1.0)
    shown = [str(away.value), repr(away.value), away.value.path, away.value.reason]
    app = open_store(url, busy_timeout=1.0)
    assert isinstance(app, RetryingStore)
    with pytest.raises(StoreUnavailable) as again:
        app.list_conversations("alice")
    counter = PostgresDailyCounter(url, timeout=0.5)
    assert counter.reserve(100, 1).id == "quota.daily_unavailable"
    counter.close()
    from components.history import store_problem  # what the History page shows (it imports streamlit)

    shown += [str(again.value), str(app.path), store_problem(again.value), caplog.text]
    assert all(password not in text for text in shown)
    assert "qwen:***@" in away.value.path
    assert redact(url).startswith("postgresql://qwen:***@")


# ---- moving an installation ----

def test_an_installation_moves_to_postgresql_and_back_verified(tmp_path, pg_url, capsys):
    from qwenchat.images import prepare_image
    from qwenchat.store import Store
    from tests.images_helpers import png

    source = tmp_path / "old.db"
    picture = prepare_image(png(64, 48, (9, 120, 200)), "blue.png")
    with Store(source) as s:
        kept = [two_turns(f"问题 {n}", f"回答 {n}\x00") for n in range(5)]
        kept[2].messages[0].parts.append(picture.part())  # a question showing an image
        for c in kept:
            s.save_conversation(f"owner{len(c.id) % 2}", c)
        s.save_images(f"owner{len(kept[2].id) % 2}", [picture])
        s.delete_messages("owner0" if len(kept[0].id) % 2 == 0 else "owner1", kept[0].id, [kept[0].messages[-1].id])
        s.delete(f"owner{len(kept[1].id) % 2}", kept[1].id)
        from qwenchat.personas import custom

        s.save_persona("owner0", custom("翻译", "你是翻译"))
    assert copy_main(["copy", "--from", str(source), "--to", pg_url]) == 0
    out = capsys.readouterr().out
    assert "verified" in out and out.count(" ok") == len(store_copy.TABLES) and "messages" in out
    assert "images                        1 rows" in out and "message_images                1 rows" in out
    shower = f"owner{len(kept[2].id) % 2}"
    with PostgresStore(pg_url) as p, Store(source) as s:
        for c in kept:
            owner = f"owner{len(c.id) % 2}"
            assert p.load(owner, c.id) == s.load(owner, c.id)
        assert p.load_image(shower, picture.id) == picture.data  # the pixels came along, for their owner only
        assert p.load_image("owner0" if shower == "owner1" else "owner1", picture.id) is None
    back = tmp_path / "back.db"
    assert copy_main(["copy", "--from", pg_url, "--to", str(back)]) == 0
    out = capsys.readouterr().out
    assert "verified" in out and out.count(" ok") == len(store_copy.TABLES)
    with Store(back) as b:
        assert b.load_image(shower, picture.id) == picture.data
        b.delete(shower, kept[2].id)  # the link came back too: the image goes with its conversation
        assert b.load_image(shower, picture.id) is None
    assert copy_main(["copy", "--from", str(source), "--to", pg_url]) == 2  # never into a store in use
    assert "not empty" in capsys.readouterr().err


def test_a_changed_pixel_fails_the_copy_check(tmp_path, pg_url, capsys):
    from qwenchat import store_copy
    from qwenchat.images import prepare_image
    from qwenchat.store import Store
    from tests.images_helpers import png

    source = tmp_path / "old.db"
    picture = prepare_image(png(64, 48, (9, 120, 200)), "blue.png")
    with Store(source) as s:
        s.save_images("alice", [picture])
    assert copy_main(["copy", "--from", str(source), "--to", pg_url]) == 0
    capsys.readouterr()
    with psycopg.connect(pg_url, autocommit=True) as conn:  # one byte of the copy goes wrong
        conn.execute("UPDATE images SET data = set_byte(data, 100, (get_byte(data, 100) + 1) % 256)")
    before, after = store_copy._Side(str(source)), store_copy._Side(pg_url)
    try:
        assert store_copy.tally(before, "images").rows == store_copy.tally(after, "images").rows == 1
        assert store_copy.tally(before, "images") != store_copy.tally(after, "images")
    finally:
        before.close()
        after.close()


def test_the_copy_command_runs_as_a_module_and_shows_no_password(tmp_path):
    url = f"postgresql://qwen:Hidden-pw-42@/chat?host={tmp_path}/nowhere&connect_timeout=1"
    done = subprocess.run([sys.executable, "-m", "qwenchat.store", "copy", "--from", str(tmp_path / "a.db"),
                           "--to", url, "--timeout", "1"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "not copied" in done.stderr
    assert "Hidden-pw-42" not in done.stdout + done.stderr


def test_a_streaming_message_saved_on_one_server_is_seen_growing_on_the_other(servers):
    a, b, _, _ = servers
    c = two_turns()
    a.save_conversation("alice", c)
    reply = c.start_reply("qwen-plus")
    reply.status = STREAMING
    for piece in ("一", "二", "三"):
        reply.content += piece
        a.save_message("alice", c.id, reply)
        assert b.load("alice", c.id).messages[-1].content == reply.content
