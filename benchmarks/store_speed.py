"""How fast the stores are: one saved message, one streaming flush, one long conversation loaded.

    .venv/bin/python benchmarks/store_speed.py [--dir DIR] [--postgres URL]

Prints medians for a SQLite file in DIR (default a temporary folder), a PostgreSQL server (a local pgserver
in the same folder, PostgreSQL 16 on a Unix socket, or --postgres URL) and MemoryStore, measured in one run,
and PostgreSQL's ratio to SQLite.
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


def measure(store, searched_mb: Callable[[], float]) -> list[tuple[str, float]]:
    rows = [("save one new message", save_one_message(store)),
            ("streaming flush, reply up to 4k chars", streaming_flush(store, 4000)),
            ("streaming flush, reply up to 20k chars", streaming_flush(store, 20000))]
    big = long_conversation(500)  # 1,000 messages
    store.save_conversation(OWNER, big)
    rows.append(("save_conversation, 1,000 messages", median_ms(lambda: store.save_conversation(OWNER, big), 7)))
    rows.append(("load 1,000 messages", median_ms(lambda: store.load(OWNER, big.id), 15)))
    for n in range(1000):  # a heavy user's history: 1,000 conversations of 4 messages
        c = long_conversation(2)
        c.title = f"对话 {n}"
        store.save_conversation(OWNER, c)
    rows.append(("list 1,000 of 1,004 conversations", median_ms(lambda: store.list_conversations(OWNER, limit=1000), 9)))
    rows.append((f"search, no match in {searched_mb():.1f} MB of text",
                 median_ms(lambda: store.list_conversations(OWNER, search="不存在的词"), 7)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="folder for the SQLite file and the PostgreSQL data (default: a temporary one)")
    parser.add_argument("--postgres", help="a postgresql:// URL of an empty database to use instead of a local "
                                           "pgserver (its tables are created)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        sqlite, memory = Store(Path(folder) / "bench.db"), MemoryStore()
        server, url = None, args.postgres
        if url is None:  # PostgreSQL 16 from the pgserver wheel, default (durable) settings, on a Unix socket
            import pgserver

            server = pgserver.get_server(Path(folder) / "pg", cleanup_mode="stop")
            url = server.get_uri()
        from qwenchat.store_postgres import PostgresStore

        postgres = PostgresStore(url)

        def sqlite_mb() -> float:
            return sqlite._conn.execute("SELECT SUM(LENGTH(CAST(content AS BLOB))) FROM messages").fetchone()[0] / 2**20

        results = {"SQLite": measure(sqlite, sqlite_mb), "PostgreSQL": measure(postgres, sqlite_mb),
                   "memory": measure(memory, sqlite_mb)}
        sqlite.close()
        postgres.close()
        if server is not None:
            server.cleanup()

    print(f"{'median, ms':42} {'SQLite':>9} {'PostgreSQL':>10} {'memory':>9} {'PG/SQLite':>9}")
    for i, (name, lite) in enumerate(results["SQLite"]):
        post, mem = results["PostgreSQL"][i][1], results["memory"][i][1]
        print(f"{name:42} {lite:9.3f} {post:10.3f} {mem:9.3f} {post / lite:8.1f}x")


if __name__ == "__main__":
    main()
