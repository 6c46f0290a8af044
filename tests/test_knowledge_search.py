"""The knowledge base end to end: real SQLite and a real PostgreSQL with pgvector (the `kb_backend` fixture runs
each storage test on both), the real openai client against the fake DashScope over HTTP. Search in Chinese and
English, owners kept apart, re-embedding, degraded rerank and embeddings, batches, bad files beside good ones,
a knowledge base uploaded through one server searched through another."""

from __future__ import annotations

import sqlite3

import pytest

from qwenchat import errors
from qwenchat.knowledge import FAILED, KEYWORDS_ONLY, OK, EmbeddingConfig, KnowledgeBaseNotFound, KnowledgeBases
from qwenchat.knowledge.model import PHASES
from qwenchat.store import Store
from tests.knowledge_helpers import EN_CONTACTS, ZH_CONTACTS, ZH_PHONES, blank_pdf, docx_bytes, provider


@pytest.fixture
def kbs(fake, kb_backend):
    fake.reset()
    return KnowledgeBases(kb_backend.store, "alice", provider(fake))


@pytest.fixture
def loaded(kbs):
    kb = kbs.create("公司资料")
    for path in (ZH_CONTACTS, EN_CONTACTS, ZH_PHONES):
        assert kbs.add_file(kb.id, path.name, path.read_bytes()).status == OK
    return kbs, kb


def texts(hits) -> str:
    return "\n".join(h.text for h in hits)


@pytest.mark.parametrize("query, expected", [
    ("张伟是哪个部门的", "| 教研部|张伟|李琳|A101"),
    ("13800000036 是谁的电话", "zhangwei036@educompany.com"),
    ("星尘S9 Pro 多少钱", "参考售价:5999 - 6499"),
    ("Which department is Michael Johnson in?", "michael.johnson@educompany.com"),
    ("(555) 234-5697", "michael.j2@educompany.com"),
])
def test_keyword_and_hybrid_search_find_names_phones_and_models(loaded, query, expected):
    kbs, kb = loaded
    hits = kbs.search(kb.id, query, top_k=5)
    assert hits.mode == "hybrid" and expected in texts(hits)
    hits = KnowledgeBases(kbs.index, "alice", None).search(kb.id, query, top_k=5)  # keywords alone
    assert hits.mode == "keywords" and expected in texts(hits)


def test_a_hit_quotes_exactly_the_span_of_its_document_and_says_where_it_is(loaded):
    kbs, kb = loaded
    for h in kbs.search(kb.id, "张伟 IT部 马云", top_k=8):
        assert kbs.document_text(kb.id, h.file_id)[h.start:h.end] == h.text
        assert h.kb_id == kb.id and h.chunk_id > 0 and h.score > 0
    top = kbs.search(kb.id, "IT部 张伟 马云 H802", top_k=1)[0]
    assert "各部门关键角色联系人" in top.heading and top.page is None


def test_search_reports_the_tokens_it_spent(loaded, fake):
    kbs, kb = loaded
    hits = kbs.search(kb.id, "张伟", top_k=3, rerank=True)
    assert hits.reranked and hits.embedding_tokens == 1 and hits.rerank_tokens > 0
    assert fake.rerank_requests[-1]["path"] == "/compatible-api/v1/reranks"
    assert fake.rerank_requests[-1]["body"]["model"] == "qwen3-rerank"


def test_rerank_failure_keeps_the_fused_order_with_a_notice(loaded, fake):
    kbs, kb = loaded
    fused = kbs.search(kb.id, "星尘S9 Pro", top_k=4)
    for failure in ({"kind": "error", "code": "server_error"}, {"kind": "missing"},
                    {"kind": "error", "code": "limit_requests"}):
        fake.enqueue_rerank(failure)
        hits = kbs.search(kb.id, "星尘S9 Pro", top_k=4, rerank=True)
        assert [h.chunk_id for h in hits] == [h.chunk_id for h in fused] and not hits.reranked
        assert [n.id for n in hits.notices] == ["kb.notice.rerank_unavailable"]


