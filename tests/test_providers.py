"""The provider seam: DashScope and any OpenAI-compatible server, chosen by the base URL; the model list;
redirects never followed; a visitor's URL checked at the moment of connecting; bad URLs as messages; a
total deadline per reply, heartbeats while the server is silent, and no reader thread left behind."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from qwenchat import config, errors
from qwenchat.config import Settings, resolve
from qwenchat.providers import (
    DashScopeProvider,
    Failed,
    Finished,
    GenerationParams,
    Heartbeat,
    OpenAICompatibleProvider,
    TextDelta,
    UsageReport,
    provider_for,
)
from qwenchat.providers.network import GuardedBackend, PrivateAddressRefused
from qwenchat.providers.streaming import SSEParser
from tests.fake_dashscope import VALID_KEY, FakeDashScope

HELLO = [{"role": "user", "content": "你好"}]
BAD_URLS = ["https://dashscope.aliyuncs.com:99999/compatible-mode/v1", "garbage", "https://[::1/v1",
            "https://[fe80::1%25eth0/v1", "http://", "https://a b/v1", "https://x:-1/", "://x", "", "   ",
            "https://[not-an-ip]/v1", "ftp://example.org/v1", "https://exa\x00mple.org/v1", "https://[]/v1",
            "https://" + "a" * 300 + ".org/v1", "https://例子.测试:70000/v1"]


@pytest.fixture(scope="module")
def fake():
    with FakeDashScope() as server:
        yield server


@pytest.fixture(autouse=True)
def clean(fake):
    fake.reset()


def readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "qwenchat-reply-reader" and t.is_alive()]


def no_readers_within(seconds: float) -> bool:
    end = time.monotonic() + seconds
    while readers() and time.monotonic() < end:
        time.sleep(0.02)
    return not readers()


def operator(fake, cls=DashScopeProvider, **kwargs) -> DashScopeProvider:
    return cls(Settings(api_key=VALID_KEY, base_url=fake.base_url, operator_base_url=fake.base_url),
               max_retries=0, **kwargs)


def visible(events) -> list:
    return [e for e in events if not isinstance(e, Heartbeat)]


def text_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# --- choosing a provider, and who needs a key -----------------------------------------------------

def test_dashscope_hosts_get_the_dashscope_provider_and_anything_else_the_compatible_one():
    for url in config.REGIONS.values():
        assert isinstance(provider_for(Settings(base_url=url)), DashScopeProvider)
    for url in ("http://localhost:11434/v1", "http://127.0.0.1:8000/v1", "https://aliyuncs.com.evil.org/v1"):
        provider = provider_for(Settings(base_url=url))
        assert type(provider) is OpenAICompatibleProvider, url


def test_qwenchat_provider_overrides_the_host_rule():
    s = resolve(environ={"DASHSCOPE_BASE_URL": "http://127.0.0.1:1/v1", "QWENCHAT_PROVIDER": "dashscope"})
    assert s.is_dashscope and isinstance(provider_for(s), DashScopeProvider)
    s = resolve(environ={"QWENCHAT_PROVIDER": "openai"})
    assert not s.is_dashscope and type(provider_for(s)) is OpenAICompatibleProvider


def test_an_operator_url_that_is_not_dashscope_needs_no_key():
    s = resolve(environ={"DASHSCOPE_BASE_URL": "http://localhost:11434/v1"})
    assert not s.has_key and s.ready and s.key_source == ""


def test_dashscope_without_a_key_is_not_ready():
    assert not resolve(environ={}).ready
    assert resolve(environ={"DASHSCOPE_API_KEY": "sk-x"}).ready


def test_a_visitors_url_still_needs_the_visitors_key():
    environ = {"DASHSCOPE_BASE_URL": "http://localhost:11434/v1", "DASHSCOPE_API_KEY": "sk-op"}
    s = resolve(sidebar_base_url="https://other.example/v1", environ={"DASHSCOPE_BASE_URL": "http://localhost:11434/v1"})
    assert s.uses_visitor_url and not s.ready
    s = resolve(sidebar_base_url="https://other.example/v1", environ=environ)
    assert (s.api_key, s.base_url) == ("sk-op", "http://localhost:11434/v1")  # the key stays at home
    s = resolve(sidebar_key="sk-mine", sidebar_base_url="https://other.example/v1", environ=environ)
    assert s.ready and s.checks_addresses and s.api_key == "sk-mine"


@pytest.mark.parametrize("sidebar_key, sidebar_url, environ, visitor_pays", [
    # The visitor's key at DashScope: DashScope bills that key.
    ("sk-mine", "", {}, True),
    ("sk-mine", "", {"DASHSCOPE_API_KEY": "sk-op"}, True),
    # The visitor's key at a URL of the visitor's while the operator runs no server: the visitor's cost.
    ("sk-mine", "https://mine.example/v1", {}, True),
    # The operator runs a server: a URL typed in the sidebar may be that server spelled another way
    # (the second review: upper case, localhost, 127.1, a default port), so the operator's limits apply.
    ("sk-mine", "https://mine.example/v1", {"DASHSCOPE_BASE_URL": "http://localhost:11434/v1"}, False),
    ("junk", "HTTP://127.0.0.1:11434/v1", {"DASHSCOPE_BASE_URL": "http://127.0.0.1:11434/v1"}, False),
    ("junk", "http://127.1:11434/v1", {"DASHSCOPE_BASE_URL": "http://127.0.0.1:11434/v1"}, False),
    ("junk", "https://LLM.example.com:443/./v1", {"DASHSCOPE_BASE_URL": "https://llm.example.com/v1"}, False),
    # ...but a DashScope host bills the key it is given, wherever the operator's server is.
    ("sk-mine", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
     {"DASHSCOPE_BASE_URL": "http://localhost:11434/v1"}, True),
    # QWENCHAT_PROVIDER=dashscope says how to talk to a server, not who pays (the third review: a vLLM).
    ("junk", "", {"DASHSCOPE_BASE_URL": "http://localhost:8000/v1", "QWENCHAT_PROVIDER": "dashscope"}, False),
    ("junk", "https://PROXY.example/v1", {"DASHSCOPE_BASE_URL": "https://proxy.example/v1",
                                          "QWENCHAT_PROVIDER": "dashscope"}, False),
    # Not every aliyuncs.com host is DashScope: an operator's own model behind Function Compute.
    ("junk", "", {"DASHSCOPE_BASE_URL": "https://123.cn-hangzhou.fc.aliyuncs.com/2016-08-15/proxy/llm/v1"}, False),
    ("sk-mine", "", {"DASHSCOPE_BASE_URL": "https://vpc-cn-beijing.dashscope.aliyuncs.com/compatible-mode/v1"}, True),
    # The visitor's key at the operator's own local server: it takes any key, the operator's machine runs it.
    ("junk", "", {"DASHSCOPE_BASE_URL": "http://localhost:11434/v1"}, False),
    ("junk", "http://localhost:11434/v1/", {"DASHSCOPE_BASE_URL": "http://localhost:11434/v1"}, False),
    # The operator's key, or none: the operator pays.
    ("", "", {"DASHSCOPE_API_KEY": "sk-op"}, False),
    ("", "", {"DASHSCOPE_BASE_URL": "http://localhost:11434/v1"}, False),
])
def test_who_pays_follows_whose_key_reaches_a_server_that_bills_it(sidebar_key, sidebar_url, environ, visitor_pays):
    s = resolve(sidebar_key=sidebar_key, sidebar_base_url=sidebar_url, environ=environ)
    assert s.visitor_pays is visitor_pays


def test_a_keyless_local_server_chats_and_gets_a_placeholder_key():
    with FakeDashScope(api_key=None) as local:
        s = resolve(environ={"DASHSCOPE_BASE_URL": local.base_url})
        assert s.ready and not s.is_dashscope
        local.enqueue({"kind": "text", "chunks": ["本地", "模型"], "usage": False})
        events = visible(provider_for(s, max_retries=0).stream_chat(HELLO, model="qwen3:8b"))
        assert text_of(events) == "本地模型"
        assert not any(isinstance(e, UsageReport) for e in events)  # usage may be missing: no error
        assert isinstance(events[-1], Finished)
        request = local.requests[-1]
        assert request["authorization"] == "Bearer no-key"
        assert "enable_thinking" not in request["body"]


def test_the_compatible_provider_sends_the_thinking_switch_only_when_asked(fake):
    provider = operator(fake, OpenAICompatibleProvider)
    visible(provider.stream_chat(HELLO, model="qwen3.6-plus"))
    assert "enable_thinking" not in fake.requests[-1]["body"]
    visible(provider.stream_chat(HELLO, model="qwen3.6-plus", thinking=True,
                                 params=GenerationParams(thinking_budget=500)))
    body = fake.requests[-1]["body"]
    assert body["enable_thinking"] is True and body["thinking_budget"] == 500
    assert body["chat_template_kwargs"] == {"enable_thinking": True}


# --- parameters -----------------------------------------------------------------------------------

def test_generation_parameters_are_sent_only_when_set(fake):
    provider = operator(fake)
    visible(provider.stream_chat(HELLO, model="qwen-plus", params=GenerationParams()))
    body = fake.requests[-1]["body"]
    assert not {"temperature", "top_p", "max_tokens", "seed", "presence_penalty", "thinking_budget"} & set(body)
    params = GenerationParams(temperature=0.3, top_p=0.9, max_tokens=900, seed=7, presence_penalty=0.5)
    visible(provider.stream_chat(HELLO, model="qwen-plus", params=params))
    body = fake.requests[-1]["body"]
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"], body["presence_penalty"]) == \
        (0.3, 0.9, 900, 7, 0.5)


def test_the_callers_max_tokens_caps_the_users_preference(fake):
    provider = operator(fake)
    visible(provider.stream_chat(HELLO, model="qwen-plus", params=GenerationParams(max_tokens=4000), max_tokens=500))
    assert fake.requests[-1]["body"]["max_tokens"] == 500
    visible(provider.stream_chat(HELLO, model="qwen-plus", params=GenerationParams(max_tokens=100), max_tokens=500))
    assert fake.requests[-1]["body"]["max_tokens"] == 100


def test_a_thinking_budget_goes_in_the_extra_body_with_enable_thinking(fake):
    provider = operator(fake)
    visible(provider.stream_chat(HELLO, model="qwen-plus", thinking=True, params=GenerationParams(thinking_budget=256)))
    body = fake.requests[-1]["body"]
    assert body["enable_thinking"] is True and body["thinking_budget"] == 256
    visible(provider.stream_chat(HELLO, model="qwen-plus", thinking=False, params=GenerationParams(thinking_budget=256)))
    assert "thinking_budget" not in fake.requests[-1]["body"]  # no budget for a reply that does not think
    visible(provider.stream_chat(HELLO, model="qwq-plus", thinking=True, params=GenerationParams(thinking_budget=64)))
    body = fake.requests[-1]["body"]
    assert body["thinking_budget"] == 64 and "enable_thinking" not in body  # an always-thinker


# --- the model list -------------------------------------------------------------------------------

def test_the_model_list_comes_from_get_models_sorted(fake):
    fake.models = ["qwen3:8b", "llama3.2:3b", "qwen3:8b", "deepseek-r1:7b"]
    try:
        assert operator(fake, OpenAICompatibleProvider).list_models() == ["deepseek-r1:7b", "llama3.2:3b", "qwen3:8b"]
        assert fake.model_requests[-1]["path"] == "/compatible-mode/v1/models"
    finally:
        fake.models = ["qwen-flash", "qwen-plus", "qwen3-max", "qwq-plus"]


def test_no_model_list_is_an_empty_list_not_an_error(fake):
    for url in ("http://127.0.0.1:9/v1", f"{fake.root_url}/nothing/here", *BAD_URLS[:3]):
        assert provider_for(Settings(base_url=url, operator_base_url=url)).list_models() == []


# --- redirects and the connected address -----------------------------------------------------------

def test_a_redirect_is_not_followed_and_the_body_goes_nowhere_else(fake):
    with FakeDashScope() as inside:
        fake.enqueue({"kind": "redirect", "location": f"{inside.base_url}/chat/completions", "status": 307})
        events = visible(operator(fake).stream_chat([{"role": "user", "content": "秘密"}], model="qwen-plus"))
        assert isinstance(events[-1], Failed) and events[-1].error.kind == errors.REDIRECT
        assert events[-1].error.message_zh and events[-1].error.message_en
        assert inside.requests == [] and inside.model_requests == []
        fake.enqueue({"kind": "redirect", "location": f"{inside.base_url}/chat/completions", "status": 302})
        with pytest.raises(Exception) as caught:
            operator(fake).complete(HELLO, model="qwen-flash", max_tokens=5, timeout=5)
        assert caught.value.error.kind == errors.REDIRECT
        assert inside.requests == []


def test_the_redirect_trigger_works_from_the_message_text(fake):
    with FakeDashScope() as inside:
        text = f"[[fake:redirect:{inside.base_url}/chat/completions]]"
        events = visible(operator(fake).stream_chat([{"role": "user", "content": text}], model="qwen-plus"))
        assert events[-1].error.kind == errors.REDIRECT and inside.requests == []


def fake_dns(monkeypatch, answers: dict[str, list[str]]):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            address = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def visitor_at(url: str, **kwargs) -> Settings:
    return resolve(sidebar_key="sk-visitor", sidebar_base_url=url, environ=kwargs)


def test_a_public_name_that_resolves_to_loopback_is_refused_when_connecting(fake, monkeypatch):
    # DNS rebinding: the sidebar's check sees a public address, the connection a second later loopback.
    fake_dns(monkeypatch, {"rebind.example": ["93.184.216.34", "127.0.0.1"]})
    assert config.url_problem("https://rebind.example/v1") == ""
    settings = visitor_at(f"http://rebind.example:{fake.port}/compatible-mode/v1")
    assert settings.checks_addresses
    start = time.monotonic()
    events = visible(provider_for(settings).stream_chat(HELLO, model="qwen-plus"))  # retries on: none here
    assert time.monotonic() - start < 2
    assert isinstance(events[-1], Failed) and events[-1].error.kind == errors.PRIVATE_ADDRESS
    assert fake.requests == []
    assert provider_for(settings).list_models() == [] and fake.model_requests == []


def test_the_same_name_connects_when_private_urls_are_allowed(fake, monkeypatch):
    fake_dns(monkeypatch, {"rebind.example": ["127.0.0.1"]})
    settings = visitor_at(f"http://rebind.example:{fake.port}/compatible-mode/v1",
                          QWENCHAT_ALLOW_PRIVATE_URLS="1", QWENCHAT_PROVIDER="dashscope")
    assert not settings.checks_addresses
    events = visible(provider_for(settings, max_retries=0).stream_chat(HELLO, model="qwen-plus"))
    assert isinstance(events[-1], Failed) and events[-1].error.kind == errors.INVALID_KEY  # it got there
    assert len(fake.requests) == 1


def test_one_private_address_among_public_ones_is_enough_to_refuse(monkeypatch):
    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:10.0.0.1", port, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(PrivateAddressRefused):
        GuardedBackend.checked_addresses("mixed.example", 443)
    assert config.url_problem("https://mixed.example/v1")


def test_the_operators_own_url_may_be_private(fake):
    s = resolve(environ={"DASHSCOPE_API_KEY": VALID_KEY, "DASHSCOPE_BASE_URL": fake.base_url,
                         "QWENCHAT_PROVIDER": "dashscope"})
    assert not s.checks_addresses
    assert text_of(visible(provider_for(s, max_retries=0).stream_chat(HELLO, model="qwen-plus"))) == "收到：你好"


# --- bad URLs are messages ------------------------------------------------------------------------

@pytest.mark.parametrize("url", BAD_URLS)
def test_a_bad_url_is_a_problem_string_never_an_exception(url):
    assert config.url_problem(url)
    assert config.url_problem(url, allow_private=True)
    assert config.url_syntax_problem(url) or url.startswith("https://" + "a" * 10)


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_bad_operator_url_never_raises_and_every_call_fails_with_bad_url(url):
    for environ in ({"DASHSCOPE_BASE_URL": url}, {"DASHSCOPE_BASE_URL": url, "DASHSCOPE_API_KEY": "sk-x"}):
        settings = resolve(environ=environ)
        provider = provider_for(settings)
        if not url.strip():
            continue  # blank means: the default URL
        assert settings.problem and not settings.ready, url
        events = list(provider.stream_chat(HELLO, model="qwen-plus"))
        assert len(events) == 1 and events[0].error.kind == errors.BAD_URL
        assert provider.list_models() == []


def test_odd_settings_values_never_raise():
    s = resolve(secrets={"DASHSCOPE_BASE_URL": 12, "DASHSCOPE_API_KEY": None, "QWEN_MODEL": ["x"],
                         "QWENCHAT_REPLY_DEADLINE_S": "soon"}, environ={"QWENCHAT_PROVIDER": "nonsense"})
    assert s.base_url == config.DEFAULT_BASE_URL and s.reply_deadline_s == config.DEFAULT_REPLY_DEADLINE_S
    assert s.provider == "" and s.is_dashscope
    for value in ("-5", "0", "inf", "nan", "1e400"):
        assert resolve(environ={"QWENCHAT_REPLY_DEADLINE_S": value}).reply_deadline_s == 300
    assert resolve(environ={"QWENCHAT_REPLY_DEADLINE_S": "45"}).reply_deadline_s == 45


# --- a deadline per reply, heartbeats, and no thread left behind ----------------------------------

def test_a_server_that_only_sends_keepalive_comments_hits_the_deadline_and_the_text_is_kept(fake):
    fake.enqueue({"kind": "keepalive", "chunks": ["先说", "一点"], "interval": 0.2})
    start = time.monotonic()
    events = list(operator(fake).stream_chat(HELLO, model="qwen-plus", deadline_s=1.2))
    assert time.monotonic() - start < 6
    assert text_of(events) == "先说一点"
    assert any(isinstance(e, Heartbeat) for e in events)
    assert isinstance(events[-1], Failed) and events[-1].error.kind == errors.DEADLINE
    assert events[-1].error.keeps_partial
    assert no_readers_within(3)


def test_the_keepalive_trigger_from_the_message_text(fake):
    events = list(operator(fake).stream_chat([{"role": "user", "content": "[[fake:keepalive:0.2]]"}],
                                             model="qwen-plus", deadline_s=1))
    assert text_of(events) == "先说一点，" and events[-1].error.kind == errors.DEADLINE
    assert no_readers_within(3)


def test_the_deadline_setting_is_the_default(fake):
    settings = Settings(api_key=VALID_KEY, base_url=fake.base_url, operator_base_url=fake.base_url,
                        reply_deadline_s=0.8)
    fake.enqueue({"kind": "keepalive", "chunks": ["x"], "interval": 0.2})
    events = list(DashScopeProvider(settings, max_retries=0).stream_chat(HELLO, model="qwen-plus"))
    assert events[-1].error.kind == errors.DEADLINE


def test_heartbeats_arrive_while_the_server_is_silent_before_answering(fake):
    fake.enqueue({"kind": "text", "chunks": ["迟到"], "first_delay": 1.5})
    events = []
    for event in operator(fake).stream_chat(HELLO, model="qwen-plus"):
        events.append(event)
    beats = sum(isinstance(e, Heartbeat) for e in events)
    assert beats >= 2 and text_of(events) == "迟到" and isinstance(events[-1], Finished)


def test_closing_the_stream_while_waiting_ends_the_reader_thread_promptly(fake):
    fake.enqueue({"kind": "text", "chunks": ["迟到"], "first_delay": 20})
    stream = operator(fake).stream_chat(HELLO, model="qwen-plus")
    assert isinstance(next(stream), Heartbeat)
    stream.close()  # what Streamlit's stop does to a generator it was iterating
    assert no_readers_within(2)


class FakeStop(BaseException):
    """Stands for Streamlit's StopException, raised at the page's next st.* call."""


def test_a_stop_during_keepalive_ends_the_reader_and_closes_the_connection(fake):
    fake.enqueue({"kind": "keepalive", "chunks": ["一"], "interval": 0.1})
    stream = operator(fake).stream_chat(HELLO, model="qwen-plus", deadline_s=60)
    with pytest.raises(FakeStop):
        try:
            for event in stream:
                if isinstance(event, Heartbeat):
                    raise FakeStop
        finally:
            stream.close()
    assert no_readers_within(2)


def test_many_streams_leave_no_thread_behind(fake):
    before = threading.active_count()
    provider = operator(fake)
    for _ in range(20):
        assert text_of(provider.stream_chat(HELLO, model="qwen-plus")) == "收到：你好"
    for _ in range(5):
        fake.enqueue({"kind": "keepalive", "chunks": ["x"], "interval": 0.1})
        stream = provider.stream_chat(HELLO, model="qwen-plus")
        next(stream)
        stream.close()
    assert no_readers_within(3)
    assert threading.active_count() <= before + 6  # the fake server's own handler threads may linger briefly


def test_a_long_reply_arrives_whole_and_in_order(fake):
    events = visible(operator(fake).stream_chat([{"role": "user", "content": "[[fake:long:3000]]"}],
                                                model="qwen-plus"))
    assert text_of(events) == "数据" * 3000
    assert isinstance(events[-1], Finished) and isinstance(events[-2], UsageReport)


# --- the byte parser -------------------------------------------------------------------------------

def test_sse_parser_handles_split_reads_crlf_comments_and_multi_line_data():
    parser = SSEParser()
    stream = b': keepalive\r\n\r\ndata: {"a":\r\ndata: 1}\r\n\r\nevent: x\ndata: [DONE]\n\n'
    out = []
    for i in range(len(stream)):  # one byte at a time: every split point
        out += parser.feed(stream[i:i + 1])
    assert out == [b'{"a":\n1}', b"[DONE]"]
    assert SSEParser().feed(b"data:{}\n\ndata: x") == [b"{}"]
    tail = SSEParser()
    tail.feed(b"data: last")
    assert tail.close() == [b"last"]


def test_aborting_a_thread_that_has_ended_leaves_nothing_behind():
    backend = GuardedBackend()
    backend.abort(12345)  # never began: ignored
    backend.begin(12345)
    backend.release(12345)
    backend.abort(12345)  # ended: ignored, so a new thread with the same id is not refused
    assert not backend._aborted and not backend._live and not backend._streams


def test_a_stream_closed_before_its_reader_starts_sends_nothing(fake):
    for _ in range(10):
        stream = operator(fake).stream_chat(HELLO, model="qwen-plus")
        stream.close()  # before the first next(): the generator never ran, no thread started
    assert no_readers_within(2) and fake.requests == []


def test_an_event_that_never_ends_is_refused_past_its_size_cap():
    """The review's finding 7: a visitor's server sending one endless line kept a core busy (quadratic)."""
    from qwenchat.providers.streaming import MAX_EVENT_BYTES, EventTooLarge, SSEParser

    parser = SSEParser()
    piece = b"x" * 4096
    fed = 0
    with pytest.raises(EventTooLarge):
        while fed <= 2 * MAX_EVENT_BYTES:
            assert parser.feed(piece) == []
            fed += len(piece)
    assert MAX_EVENT_BYTES - len(piece) < fed <= MAX_EVENT_BYTES  # refused at the cap, not later


def test_a_blank_line_split_across_reads_and_crlf_still_end_events():
    from qwenchat.providers.streaming import SSEParser

    parser = SSEParser()
    assert parser.feed(b"data: {\"a\":1}\n") == []
    assert parser.feed(b"\ndata: two\r") == [b'{"a":1}']
    assert parser.feed(b"\n\r\n") == [b"two"]
    assert parser.feed(b"data: tail") == [] and parser.close() == [b"tail"]


def test_a_server_that_trickles_bytes_cannot_hold_the_model_list_or_the_judge(monkeypatch):
    """The review's finding 9: the SDK's timeout is per read, so one byte a second never tripped it."""
    import socket
    import threading
    import time as _time

    from qwenchat.providers import ProviderError, openai_compatible, provider_for

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            try:
                listener.settimeout(0.2)
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
                while not stop.is_set():
                    try:
                        conn.sendall(b" ")
                    except OSError:
                        break
                    _time.sleep(0.1)

    server = threading.Thread(target=trickle, daemon=True)
    server.start()
    try:
        monkeypatch.setattr(openai_compatible, "MODELS_TIMEOUT", 0.5)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        provider = provider_for(Settings(api_key="k", base_url=url, operator_base_url=url))
        assert provider.list_models() == []
        with pytest.raises(ProviderError) as caught:
            provider.complete([{"role": "user", "content": "hi"}], model="m", max_tokens=5, timeout=0.5)
        assert caught.value.error.kind == "timeout"
        # The connections were shut when time ran out: no call thread is left reading.
        deadline = _time.monotonic() + 10
        while any(t.name == "qwenchat-call" for t in threading.enumerate()) and _time.monotonic() < deadline:
            _time.sleep(0.05)
        assert not any(t.name == "qwenchat-call" for t in threading.enumerate())
    finally:
        stop.set()
        server.join(5)
        listener.close()


@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "2002:7f00:1::1", "::127.0.0.1", "::ffff:10.0.0.1",
                                     "2002:c0a8:0101::1", "64:ff9b::a9fe:a9fe", "::ffff:0:7f00:1",
                                     "64:ff9b:1::7f00:1", "fec0::1", "192.0.0.8"])
def test_ipv4_addresses_in_ipv6_clothes_are_judged_as_themselves(address):
    from qwenchat.config import is_global_address

    assert not is_global_address(address)
    assert is_global_address("2002:0808:0808::1") and is_global_address("64:ff9b::808:808")
