"""Any OpenAI-compatible server (Ollama, vLLM, LM Studio, Xinference, DashScope's compatible mode): the
shared implementation of the `Provider` protocol over the openai SDK.

Requests, HTTP error classes and the JSON of a completion are the SDK's. A stream is read as raw bytes in a
background thread (`streaming.background_events`), not as the SDK's typed chunks: a pydantic object per
chunk costs more than everything else together on a long reply. Retries (408/409/429/5xx and connection
failures, before any byte of the body) are done here, not by the SDK, so a Stop or a deadline also ends
the wait between two attempts. Such servers may not report usage; nothing DashScope-only is sent unless
asked for (`thinking=True`).
"""

from __future__ import annotations

import random
import threading
from typing import Any, Iterator

from qwenchat import errors
from qwenchat.config import DEFAULT_REPLY_DEADLINE_S, Settings, url_syntax_problem
from qwenchat.providers.base import (
    Completion,
    Event,
    Failed,
    GenerationParams,
    ProviderError,
    usage_from,
)
from qwenchat.providers.network import GuardedBackend, http_client
from qwenchat.providers.streaming import ChunkReader, Put, SSEParser, background_events

DEFAULT_TIMEOUT = 60.0  # seconds without a byte before a call gives up
DEFAULT_DEADLINE_S = DEFAULT_REPLY_DEADLINE_S  # seconds for one whole reply (QWENCHAT_REPLY_DEADLINE_S)
PLACEHOLDER_KEY = "no-key"  # sent to a keyless local server, which ignores it (the SDK wants some key)
RETRY_STATUSES = {408, 409, 429}
MODELS_TIMEOUT = 5.0