def test_owners_never_see_each_others_knowledge_bases(loaded, kb_backend, fake):
    kbs, kb = loaded
    bob = KnowledgeBases(kb_backend.store, "bob", provider(fake))
    assert bob.list() == [] and bob.find("公司资料") is None
    with pytest.raises(KnowledgeBaseNotFound):
        bob.search(kb.id, "张伟")  # a forged id
    with pytest.raises(KnowledgeBaseNotFound):
        bob.files(kb.id)
    assert not bob.delete(kb.id) and not bob.remove_file(kb.id, ZH_CONTACTS.name)
    with pytest.raises(KnowledgeBaseNotFound):
        bob.add_file(kb.id, "x.txt", "张伟的秘密".encode())
    own = bob.create("公司资料")  # the same name is free for another owner
    bob.add_file(own.id, "note.txt", "张伟在鲍勃的笔记里。".encode())
    alice_hits = kbs.search(kb.id, "张伟", top_k=50)
    assert alice_hits and all(h.kb_id == kb.id and h.file != "note.txt" for h in alice_hits)
    bob_hits = bob.search(own.id, "张伟", top_k=50)
    assert {h.file for h in bob_hits} == {"note.txt"}
    # the storage layer refuses too, in SQL, whatever id it is handed
    assert bob.index.keyword_search("bob", kb.id, ["张伟"], 10) == []
    assert bob.index.vector_search("bob", kb.id, [1.0] * 1024, bob.embedding.key, 10) == []
    assert bob.index.chunks("bob", kb.id, [h.chunk_id for h in alice_hits]) == []
    assert bob.index.document_text("bob", kb.id, alice_hits[0].file_id) is None


def test_changing_the_embedding_model_or_dimensions_re_embeds_instead_of_failing(loaded, fake):
    kbs, kb = loaded
    assert kbs.get(kb.id).dimensions == 1024
    smaller = KnowledgeBases(kbs.index, "alice", kbs.provider, embedding=EmbeddingConfig(dimensions=256))
    assert smaller.needs_reembed(kb.id)
    fake.embedding_requests.clear()
    hits = smaller.search(kb.id, "星尘S9 Pro", top_k=3)
    assert hits.mode == "hybrid" and "星尘S9 Pro" in hits[0].text
    assert hits.embedding_tokens > 100  # every passage again, then the query
    assert {r["body"]["dimensions"] for r in fake.embedding_requests} == {256}
    assert kbs.get(kb.id).dimensions == 256 and not smaller.needs_reembed(kb.id)
    other = KnowledgeBases(kbs.index, "alice", kbs.provider, embedding=EmbeddingConfig(model="text-embedding-v3"))
    assert other.needs_reembed(kb.id) and other.search(kb.id, "张伟").mode == "hybrid"
    assert kbs.get(kb.id).embedding_model == "text-embedding-v3"


def test_embedding_calls_send_at_most_ten_inputs_as_floats(kbs, fake):
    kb = kbs.create("big")
    text = "\n\n".join(f"## 第{i}节\n\n这是关于产品{i}的说明，型号 X{i}。" for i in range(37))
    report = kbs.add_file(kb.id, "many.md", text.encode())
    assert report.status == OK and report.chunks >= 11
    sizes = [len(r["body"]["input"]) for r in fake.embedding_requests]
    assert max(sizes) <= 10 and sum(sizes) == report.chunks
    assert all(r["body"]["encoding_format"] == "float" for r in fake.embedding_requests)
    assert report.embedding_tokens > 0 and report.cost == pytest.approx(report.embedding_tokens * 0.5 / 1e6)


