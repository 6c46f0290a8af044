"""The scores of one evaluated question, and the judge's prompt and how its reply is read.

Deterministic scores:
- `evidence_recall`: the share of a question's `evidence` strings found in some retrieved passage, compared
  after the knowledge base's normalisation (NFKC, the radical map), lower case and without whitespace.
- `must_include_share`: the share of `must_include` strings found in the answer, compared the same way.

Judged scores come from one judge call per question (`judge_messages`): the model reads the question, the
reference answer, the retrieved passages and the answer, and returns one JSON object. `read_judgement`
parses it defensively (a ```json fence, text around the object, numbers as strings): each field that is
missing or malformed is None, recorded as missing, never as 0.
- context precision, RAGAS-style: the judge marks each passage relevant (1) or not (0) to answering with the
  reference; the score is the average precision of that list (relevant passages ranked early score higher).
- context recall (when the row has no evidence strings): reference claims supported by the passages / claims.
- faithfulness: the answer's claims supported by the passages / claims (None when the answer makes none,
  e.g. a refusal).
- answer correctness: the judge's 0..1 agreement of the answer with the reference.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Sequence

from qwenchat.knowledge.text import compact

JUDGE_MARK = "RAG evaluation judge"  # in the judge's system prompt (the test server recognises it)
JUDGE_MAX_TOKENS = 400
MAX_JUDGE_PASSAGE_CHARS = 1_500

JUDGE_SYSTEM = (
    f"You are a strict {JUDGE_MARK}. You get a JSON document with a question, a reference answer, numbered "
    "retrieved passages and a generated answer. Reply with one JSON object only, no other text:\n"
    '{"relevant": [1 or 0 for each passage in order: does it help answer the question as the reference does],\n'
    ' "reference_claims": <number of distinct facts in the reference>,\n'
    ' "reference_supported": <how many of them the passages state>,\n'
    ' "answer_claims": <number of factual claims in the answer (0 if it declines)>,\n'
    ' "answer_supported": <how many of them the passages support>,\n'
    ' "correctness": <0.0 to 1.0: how well the answer agrees with the reference; a refusal is correct when '
    "the reference says the documents do not have the answer>}"
)


def evidence_recall(evidence: Sequence[str], passages: Sequence[str]) -> float | None:
    """Share of `evidence` strings contained in some passage (normalised); None without evidence."""
    wanted = [compact(e) for e in evidence if compact(e)]
    if not wanted:
        return None
    texts = [compact(p) for p in passages]
    return sum(1 for e in wanted if any(e in t for t in texts)) / len(wanted)


def must_include_share(must_include: Sequence[str], answer: str) -> float | None:
    """Share of `must_include` strings found in the answer (normalised); None when there are none."""
    wanted = [compact(m) for m in must_include if compact(m)]
    if not wanted:
        return None
    text = compact(answer)
    return sum(1 for m in wanted if m in text) / len(wanted)


def average_precision(relevant: Sequence[int]) -> float:
    """RAGAS context precision: mean of precision@k over the ranks k that hold a relevant passage."""
    hits, total = 0, 0.0
    for k, flag in enumerate(relevant, start=1):
        if flag:
            hits += 1
            total += hits / k
    return total / hits if hits else 0.0


def judge_messages(question: str, reference: str, passages: Sequence[str], answer: str) -> list[dict[str, str]]:
    document = {"question": question, "reference": reference,
                "passages": [{"n": i, "text": p[:MAX_JUDGE_PASSAGE_CHARS]} for i, p in enumerate(passages, 1)],
                "answer": answer}
    return [{"role": "system", "content": JUDGE_SYSTEM},
            {"role": "user", "content": json.dumps(document, ensure_ascii=False)}]


@dataclass(frozen=True)
class Judgement:
    context_precision: float | None = None
    context_recall: float | None = None
    faithfulness: float | None = None
    answer_correctness: float | None = None

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.context_precision, self.context_recall, self.faithfulness,
                                       self.answer_correctness))


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)


def _json_object(text: str) -> dict | None:
    candidates = [m.group(1) for m in _FENCE.finditer(text or "")] + [text or ""]
    for candidate in candidates:
        start, end = candidate.find("{"), candidate.rfind("}")
        if start < 0 or end <= start:
            continue
        try:
            value = json.loads(candidate[start:end + 1])
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip().rstrip("%")) / (100 if value.strip().endswith("%") else 1)
        except ValueError:
            return None
    if isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):
        return float(value)
    return None


def _ratio(supported: object, claims: object) -> float | None:
    s, c = _number(supported), _number(claims)
    if s is None or c is None or c <= 0 or s < 0:
        return None
    return min(1.0, s / c)


def read_judgement(text: str, passages: int) -> Judgement:
    """The judge's reply as scores; each unreadable field is None (missing), never 0."""
    data = _json_object(text)
    if data is None:
        return Judgement()
    relevant = data.get("relevant")
    precision = None
    if isinstance(relevant, list) and len(relevant) == passages and passages:
        flags = [_number(v) for v in relevant]
        if all(f is not None for f in flags):
            precision = average_precision([1 if f and f >= 0.5 else 0 for f in flags])  # type: ignore[operator]
    correctness = _number(data.get("correctness"))
    if correctness is not None and not 0 <= correctness <= 1:
        correctness = None
    return Judgement(precision, _ratio(data.get("reference_supported"), data.get("reference_claims")),
                     _ratio(data.get("answer_supported"), data.get("answer_claims")), correctness)
