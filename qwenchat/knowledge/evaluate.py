"""Evaluating a knowledge base (issue #11's 📏 Evaluate page): a run of a question set, one question at a time.

    run = new_run(questions, RunSettings(kb_id=kb.id, kb_name=kb.name, top_k=5, rerank=False, model="qwen-plus"))
    evaluator = Evaluator(kbs, provider, spending)
    evaluate_all(evaluator, run, progress=lambda done, total: ..., should_stop=lambda: False)
    run.aggregates()            # metric -> mean over the rows that have it
    to_csv(run); compare(run_a, run_b)

Each question: search the knowledge base (top-k, rerank as set), answer with the model from the passages
(`answer.messages`: the chat's own RAG prompt, one non-streamed `complete()`), score (`evalscore`:
evidence recall when the row has evidence strings, else the judge's context recall; the judge's context precision, faithfulness and answer
correctness; the must-include share). Every request (embedding, rerank, answer, judge) is reserved and
settled through `Spending` first, so a run on the operator's key keeps the session quota and the daily cap:
when a limit says no, the run stops with that message (`run.stop_reason`) and keeps the rows done. The
answer counts as a message against the session's message limit; search and judge calls count tokens only,
like the end-of-conversation judge. `evaluate_next` does one question, so a page can save and redraw
between questions, and a stopped or interrupted run continues where it was.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from qwenchat import errors, pricing
from qwenchat.catalog import lookup
from qwenchat.chat.spending import Hold, Spending
from qwenchat.i18n import Msg
from qwenchat.knowledge import answer as answer_prompt
from qwenchat.knowledge import evalscore
from qwenchat.knowledge.chunking import MAX_TOKENS as CHUNK_TOKENS
from qwenchat.knowledge.evalset import Question
from qwenchat.knowledge.service import RERANK_CANDIDATES
from qwenchat.quotas import QuotaProblem
from qwenchat.tokens import count_prompt, count_text

log = logging.getLogger(__name__)

ANSWER_MAX_TOKENS = 800
TIMEOUT_S = 60.0
METRICS = ("context_recall", "context_precision", "faithfulness", "answer_correctness", "must_include")
RUNNING, DONE, STOPPED, LIMITED, FAILED = "running", "done", "stopped", "limited", "failed"
# Failures that the next question would meet too: the run stops on them instead of failing every row.
FATAL = {errors.INVALID_KEY, errors.ARREARS, errors.QUOTA, errors.MODEL_NOT_FOUND, errors.BAD_URL,
         errors.PRIVATE_ADDRESS, errors.REDIRECT}


@dataclass(frozen=True)
class RunSettings:
    kb_id: int
    kb_name: str = ""
    top_k: int = 5
    rerank: bool = False
    model: str = "qwen-plus"
    judge_model: str = ""          # "" means the answer model
    set_name: str = ""             # the question set's file name, for people

    @property
    def judge(self) -> str:
        return self.judge_model or self.model


@dataclass
class Passage:
    file: str
    text: str
    score: float
    page: int | None = None
    heading: str = ""  # the passage's section, which the chat's prompt names too


@dataclass
class Row:
    """One evaluated question. A score is None when it is missing (not applicable, or the judge's reply
    could not be read), which the aggregates skip; it is never counted as 0."""

    id: str
    question: str
    reference: str
    answer: str = ""
    passages: list[Passage] = field(default_factory=list)
    context_recall: float | None = None
    context_precision: float | None = None
    faithfulness: float | None = None
    answer_correctness: float | None = None
    must_include: float | None = None
    recall_method: str = ""        # "evidence" (exact strings) or "judge"
    judged: bool = False           # the judge's reply was read
    tokens: int = 0
    cost: float = 0.0
    unpriced: list[str] = field(default_factory=list)  # models of calls not in the price table (cost is then a floor)
    seconds: float = 0.0
    error: Msg | None = None       # what went wrong on this row (the scores it lacks are missing)

    def score(self, metric: str) -> float | None:
        return getattr(self, metric)


@dataclass
class Run:
    id: int
    name: str
    settings: RunSettings
    questions: list[Question]
    rows: list[Row] = field(default_factory=list)
    status: str = RUNNING
    stop_reason: Msg | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    @property
    def remaining(self) -> int:
        return len(self.questions) - len(self.rows)

    @property
    def tokens(self) -> int:
        return sum(r.tokens for r in self.rows)

    @property
    def cost(self) -> float:
        return sum(r.cost for r in self.rows)

    @property
    def unpriced(self) -> list[str]:
        """The models of the calls the price table does not have: `cost` leaves them out."""
        return sorted({m for r in self.rows for m in r.unpriced})

    def aggregates(self) -> dict[str, float | None]:
        """Each metric's mean over the rows that have it (None when no row has it)."""
        return {m: _mean([r.score(m) for r in self.rows]) for m in METRICS}

    def counts(self) -> dict[str, int]:
        """How many rows have each metric (the rest are missing)."""
        return {m: sum(1 for r in self.rows if r.score(m) is not None) for m in METRICS}


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def new_run(questions: list[Question], settings: RunSettings, name: str = "") -> Run:
    settings = RunSettings(**{**asdict(settings), "top_k": max(1, min(20, int(settings.top_k)))})
    name = name or f"{settings.kb_name or settings.kb_id} · top-{settings.top_k}" + (" · rerank" if settings.rerank
                                                                                       else "") + f" · {settings.model}"
    return Run(0, name[:120], settings, list(questions))


