"""The 📏 Evaluate page, driven by AppTest against the fake DashScope and a knowledge base built here from two
of the demo documents: a run of three questions shows real scores, a second run compares with the first,
the CSV download is offered, the limits stop a run, and another owner's bases and runs never appear."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from components.navigation import EVALUATE
from qwenchat import identity
from qwenchat.config import Settings
from qwenchat.knowledge import KnowledgeBases, evalset
from qwenchat.knowledge import evaluate as ev
from qwenchat.knowledge.evalstore import EvaluationRuns
from qwenchat.providers import provider_for
from tests.apptest import APP, TIMEOUT
from tests.conftest import TEST_SECRET
from tests.fake_dashscope import VALID_KEY

pytestmark = pytest.mark.timeout(180)

DEMO = evalset.DEV_SET.parent / "zh"
FILES = ["内容公司各部门职责与关键角色联系信息汇总.md", "内容开发工程师岗位指导说明书.docx"]
TOKEN = identity.mint_token(TEST_SECRET.encode())
OWNER = identity.owner_for(url_token=TOKEN, secret=TEST_SECRET.encode()).id
STRANGER = "user:bob@example.org"


def build_kb(fake, db, owner: str, name: str, files=FILES) -> int:
    provider = provider_for(Settings(api_key=VALID_KEY, base_url=fake.base_url, operator_base_url=fake.base_url,
                                     provider="dashscope"))
    kbs = KnowledgeBases(db, owner, provider)
    kb = kbs.create(name)
    for file in files:
        assert kbs.add_file(kb.id, file, (DEMO / file).read_bytes()).ok
    return kb.id


@pytest.fixture
def page(app_env, fake, tmp_path):
    db = tmp_path / "chats.db"
    build_kb(fake, db, OWNER, "公司资料")
    stranger_kb = build_kb(fake, db, STRANGER, "bob-secret-kb", files=FILES[:1])
    secret_run = ev.new_run(evalset.dev_set().questions[:1], ev.RunSettings(kb_id=stranger_kb, kb_name="bob-secret-kb"),
                            name="bob-secret-run")
    EvaluationRuns(db).save(STRANGER, secret_run)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["o"] = TOKEN
    at.run()
    at.switch_page(EVALUATE).run()
    assert not at.exception, at.exception
    return at


def run_three(at: AppTest, top_k: int = 5) -> AppTest:
    at.number_input(key="eval_count").set_value(3)
    at.number_input(key="eval_top_k").set_value(top_k)
    at.button(key="eval_run").click().run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_a_run_of_three_questions_shows_scores_per_question_and_a_csv(page, fake):
    at = run_three(page)
    shown = metrics(at)
    assert shown["上下文召回"] != "缺失" and float(shown["上下文召回"]) > 0  # evidence found in the passages
    assert float(shown["答案正确性"]) > 0 and float(shown["上下文精确度"]) > 0
    assert [e.label.split(" · ")[0] for e in at.expander] == ["dev-zh-01", "dev-zh-02", "dev-zh-03"]
    first = at.expander[0]
    assert any("Jira" in t.value for t in first.text)  # the passage that holds the answer is shown
    assert any("召回按证据字符串精确匹配计算" in c.value for c in first.caption)
    assert any(b.label == "下载 CSV" for b in at.get("download_button"))
    assert sum(1 for r in fake.requests if "RAG evaluation judge" in r["body"]["messages"][0]["content"]) == 3
    assert any("3/3" in o for o in at.selectbox(key="eval_pick").options)


def test_two_runs_are_compared_side_by_side(page):
    at = run_three(page, top_k=5)
    at = run_three(at, top_k=1)
    assert at.selectbox(key="eval_compare_a").value != at.selectbox(key="eval_compare_b").value
    assert any("top_k: 5 → 1" in c.value for c in at.caption)
    deltas = [m for m in at.metric if m.delta is not None]
    assert deltas  # the comparison's metrics carry their change
    assert len(at.dataframe) == 2  # the shown run's table and the per-question comparison


def test_the_daily_cap_stops_a_run_and_keeps_the_questions_done(app_env, fake, tmp_path):
    app_env.setenv("QWENCHAT_DAILY_TOKEN_CAP", "6000")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["o"] = TOKEN
    at.run()
    build_kb(fake, tmp_path / "chats.db", OWNER, "公司资料")
    at.switch_page(EVALUATE).run()
    at = run_three(at)
    warning = " ".join(w.value for w in at.warning)
    assert "评估已停止" in warning and "已保留" in warning
    label = at.selectbox(key="eval_pick").value
    run = EvaluationRuns(tmp_path / "chats.db").get(OWNER, label)
    assert run.status == ev.LIMITED and 1 <= len(run.rows) < 3
    assert any(b.label == "继续评估" for b in at.button)


def test_another_owners_bases_and_runs_never_appear(page):
    at = run_three(page)
    everything = " ".join([*at.selectbox(key="eval_kb").options, *at.selectbox(key="eval_pick").options,
                           *(m.value for m in at.markdown), *(c.value for c in at.caption)])
    assert "公司资料" in everything
    assert "bob-secret" not in everything


def test_the_page_explains_itself_without_a_key(app_env):
    app_env.delenv("DASHSCOPE_API_KEY")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    at.switch_page(EVALUATE).run()
    assert not at.exception and any("API Key" in i.value for i in at.info)


def test_the_runs_cost_is_marked_as_a_floor_when_some_calls_had_no_price():
    # as in the sidebar: "≥" when some calls are unpriced (an unpriced rerank model used to count as 0, unmarked)
    def script(unpriced: list[str]):
        from components import evaluate_results
        from qwenchat.knowledge import evaluate as ev

        run = ev.new_run([], ev.RunSettings(kb_id=1, kb_name="kb"))
        run.rows.append(ev.Row("q1", "?", "!", tokens=100, cost=0.0123, unpriced=unpriced))
        evaluate_results.aggregates(run)

    for unpriced, shown in (([], "估算费用 ¥0.0123"), (["gte-rerank-v2"], "估算费用 ≥¥0.0123")):
        at = AppTest.from_function(script, args=(unpriced,), default_timeout=TIMEOUT).run()
        assert not at.exception, at.exception
        assert any(c.value.endswith(shown) for c in at.caption), [c.value for c in at.caption]