class OpenAICompatibleProvider:
    kind = "openai"

    def __init__(self, settings: Settings, *, timeout: float = DEFAULT_TIMEOUT, max_retries: int = 2,
                 public_only: bool | None = None):
        """Never raises: a base URL that cannot be used is kept in `problem`, and every call then fails
        with a `bad_url` error instead of reaching the network."""
        self.settings = settings
        self.max_retries = max(0, int(max_retries))
        if public_only is None:
            public_only = settings.checks_addresses
        self._backend = GuardedBackend(public_only=public_only)
        self._sdk: Any = None
        self.problem = url_syntax_problem(settings.base_url)
        if self.problem:
            return
        try:
            import openai

            # No SDK retries: they are done here, where a Stop can end the wait (see `_open`).
            self._sdk = openai.OpenAI(api_key=settings.api_key or PLACEHOLDER_KEY, base_url=settings.base_url,
                                      timeout=timeout, max_retries=0,
                                      http_client=http_client(self._backend, timeout=timeout))
        except Exception:  # noqa: BLE001 - a URL the SDK refuses is a message, never an exception
            self.problem = "url.not_a_url"

    @property
    def openai(self) -> "OpenAICompatibleProvider":
        """Transitional, for `components/chat_view.py`, which hands `client_for(settings).openai` to
        `judge.decide`; the judge now takes the provider itself. Remove once the chat view passes it."""
        return self

    # --- what differs between providers -------------------------------------------------------------
    def extra_body(self, model: str, thinking: bool, params: GenerationParams | None) -> dict[str, Any]:
        """Fields outside the OpenAI schema. Here: the thinking switch only when thinking is asked for
        (`enable_thinking`, and `chat_template_kwargs` which vLLM and SGLang pass to Qwen3's template)."""
        if not thinking:
            return {}
        body: dict[str, Any] = {"enable_thinking": True, "chat_template_kwargs": {"enable_thinking": True}}
        if params is not None and params.thinking_budget:
            body["thinking_budget"] = params.thinking_budget
        return body

    def completion_extra_body(self) -> dict[str, Any]:
        return {}

    def stream_options(self) -> dict[str, Any]:
        return {"include_usage": True}

    # --- the protocol ---------------------------------------------------------------------------------
    def stream_chat(self, messages: list[dict[str, Any]], *, model: str, thinking: bool = False,
                    params: GenerationParams | None = None, max_tokens: int | None = None,
                    deadline_s: float | None = None, tools: list[dict[str, Any]] | None = None) -> Iterator[Event]:
        if self._sdk is None:
            return iter([Failed(errors.ChatError(errors.BAD_URL))])
        kwargs: dict[str, Any] = params.request_fields() if params is not None else {}
        if max_tokens:  # the caller's cap (the operator's budget) wins over a larger preference
            kwargs["max_tokens"] = min(max_tokens, kwargs.get("max_tokens") or max_tokens)
        extra = self.extra_body(model, thinking, params)
        if extra:
            kwargs["extra_body"] = extra
        kwargs.update(model=model, messages=messages, stream=True)
        if tools:
            kwargs.update(tools=tools, tool_choice="auto")
        options = self.stream_options()
        if options:
            kwargs["stream_options"] = options
        if deadline_s is None:
            deadline_s = self.settings.reply_deadline_s
        return background_events(lambda put, stop: self._produce(kwargs, put, stop), deadline_s=deadline_s,
                                 begin=self._backend.begin, abort=self._backend.abort,
                                 release=self._backend.release)

    def complete(self, messages: list[dict[str, Any]], *, model: str, max_tokens: int, temperature: float = 0,
                 timeout: float) -> Completion:
        if self._sdk is None:
            raise ProviderError(errors.ChatError(errors.BAD_URL))
        kwargs: dict[str, Any] = {}
        extra = self.completion_extra_body()
        if extra:
            kwargs["extra_body"] = extra
        try:
            response = self._within(timeout, lambda: self._sdk.chat.completions.create(
                model=model, messages=messages, stream=False, temperature=temperature, max_tokens=max_tokens,
                timeout=timeout, **kwargs))
        except TimeoutError:
            raise ProviderError(errors.ChatError(errors.TIMEOUT)) from None
        except Exception as exc:  # noqa: BLE001 - every failure becomes a named error
            raise ProviderError(errors.classify(exc)) from None
        usage = usage_from(getattr(response, "usage", None))
        try:
            text = response.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            text = None
        return Completion(text if isinstance(text, str) else "", usage)

    def list_models(self) -> list[str]:
        """The ids the server lists at `GET {base}/models`, sorted; [] when it cannot say."""
        if self._sdk is None:
            return []
        try:
            payload = self._within(MODELS_TIMEOUT, lambda: self._sdk.models.with_raw_response.list(
                timeout=MODELS_TIMEOUT).http_response.json())
            data = payload.get("data") if isinstance(payload, dict) else None
            return sorted({item["id"] for item in data or []
                           if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]})
        except Exception:  # noqa: BLE001 - no list is an answer too
            return []

    def _within(self, seconds: float, call: Any) -> Any:
        """`call()` with a total deadline: a server that trickles a byte a second cannot hold the page
        (the SDK's timeout is per read). Past it the connection is shut and TimeoutError raised."""
        box: dict[str, Any] = {}

        def run() -> None:
            self._backend.begin(threading.get_ident())  # so that `abort` below can shut its socket
            try:
                box["value"] = call()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                box["error"] = exc
            finally:
                self._backend.release(threading.get_ident())

        thread = threading.Thread(target=run, name="qwenchat-call", daemon=True)
        thread.start()
        thread.join(seconds)
        if thread.is_alive():
            self._backend.abort(thread.ident)
            raise TimeoutError(seconds)
        if "error" in box:
            raise box["error"]
        return box["value"]

    # --- the reader thread ----------------------------------------------------------------------------
    def _produce(self, kwargs: dict[str, Any], put: Put, stop: threading.Event) -> None:
        reader = ChunkReader()
        try:
            manager, response = self._open(kwargs, stop)
            try:
                parser = SSEParser()
                body = response.iter_bytes()
                feed, events = parser.feed, reader.events
                for data in body:
                    payloads = feed(data)
                    if not payloads:
                        continue
                    batch: list[Event] = []
                    failure = events(payloads, batch)
                    if stop.is_set():
                        return
                    if failure is not None:
                        put([*batch, failure])
                        return
                    if reader.done:
                        put([*batch, reader.ending()])
                        _drain(body)  # read the end of the body, so the connection can be reused
                        return
                    if batch:
                        put(batch)
                if not reader.done:
                    batch = []
                    failure = reader.events(parser.close(), batch)
                    if failure is not None:
                        put([*batch, failure])
                        return
                    if batch:
                        put(batch)
            finally:
                manager.__exit__(None, None, None)  # closes the response, whatever happened
        except Exception as exc:  # noqa: BLE001 - every failure becomes a named event
            if not stop.is_set():
                put([Failed(errors.classify(exc, mid_stream=reader.received))])
            return
        if not stop.is_set():
            put([reader.ending()])

    def _open(self, kwargs: dict[str, Any], stop: threading.Event) -> tuple[Any, Any]:
        """The streaming response (and its context manager, to close it), after retrying what is worth
        retrying."""
        import openai

        attempt = 0
        while True:
            try:
                manager = self._sdk.chat.completions.with_streaming_response.create(**kwargs)
                return manager, manager.__enter__()  # sends the request and reads the headers
            except openai.APIStatusError as exc:
                status = exc.status_code
                if attempt >= self.max_retries or stop.is_set() or \
                        not (status in RETRY_STATUSES or status >= 500):
                    raise
                wait = _retry_after(exc.response) or _backoff(attempt)
            except openai.APIConnectionError as exc:  # includes timeouts
                if attempt >= self.max_retries or stop.is_set() or \
                        errors.classify(exc).kind == errors.PRIVATE_ADDRESS:  # refused by us: final
                    raise
                wait = _backoff(attempt)
            attempt += 1
            if stop.wait(wait):
                raise openai.APIConnectionError(message="stopped", request=None)  # type: ignore[arg-type]


def _drain(body: Iterator[bytes], limit: int = 65_536) -> None:
    try:
        for data in body:
            limit -= len(data)
            if limit < 0:
                return
    except Exception:  # noqa: BLE001 - the reply is complete; the connection is merely not reused
        pass


def _backoff(attempt: int) -> float:
    return min(8.0, 0.5 * 2 ** attempt) * (1 - 0.25 * random.random())


def _retry_after(response: Any) -> float | None:
    try:
        value = float(response.headers.get("retry-after", ""))
    except (AttributeError, TypeError, ValueError):
        return None
    return value if 0 < value <= 60 else None
