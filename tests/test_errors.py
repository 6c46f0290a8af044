"""Every DashScope failure has its own clear message in both languages."""

import pytest

from qwenchat import errors
from qwenchat.i18n import MESSAGES, t


@pytest.mark.parametrize("kind", errors.KINDS)
def test_every_kind_has_its_own_catalog_message(kind):
    error = errors.ChatError(kind)
    assert error.msg.id == f"error.{kind}" and f"error.{kind}" in MESSAGES
    assert error.message("zh") == t(f"error.{kind}", "zh") and error.message("en") == t(f"error.{kind}", "en")


def test_a_kind_this_version_does_not_know_gets_the_unknown_message():
    assert errors.ChatError("from_the_future").message("en") == t("error.unknown", "en")


def test_the_old_per_language_properties_still_work():
    error = errors.ChatError(errors.RATE_LIMIT)
    assert error.message_zh == t("error.rate_limit", "zh") and error.message_en == t("error.rate_limit", "en")
    assert error.message() == error.message_zh  # Chinese first


@pytest.mark.parametrize("code, message, kind", [
    ("Throttling", "", errors.RATE_LIMIT),
    ("limit_burst_rate", "", errors.RATE_LIMIT),
    ("data_inspection_failed", "Output data may contain inappropriate content.", errors.OUTPUT_MODERATION),
    ("invalid_parameter_error", "Range of input length should be [1, 30720]", errors.CONTEXT_TOO_LONG),
    ("invalid_parameter_error", "something else", None),
])
def test_codes_shared_by_several_causes_are_told_apart(code, message, kind):
    assert errors.kind_for_code(code, message) == kind


def test_input_moderation_cannot_be_retried_as_it_is():
    assert not errors.ChatError(errors.INPUT_MODERATION).retryable
    assert errors.ChatError(errors.RATE_LIMIT).retryable


def test_a_redirect_status_is_its_own_kind():
    for status in (301, 302, 307, 308):
        assert errors.kind_for_status(status) == errors.REDIRECT


def test_a_kind_marked_deep_in_the_exception_chain_wins():
    import openai

    class Refused(OSError):
        chat_error_kind = errors.PRIVATE_ADDRESS

    try:
        try:
            raise Refused("no")
        except Refused as inner:
            raise openai.APIConnectionError(request=None) from inner  # type: ignore[arg-type]
    except openai.APIConnectionError as exc:
        assert errors.classify(exc).kind == errors.PRIVATE_ADDRESS


def test_a_deadline_keeps_the_text_received():
    assert errors.ChatError(errors.DEADLINE).keeps_partial and errors.ChatError(errors.DEADLINE).retryable
