"""The LLM judge, over real HTTP: a tiny OpenAI-compatible server on 127.0.0.1, reached through a provider
(the real openai client underneath)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qwenchat.config import Settings
from qwenchat.ending import Usage, detect
from qwenchat.judge import decide, judge, parse
from qwenchat.providers import Completion, DashScopeProvider, OpenAICompatibleProvider, ProviderError

UNSURE = "谢谢"  # the rules call this an end, but not confidently
SURE_END = "好的，没有其他问题了，谢谢，再见！"
SURE_CONTINUE = "谢谢，那尺码呢？"
DASHSCOPE_401 = {
    "error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "param": None,
              "code": "invalid_api_key"},
    "request_id": "x",
}


def completion(content: str) -> dict:
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1726132850, "model": "qwen-flash",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 180, "completion_tokens": 21, "total_tokens": 201},
    }


class FakeDashScope(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict] = []
        self.status = 200
        self.body: dict = completion('{"end": true, "confidence": 0.9, "reason": "user says thanks and leaves"}')
        self.delay = 0.0

    def handle_error(self, request, client_address) -> None:
        pass  # a client that timed out and hung up is expected here


class Handler(BaseHTTPRequestHandler):
    server: FakeDashScope

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.server.requests.append({"path": self.path, "json": json.loads(self.rfile.read(length))})
        time.sleep(self.server.delay)
        payload = json.dumps(self.server.body).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    srv = FakeDashScope()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def provider_at(url: str, cls=DashScopeProvider):
    return cls(Settings(api_key="sk-test", base_url=url))


@pytest.fixture
def client(server):
    """A DashScope provider (it sends enable_thinking=false), pointed at the local server."""
    return provider_at(f"http://127.0.0.1:{server.server_port}/v1")


def test_unsure_is_not_confident():
    assert not detect(UNSURE).confident
    assert detect(SURE_END).confident and detect(SURE_END).is_end
    assert detect(SURE_CONTINUE).confident and not detect(SURE_CONTINUE).is_end


def test_valid_verdict_is_used_and_its_usage_counted(server, client):
    server.body = completion('{"end": false, "confidence": 0.8, "reason": "asks for more"}')
    verdict = decide(UNSURE, [], client=client, judge_enabled=True)
    assert verdict.method == "judge"
    assert verdict.is_end is False
    assert verdict.score == pytest.approx(0.2)
    assert verdict.confident
    assert verdict.usage == Usage(180, 21)
    assert "asks for more" in verdict.reason
    assert len(server.requests) == 1


def test_request_is_non_streaming_deterministic_and_without_thinking(server, client):
    history = [{"role": "user", "content": "这件有黑色吗？"}, {"role": "assistant", "content": "有的，M 码有货。"}]
    assert judge(client, UNSURE, history, model="qwen-flash", timeout=5.0) is not None
    (request,) = server.requests
    body = request["json"]
    assert request["path"] == "/v1/chat/completions"
    assert body["stream"] is False
    assert body["temperature"] == 0
    assert body["enable_thinking"] is False
    assert body["model"] == "qwen-flash"
    assert 0 < body["max_tokens"] <= 100
    system, user = body["messages"]
    assert system["role"] == "system" and "JSON" in system["content"]
    conversation = json.loads(user["content"])
    assert conversation["latest_user_message"] == UNSURE
    assert conversation["earlier_turns"] == history


def test_fenced_json_is_accepted(server, client):
    server.body = completion('```json\n{"end": true, "confidence": 0.95, "reason": "goodbye"}\n```')
    verdict = judge(client, UNSURE, [])
    assert verdict is not None and verdict.is_end and verdict.method == "judge"


@pytest.mark.parametrize("content", [
    "The user wants to end the conversation.",
    '{"end": true, "confidence": 0.9}',
    '{"end": "yes", "confidence": 0.9, "reason": "x"}',
    '{"end": true, "confidence": 1.7, "reason": "x"}',
    '{"end": true, "confidence": true, "reason": "x"}',
    '[true, 0.9, "x"]',
    "",
])
def test_malformed_reply_falls_back_to_rules(server, client, content):
    server.body = completion(content)
    assert judge(client, UNSURE, []) is None
    verdict = decide(UNSURE, [], client=client, judge_enabled=True)
    assert verdict.method == "rules"
    assert verdict.is_end == detect(UNSURE).is_end
    assert verdict.usage == Usage(180, 21)  # the reply was useless, but it was paid for


@pytest.mark.parametrize("status, body", [
    (500, {"error": {"message": "internal error", "type": "internal_error", "code": "internal_error"}}),
    (401, DASHSCOPE_401),
    (429, {"error": {"message": "You have exceeded your current request limit.", "type": "limit_requests",
                     "param": None, "code": "limit_requests"}}),
])
def test_error_status_falls_back_to_rules(server, client, status, body):
    server.status, server.body = status, body
    assert judge(client, UNSURE, []) is None
    verdict = decide(UNSURE, [], client=client, judge_enabled=True)
    assert verdict == detect(UNSURE)
    assert len(server.requests) == 2  # no retries


def test_timeout_falls_back_to_rules_quickly(server, client):
    server.delay = 1.5
    start = time.monotonic()
    verdict = decide(UNSURE, [], client=client, judge_enabled=True, timeout=0.3)
    assert time.monotonic() - start < 1.2
    assert verdict == detect(UNSURE)


def test_unreachable_server_falls_back_to_rules():
    client = provider_at("http://127.0.0.1:9/v1")
    assert judge(client, UNSURE, [], timeout=1.0) is None
    assert decide(UNSURE, [], client=client, judge_enabled=True, timeout=1.0) == detect(UNSURE)


@pytest.mark.parametrize("text", [SURE_END, SURE_CONTINUE, "bye!", "“再见”用英语怎么说？"])
def test_judge_is_not_called_when_rules_are_confident(server, client, text):
    verdict = decide(text, [], client=client, judge_enabled=True)
    assert verdict == detect(text)
    assert server.requests == []


def test_judge_is_not_called_when_disabled_or_without_client(server, client):
    assert decide(UNSURE, [], client=client, judge_enabled=False) == detect(UNSURE)
    assert decide(UNSURE, [], client=None, judge_enabled=True) == detect(UNSURE)
    assert server.requests == []


def test_judge_keeps_the_rules_cues(server, client):
    verdict = decide(UNSURE, [], client=client, judge_enabled=True)
    assert verdict.method == "judge"
    assert verdict.cues == detect(UNSURE).cues


def test_odd_input_is_sent_safely(server, client):
    parts = [{"type": "text", "text": "还有吗？"}]
    history = [None, {"role": "system", "content": "x"}, {"role": "assistant", "content": parts}]
    assert judge(client, "\ud800谢谢\x00", history) is not None
    conversation = json.loads(server.requests[0]["json"]["messages"][1]["content"])
    assert conversation["earlier_turns"] == [{"role": "assistant", "content": "还有吗？"}]


def test_parse_is_strict():
    assert parse('{"end": true, "confidence": 1, "reason": "bye"}') == (True, 1.0, "bye")
    assert parse('```\n{"end": false, "confidence": 0, "reason": ""}\n```') == (False, 0.0, "")
    assert parse(None) is None
    assert parse('{"end": true, "confidence": NaN, "reason": "x"}') is None


def test_the_judge_goes_through_any_provider_and_sends_no_dashscope_switch_to_others(server):
    provider = provider_at(f"http://127.0.0.1:{server.server_port}/v1", OpenAICompatibleProvider)
    verdict = decide(UNSURE, [], provider=provider, judge_enabled=True)
    assert verdict.method == "judge"
    assert "enable_thinking" not in server.requests[0]["json"]


class Broken:
    """A provider whose `complete` fails the way the protocol says: a ProviderError."""

    def __init__(self, error: Exception):
        self.error = error
        self.calls = 0

    def complete(self, messages, *, model, max_tokens, temperature=0, timeout):
        self.calls += 1
        raise self.error


class Canned:
    def __init__(self, completion: Completion):
        self.completion = completion

    def complete(self, messages, *, model, max_tokens, temperature=0, timeout):
        return self.completion


def test_a_provider_error_or_a_broken_provider_falls_back_to_the_rules():
    from qwenchat.errors import RATE_LIMIT, ChatError

    for error in (ProviderError(ChatError(RATE_LIMIT)), RuntimeError("bug")):
        provider = Broken(error)
        assert decide(UNSURE, [], provider=provider, judge_enabled=True) == detect(UNSURE)
        assert provider.calls == 1


def test_a_completion_without_usage_gives_a_verdict_without_usage():
    verdict = judge(Canned(Completion('{"end": true, "confidence": 0.9, "reason": "bye"}')), UNSURE, [])
    assert verdict is not None and verdict.usage is None and verdict.is_end


def test_a_bad_base_url_is_a_provider_error_not_an_exception():
    provider = provider_at("https://dashscope.aliyuncs.com:99999/compatible-mode/v1")
    with pytest.raises(ProviderError) as caught:
        provider.complete([{"role": "user", "content": "hi"}], model="qwen-flash", max_tokens=5, timeout=1)
    assert caught.value.error.kind == "bad_url"
    assert decide(UNSURE, [], provider=provider, judge_enabled=True) == detect(UNSURE)
