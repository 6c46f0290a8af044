"""Where the database is, told from one setting, and how a server URL is shown without its password.

`QWENCHAT_DB` is either a file path (SQLite) or a `postgresql://` URL (PostgreSQL). A URL may also come
from Streamlit's convention for connections, a `[connections.qwenchat]` table in `secrets.toml` (`url = ...`,
or `dialect`/`host`/`port`/`database`/`username`/`password` and optional `query`), read through the same
secrets mapping as every other setting.

A URL carries a password, so it is never shown as given: `redact` replaces the password (in the user part
and in a `password=` query parameter) with `***`, and `scrub` removes a known password from any text, such
as a driver's error message, before it reaches a page or a log.
"""

from __future__ import annotations

import re
from typing import Mapping
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

SCHEMES = ("postgresql://", "postgres://")
HIDDEN = "***"
_URL_IN_TEXT = re.compile(r"postgres(?:ql)?://[^\s'\"]+", re.IGNORECASE)


def is_postgres_url(value: object) -> bool:
    """Whether a `QWENCHAT_DB` value names a PostgreSQL server rather than a SQLite file."""
    return isinstance(value, str) and value.strip().lower().startswith(SCHEMES)


def password_of(url: str) -> str:
    """The password a URL carries (in its user part or a `password=` parameter), "" when none."""
    try:
        parts = urlsplit(url)
        found = unquote(parts.password or "")
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key == "password" and value:
                found = found or value
        return found
    except ValueError:
        return ""


def redact(url: str) -> str:
    """The URL with its password replaced by `***`: safe for a page, a log or an error message."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.split(':', 1)[0]}:{HIDDEN}@{host}"
        query = urlencode([(k, HIDDEN if k == "password" else v)
                           for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="/*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return f"{url.split(':', 1)[0]}://{HIDDEN}"  # not even parseable: show nothing of it


def scrub(text: str, url: str = "") -> str:
    """`text` with every PostgreSQL URL in it redacted and the password of `url` removed wherever it appears
    (a driver may quote its connection string back in an error)."""
    text = _URL_IN_TEXT.sub(lambda m: redact(m.group(0)), str(text))
    secret = password_of(url) if url else ""
    for form in {secret, quote(secret, safe="")} - {""}:
        text = text.replace(form, HIDDEN)
    return text


def from_secrets(secrets: Mapping[str, object]) -> str:
    """The URL from `[connections.qwenchat]` in secrets.toml, "" when there is none."""
    try:
        connections = secrets.get("connections") or {}
        section = connections.get("qwenchat") or {}
        get = section.get
    except Exception:  # noqa: BLE001 - an odd secrets value is no connection
        return ""
    url = str(get("url") or "").strip()
    if url:
        return url
    dialect = str(get("dialect") or "").strip().lower()
    if dialect not in ("postgresql", "postgres") or not get("host"):
        return ""
    user = quote(str(get("username") or ""), safe="")
    password = str(get("password") or "")
    auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    port = f":{int(get('port'))}" if get("port") else ""
    query = get("query") or {}
    tail = "?" + urlencode({str(k): str(v) for k, v in dict(query).items()}) if query else ""
    return f"postgresql://{auth}{get('host')}{port}/{quote(str(get('database') or ''), safe='')}{tail}"