class LimitReached(Exception):
    def __init__(self, problem: QuotaProblem):
        super().__init__(problem.kind)
        self.msg = Msg(problem.id, dict(problem.params))


class Evaluator:
    """Evaluates questions against one owner's knowledge bases (`KnowledgeBases`) with one provider; every
    request passes `spending`."""

    def __init__(self, kbs: Any, provider: Any, spending: Spending):
        self.kbs, self.provider, self.spending = kbs, provider, spending

    # --- paid requests, each through the limits ------------------------------------------------------------
    def _reserve(self, prompt_tokens: int, max_output: int, counts_as_message: bool) -> Hold:
        hold = self.spending.reserve(prompt_tokens, max_output, counts_as_message=counts_as_message)
        if isinstance(hold, QuotaProblem):
            raise LimitReached(hold)
        return hold

    def _search(self, run: Run, question: str, row: Row) -> list[Passage]:
        s = run.settings
        q_tokens = count_text(question, "qwen-plus")
        estimate = q_tokens + (RERANK_CANDIDATES * (q_tokens + CHUNK_TOKENS) if s.rerank else 0)
        hold = self._reserve(estimate, 0, counts_as_message=False)
        more: list[Hold] = []  # re-embedding the knowledge base (its model changed): reserved first
        used = 0
        try:
            result = self.kbs.search(s.kb_id, question, top_k=s.top_k, rerank=s.rerank,
                                     admit=lambda tokens: more.append(self._reserve(tokens, 0, False)))
            used = result.tokens
        finally:
            self.spending.settle(hold, used)
            for extra in more:
                self.spending.settle(extra, 0)
        row.tokens += used
        for model, tokens in ((self.kbs.embedding.model, result.embedding_tokens),
                              (self.kbs.embedding.rerank_model, result.rerank_tokens)):
            if tokens:
                _add_cost(row, model, pricing.estimate_embedding_cost(model, tokens))
        return [Passage(h.file, h.text, round(float(h.score), 6), h.page, h.heading) for h in result]

    def _complete(self, messages: list[dict[str, str]], model: str, wanted: int, row: Row, *,
                  counts_as_message: bool) -> str:
        max_output = self.spending.max_output(lookup(model).max_output, wanted) or wanted
        hold = self._reserve(count_prompt(messages, model), max_output, counts_as_message)
        used = 0
        try:
            completion = self.provider.complete(messages, model=model, max_tokens=max_output, temperature=0,
                                                timeout=TIMEOUT_S)
            if completion.usage:
                used = completion.usage.total_tokens
                _add_cost(row, model, pricing.estimate_cost(model, completion.usage.prompt_tokens,
                                                            completion.usage.completion_tokens))
            else:  # no usage reported: count it here so the limits still see it
                used = count_prompt(messages, model) + count_text(completion.text, model)
        finally:
            self.spending.settle(hold, used)
        row.tokens += used
        return completion.text

    # --- one question ------------------------------------------------------------------------------------------
    def evaluate(self, run: Run, q: Question) -> Row:
        """One question's row. Raises `LimitReached` (with the row so far on `.row`) when a limit says no,
        and `ProviderError` for failures the next question would meet too (see FATAL)."""
        from qwenchat.providers import ProviderError

        started = time.monotonic()
        row = Row(q.id, q.question, q.reference)
        try:
            row.passages = self._search(run, q.question, row)
            texts = [p.text for p in row.passages]
            if q.evidence:
                row.context_recall, row.recall_method = evalscore.evidence_recall(q.evidence, texts), "evidence"
            row.answer = self._complete(answer_prompt.messages(q.question, _hits(row.passages)), run.settings.model,
                                        ANSWER_MAX_TOKENS, row, counts_as_message=True)
            row.must_include = evalscore.must_include_share(q.must_include, row.answer)
            reply = self._complete(evalscore.judge_messages(q.question, q.reference, texts, row.answer),
                                   run.settings.judge, evalscore.JUDGE_MAX_TOKENS, row, counts_as_message=False)
            judged = evalscore.read_judgement(reply, len(texts))
            row.judged = not judged.empty
            if not row.judged:
                row.error = Msg("eval.row.judge_unreadable")
            row.context_precision = judged.context_precision
            row.faithfulness = judged.faithfulness
            row.answer_correctness = judged.answer_correctness
            if not q.evidence and judged.context_recall is not None:
                row.context_recall, row.recall_method = judged.context_recall, "judge"
        except LimitReached as exc:
            row.error = exc.msg
            exc.row = row  # type: ignore[attr-defined]
            raise
        except ProviderError as exc:
            row.error = exc.error.msg
            if exc.error.kind in FATAL:
                exc.row = row  # type: ignore[attr-defined]
                raise
        finally:
            row.seconds = round(time.monotonic() - started, 3)
        return row


