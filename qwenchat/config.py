"""Configuration: where the API key, the endpoint and the model come from, and which key may go where.

First found wins: a key typed on the Settings page (the UI still calls it `sidebar_key`), then
`st.secrets`, then the environment (with `.env` loaded by python-dotenv). The UI reads `st.secrets` and hands a plain mapping in; nothing here imports
Streamlit.

The rule that protects a shared app's key: the operator's key (from secrets or the environment) is only
ever sent to the operator's configured base URL. A region or custom URL chosen on the Settings page is used
only with a key typed there too, so a visitor cannot point the operator's key at a server of theirs.

An operator base URL that is not DashScope's (a local Ollama, vLLM or LM Studio) needs no key at all:
`Settings.ready` is true for it with an empty key. A visitor's own URL still needs a visitor's key.

Bad settings are messages, never exceptions: `resolve`, `url_syntax_problem` and `url_problem` do not raise,
whatever text they are given. A problem is a catalog id (`qwenchat.i18n`), "" when there is none.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

from qwenchat import settings as table
from qwenchat.catalog import DEFAULT_MODEL
from qwenchat.settings import FALSE, TRUE  # noqa: F401 - re-exported: other modules import them from here

REGIONS: dict[str, str] = {
    "beijing": "https://dashscope.aliyuncs.com/compatible-mode/v1",
    "singapore": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    "us": "https://dashscope-us.aliyuncs.com/compatible-mode/v1",
}
REGION_LABELS: dict[str, str] = {name: f"region.{name}" for name in REGIONS}  # catalog ids
DEFAULT_BASE_URL = REGIONS["beijing"]


def region_of(base_url: str) -> str:
    """The region name of a known endpoint, or "" for any other URL."""
    wanted = base_url.rstrip("/")
    return next((name for name, url in REGIONS.items() if url == wanted), "")

KEY_NAME = "DASHSCOPE_API_KEY"
BASE_URL_NAME = "DASHSCOPE_BASE_URL"
LEGACY_BASE_URL_NAME = "DASHSCOPE_API_BASE"  # the Alibaba Cloud course's name for the same thing
MODEL_NAME = "QWEN_MODEL"
PROVIDER_NAME = "QWENCHAT_PROVIDER"  # dashscope | openai | "" (by the base URL's host)
ALLOW_PRIVATE_NAME = "QWENCHAT_ALLOW_PRIVATE_URLS"
DEADLINE_NAME = "QWENCHAT_REPLY_DEADLINE_S"
DEFAULT_REPLY_DEADLINE_S = float(table.SETTINGS[DEADLINE_NAME].default)  # type: ignore[arg-type]

PROVIDER_DASHSCOPE = "dashscope"
PROVIDER_OPENAI = "openai"

SOURCE_SIDEBAR = "sidebar"
SOURCE_SECRETS = "secrets"
SOURCE_ENV = "env"


@dataclass(frozen=True)
class Settings:
    api_key: str = ""
    base_url: str = DEFAULT_BASE_URL
    model: str = DEFAULT_MODEL
    key_source: str = ""      # sidebar | secrets | env | "" (no key)
    operator_base_url: str = DEFAULT_BASE_URL
    provider: str = ""        # dashscope | openai | "" (decided by the base URL's host)
    allow_private: bool = False  # QWENCHAT_ALLOW_PRIVATE_URLS: a visitor's URL may be on this network
    reply_deadline_s: float = DEFAULT_REPLY_DEADLINE_S

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)

    @property
    def is_dashscope(self) -> bool:
        """Whether requests go to DashScope (its own hosts, or `QWENCHAT_PROVIDER=dashscope`)."""
        if self.provider in (PROVIDER_DASHSCOPE, PROVIDER_OPENAI):
            return self.provider == PROVIDER_DASHSCOPE
        return is_dashscope_url(self.base_url)

    @property
    def uses_visitor_url(self) -> bool:
        """The base URL is not the operator's (a region or URL chosen in the sidebar)."""
        return self.base_url.strip().rstrip("/") != self.operator_base_url.strip().rstrip("/")

    @property
    def visitor_pays(self) -> bool:
        """Whether this session's requests are billed to the visitor rather than the operator: the visitor's own
        key, and either the request goes to a DashScope host (which bills the key), or the operator's own URL
        is a DashScope host (then no server of the operator's is reachable: its key never leaves DashScope).
        Otherwise the operator runs a server of its own (Ollama, vLLM: they take any key), and a URL typed in
        the sidebar may be that server spelled another way (`LOCALHOST`, `127.1`, `:443`, `/./v1`): the
        operator's limits apply, as with no key. Neither URL text nor `QWENCHAT_PROVIDER=dashscope` (how to
        talk to a server, not who pays there) decides in the visitor's favour."""
        if self.key_source != SOURCE_SIDEBAR:
            return False
        return is_dashscope_url(self.base_url) or is_dashscope_url(self.operator_base_url)

    @property
    def checks_addresses(self) -> bool:
        """Connections must go to public addresses only: a visitor's own URL (with the visitor's key), unless
        `QWENCHAT_ALLOW_PRIVATE_URLS` allows private ones. The operator's URL is trusted as configured."""
        return self.key_source == SOURCE_SIDEBAR and self.uses_visitor_url and not self.allow_private

    @property
    def problem(self) -> str:
        """Why the base URL cannot be used: a catalog id ("" when it can)."""
        return url_syntax_problem(self.base_url)

    @property
    def ready(self) -> bool:
        """A request can be sent: a key, or the operator's own server that needs none (not DashScope)."""
        if self.problem:
            return False
        return self.has_key or (not self.uses_visitor_url and not self.is_dashscope)

    def __repr__(self) -> str:  # never print the key, even in a debug log
        return (f"Settings(api_key={mask(self.api_key)!r}, base_url={self.base_url!r}, model={self.model!r}, "
                f"key_source={self.key_source!r})")

    __str__ = __repr__


