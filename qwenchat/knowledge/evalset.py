"""Question sets for evaluating a knowledge base: reading a JSONL file into `Question`s.

One JSON object per line with `question` and a reference answer (`answer` or `reference`), optionally `id`,
`evidence` (exact strings of the documents that hold the answer), `must_include` (strings a correct answer
contains) and `answerable` (false: the bot should decline), as in the bundled `demo/questions_dev.jsonl`.
A bad line never raises: it becomes a `LineProblem` (a catalog message with its line number) and the good
lines are kept. The file size and the number of questions are capped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from qwenchat.i18n import Msg

MAX_BYTES = 1_000_000   # a question set larger than this is refused whole
MAX_QUESTIONS = 200     # lines after this many questions are not read (one problem says so)
MAX_FIELD_CHARS = 4_000  # a question or reference longer than this is a bad line
DEV_SET = Path(__file__).resolve().parent / "demo" / "questions_dev.jsonl"


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    reference: str
    evidence: tuple[str, ...] = ()
    must_include: tuple[str, ...] = ()
    answerable: bool = True

    def to_dict(self) -> dict:
        return {"id": self.id, "question": self.question, "reference": self.reference,
                "evidence": list(self.evidence), "must_include": list(self.must_include),
                "answerable": self.answerable}

    @classmethod
    def from_dict(cls, data: dict) -> "Question":
        return cls(str(data.get("id", "")), str(data.get("question", "")), str(data.get("reference", "")),
                   tuple(str(s) for s in data.get("evidence") or ()),
                   tuple(str(s) for s in data.get("must_include") or ()), bool(data.get("answerable", True)))


@dataclass
class QuestionSet:
    questions: list[Question] = field(default_factory=list)
    problems: list[Msg] = field(default_factory=list)  # catalog messages, each naming its line


def _strings(value: object) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v for v in value if v.strip())
    return None


def _question(line_no: int, data: object, seen: set[str]) -> Question | Msg:
    if not isinstance(data, dict):
        return Msg("eval.set.not_object", {"line": line_no})
    question = data.get("question")
    reference = data.get("answer", data.get("reference"))
    if not isinstance(question, str) or not question.strip():
        return Msg("eval.set.no_question", {"line": line_no})
    if not isinstance(reference, str) or not reference.strip():
        return Msg("eval.set.no_reference", {"line": line_no})
    if len(question) > MAX_FIELD_CHARS or len(reference) > MAX_FIELD_CHARS:
        return Msg("eval.set.too_long", {"line": line_no, "limit": MAX_FIELD_CHARS})
    evidence, must = _strings(data.get("evidence")), _strings(data.get("must_include"))
    if evidence is None or must is None:
        return Msg("eval.set.bad_list", {"line": line_no})
    answerable = data.get("answerable", True)
    if not isinstance(answerable, bool):
        return Msg("eval.set.bad_answerable", {"line": line_no})
    qid = str(data.get("id") or f"q{line_no}").strip()[:100]
    if qid in seen:
        return Msg("eval.set.duplicate_id", {"line": line_no, "id": qid})
    seen.add(qid)
    return Question(qid, question.strip(), reference.strip(), evidence, must, answerable)


def parse(data: bytes | str) -> QuestionSet:
    """The questions of a JSONL question set, and a message for each line that could not be used."""
    out = QuestionSet()
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_BYTES:
        out.problems.append(Msg("eval.set.too_large", {"size": len(data), "limit": MAX_BYTES}))
        return out
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        out.problems.append(Msg("eval.set.not_utf8"))
        return out
    seen: set[str] = set()
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(out.questions) >= MAX_QUESTIONS:
            out.problems.append(Msg("eval.set.too_many", {"line": line_no, "limit": MAX_QUESTIONS}))
            break
        try:
            item = json.loads(line)
        except ValueError as exc:
            out.problems.append(Msg("eval.set.bad_json", {"line": line_no, "reason": str(exc)[:120]}))
            continue
        result = _question(line_no, item, seen)
        if isinstance(result, Msg):
            out.problems.append(result)
        else:
            out.questions.append(result)
    if not out.questions and not out.problems:
        out.problems.append(Msg("eval.set.empty"))
    return out


def dev_set() -> QuestionSet:
    """The bundled development set (the course's knowledge base, 32 questions in Chinese and English)."""
    return parse(DEV_SET.read_bytes())