def test_the_provider_splits_batches_and_sorts_vectors_by_index(fake):
    p = provider(fake)
    result = p.embed([f"text {i}" for i in range(23)], model="text-embedding-v4", dimensions=64)
    single = [p.embed([f"text {i}"], model="text-embedding-v4", dimensions=64).vectors[0] for i in (0, 22)]
    assert len(result.vectors) == 23 and result.dimensions == 64
    assert result.vectors[0] == single[0] and result.vectors[22] == single[1]


def test_embedding_errors_map_to_the_usual_kinds(fake):
    from qwenchat.providers import ProviderError

    with pytest.raises(ProviderError) as caught:
        provider(fake, key="sk-wrong").embed(["x"], model="text-embedding-v4")
    assert caught.value.error.kind == errors.INVALID_KEY
    fake.enqueue_embeddings({"kind": "error", "code": "limit_requests"})
    with pytest.raises(ProviderError) as caught:
        provider(fake).embed(["x"], model="text-embedding-v4")
    assert caught.value.error.kind == errors.RATE_LIMIT


def test_a_server_without_embeddings_indexes_keywords_only_and_search_still_works(kbs, fake):
    kb = kbs.create("local")
    fake.enqueue_embeddings({"kind": "missing"})
    report = kbs.add_file(kb.id, ZH_PHONES.name, ZH_PHONES.read_bytes())
    assert report.status == KEYWORDS_ONLY and report.error.id == "kb.notice.keywords_only"
    hits = kbs.search(kb.id, "星尘S9 Pro", top_k=2)
    assert "星尘S9 Pro" in hits[0].text


def test_a_failed_embedding_fails_that_file_with_the_reason_and_the_next_file_goes_in(kbs, fake):
    kb = kbs.create("mixed")
    fake.enqueue_embeddings({"kind": "error", "code": "insufficient_quota"})
    first = kbs.add_file(kb.id, "a.md", "# 标题\n\n张伟的电话 13800000001。".encode())
    assert first.status == FAILED and first.error_kind == "embedding"
    assert first.error.params["reason"].id == "error.quota"
    second = kbs.add_file(kb.id, "b.md", "# 标题\n\n李丽的电话 13800000007。".encode())
    assert second.status == OK
    retried = kbs.reindex_file(kb.id, "a.md")  # the bytes were kept: a retry needs no upload
    assert retried.status == OK and {f.status for f in kbs.files(kb.id)} == {OK}


def test_bad_files_each_say_why_and_the_good_ones_still_ingest(fake, kb_backend):
    kbs = KnowledgeBases(kb_backend.store, "alice", provider(fake), max_file_bytes=50_000)
    kb = kbs.create("uploads")
    uploads = [("scan.pdf", blank_pdf(2)), ("locked.pdf", blank_pdf(1, "pw")), ("broken.docx", b"PK\x03\x04xx"),
               ("empty.txt", b""), ("big.txt", "很长。".encode() * 20_000), ("photo.png", b"\x89PNG\r\n"),
               ("good.docx", docx_bytes()), ("good.csv", "name,phone\n张伟,13800000001\n".encode())]
    reports = {name: kbs.add_file(kb.id, name, data) for name, data in uploads}
    kinds = {name: r.error_kind for name, r in reports.items()}
    assert kinds == {"scan.pdf": "no_text", "locked.pdf": "encrypted", "broken.docx": "corrupt", "empty.txt": "empty",
                     "big.txt": "too_large", "photo.png": "unsupported", "good.docx": "", "good.csv": ""}
    assert reports["big.txt"].error.params == {"name": "big.txt", "size": 180_000, "limit": 50_000}
    assert reports["scan.pdf"].error.text("en").startswith('The PDF "scan.pdf" has no text layer')
    assert reports["good.docx"].status == OK and reports["good.csv"].status == OK
    listed = {f.name: f.status for f in kbs.files(kb.id)}
    assert "big.txt" not in listed and listed["scan.pdf"] == FAILED and listed["good.docx"] == OK
    assert "13800000001" in kbs.search(kb.id, "张伟电话", top_k=3)[0].text


