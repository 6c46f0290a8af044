"""Imports are capped: file size, conversations per owner, the store's total size, and the pace."""

from __future__ import annotations

import threading

import pytest

from qwenchat.conversation import Conversation
from qwenchat.imports import ImportLimits, ImportRateLimiter, ImportRefused, import_conversation
from qwenchat.store import MemoryStore, Store
from qwenchat.transfer import InvalidImport, to_json


@pytest.fixture(params=["sqlite", "memory"])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStore()
    else:
        with Store(tmp_path / "c.db") as s:
            yield s


def export(text: str = "你好") -> bytes:
    c = Conversation(title="导入")
    c.add_user(text)
    return to_json(c).encode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def generous() -> ImportRateLimiter:
    return ImportRateLimiter(per_owner=10**6, per_server=10**6)


def refusal(call) -> str:
    with pytest.raises(ImportRefused) as refused:
        call()
    assert refused.value.message("zh").startswith("导入失败：")
    return refused.value.message("en")


def test_an_import_within_the_limits_is_saved(store):
    c = import_conversation(store, "alice", export(), ImportLimits(), generous())
    assert store.load("alice", c.id).messages[0].content == "你好"


def test_a_file_over_the_configured_size_is_refused_before_parsing(store):
    limits = ImportLimits(max_import_bytes=1000)
    with pytest.raises(InvalidImport) as refused:
        import_conversation(store, "alice", export("长" * 400), limits, generous())
    assert "1000 bytes" in refused.value.message("en")
    assert store.list_conversations("alice") == []


def test_an_owner_has_at_most_the_configured_number_of_conversations(store):
    limits = ImportLimits(max_conversations_per_owner=3)
    for _ in range(3):
        import_conversation(store, "alice", export(), limits, generous())
    text = refusal(lambda: import_conversation(store, "alice", export(), limits, generous()))
    assert "3" in text and "delete some first" in text
    import_conversation(store, "bob", export(), limits, generous())  # others are not affected
    assert store.count_conversations("alice") == 3


def test_the_store_stops_growing_at_its_total_size(store):
    limits = ImportLimits(max_store_bytes=store.stored_bytes() + 300_000)
    with pytest.raises(ImportRefused) as refused:
        for n in range(10):  # ten 100 KB imports: the fourth or so is refused
            import_conversation(store, f"owner{n}", export("长" * 33_000), limits, generous())
    assert "storage is full" in refused.value.message("en") and "存储已满" in refused.value.message("zh")
    assert 1 <= sum(store.count_conversations(f"owner{n}") for n in range(10)) <= 3


def test_the_pace_per_owner_and_per_server_with_a_fake_clock():
    clock = Clock()
    limiter = ImportRateLimiter(per_owner=5, per_server=30, window=60, clock=clock)
    for _ in range(5):
        limiter.acquire("alice")
    assert "5" in refusal(lambda: limiter.acquire("alice"))
    limiter.acquire("bob")  # another owner still may
    clock.now += 59.9
    refusal(lambda: limiter.acquire("alice"))
    clock.now += 0.2
    limiter.acquire("alice")  # a minute after the first ones
    for n in range(29):
        limiter.acquire(f"visitor{n}")
    assert "30" in refusal(lambda: limiter.acquire("someone new"))  # 30 this minute on the server


def test_the_limiter_holds_under_threads():
    limiter = ImportRateLimiter(per_owner=1000, per_server=30, clock=Clock())
    allowed = []

    def hammer(n: int) -> None:
        for _ in range(20):
            try:
                limiter.acquire(f"o{n}")
                allowed.append(1)
            except ImportRefused:
                pass

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 30


def test_bad_files_count_towards_the_pace(store):
    limiter = ImportRateLimiter(per_owner=2, clock=Clock())
    for _ in range(2):
        with pytest.raises(InvalidImport):
            import_conversation(store, "alice", b"not json", ImportLimits(), limiter)
    refusal(lambda: import_conversation(store, "alice", export(), ImportLimits(), limiter))


def test_limits_come_from_secrets_then_the_environment_and_bad_values_keep_the_default():
    limits = ImportLimits.from_config({"QWENCHAT_MAX_IMPORT_BYTES": "1000"},
                                      {"QWENCHAT_MAX_IMPORT_BYTES": "5", "QWENCHAT_MAX_CONVERSATIONS_PER_OWNER": "7",
                                       "QWENCHAT_MAX_STORE_BYTES": "lots"})
    assert limits == ImportLimits(max_import_bytes=1000, max_conversations_per_owner=7)
    assert ImportLimits.from_config({}, {}) == ImportLimits(2 * 2**20, 500, 2**30)
    assert ImportLimits.from_config({}, {"QWENCHAT_MAX_CONVERSATIONS_PER_OWNER": "-1"}).max_conversations_per_owner == 500
