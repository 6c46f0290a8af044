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
    Embeddings,
    Event,
    Failed,
    GenerationParams,
    ProviderError,
    Reranked,
    usage_from,
)
from qwenchat.providers.streaming import ChunkReader, Put, SSEParser, background_events

DEFAULT_TIMEOUT = 60.0  # seconds without a byte before a call gives up
DEFAULT_DEADLINE_S = DEFAULT_REPLY_DEADLINE_S  # seconds for one whole reply (QWENCHAT_REPLY_DEADLINE_S)
PLACEHOLDER_KEY = "no-key"  # sent to a keyless local server, which ignores it (the SDK wants some key)
RETRY_STATUSES = {408, 409, 429}
MODELS_TIMEOUT = 5.0
EMBED_BATCH = 10        # DashScope text-embedding-v3/v4 take at most 10 inputs per request
EMBED_TIMEOUT = 60.0    # seconds for one batch, retries included
RERANK_TIMEOUT = 30.0
MISSING_ENDPOINT = {404, 405, 501}  # what a server without the endpoint answers


class OpenAICompatibleProvider:
    kind = "openai"

    def __init__(self, settings: Settings, *, timeout: float = DEFAULT_TIMEOUT, max_retries: int = 2,
                 public_only: bool | None = None):
        """Never raises: a base URL that cannot be used is kept in `problem`, and every call then fails
        with a `bad_url` error instead of reaching the network."""
        self.settings = settings
        self.max_retries = max(0, int(max_retries))
        self._public_only = settings.checks_addresses if public_only is None else public_only
        self._timeout = timeout
        self._client_lock = threading.Lock()
        self._client: tuple[Any, Any] | None = None  # (the SDK's client, its backend), made at first use
        self.problem = url_syntax_problem(settings.base_url)

    @property
    def _sdk(self) -> Any:
        """The SDK's client, made at the first request (None when the URL cannot be used). Importing the
        SDK takes ~0.7 s, which the first page after a server start then does not wait for."""
        return self._connection()[0]

    @property
    def _backend(self) -> Any:
        return self._connection()[1]

    def _connection(self) -> tuple[Any, Any]:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._connect()
        return self._client

    def _connect(self) -> tuple[Any, Any]:
        from qwenchat.providers.network import GuardedBackend, http_client  # imports the SDK

        backend = GuardedBackend(public_only=self._public_only)
        if self.problem:
            return None, backend
        try:
            import openai

            # No SDK retries: they are done here, where a Stop can end the wait (see `_open`).
            return openai.OpenAI(api_key=self.settings.api_key or PLACEHOLDER_KEY, base_url=self.settings.base_url,
                                 timeout=self._timeout, max_retries=0,
                                 http_client=http_client(backend, timeout=self._timeout)), backend
        except Exception:  # noqa: BLE001 - a URL the SDK refuses is a message, never an exception
            self.problem = "url.not_a_url"
            return None, backend

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

    # --- embeddings and rerank (the knowledge base) ----------------------------------------------------
    def embed(self, texts: list[str], *, model: str, dimensions: int | None = None) -> Embeddings:
        """Vectors of `texts` (in their order), in batches of at most 10, as floats (`encoding_format` is
        sent explicitly: the SDK would ask for base64 otherwise). Raises `ProviderError`: `no_embeddings`
        when the server has no /embeddings, else the usual kinds (invalid_key, rate_limit, ...)."""
        if self._sdk is None:
            raise ProviderError(errors.ChatError(errors.BAD_URL))
        vectors: list[list[float]] = []
        tokens = 0
        for i in range(0, len(texts), EMBED_BATCH):
            batch = [t if t.strip() else " " for t in texts[i:i + EMBED_BATCH]]  # an empty input is a 400
            kwargs: dict[str, Any] = {"model": model, "input": batch, "encoding_format": "float",
                                      "timeout": EMBED_TIMEOUT}
            if dimensions:
                kwargs["dimensions"] = int(dimensions)
            payload = self._json_call(lambda kw=kwargs: self._sdk.embeddings.with_raw_response.create(**kw),
                                      EMBED_TIMEOUT, errors.NO_EMBEDDINGS)
            data = payload.get("data") if isinstance(payload, dict) else None
            if not isinstance(data, list) or len(data) != len(batch):
                raise ProviderError(errors.ChatError(errors.UNKNOWN))
            try:
                ordered = sorted(data, key=lambda item: int(item["index"]))
                vectors.extend([float(x) for x in item["embedding"]] for item in ordered)
            except (KeyError, TypeError, ValueError):
                raise ProviderError(errors.ChatError(errors.UNKNOWN)) from None
            tokens += _usage_tokens(payload)
        dims = len(vectors[0]) if vectors else int(dimensions or 0)
        return Embeddings(vectors, tokens, model, dims)

    def rerank_base_url(self) -> str:
        """Where DashScope serves rerank: the compatible-mode base with `compatible-mode` replaced by
        `compatible-api` (Beijing: https://dashscope.aliyuncs.com/compatible-api/v1); "" when the base URL
        is not of that form (a local server has no rerank)."""
        base = self.settings.base_url.rstrip("/")
        return base.replace("/compatible-mode/", "/compatible-api/") if "/compatible-mode/" in base + "/" else ""

    def rerank(self, query: str, documents: list[str], *, model: str = "qwen3-rerank",
               top_n: int | None = None) -> Reranked:
        """Rerank `documents` for `query`: (index, relevance score) best first. Raises `ProviderError`
        (`no_rerank` when the server has no rerank endpoint)."""
        base = self.rerank_base_url()
        if self._sdk is None:
            raise ProviderError(errors.ChatError(errors.BAD_URL))
        if not base:
            raise ProviderError(errors.ChatError(errors.NO_RERANK))
        body: dict[str, Any] = {"model": model, "query": query, "documents": list(documents)}
        if top_n:
            body["top_n"] = int(top_n)
        client = self._sdk.with_options(base_url=base, timeout=RERANK_TIMEOUT)
        payload = self._json_call(lambda: client.post("/reranks", body=body, cast_to=object), RERANK_TIMEOUT,
                                  errors.NO_RERANK)
        results = payload.get("results") if isinstance(payload, dict) else None
        if results is None and isinstance(payload, dict) and isinstance(payload.get("output"), dict):
            results = payload["output"].get("results")  # the native API's shape, should a gateway pass it
        try:
            pairs = [(int(r["index"]), float(r["relevance_score"])) for r in results or []]
        except (KeyError, TypeError, ValueError):
            raise ProviderError(errors.ChatError(errors.UNKNOWN)) from None
        if not pairs and documents:
            raise ProviderError(errors.ChatError(errors.UNKNOWN))
        pairs.sort(key=lambda p: -p[1])
        return Reranked(pairs, _usage_tokens(payload))

    def _json_call(self, call: Any, timeout: float, missing_kind: str) -> Any:
        """The JSON of `call()` (a raw response or already JSON), retried like a chat request (429, 5xx,
        connection failures), within `timeout` in all; failures as `ProviderError`."""
        import time

        import openai

        attempt = 0
        while True:
            try:
                result = self._within(timeout, call)
                return result.http_response.json() if hasattr(result, "http_response") else result
            except TimeoutError:
                raise ProviderError(errors.ChatError(errors.TIMEOUT)) from None
            except openai.APIStatusError as exc:
                status = exc.status_code
                error = errors.classify(exc)
                if status in MISSING_ENDPOINT and error.code != "model_not_found":
                    raise ProviderError(errors.ChatError(missing_kind, status, error.code)) from None
                if attempt >= self.max_retries or not (status in RETRY_STATUSES or status >= 500):
                    raise ProviderError(error) from None
                wait = _retry_after(exc.response) or _backoff(attempt)
            except openai.APIConnectionError as exc:
                error = errors.classify(exc)
                if attempt >= self.max_retries or error.kind == errors.PRIVATE_ADDRESS:
                    raise ProviderError(error) from None
                wait = _backoff(attempt)
            except ProviderError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure becomes a named error
                raise ProviderError(errors.classify(exc)) from None
            attempt += 1
            time.sleep(wait)

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


def _usage_tokens(payload: Any) -> int:
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(usage, dict):
        return 0
    try:
        return int(usage.get("total_tokens") or usage.get("prompt_tokens") or 0)
    except (TypeError, ValueError):
        return 0


def _backoff(attempt: int) -> float:
    return min(8.0, 0.5 * 2 ** attempt) * (1 - 0.25 * random.random())


def _retry_after(response: Any) -> float | None:
    try:
        value = float(response.headers.get("retry-after", ""))
    except (AttributeError, TypeError, ValueError):
        return None
    return value if 0 < value <= 60 else None