def test_progress_reports_each_phase_in_order(kbs):
    kb = kbs.create("p")
    seen = []
    kbs.add_file(kb.id, "手册.docx", docx_bytes(), progress=lambda *a: seen.append(a))
    phases = list(dict.fromkeys(p for p, _, _ in seen))
    assert phases == list(PHASES) and seen[-1] == ("done", 1, 1)
    embeds = [(d, t) for p, d, t in seen if p == "embed"]
    assert embeds[0][0] == 0 and embeds[-1][0] == embeds[-1][1]


def test_rename_delete_reindex_and_remove(loaded, kb_backend):
    kbs, kb = loaded
    assert kbs.rename(kb.id, "资料库").name == "资料库"
    before = kbs.file(kb.id, ZH_PHONES.name)
    again = kbs.reindex_file(kb.id, before.id)
    assert again.id == before.id and again.chunks == before.chunks
    assert kbs.remove_file(kb.id, ZH_PHONES.name) and not kbs.remove_file(kb.id, ZH_PHONES.name)
    assert "星尘" not in texts(kbs.search(kb.id, "星尘S9 Pro", top_k=5))
    assert kbs.delete(kb.id) and kbs.list() == []
    assert kb_backend.count("kb_chunks") == 0 and kb_backend.count("kb_files") == 0
    if kb_backend.name == "sqlite":
        assert kb_backend.count("kb_fts") == 0


def test_a_knowledge_base_uploaded_through_one_server_answers_on_another(loaded, kb_backend, fake):
    kbs, kb = loaded
    other = KnowledgeBases(kb_backend.another(), "alice", provider(fake))  # its own pool on PostgreSQL
    hits = other.search(kb.id, "星尘S9 Pro 多少钱", top_k=5)
    assert hits.mode == "hybrid" and "参考售价:5999 - 6499" in texts(hits)
    other.add_file(kb.id, "新员工.txt", "新员工王小明的工号是 A9001。".encode())
    assert "A9001" in kbs.search(kb.id, "王小明的工号", top_k=3)[0].text  # and back the other way
    assert [f.name for f in kbs.files(kb.id)] == [f.name for f in other.files(kb.id)]


def test_without_pgvector_rights_the_server_refuses_to_start_with_a_message(kb_backend):
    if kb_backend.name == "sqlite":
        pytest.skip("PostgreSQL only: SQLite needs no extension")
    import psycopg

    from qwenchat.i18n import t
    from qwenchat.store_postgres import PostgresStore, VectorUnavailable
    from tests import pg

    url = pg.fresh_database()  # no pgvector in it yet
    role = "plain_" + url.split("/")[3].split("?")[0]  # roles are the cluster's: one per database
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'hunter2-secret'")
        conn.execute(f"GRANT ALL ON SCHEMA public TO {role}")
    plain = url.replace("postgresql://postgres:@", f"postgresql://{role}:hunter2-secret@")
    assert plain != url
    with pytest.raises(VectorUnavailable) as caught:
        PostgresStore(plain, max_size=1)
    message = t(caught.value.message_id, "en", path=caught.value.path, reason=caught.value.reason)
    assert "CREATE EXTENSION vector" in message and "hunter2-secret" not in message + str(caught.value)


