"""The HTTP client under every model call.

- Redirects are never followed: a 3xx answer is a `redirect` failure, and the request body goes nowhere else.
- With `public_only` (a visitor's own URL, when private URLs are not allowed) the connection is checked at
  the moment it is made: `GuardedBackend` resolves the host itself, refuses when any address is not a
  global one, and connects to the address it checked. TLS still verifies the host name (httpcore hands the
  origin's host to the TLS handshake, not the IP). So a name that resolves to a public address when the
  sidebar checks it and to 127.0.0.1 a second later (DNS rebinding) is refused all the same.
- Every connection remembers the thread that last wrote a request on it, so `abort(thread_id)` can shut its
  socket from another thread: a read blocked on a silent server ends at once (Stop, a deadline).

httpx does not take a network backend, so the transport's connection pool is replaced by one built with
ours (`HTTPTransport._pool`). openai 3.x runs on `httpx2`/`httpcore2` (the same API under new names),
older releases on `httpx`/`httpcore`: the pair the installed SDK uses is the one used here (checked against
openai 3.57 with httpx2 2.16.2).
"""

from __future__ import annotations

import functools
import importlib
import socket
import threading
from typing import Any, Iterable

from qwenchat.config import is_global_address


def _http_modules() -> tuple[Any, Any]:
    """(httpx, httpcore) as the installed openai SDK uses them."""
    import openai._base_client as sdk

    if hasattr(sdk, "httpx2"):
        return importlib.import_module("httpx2"), importlib.import_module("httpcore2")
    return importlib.import_module("httpx"), importlib.import_module("httpcore")


httpx, httpcore = _http_modules()


class PrivateAddressRefused(httpcore.ConnectError):
    """The host resolves to an address on the server's own network; `errors.classify` reads the kind."""

    chat_error_kind = "private_address"


class Aborted(httpcore.ReadError):
    """Raised in a thread whose connection was aborted, so a retry cannot quietly open another one."""


class _TrackedStream(httpcore.NetworkStream):
    """A connection that tells its backend which thread is using it (on each write, cheap)."""

    def __init__(self, inner: httpcore.NetworkStream, backend: "GuardedBackend"):
        self._inner = inner
        self._backend = backend
        self.read = inner.read  # type: ignore[method-assign] - reads go straight through (no extra call)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._backend._using(self)
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _TrackedStream(self._inner.start_tls(ssl_context, server_hostname, timeout), self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.SyncBackend):
    def __init__(self, *, public_only: bool = False):
        self.public_only = public_only
        self._streams: dict[int, _TrackedStream] = {}
        self._live: set[int] = set()     # reader threads between `begin` and `release`
        self._aborted: set[int] = set()  # ... of which these were aborted
        self._lock = threading.Lock()

    # --- connecting -------------------------------------------------------------------------------
    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        if threading.get_ident() in self._aborted:
            raise Aborted("aborted")
        addresses = self.checked_addresses(host, port) if self.public_only else [host]
        last: Exception | None = None
        for address in addresses:
            try:
                stream = super().connect_tcp(address, port, timeout, local_address, socket_options)
                return _TrackedStream(stream, self)
            except httpcore.ConnectError as exc:  # try the next address, as socket.create_connection does
                last = exc
        raise last or httpcore.ConnectError("no address")

    @staticmethod
    def checked_addresses(host: str, port: int) -> list[str]:
        """The host's addresses, all of them global, or an exception (never connect to a private one)."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpcore.ConnectError(f"cannot resolve the host: {type(exc).__name__}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses or not all(is_global_address(a) for a in addresses):
            raise PrivateAddressRefused("the address is on the server's own network")
        return addresses

    # --- aborting ---------------------------------------------------------------------------------
    def _using(self, stream: _TrackedStream) -> None:
        ident = threading.get_ident()
        if ident in self._aborted:
            raise Aborted("aborted")
        self._streams[ident] = stream

    def begin(self, thread_id: int) -> None:
        """A reader thread starts (called by that thread, before any I/O)."""
        with self._lock:
            self._live.add(thread_id)
            self._aborted.discard(thread_id)

    def abort(self, thread_id: int | None) -> None:
        """Shut the socket `thread_id` is using, so its blocked read returns now; later I/O of that thread
        fails at once. Safe to call from any thread, and for a thread that has ended or has no connection
        (thread ids are reused, so only a live reader is marked)."""
        with self._lock:
            if thread_id not in self._live:
                return
            self._aborted.add(thread_id)
            stream = self._streams.pop(thread_id, None)
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the base method: works on a TLS socket too
            except OSError:
                pass

    def release(self, thread_id: int | None) -> None:
        """Forget a finished thread (its id may be reused by a new one)."""
        with self._lock:
            self._live.discard(thread_id)
            self._streams.pop(thread_id, None)
            self._aborted.discard(thread_id)


@functools.lru_cache(maxsize=1)
def _ssl_context() -> Any:
    """One TLS context per process (loading the CA bundle takes a noticeable moment; the context is only
    read once built, and is safe to share between connections and threads)."""
    return httpx.create_ssl_context()


def http_client(backend: GuardedBackend, *, timeout: float) -> httpx.Client:
    """An httpx client for the openai SDK: no redirects, our backend; no proxies from the environment when
    the backend checks addresses (a proxy would connect wherever it likes)."""
    import openai

    context = _ssl_context()
    transport = httpx.HTTPTransport(verify=context)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=context, max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0,
        network_backend=backend)
    return openai.DefaultHttpxClient(transport=transport, follow_redirects=False, timeout=timeout,
                                     trust_env=not backend.public_only)
