"""Usage limits: each one hit, 0 turns one off, garbage settings fall back, the daily counter is shared."""

import threading
from datetime import datetime

import pytest

from qwenchat.quotas import DailyCounter, Limits, QuotaProblem, SessionQuota, UsageRow, usage_rows
from qwenchat.turns import Problem

OFF = Limits(0, 0, 0, 0)


def test_defaults_for_a_public_app():
    assert Limits.from_config({}, {}) == Limits(50, 200_000, 8_000, 2_000_000)


def test_settings_from_secrets_first_then_environment():
    limits = Limits.from_config(
        {"QWENCHAT_MAX_MESSAGES_PER_SESSION": 10, "QWENCHAT_DAILY_TOKEN_CAP": "1_000_000"},
        {"QWENCHAT_MAX_MESSAGES_PER_SESSION": "99", "QWENCHAT_MAX_CHARS_PER_MESSAGE": " 500 ",
         "QWENCHAT_MAX_TOKENS_PER_SESSION": "0"})
    assert limits == Limits(10, 0, 500, 1_000_000)


@pytest.mark.parametrize("garbage", ["abc", "-5", "1.5", "1e6", "200,000", "   ", "", True, None, [1], {"a": 1},
                                     3.7, "9" * 5000, "\x00", "\ud800", "５０x", object()])
def test_garbage_falls_back_to_the_default_and_never_raises(garbage):
    names = ["QWENCHAT_MAX_MESSAGES_PER_SESSION", "QWENCHAT_MAX_TOKENS_PER_SESSION",
             "QWENCHAT_MAX_CHARS_PER_MESSAGE", "QWENCHAT_DAILY_TOKEN_CAP"]
    assert Limits.from_config({n: garbage for n in names}, {}) == Limits()


def test_garbage_is_logged_with_the_setting_name(caplog):
    Limits.from_config({}, {"QWENCHAT_MAX_CHARS_PER_MESSAGE": "lots"})
    assert "QWENCHAT_MAX_CHARS_PER_MESSAGE" in caplog.text and "8000" in caplog.text


def test_a_message_over_the_character_limit():
    quota, limits = SessionQuota(), Limits(max_chars_per_message=100)
    assert quota.check_message("字" * 100, limits) is None
    problem = quota.check_message("字" * 101, limits)
    assert isinstance(problem, QuotaProblem) and isinstance(problem, Problem) and problem.kind == "too_long"
    assert problem.id == "quota.too_long" and problem.params == {"chars": 101, "limit": 100}
    assert problem.message("zh").startswith("消息太长") and problem.message("en").startswith("The message is too long")


def test_messages_per_session():
    quota, limits = SessionQuota(), Limits(max_messages_per_session=3)
    for _ in range(3):
        assert quota.check_message("hi", limits) is None
        quota.record(10)
    problem = quota.check_message("hi", limits)
    assert problem.kind == "messages" and problem.id == "quota.messages" and problem.params == {"limit": 3}


def test_tokens_per_session_including_the_request_about_to_go():
    quota, limits = SessionQuota(), Limits(max_tokens_per_session=1000)
    quota.record(900)
    assert quota.check_message("hi", limits) is None
    assert quota.check_message("hi", limits, upcoming_tokens=100) is None
    problem = quota.check_message("hi", limits, upcoming_tokens=101)
    assert problem.kind == "session_tokens" and problem.id == "quota.session_tokens_request"
    assert problem.params == {"needed": 101, "left": 100, "limit": 1000}
    assert "100 left" in problem.message("en")
    quota.record(100)
    problem = quota.check_message("hi", limits)
    assert problem.kind == "session_tokens" and problem.id == "quota.session_tokens_spent"
    assert "used its 1,000 tokens" in problem.message("en")


def test_zero_turns_each_limit_off():
    quota = SessionQuota()
    quota.record(10**9, messages=10**6)
    assert quota.check_message("x" * 1_000_000, OFF, upcoming_tokens=10**9) is None
    assert DailyCounter().check(0, upcoming_tokens=10**12) is None


def test_record_counts_requests_and_tokens_and_ignores_nonsense():
    quota = SessionQuota()
    quota.record(30)
    quota.record(5, messages=0)  # a judge's tokens: no request of the user's
    quota.record(None)            # a reply with no usage at all
    quota.record(-7)
    assert (quota.messages, quota.tokens) == (3, 35)


def test_the_quota_is_kept_apart_from_the_conversation():
    # It lives in session state beside the conversation: a reset replaces the conversation, not this.
    from qwenchat.conversation import Conversation
    assert "quota" not in Conversation().to_dict() and not hasattr(Conversation(), "quota")


class Clock:
    def __init__(self, when: datetime):
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now


def test_the_daily_cap_and_its_reset_at_local_midnight():
    clock = Clock(datetime(2025, 11, 3, 23, 59, 0))
    daily = DailyCounter(clock)
    assert daily.add(600) == 600
    assert daily.check(1000) is None
    over = daily.check(1000, upcoming_tokens=401)
    assert over.kind == "daily_tokens" and over.id == "quota.daily_request"
    assert over.params == {"needed": 401, "used": 600, "limit": 1000} and "600 of 1,000" in over.message("en")
    daily.add(400)
    problem = daily.check(1000)
    assert problem.kind == "daily_tokens" and problem.id == "quota.daily_spent"
    assert problem.params == {"used": 1000, "limit": 1000}
    clock.now = datetime(2025, 11, 3, 23, 59, 59).timestamp()
    assert daily.used() == 1000
    clock.now = datetime(2025, 11, 4, 0, 0, 0).timestamp()
    assert daily.used() == 0 and daily.check(1000) is None
    assert daily.add(5) == 5


def test_eight_threads_adding_at_once_lose_nothing():
    daily = DailyCounter()
    start = threading.Barrier(8)

    def work():
        start.wait()
        for _ in range(5000):
            daily.add(3)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert daily.used() == 8 * 5000 * 3


def test_usage_rows_for_the_sidebar():
    quota, daily = SessionQuota(), DailyCounter()
    quota.record(1234)
    daily.add(99)
    rows = usage_rows(Limits(daily_token_cap=0), quota, daily)
    assert [(r.used, r.limit) for r in rows] == [(1, 50), (1234, 200_000)]  # no daily cap: no daily row
    rows = usage_rows(Limits(daily_token_cap=5000, max_messages_per_session=0), quota, daily)
    assert rows[0] == UsageRow("quota.row.messages", 1, 0)
    assert rows[-1] == UsageRow("quota.row.daily_tokens", 99, 5000)
    assert rows[-1].label("en") == "Tokens today (whole app)"
