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


def _bad_request(message: str):
    import httpx
    import openai

    request = httpx.Request("POST", "https://example.com/v1/chat/completions")
    body = {"error": {"message": message, "type": "invalid_request_error", "code": "invalid_request_error"}}
    return openai.BadRequestError(message, response=httpx.Response(400, json=body, request=request),
                                  body=body["error"])


@pytest.mark.parametrize("message", [
    # Gemini's OpenAI-compatible endpoint on a history in the wrong order
    "Please ensure that function call turn comes immediately after a user turn or after a function response turn.",
    "Invalid messages[3]: function calls must be followed by their results.",
    # a validation error that quotes the request back: the user's own words name tools
    "[{'type': 'string_type', 'loc': ('body', 'messages', 1, 'content'), 'msg': 'Input should be a valid string', "
    "'input': [{'type': 'text', 'text': 'Which tools do I need to fix a bike?'}]}]",
    'Invalid content "What tools are on the tool_choice menu?": expected a string',
    # DashScope's history 400s
    'An assistant message with "tool_calls" must be followed by tool messages responding to each "tool_call_id".',
    'The "function.arguments" parameter of the code model must be in JSON format.',
])
def test_a_400_about_the_history_or_the_users_words_is_not_a_refusal_of_tools(message):
    # taken for one, it turned tools off for the session with the notice "this server does not take tool calls"
    assert not errors.classify(_bad_request(message)).names_tools


@pytest.mark.parametrize("message", [
    "<400> InternalError.Algo.InvalidParameter: The model does not support function calling",
    "registry.ollama.ai/library/gemma:2b does not support tools",
    "This model doesn't support tools, it's a base model",
    '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
    "[{'type': 'extra_forbidden', 'loc': ('body', 'tools'), 'msg': 'Extra inputs are not permitted'}]",
    'Unsupported parameter: "tool_choice"',
])
def test_a_400_that_refuses_the_tools_parameter_still_names_tools(message):
    assert errors.classify(_bad_request(message)).names_tools
