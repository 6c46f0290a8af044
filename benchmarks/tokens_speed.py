"""How fast and how big exact Qwen token counting is.

    .venv/bin/python benchmarks/tokens_speed.py

Prints the tokenizer load time and memory (once per process), counting throughput for Chinese and English,
and the time to recount a 200-turn conversation of about 100,000 tokens on a rerun (per-message cache) against
counting it cold. Machines are small and shared: medians and ratios, not single runs.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qwenchat import tokens  # noqa: E402
from qwenchat.budget import fit_to_budget  # noqa: E402
from qwenchat.tokens import count_prompt  # noqa: E402

MODEL = "qwen-plus"
CHINESE = "春眠不觉晓，处处闻啼鸟。通义千问具有强大的能力，可以回答问题、创作文字、编写代码。夜来风雨声，花落知多少。"
ENGLISH = "The quick brown fox jumps over the lazy dog. Tokenizers split text into pieces, then merge bytes. "


def rss_mb() -> float:
    """Resident memory of this process (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def median_s(action: Callable[[], object], times: int, before: Callable[[], object] = lambda: None) -> float:
    samples = []
    for _ in range(times):
        before()
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def conversation(turns: int = 200, seed: int = 7) -> list[dict]:
    """About 250 tokens a message, half Chinese, half English, each message different."""
    rng = random.Random(seed)
    messages = [{"role": "system", "content": "You are a helpful assistant."}]
    for i in range(turns):
        for role in ("user", "assistant"):
            source = CHINESE if rng.random() < 0.5 else ENGLISH
            body = "".join(rng.sample(source, len(source))) if source is CHINESE else " ".join(
                rng.sample(source.split(), len(source.split())))
            reps = 4 if source is CHINESE else 12
            messages.append({"role": role, "content": f"{role} {i}: " + body * reps})
    return messages


def main() -> None:
    rows: list[tuple[str, str]] = []

    for name in ("qwen", "qwen3.6"):
        before = rss_mb()
        start = time.perf_counter()
        tokens._encoder(name)
        seconds = time.perf_counter() - start
        rows.append((f"load vocabulary {name!r} (once per process)",
                     f"{seconds * 1000:.0f} ms, RSS {rss_mb() - before:+.0f} MB"))

    enc = tokens._encoder("qwen")
    for label, unit in (("Chinese", CHINESE), ("English", ENGLISH)):
        text = unit * (200_000 // len(unit))
        n = len(tokens._encode(enc, text))
        seconds = median_s(lambda text=text: tokens._encode(enc, text), 7)
        rows.append((f"count {label} ({len(text):,} chars, {n:,} tokens)",
                     f"{len(text) / seconds / 1e6:.1f} M chars/s, {n / seconds / 1e6:.2f} M tokens/s"))

    messages = conversation()
    total = count_prompt(messages, MODEL)
    cold = median_s(lambda: count_prompt(messages, MODEL), 5, before=tokens._cache.clear)
    count_prompt(messages, MODEL)
    warm = median_s(lambda: count_prompt(messages, MODEL), 50)
    fit = median_s(lambda: fit_to_budget(messages, MODEL, 32_000), 50)
    rows.append((f"conversation: {len(messages) - 1} messages, {total:,} prompt tokens", ""))
    rows.append(("  count cold (empty cache)", f"{cold * 1000:.1f} ms"))
    rows.append(("  recount on a rerun (cache)", f"{warm * 1000:.2f} ms   (target <= 5 ms)"))
    rows.append(("  fit_to_budget(32,000) on a rerun", f"{fit * 1000:.2f} ms"))
    rows.append(("  cold / rerun", f"{cold / warm:.0f}x"))

    # A new session: the tokenizers are already loaded, so it pays only for the counts it caches.
    rss2 = rss_mb()
    tracemalloc.start()
    session = [{"role": "user", "content": f"new session question {i}"} for i in range(10)]
    count_prompt(session, MODEL)
    count_prompt(session, "qwen3.6-plus")
    per_session, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rows.append(("memory of a new session's tokenizer (10 messages counted)",
                 f"{per_session / 1024:.1f} KB traced, RSS {rss_mb() - rss2:+.1f} MB"))

    width = max(len(label) for label, _ in rows)
    print(f"Qwen token counting ({sys.version.split()[0]}, median of runs)")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