def test_the_tables_live_in_the_conversation_database_by_an_appended_migration(tmp_path):
    with Store(tmp_path / "chats.db") as store:
        kbs = KnowledgeBases(store, "alice")
        assert kbs.index.path == store.path
    with sqlite3.connect(tmp_path / "chats.db") as db:
        names = [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert "m004_knowledge_bases" in names and names[:3] == ["m001_conversations_and_messages",
                                                              "m002_message_tree_versions_and_tombstones",
                                                              "m003_parameters_and_personas"]


def test_the_fake_refuses_eleven_inputs_like_dashscope(fake):
    import json
    import urllib.error
    import urllib.request

    from tests.fake_dashscope import VALID_KEY

    request = urllib.request.Request(f"{fake.base_url}/embeddings", method="POST",
                                     data=json.dumps({"model": "text-embedding-v4", "input": ["x"] * 11}).encode(),
                                     headers={"Authorization": f"Bearer {VALID_KEY}",
                                              "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert "batch size is invalid" in json.loads(caught.value.read())["error"]["message"]


def test_the_fake_refuses_an_input_longer_than_the_embedding_model_takes_like_dashscope(fake):
    import json
    import urllib.error
    import urllib.request

    from qwenchat.tokens import count_text
    from tests.fake_dashscope import VALID_KEY

    def embed(inputs):
        request = urllib.request.Request(f"{fake.base_url}/embeddings", method="POST",
                                         data=json.dumps({"model": "text-embedding-v4", "input": inputs}).encode(),
                                         headers={"Authorization": f"Bearer {VALID_KEY}",
                                                  "Content-Type": "application/json"})
        return urllib.request.urlopen(request, timeout=10)

    long = ",".join(f"column_{i}_name" for i in range(1500))
    assert count_text(long, "text-embedding-v4") > 8192
    with pytest.raises(urllib.error.HTTPError) as caught:
        embed(["short", long])
    assert caught.value.code == 400
    assert "Range of input length should be [1, 8192]" in json.loads(caught.value.read())["error"]["message"]
    assert embed(["short", long[:8000]]).status == 200


@pytest.mark.parametrize("name, data, query, expected", [
    # a CSV of 1,500 columns: every row was embedded with the whole 9,500-token header, past text-embedding-v4's
    # 8,192 tokens, so the file failed to index
    ("wide.csv", (",".join(f"column_{i}_name" for i in range(1500)) + "\n" +
                  "\n".join(f"row{r},{r * 7},{r * 11}" for r in range(20)) + "\n").encode(), "row13", "row13,91,143"),
    # a heading of 9,000 words was one passage of 9,001 tokens, and the context of every passage under it
    ("long-heading.md", ("# " + "word " * 9000 + "\n\n张伟的电话是 13800000001。\n").encode(), "张伟的电话", "13800000001"),
])
def test_a_file_whose_header_or_heading_is_too_long_to_embed_whole_still_indexes_and_is_found(
        kbs, fake, name, data, query, expected):
    kb = kbs.create("wide")
    report = kbs.add_file(kb.id, name, data)
    assert report.status == OK, report.error
    assert expected in texts(kbs.search(kb.id, query, top_k=3))


def test_a_large_knowledge_base_finds_the_nearest_vectors_through_sign_bits_and_rescoring(monkeypatch, tmp_path):
    import numpy as np

    from qwenchat.knowledge import sqlite_index
    from qwenchat.knowledge.model import Chunk, FileReport

    monkeypatch.setattr(sqlite_index, "EXACT_UP_TO", 10)  # the large-base path, on a small base
    index = sqlite_index.SqliteIndex(tmp_path / "kb.db")
    kb = index.create_base("alice", "big")
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((600, 64)).astype(np.float32)
    chunks = [Chunk(f"p{i}", i * 5, i * 5 + len(f"p{i}")) for i in range(600)]
    index.put_file("alice", kb.id, FileReport(0, "v.txt", "ok"), None, "", chunks, ["x"] * 600, vectors.tolist(),
                   "m:64")
    query = vectors[123] + 0.05 * rng.standard_normal(64).astype(np.float32)
    found = index.vector_search("alice", kb.id, query.tolist(), "m:64", 5)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    exact = np.argsort(-(unit @ (query / np.linalg.norm(query))))[:5]
    assert [cid for cid, _ in found] == [int(i) + 1 for i in exact]  # chunk ids start at 1
    assert found[0][0] == 124 and found[0][1] > 0.99
    index.close()


def test_pgvector_finds_the_nearest_through_hnsw_and_a_small_base_beside_a_large_one_still_answers(kb_backend):
    if kb_backend.name == "sqlite":
        pytest.skip("PostgreSQL only: the HNSW path and its exact fallback")
    import numpy as np

    from qwenchat.knowledge.model import Chunk, FileReport

    index = KnowledgeBases(kb_backend.store, "alice").index
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((600, 64)).astype(np.float32)
    big = index.create_base("alice", "big")
    chunks = [Chunk(f"p{i}", i * 5, i * 5 + len(f"p{i}")) for i in range(600)]
    index.put_file("alice", big.id, FileReport(0, "v.txt", "ok"), None, "", chunks, ["x"] * 600, vectors.tolist(),
                   "m:64")
    small = index.create_base("bob", "small")
    index.put_file("bob", small.id, FileReport(0, "s.txt", "ok"), None, "", chunks[:3], ["x"] * 3,
                   (-vectors[:3]).tolist(), "m:64")
    query = vectors[123] + 0.05 * rng.standard_normal(64).astype(np.float32)
    found = index.vector_search("alice", big.id, query.tolist(), "m:64", 5)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    exact = np.argsort(-(unit @ (query / np.linalg.norm(query))))[:5]
    ids = {c.text: c.id for c in index.chunks("alice", big.id, [cid for cid, _ in found])}
    assert [c for c, _ in found][0] == ids["p123"] and found[0][1] > 0.99
    assert len(set(ids) & {f"p{i}" for i in exact}) >= 4  # HNSW is approximate: nearly the exact five
    mine = index.vector_search("bob", small.id, query.tolist(), "m:64", 5)  # the graph's nearest are alice's
    assert len(mine) == 3 and {c.file for c in index.chunks("bob", small.id, [cid for cid, _ in mine])} == {"s.txt"}


def test_postgres_keyword_scores_equal_sqlites_bm25_and_follow_writes_through_another_server(kb_backend, tmp_path):
    if kb_backend.name == "sqlite":
        pytest.skip("PostgreSQL against SQLite's FTS5")
    import random

    from qwenchat.knowledge import keywords
    from qwenchat.knowledge.model import Chunk, FileReport
    from qwenchat.knowledge.sqlite_index import SqliteIndex

    rng = random.Random(5)
    words = ["部门经理", "课程", "评审", "手机电池", "price", "budget", "server", "report", "销售预算", "差旅"]
    pg_a = KnowledgeBases(kb_backend.store, "alice").index
    pg_b = KnowledgeBases(kb_backend.another(), "alice").index  # a second app server
    sq = SqliteIndex(tmp_path / "kb.db")
    bases = (pg_a.create_base("alice", "k"), sq.create_base("alice", "k"))
    noise = pg_a.create_base("bob", "k")  # another owner's passages share the GIN index and must not count

    def add(name: str, n: int, *indexes) -> None:
        texts = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 30))) for _ in range(n)]
        chunks = [Chunk(t, 0, len(t)) for t in texts]
        terms = [keywords.index_terms(t) for t in texts]
        for index, kb in indexes:
            index.put_file("alice", kb.id, FileReport(0, name, "ok"), None, "", chunks, terms, None, "")

    pg_a.put_file("bob", noise.id, FileReport(0, "bob.txt", "ok"), None, "", [Chunk("课程 评审 price", 0, 1)] * 50,
                  [keywords.index_terms("课程 评审 price")] * 50, None, "")
    queries = [keywords.query_terms(q) for q in ("课程评审的 price", "手机电池 budget report", "差旅销售预算", "nothing")]

    def same() -> None:
        for q in queries:
            want = [round(score, 6) for _, score in sq.keyword_search("alice", bases[1].id, q, 20)]
            assert [round(score, 6) for _, score in pg_a.keyword_search("alice", bases[0].id, q, 20)] == want
            assert [round(score, 6) for _, score in pg_b.keyword_search("alice", bases[0].id, q, 20)] == want

    add("a.txt", 200, (pg_a, bases[0]), (sq, bases[1]))
    same()
    add("b.txt", 100, (pg_b, bases[0]), (sq, bases[1]))  # written through the other server: statistics change
    same()
    assert pg_a.keyword_search("bob", bases[0].id, queries[0], 20) == []  # alice's base, bob asking
    sq.close()