def _hits(passages: list[Passage]) -> list:
    from qwenchat.knowledge.model import Hit

    return [Hit(p.file, p.text, p.score, p.page, p.heading, 0, 0, len(p.text)) for p in passages]


def evaluate_next(evaluator: Evaluator, run: Run) -> bool:
    """Evaluate the next question of `run` into its rows; False when nothing is left or the run stopped.
    A limit or a lasting failure stops the run with its reason, keeping every row (the interrupted one too,
    with what it got)."""
    from qwenchat.providers import ProviderError

    if run.status not in (RUNNING,) or run.remaining <= 0:
        if run.status == RUNNING:
            run.status = DONE
        return False
    q = run.questions[len(run.rows)]
    try:
        run.rows.append(evaluator.evaluate(run, q))
    except LimitReached as exc:
        run.rows.append(exc.row)  # type: ignore[attr-defined]
        run.status, run.stop_reason = LIMITED, exc.msg
    except ProviderError as exc:
        run.rows.append(exc.row)  # type: ignore[attr-defined]
        run.status, run.stop_reason = FAILED, exc.error.msg
    except Exception:  # noqa: BLE001 - e.g. the database went away: stop with a message, keep the rows
        log.exception("evaluation of question %s failed", q.id)
        run.status, run.stop_reason = FAILED, Msg("eval.unexpected")
    run.updated_at = time.time()
    if run.status == RUNNING and run.remaining <= 0:
        run.status = DONE
    return run.status == RUNNING


