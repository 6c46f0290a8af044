"""Benchmark of the end-of-conversation detector against a plain keyword rule (谢/再见/thank/bye).

Run from the repository root: `python benchmarks/end_detector.py`. For the tuning part of the dev set, the
held-out part (never used to write rules) and the hand-written cases, it prints per language precision,
recall and F1 of "end", the false-end rate on hard negatives (subtype hn_*), and the median time per
message, and for the rules the share of unsure verdicts (where an enabled LLM judge would be asked).
`--errors` lists the rules' mistakes on the tuning part and the hand-written cases only: held-out
rows are scored, never printed.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qwenchat.ending import detect  # noqa: E402

DATA = ROOT / "tests" / "data"
SETS = {
    "tuning": DATA / "eoc_dev_tune.jsonl",
    "held-out": DATA / "eoc_dev_heldout.jsonl",
    "own cases": DATA / "eoc_own_cases.jsonl",
}
TARGETS = {"zh": 0.93, "en": 0.92}
KEYWORD = re.compile(r"谢|再见|thank|bye", re.IGNORECASE)


def keyword_rule(text: str, history: list[dict]) -> tuple[bool, bool]:
    return bool(KEYWORD.search(text)), True


def rules(text: str, history: list[dict]) -> tuple[bool, bool]:
    """(ends, confident): an unsure verdict is where an enabled LLM judge would be asked."""
    verdict = detect(text, history)
    return verdict.is_end, verdict.confident


def load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def measure(rows: list[dict], predict) -> dict:
    """Per language: precision, recall, F1 of 'end'; false ends on hard negatives; unsure share; median µs."""
    out = {}
    for lang in ("zh", "en"):
        part = [r for r in rows if r["lang"] == lang]
        if not part:
            continue
        tp = fp = fn = hn = hn_end = unsure = 0
        times = []
        for r in part:
            start = time.perf_counter()
            said_end, confident = predict(r["text"], r["history"])
            times.append(time.perf_counter() - start)
            unsure += not confident
            is_end = r["label"] == "end"
            tp += said_end and is_end
            fp += said_end and not is_end
            fn += is_end and not said_end
            if r["subtype"].startswith("hn_"):
                hn += 1
                hn_end += said_end
        p = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        out[lang] = {
            "n": len(part), "p": p, "r": rec, "f1": 2 * p * rec / (p + rec) if p + rec else 0.0,
            "hn": hn, "hn_end": hn_end, "unsure": unsure / len(part), "us": statistics.median(times) * 1e6,
        }
    return out


def table(name: str, rows: list[dict]) -> dict:
    print(f"\n## {name} ({len(rows)} rows)")
    print(f"{'detector':<9} {'lang':<4} {'n':>4} {'P':>6} {'R':>6} {'F1':>6}  {'false ends on hn_*':>20}"
          f"  {'unsure':>6}  {'median µs':>9}")
    results = {}
    for label, predict in (("rules", rules), ("keyword", keyword_rule)):
        results[label] = measure(rows, predict)
        for lang, m in results[label].items():
            hn = f"{m['hn_end']}/{m['hn']} = {m['hn_end'] / m['hn']:.1%}" if m["hn"] else "-"
            print(f"{label:<9} {lang:<4} {m['n']:>4} {m['p']:>6.3f} {m['r']:>6.3f} {m['f1']:>6.3f}  {hn:>20}"
                  f"  {m['unsure']:>6.1%}  {m['us']:>9.1f}")
    return results


def errors(rows: list[dict]) -> None:
    for r in rows:
        v = detect(r["text"], r["history"])
        if v.is_end != (r["label"] == "end"):
            print(f"  {'false end' if v.is_end else 'missed end'} [{r['subtype']}] {r['text'][:100]!r}\n    {v.reason}")


def main() -> None:
    results = {}
    for name, path in SETS.items():
        rows = load(path)
        results[name] = table(name, rows)
        if "--errors" in sys.argv and name != "held-out":
            errors(rows)
    print("\n## targets on the held-out part")
    held = results["held-out"]["rules"]
    for lang, target in TARGETS.items():
        m = held[lang]
        print(f"F1 {lang} {m['f1']:.3f} (target {target}): {'met' if m['f1'] >= target else 'MISSED'}")
    hn, hn_end = sum(m["hn"] for m in held.values()), sum(m["hn_end"] for m in held.values())
    print(f"false ends on hard negatives {hn_end}/{hn} = {hn_end / hn:.1%} (target ≤ 5%): "
          f"{'met' if hn_end / hn <= 0.05 else 'MISSED'}")
    slowest = max(m["us"] for m in held.values())
    print(f"median time per message {slowest:.0f} µs (target ≤ 1000 µs): {'met' if slowest <= 1000 else 'MISSED'}")


if __name__ == "__main__":
    main()