def test_the_copy_command_moves_knowledge_bases_both_ways_and_they_answer_alike(fake, tmp_path, pg_url, capsys):
    from qwenchat.store_copy import main as copy_main
    from qwenchat.store_postgres import PostgresStore

    source = tmp_path / "chats.db"
    kbs = KnowledgeBases(source, "alice", provider(fake))
    kb = kbs.create("公司资料")
    for path in (ZH_CONTACTS, ZH_PHONES):
        kbs.add_file(kb.id, path.name, path.read_bytes())
    kbs.index.close()
    assert copy_main(["copy", "--from", str(source), "--to", pg_url]) == 0
    out = capsys.readouterr().out
    for table in ("kb_bases", "kb_files", "kb_chunks", "kb_fts"):
        assert f"{table}" in out and "MISMATCH" not in out
    with PostgresStore(pg_url, max_size=2) as pg_store:
        there = KnowledgeBases(pg_store, "alice", provider(fake))
        for query in ("张伟是哪个部门的", "星尘S9 Pro 多少钱"):
            here = KnowledgeBases(source, "alice", provider(fake)).search(kb.id, query, top_k=3)
            assert [h.chunk_id for h in there.search(kb.id, query, top_k=3)] == [h.chunk_id for h in here]
        assert there.create("新的").id == kb.id + 1  # the id sequence moved past the copied ids
    back = tmp_path / "back.db"
    assert copy_main(["copy", "--from", pg_url, "--to", str(back)]) == 0
    assert "verified: every table matches" in capsys.readouterr().out
    assert [b.name for b in KnowledgeBases(back, "alice").list()] == ["公司资料", "新的"]