def evaluate_all(evaluator: Evaluator, run: Run, progress: Callable[[int, int], None] = lambda d, t: None,
                 should_stop: Callable[[], bool] = lambda: False,
                 after_each: Callable[[Run], None] = lambda r: None) -> Run:
    """Evaluate the remaining questions; `progress(done, total)` after each, `after_each(run)` to save it.
    `should_stop()` true between questions stops the run (status STOPPED), keeping the rows done."""
    progress(len(run.rows), len(run.questions))
    while run.status == RUNNING and run.remaining > 0:
        if should_stop():
            run.status = STOPPED
            break
        evaluate_next(evaluator, run)
        after_each(run)
        progress(len(run.rows), len(run.questions))
    if run.status == RUNNING:
        run.status = DONE
    return run


# --- CSV --------------------------------------------------------------------------------------------------------
CSV_COLUMNS = ("id", "question", "reference", "answer", *METRICS, "recall_method", "passages", "tokens", "cost",
               "seconds", "error")


def to_csv(run: Run, lang: str = "en") -> str:
    """The run's rows as CSV (UTF-8 text; a missing score is an empty cell). Passages: `[n] file: text`."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in run.rows:
        passages = "\n\n".join(f"[{i}] {p.file}" + (f" p.{p.page}" if p.page else "") + f": {p.text}"
                               for i, p in enumerate(r.passages, 1))
        writer.writerow([_cell(r.id), _cell(r.question), _cell(r.reference), _cell(r.answer),
                         *("" if r.score(m) is None else f"{r.score(m):.4f}" for m in METRICS),
                         r.recall_method, _cell(passages), r.tokens, f"{r.cost:.6f}", r.seconds,
                         _cell(r.error.text(lang)) if r.error else ""])
    return out.getvalue()


# A cell a spreadsheet would read as a formula (`=HYPERLINK(...)` in a model's answer steered by a document, or
# in a shared question set) starts with an apostrophe instead: shown as text. `read_csv` takes it off again.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) or _uncell(text) != text else text


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith((*_FORMULA_START, "'")) else text


def read_csv(text: str) -> list[dict[str, Any]]:
    """The rows of `to_csv`'s output, scores as floats or None (for checking an export, or re-reading one)."""
    rows = []
    for item in csv.DictReader(io.StringIO(text)):
        item = {k: _uncell(v) if isinstance(v, str) else v for k, v in item.items()}
        rows.append({**item, **{m: (float(item[m]) if item.get(m) else None) for m in METRICS},
                     "tokens": int(item.get("tokens") or 0)})
    return rows


# --- comparing two runs -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Delta:
    a: float | None
    b: float | None

    @property
    def change(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a


@dataclass
class RowComparison:
    key: str
    question: str
    a: Row | None
    b: Row | None
    deltas: dict[str, Delta]


@dataclass
class Comparison:
    aggregates: dict[str, Delta]
    rows: list[RowComparison]
    settings_changed: dict[str, tuple[Any, Any]]


def compare(a: Run, b: Run) -> Comparison:
    """Run `b` against run `a`: aggregate and per-question deltas (questions matched by id), and which
    settings differ."""
    agg_a, agg_b = a.aggregates(), b.aggregates()
    by_a, by_b = {r.id: r for r in a.rows}, {r.id: r for r in b.rows}
    keys = list(by_a) + [k for k in by_b if k not in by_a]
    rows = []
    for key in keys:
        ra, rb = by_a.get(key), by_b.get(key)
        rows.append(RowComparison(key, (ra or rb).question, ra, rb,  # type: ignore[union-attr]
                                  {m: Delta(ra.score(m) if ra else None, rb.score(m) if rb else None)
                                   for m in METRICS}))
    sa, sb = asdict(a.settings), asdict(b.settings)
    changed = {k: (sa[k], sb[k]) for k in sa if sa[k] != sb[k] and k != "kb_name"}
    return Comparison({m: Delta(agg_a[m], agg_b[m]) for m in METRICS}, rows, changed)


def _add_cost(row: Row, model: str, cost: float | None) -> None:
    """Add one call's estimated cost to the row; a call the price table does not have is named instead."""
    if cost is None:
        if model not in row.unpriced:
            row.unpriced.append(model)
    else:
        row.cost += cost
