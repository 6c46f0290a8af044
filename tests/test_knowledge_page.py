"""The 📚 Knowledge page and the chat's knowledge-base picker, driven with AppTest against the fake DashScope:
create, upload (AppTest's file_uploader), per-file reports and failures, rename, delete, owner isolation,
and an answer with its sources in the chat."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components.navigation import CHAT, KNOWLEDGE
from qwenchat import identity
from qwenchat.i18n import t
from qwenchat.knowledge import KnowledgeBases
from tests.apptest import APP, TIMEOUT
from tests.conftest import TEST_SECRET
from tests.test_retrieval import CONTACTS, contact_bytes

pytestmark = pytest.mark.timeout(120)

TOKEN = identity.mint_token(TEST_SECRET.encode())
OWNER = identity.owner_for(url_token=TOKEN, secret=TEST_SECRET.encode()).id
PHONES = Path(__file__).resolve().parents[1] / "qwenchat" / "knowledge" / "demo" / "zh" / "百炼系列手机产品介绍.docx"
NOT_A_PDF = b"%PDF-1.4\nthis is not really a pdf"


def scanned_pdf() -> bytes:
    """A PDF with a page and no text layer, as a scanner makes them."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def open_page(token: str = TOKEN) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["o"] = token
    at.run()
    at.switch_page(KNOWLEDGE).run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    """Everything the page says, in one string."""
    parts = [e.value for kind in ("markdown", "caption", "info", "success", "warning", "error", "title")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def create(at: AppTest, name: str) -> AppTest:
    at.text_input(key="kb_new_name").set_value(name)
    at.button[[b.label for b in at.button].index(t("kb.create.button", "zh"))].click().run()
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    uploader = next(u for u in at.file_uploader if u.key.startswith("kb_upload_"))
    uploader.set_value([(name, data, "application/octet-stream") for name, data in files]).run()
    at.button(key="kb_upload_add").click().run()  # the queue runs one file per run, rerunning to the end
    assert not at.exception, at.exception
    return at


def popover_labels(block) -> list[str]:
    """The labels of the source popovers under a reply (what a user reads before opening one)."""
    return [p.proto.popover.label for p in block.get("popover")]


def file_table(at: AppTest):
    return at.dataframe[0].value


@pytest.fixture
def db(app_env, tmp_path) -> Path:
    return tmp_path / "chats.db"


def test_create_upload_and_see_each_files_report_with_a_failure_that_stops_no_other(db):
    at = create(open_page(), "公司资料")
    assert "公司资料" in texts(at) or at.selectbox(key="kb_page_choice").value
    assert t("kb.files.empty", "zh") in texts(at)
    assert "20 MB" in texts(at)  # the size limit is shown
    files = [("扫描件.pdf", scanned_pdf()), ("坏文件.pdf", NOT_A_PDF), (CONTACTS, contact_bytes())]
    if PHONES.exists():
        files.append((PHONES.name, PHONES.read_bytes()))
    upload(at, *files)
    table = file_table(at)
    names = list(table[t("kb.files.col.name", "zh")])
    assert sorted(names) == sorted(name for name, _ in files)
    row = table[table[t("kb.files.col.name", "zh")] == CONTACTS].iloc[0]
    assert row[t("kb.files.col.status", "zh")] == t("kb.status.ok", "zh")
    assert row[t("kb.files.col.chunks", "zh")] > 0 and row[t("kb.files.col.tokens", "zh")] > 0
    assert row[t("kb.files.col.embedding", "zh")] > 0 and row[t("kb.files.col.cost", "zh")].startswith("¥")
    bad = table[table[t("kb.files.col.name", "zh")] == "扫描件.pdf"].iloc[0]
    assert bad[t("kb.files.col.status", "zh")] == t("kb.status.failed", "zh")
    errors = [e.value for e in at.error]  # a clear message naming each file, and why
    assert any("扫描件.pdf" in e and "OCR" in e for e in errors), errors
    assert any("坏文件.pdf" in e and t("kb.error.corrupt", "zh", name="坏文件.pdf") == e.replace("\\", "")
               for e in errors), errors

    stored = KnowledgeBases(db, OWNER).list()
    assert [(kb.name, kb.files) for kb in stored] == [("公司资料", len(files))]


def test_the_queue_survives_leaving_the_page_and_coming_back(db):
    at = create(open_page(), "资料")
    kb_id = at.selectbox(key="kb_page_choice").value
    queue = at.session_state["chat"].uploads
    queue.add(kb_id, CONTACTS, contact_bytes())
    queue.add(kb_id, "readme.txt", "张伟负责课程研发。".encode())
    at.switch_page(CHAT).run()  # away: nothing is processed on the chat page
    assert len(at.session_state["chat"].uploads.pending) == 2
    at.switch_page(KNOWLEDGE).run()  # back: the queue carries on to its end
    assert not at.exception, at.exception
    assert not at.session_state["chat"].uploads.pending
    assert sorted(file_table(at)[t("kb.files.col.name", "zh")]) == sorted([CONTACTS, "readme.txt"])


def test_rename_and_delete_a_knowledge_base(db):
    at = create(open_page(), "旧名字")
    at.text_input(key=f"kb_rename_name_{at.selectbox(key='kb_page_choice').value}").set_value("新名字")
    at.button[[b.label for b in at.button].index(t("kb.rename.button", "zh"))].click().run()
    assert [kb.name for kb in KnowledgeBases(db, OWNER).list()] == ["新名字"]
    kb_id = at.selectbox(key="kb_page_choice").value
    at.checkbox(key=f"kb_delete_sure_{kb_id}").check().run()
    at.button(key=f"kb_delete_{kb_id}").click().run()
    assert not at.exception and KnowledgeBases(db, OWNER).list() == []
    assert t("kb.page.empty", "zh") in texts(at)


def test_another_owners_knowledge_bases_are_invisible_on_the_page_and_in_the_chat(db):
    stranger = KnowledgeBases(db, "user:bob@example.org")
    secret_kb = stranger.create("鲍勃的机密")
    stranger.add_file(secret_kb.id, CONTACTS, contact_bytes())
    at = open_page()
    assert "鲍勃的机密" not in texts(at) and t("kb.page.empty", "zh") in texts(at)
    create(at, "我的")
    assert at.selectbox(key="kb_page_choice").options == ["我的"]
    at.switch_page(CHAT).run()
    conversation = at.session_state["chat"].conversation
    picker = at.sidebar.selectbox(key=f"kb_choice_{conversation.id}")
    assert picker.options == [t("chat.kb.none", "zh"), "我的"]
    # And the page's bases are the stranger's to nobody: bob still sees only his own.
    assert [kb.name for kb in stranger.list()] == ["鲍勃的机密"]


def test_an_answer_in_the_chat_cites_the_chosen_knowledge_base_and_keeps_it_after_a_reload(db):
    at = create(open_page(), "公司资料")
    upload(at, (CONTACTS, contact_bytes()))
    at.switch_page(CHAT).run()
    conversation = at.session_state["chat"].conversation
    at.sidebar.selectbox(key=f"kb_choice_{conversation.id}").set_value(
        KnowledgeBases(db, OWNER).find("公司资料").id).run()
    at.chat_input(key="chat_input").set_value("张伟是哪个部门的").run()
    assert not at.exception, at.exception
    reply = at.chat_message[-1]
    body = "\n".join(md.value for md in reply.markdown)
    assert "张伟" in body and "**[" in body  # the marker of a sent passage, drawn as a citation
    labels = popover_labels(reply)
    assert labels and all(CONTACTS.replace(".", "\\.") in label or CONTACTS in label for label in labels)
    assert any(t("chat.sources", "zh") in md.value for md in reply.markdown)
    assert any("张伟" in code.value for code in reply.code)  # each source opens its passage, as plain text
    assert any("知识库检索" in c.value for c in at.sidebar.caption)  # its tokens are in the sidebar's totals

    again = AppTest.from_file(str(APP), default_timeout=TIMEOUT)  # a reload: the URL brings it back
    again.query_params.update({"o": TOKEN, "c": conversation.id})
    again.run()
    assert not again.exception, again.exception
    assert popover_labels(again.chat_message[-1]) == labels
    assert again.sidebar.selectbox(key=f"kb_choice_{conversation.id}").value == \
        KnowledgeBases(db, OWNER).find("公司资料").id


def test_the_demo_knowledge_base_loads_in_one_click(db):
    from qwenchat.knowledge import demo_files

    at = AppTest.from_file(str(APP), default_timeout=120)  # thirteen documents, PDFs among them
    at.query_params["o"] = TOKEN
    at.run()
    at.switch_page(KNOWLEDGE).run()
    at.button(key="kb_demo").click().run()
    assert not at.exception, at.exception
    names = sorted(name for name, _ in demo_files())
    assert sorted(file_table(at)[t("kb.files.col.name", "zh")]) == names
    demo = KnowledgeBases(db, OWNER).find(t("kb.demo.name", "zh"))
    assert demo is not None and demo.files == len(names) and demo.chunks > 0
    assert not at.error  # every demo document reads