@pytest.mark.parametrize("query, document", [
    ("tools", "Authoring tool: Articulate 360."),
    ("which tool", "Authoring tools: Articulate 360, Camtasia."),
    ("What should we use?", "Coordinate using Asana for task tracking."),
    ("tracked tasks", "Coordinate using Asana for task tracking."),
    ("company policies", "The company policy on remote work."),
])
def test_english_word_forms_find_each_other_in_keyword_search(tmp_path, query, document):
    kbs = KnowledgeBases(tmp_path / "chats.db", "alice", None)
    kb = kbs.create("forms")
    kbs.add_file(kb.id, "guide.txt", document.encode())
    kbs.add_file(kb.id, "other.txt", b"Unrelated text about phones and batteries.")
    hits = kbs.search(kb.id, query, top_k=5)
    assert hits.mode == "keywords" and [h.file for h in hits] == ["guide.txt"]


def test_words_ending_in_s_that_are_no_plurals_still_match_and_chinese_is_unaffected(tmp_path):
    kbs = KnowledgeBases(tmp_path / "chats.db", "alice", None)
    kb = kbs.create("forms")
    kbs.add_file(kb.id, "a.txt", "Bus timetable.".encode())
    kbs.add_file(kb.id, "b.txt", "项目管理软件（Jira、Trello）".encode())
    assert [h.file for h in kbs.search(kb.id, "bus", top_k=5)] == ["a.txt"]
    assert [h.file for h in kbs.search(kb.id, "buses", top_k=5)] == ["a.txt"]
    assert [h.file for h in kbs.search(kb.id, "项目管理应该用什么工具", top_k=5)] == ["b.txt"]
    assert [h.file for h in kbs.search(kb.id, "trellos", top_k=5)] == ["b.txt"]
