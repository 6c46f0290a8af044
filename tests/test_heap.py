"""The heap freeze that keeps Streamlit's full collection after each run cheap (`qwenchat/heap.py`): what
the app imported is frozen, what runs create stays collectable, and an ordinary rerun freezes nothing."""

from __future__ import annotations

import gc
import sys
import types
import weakref

import pytest
from streamlit.testing.v1 import AppTest

from qwenchat import heap
from tests.apptest import APP, TIMEOUT

LAZY = "qwenchat_test_lazy_import_"


class Node:
    """A cycle's member that a weak reference can watch."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref:
    """Cyclic garbage, as a run leaves it: only the cyclic collector can free it."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def tracked(obj: object) -> bool:
    """Still walked by the collector: not moved to the permanent generation. (Counting the frozen objects
    would not do: reference counting frees frozen objects too, so the count moves on its own.)"""
    return any(o is obj for o in gc.get_objects())


@pytest.fixture
def fresh_heap(monkeypatch):
    """As in a server that has not frozen since its last import. (The test process stays frozen afterwards, as
    the app's runs under AppTest leave it: that only makes later collections cheaper.)"""
    monkeypatch.setattr(heap, "_modules_when_frozen", 0)
    yield
    for name in [name for name in sys.modules if name.startswith(LAZY)]:
        del sys.modules[name]


def test_what_is_alive_is_frozen_and_the_full_collection_no_longer_walks_it(fresh_heap):
    kept = Node()
    assert tracked(kept)
    assert heap.freeze_imports()
    assert gc.get_freeze_count() > 1000  # the imported code, not a handful of objects
    assert not tracked(kept)  # the permanent generation is not walked


def test_garbage_is_collected_before_the_freeze_not_kept_forever(fresh_heap):
    gc.disable()  # so that only the freeze's own collection can free it
    try:
        dead = cycle()
        assert dead() is not None
        assert heap.freeze_imports()
        assert dead() is None
    finally:
        gc.enable()


def test_an_ordinary_rerun_freezes_nothing_and_its_garbage_stays_collectable(fresh_heap):
    assert heap.freeze_imports()
    gc.disable()
    try:
        garbage = cycle()
        assert not heap.freeze_imports()  # nothing imported since: no freeze, the run's objects stay young
        assert tracked(garbage())
        gc.collect()
        assert garbage() is None
    finally:
        gc.enable()


def test_a_librarys_import_freezes_again_a_pages_few_modules_do_not(fresh_heap):
    assert heap.freeze_imports()
    session_object = Node()
    for k in range(heap.MIN_NEW_MODULES):
        sys.modules[f"{LAZY}{k}"] = types.ModuleType(f"{LAZY}{k}")
        if k < heap.MIN_NEW_MODULES - 1:  # a page's own components: not worth freezing a session's objects
            assert not heap.freeze_imports()
    assert tracked(session_object)
    assert heap.freeze_imports()
    assert not tracked(session_object)
    assert not heap.freeze_imports()


def test_the_app_freezes_what_its_first_run_imported(fresh_heap, fake, app_env):
    gc.unfreeze()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    at.run()  # the second run starts by freezing what the first imported
    assert not at.exception
    assert gc.get_freeze_count() > 0
