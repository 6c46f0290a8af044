"""The access code gate: constant-time comparison, a growing wait after five wrong tries, and BYOK mode."""

import hmac

import pytest

from qwenchat import access
from qwenchat.access import FREE_TRIES, MAX_WAIT_SECONDS, AccessGate, access_code, byok_mode, for_resolve
from qwenchat.config import resolve

CODE = "open-sesame-7Qx"
REAL_COMPARE = hmac.compare_digest


def fail_until_wait(gate: AccessGate, now: float = 0.0) -> access.AccessResult:
    for _ in range(FREE_TRIES - 1):
        assert gate.check("wrong", CODE, now).wait_seconds == 0
    return gate.check("wrong", CODE, now)


def test_the_code_comes_from_secrets_first_then_the_environment():
    assert access_code({"APP_ACCESS_CODE": "from-secrets"}, {"APP_ACCESS_CODE": "from-env"}) == "from-secrets"
    assert access_code({}, {"APP_ACCESS_CODE": " from-env\n"}) == "from-env"
    assert access_code({"APP_ACCESS_CODE": ""}, {}) == "" and access_code({}, {}) == ""


def test_no_code_configured_means_no_gate():
    gate = AccessGate()
    assert gate.is_open("")
    assert gate.check("", "", 0).ok and gate.unlocked


def test_the_right_code_unlocks_and_a_wrong_one_counts_down():
    gate = AccessGate()
    assert not gate.is_open(CODE)
    first = gate.check("nope", CODE, 0)
    assert not first.ok and first.wait_seconds == 0 and first.tries_left_before_wait == FREE_TRIES - 1
    assert first.id == "access.wrong_code" and first.params == {"left": FREE_TRIES - 1}
    assert first.message("zh").startswith("访问码不正确") and first.message("en").startswith("Wrong access code")
    assert gate.check(f"  {CODE} ", CODE, 1).ok  # spaces around a pasted code do not matter
    assert gate.unlocked and gate.is_open(CODE) and gate.failures == 0


def test_an_empty_try_is_not_counted():
    gate = AccessGate()
    result = gate.check("   ", CODE, 0)
    assert not result.ok and gate.failures == 0 and result.id == "access.enter_code"


def test_five_wrong_tries_then_a_wait_that_grows_and_is_capped():
    gate = AccessGate()
    result = fail_until_wait(gate)
    assert not result.ok and result.wait_seconds == 1 and result.tries_left_before_wait == 0
    results = []
    for _ in range(12):  # each time the wait is over, one more wrong try
        results.append(gate.check("wrong", CODE, gate.locked_until))
    waits = [r.wait_seconds for r in results]
    assert waits[:8] == [2, 4, 8, 16, 32, 64, 128, 256]
    assert waits[8:] == [MAX_WAIT_SECONDS] * 4
    assert results[-1].id == "access.wrong_wait" and results[-1].params == {"seconds": 300}


def test_during_the_wait_even_the_right_code_is_refused_without_comparing(monkeypatch):
    gate = AccessGate()
    fail_until_wait(gate, now=100.0)  # locked until 101
    calls = []
    monkeypatch.setattr(access.hmac, "compare_digest", lambda a, b: calls.append(1) or REAL_COMPARE(a, b))
    refused = gate.check(CODE, CODE, 100.5)
    assert not refused.ok and refused.wait_seconds == 1 and not gate.unlocked
    assert refused.id == "access.too_many" and refused.params == {"seconds": 1}
    assert calls == []  # nothing was compared
    assert gate.failures == FREE_TRIES  # and nothing counted
    assert gate.check(CODE, CODE, 101.0).ok and calls == [1]
    assert gate.unlocked and gate.failures == 0


def test_the_remaining_wait_is_rounded_up():
    gate = AccessGate()
    fail_until_wait(gate)
    gate.check("wrong", CODE, gate.locked_until)  # 6th: 2 s from t=1
    assert gate.check("x", CODE, 1.1).wait_seconds == 2
    assert gate.check("x", CODE, 2.9).wait_seconds == 1


def test_comparison_is_compare_digest_on_utf8_bytes(monkeypatch):
    seen = []

    def spy(a, b):
        seen.append((type(a), type(b)))
        return REAL_COMPARE(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", spy)
    assert AccessGate().check("芝麻开门", "芝麻开门", 0).ok  # compare_digest on non-ASCII str would raise
    assert seen == [(bytes, bytes)]


@pytest.mark.parametrize("typed", ["a", CODE + "x", "x" * 100_000, "芝麻", "\ud800", "\x00", "🔑" * 3])
def test_any_typed_text_is_just_wrong(typed):
    result = AccessGate().check(typed, CODE, 0)
    assert not result.ok and result.tries_left_before_wait == FREE_TRIES - 1


def test_neither_code_is_kept_or_returned():
    gate = AccessGate()
    results = [gate.check("my-guess-123", CODE, 0), gate.check(CODE, CODE, 0)]
    kept = repr(vars(gate)) + "".join(repr(r) + r.message("zh") + r.message("en") for r in results)
    assert "my-guess-123" not in kept and CODE not in kept


def test_byok_mode_setting():
    assert byok_mode({"QWENCHAT_BYOK": "1"}, {}) and byok_mode({}, {"QWENCHAT_BYOK": "TRUE"})
    assert byok_mode({"QWENCHAT_BYOK": True}, {})  # TOML `true`
    for off in ({}, {"QWENCHAT_BYOK": "0"}, {"QWENCHAT_BYOK": "false"}, {"QWENCHAT_BYOK": "maybe"}):
        assert not byok_mode(off, {})


def test_in_byok_mode_the_operators_key_is_never_used():
    secrets = {"DASHSCOPE_API_KEY": "sk-operator-secret", "QWENCHAT_BYOK": "1"}
    environ = {"DASHSCOPE_API_KEY": "sk-operator-env", "DASHSCOPE_BASE_URL": "https://op.example/v1"}
    s, e = for_resolve(secrets, environ)
    assert not resolve(secrets=s, environ=e).has_key
    mine = resolve(sidebar_key="sk-visitor", secrets=s, environ=e)
    assert (mine.api_key, mine.key_source) == ("sk-visitor", "sidebar")
    assert secrets["DASHSCOPE_API_KEY"] == "sk-operator-secret"  # the caller's mappings are untouched


def test_without_byok_the_mappings_pass_through():
    s, e = for_resolve({"DASHSCOPE_API_KEY": "sk-op"}, {"X": "1"})
    assert resolve(secrets=s, environ=e).api_key == "sk-op" and e == {"X": "1"}