def mask(key: str) -> str:
    """A key as it may be shown: only that one is there and where it ends, e.g. 'sk-…3f9a'."""
    if not key:
        return ""
    return f"{key[:3]}…{key[-4:]}" if len(key) >= 12 else "…"


_dotenv_loaded: set[str | None] = set()


def load_dotenv_once(path: str | None = None) -> None:
    """Load `.env` into the environment without overriding variables already set; once per process (every
    rerun calls this, and searching for the file each time is wasted work)."""
    if path in _dotenv_loaded:
        return
    _dotenv_loaded.add(path)
    try:
        from dotenv import load_dotenv
    except ImportError:  # python-dotenv is in requirements; a bare environment still works
        return
    load_dotenv(path, override=False)


def setting(name: str, secrets: Mapping[str, object], environ: Mapping[str, str]) -> str:
    """A setting's text from secrets, else the environment; "" when set in neither (`settings.raw`)."""
    return table.raw(name, secrets, environ)


def _first(mapping: Mapping[str, object], *names: str) -> str:
    for name in names:
        value = mapping.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def resolve(
    *,
    sidebar_key: str = "",
    sidebar_base_url: str = "",
    sidebar_model: str = "",
    secrets: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Decide the key, base URL and model for this browser session."""
    secrets = secrets or {}
    environ = os.environ if environ is None else environ

    operator_base_url = _first(secrets, BASE_URL_NAME, LEGACY_BASE_URL_NAME) or \
        _first(environ, BASE_URL_NAME, LEGACY_BASE_URL_NAME) or DEFAULT_BASE_URL
    model = sidebar_model.strip() or _first(secrets, MODEL_NAME) or _first(environ, MODEL_NAME) or DEFAULT_MODEL

    provider = str(table.read(PROVIDER_NAME, secrets, environ)).lower()
    extra = {"provider": provider if provider in (PROVIDER_DASHSCOPE, PROVIDER_OPENAI) else "",
             "allow_private": bool(table.read(ALLOW_PRIVATE_NAME, secrets, environ)),
             "reply_deadline_s": float(table.read(DEADLINE_NAME, secrets, environ))}  # type: ignore[arg-type]

    sidebar_key = sidebar_key.strip()
    if sidebar_key:
        # A visitor's own key may go wherever the visitor chooses.
        return Settings(sidebar_key, sidebar_base_url.strip() or operator_base_url, model, SOURCE_SIDEBAR,
                        operator_base_url, **extra)
    for source, mapping in ((SOURCE_SECRETS, secrets), (SOURCE_ENV, environ)):
        key = _first(mapping, KEY_NAME)
        if key:
            # The operator's key goes only to the operator's URL, whatever the sidebar says.
            return Settings(key, operator_base_url, model, source, operator_base_url, **extra)
    return Settings("", sidebar_base_url.strip() or operator_base_url, model, "", operator_base_url, **extra)


def is_dashscope_url(url: str) -> bool:
    """Whether the URL's host is one of DashScope's: `dashscope*.aliyuncs.com` and names under it (a VPC
    endpoint such as `vpc-cn-beijing.dashscope.aliyuncs.com`). Not every `aliyuncs.com` host: an operator's
    own model behind Function Compute (`<account>.cn-hangzhou.fc.aliyuncs.com`) is an OpenAI-compatible
    server, and a key sent there bills nobody's DashScope account."""
    try:
        host = (urlsplit(url.strip()).hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    labels = host.split(".")
    return len(labels) >= 3 and labels[-2:] == ["aliyuncs", "com"] and labels[-3].startswith("dashscope")


def url_syntax_problem(url: object) -> str:
    """Why a base URL cannot even be tried, as a catalog id ("" when it can): not http(s), no host, a port out
    of range, a malformed IPv6 literal, spaces or control characters. No network access."""
    if not isinstance(url, str) or not url.strip():
        return "url.not_a_url"
    text = url.strip()
    if any(ord(c) < 33 or c == "\x7f" for c in text):
        return "url.not_a_url"
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError when out of range or not a number
    except ValueError:
        return "url.bad_host_or_port"
    if parts.scheme not in ("http", "https"):
        return "url.not_http"
    if not host:
        return "url.no_host"
    if ":" not in host:  # a name (or IPv4 address), not an IPv6 literal
        try:
            if len(host.encode("idna")) > 253:
                raise UnicodeError
        except UnicodeError:  # an empty or over-long label, or characters no host name may have
            return "url.bad_host_name"
    try:
        import httpx

        httpx.URL(text)
    except Exception:  # noqa: BLE001 - httpx is stricter than urlsplit; what it refuses cannot be used
        return "url.not_a_url"
    return ""


def url_problem(url: str, *, allow_private: bool = False) -> str:
    """Why a base URL typed on the Settings page may not be used, as a catalog id ("" when it may). Never raises.

    The server makes the request, not the visitor's browser: an address on the server's own network
    (loopback, private, link-local) would let a visitor probe it. Such URLs need
    `QWENCHAT_ALLOW_PRIVATE_URLS=1` (a laptop with a local proxy, the tests' fake server). This check is
    the early, friendly one; the connection itself is checked again when it is made
    (`qwenchat.providers.network`), so a name that later resolves elsewhere is refused too.
    """
    problem = url_syntax_problem(url)
    if problem:
        return problem
    if allow_private:
        return ""
    parts = urlsplit(url.strip())
    if parts.scheme != "https":
        return "url.https_only"
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        addresses = {str(info[4][0]) for info in infos}
    except (OSError, UnicodeError, ValueError):
        return "url.no_resolve"
    if not addresses or not all(is_global_address(address) for address in addresses):
        return "url.private"
    return ""


def is_global_address(address: str) -> bool:
    """Whether an IP address (text, with or without an IPv6 zone) is a global, routable one."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:  # an IPv4 address in IPv6 clothes is judged as itself
            return is_global_address(str(embedded))
    if any(ip in network for network in _NOT_GLOBAL):
        return False
    return ip.is_global and not ip.is_multicast


# Ranges some Python versions call global: site-local IPv6 (deprecated) and IANA's IPv4 special block.
_NOT_GLOBAL = (ipaddress.ip_network("fec0::/10"), ipaddress.ip_network("192.0.0.0/24"))
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"),
          ipaddress.IPv6Network("::ffff:0:0:0/96"))  # NAT64, local-use NAT64, IPv4-translated


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside a mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), 6to4 (2002::/16) or NAT64
    (64:ff9b::/96) IPv6 address: on a host with such routes they reach that IPv4 address."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in network for network in _NAT64) or (int(ip) >> 32 == 0 and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None
