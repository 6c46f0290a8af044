"""How fast the stores are: one saved message, one streaming flush, one long conversation loaded.

    .venv/bin/python benchmarks/store_speed.py [--dir DIR]

Prints medians (SQLite file in DIR, default a temporary folder, against MemoryStore) and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qwenchat.conversation import COMPLETE, Conversation, Message, Usage  # noqa: E402
from qwenchat.store import MemoryStore, Store  # noqa: E402

OWNER = "bench"
REPLY = "春眠不觉晓，处处闻啼鸟。The quick brown fox jumps over the lazy dog. " * 12  # ~850 characters


def median_ms(action: Callable[[], object], times: int) -> float:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def long_conversation(turns: int) -> Conversation:
    c = Conversation(title="长对话 benchmark")
    for i in range(turns):
        c.messages.append(Message("user", f"第 {i} 个问题：请解释一下这个概念。"))
        c.messages.append(Message("assistant", REPLY, status=COMPLETE, model="qwen-plus",
                                  reasoning="先想一想。" * 20, usage=Usage(500 + i, 300, 800 + i)))
    return c


def save_one_message(store) -> float:
    c = Conversation(title="short")
    c.add_user("你好")
    store.save_conversation(OWNER, c)
    return median_ms(lambda: store.save_message(OWNER, c.id, Message("user", "再问一个问题，好吗？")), 300)


def streaming_flush(store, chars: int) -> float:
    """Median flush of a reply growing by ~40 characters a flush, up to `chars` characters."""
    c = Conversation(title="stream")
    c.add_user("写一篇长文")
    store.save_conversation(OWNER, c)
    reply = c.start_reply("qwen-plus")
    text = (REPLY * (chars // len(REPLY) + 1))[:chars]
    steps = iter(range(40, chars + 1, 40))

    def flush() -> None:
        reply.content = text[: next(steps)]
        store.save_message(OWNER, c.id, reply)

    return median_ms(flush, chars // 40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="folder for the SQLite file (default: a temporary one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        sqlite, memory = Store(Path(folder) / "bench.db"), MemoryStore()
        rows: list[tuple[str, float, float]] = []

        rows.append(("save one new message", save_one_message(sqlite), save_one_message(memory)))
        rows.append(("streaming flush, reply up to 4k chars", streaming_flush(sqlite, 4000),
                     streaming_flush(memory, 4000)))
        rows.append(("streaming flush, reply up to 20k chars", streaming_flush(sqlite, 20000),
                     streaming_flush(memory, 20000)))

        big = long_conversation(500)  # 1,000 messages
        for store in (sqlite, memory):
            store.save_conversation(OWNER, big)
        rows.append(("save_conversation, 1,000 messages", median_ms(lambda: sqlite.save_conversation(OWNER, big), 7),
                     median_ms(lambda: memory.save_conversation(OWNER, big), 7)))
        rows.append(("load 1,000 messages", median_ms(lambda: sqlite.load(OWNER, big.id), 15),
                     median_ms(lambda: memory.load(OWNER, big.id), 15)))

        for n in range(200):  # a heavy user's history: 200 conversations of 20 messages
            c = long_conversation(10)
            c.title = f"对话 {n}"
            for store in (sqlite, memory):
                store.save_conversation(OWNER, c)
        rows.append(("list 200 of 204 conversations", median_ms(lambda: sqlite.list_conversations(OWNER), 15),
                     median_ms(lambda: memory.list_conversations(OWNER), 15)))
        searched = sqlite._conn.execute("SELECT SUM(LENGTH(CAST(content AS BLOB))) FROM messages").fetchone()[0]
        rows.append((f"search, no match in {searched / 2**20:.1f} MB of text", median_ms(lambda: sqlite.list_conversations(
            OWNER, search="不存在的词"), 7), median_ms(lambda: memory.list_conversations(OWNER, search="不存在的词"), 7)))
        sqlite.close()

    print(f"{'median, ms':42} {'SQLite':>9} {'memory':>9} {'ratio':>7}")
    for name, on_disk, in_memory in rows:
        print(f"{name:42} {on_disk:9.3f} {in_memory:9.3f} {on_disk / in_memory:6.1f}x")


if __name__ == "__main__":
    main()
