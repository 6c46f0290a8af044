"""Configuration: where the API key, the endpoint and the model come from, and which key may go where.

First found wins: a key typed in the sidebar, then `st.secrets`, then the environment (with `.env`
loaded by python-dotenv). The UI reads `st.secrets` and hands a plain mapping in; nothing here imports
Streamlit.

The rule that protects a shared app's key: the operator's key (from secrets or the environment) is only
ever sent to the operator's configured base URL. A region or custom URL chosen in the sidebar is used only
with a key typed in the sidebar too, so a visitor cannot point the operator's key at a server of theirs.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from typing import Mapping

from qwenchat.catalog import DEFAULT_MODEL

REGIONS: dict[str, str] = {
    "beijing": "https://dashscope.aliyuncs.com/compatible-mode/v1",
    "singapore": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    "us": "https://dashscope-us.aliyuncs.com/compatible-mode/v1",
}
REGION_LABELS: dict[str, str] = {
    "beijing": "中国（北京）/ China (Beijing)",
    "singapore": "新加坡 / Singapore",
    "us": "美国（弗吉尼亚）/ US (Virginia)",
}
DEFAULT_BASE_URL = REGIONS["beijing"]


def region_of(base_url: str) -> str:
    """The region name of a known endpoint, or "" for any other URL."""
    wanted = base_url.rstrip("/")
    return next((name for name, url in REGIONS.items() if url == wanted), "")

KEY_NAME = "DASHSCOPE_API_KEY"
BASE_URL_NAME = "DASHSCOPE_BASE_URL"
LEGACY_BASE_URL_NAME = "DASHSCOPE_API_BASE"  # the Alibaba Cloud course's name for the same thing
MODEL_NAME = "QWEN_MODEL"

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

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)

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


TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def setting(name: str, secrets: Mapping[str, object], environ: Mapping[str, str]) -> str:
    """A setting's text from secrets, else the environment; "" when set in neither."""
    for source in (secrets, environ):
        value = source.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


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

    sidebar_key = sidebar_key.strip()
    if sidebar_key:
        # A visitor's own key may go wherever the visitor chooses.
        return Settings(sidebar_key, sidebar_base_url.strip() or operator_base_url, model, SOURCE_SIDEBAR,
                        operator_base_url)
    for source, mapping in ((SOURCE_SECRETS, secrets), (SOURCE_ENV, environ)):
        key = _first(mapping, KEY_NAME)
        if key:
            # The operator's key goes only to the operator's URL, whatever the sidebar says.
            return Settings(key, operator_base_url, model, source, operator_base_url)
    return Settings("", sidebar_base_url.strip() or operator_base_url, model, "", operator_base_url)


def url_problem(url: str, *, allow_private: bool = False) -> str:
    """Why a base URL typed in the sidebar may not be used ("" when it may).

    The server makes the request, not the visitor's browser: an address on the server's own network
    (loopback, private, link-local) would let a visitor probe it. Such URLs need
    `QWENCHAT_ALLOW_PRIVATE_URLS=1` (a laptop with a local proxy, the tests' fake server).
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("http", "https") or not host:
        return "not an http(s) URL"
    if allow_private:
        return ""
    if parts.scheme != "https":
        return "only https URLs are allowed"
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return "the host name does not resolve"
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global:
            return "the address is on the server's own network"
    return ""
