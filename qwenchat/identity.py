"""Who owns a conversation, and where conversations are kept.

Every saved conversation has an owner, and the store answers only its owner:
- a signed-in user (`st.login`) owns by e-mail;
- in single-user mode (`QWENCHAT_SINGLE_USER=1`, for one's own machine) everything belongs to "local",
  so every tab lists every conversation;
- otherwise a visitor is a token carried in the URL (`?o=`): bookmark the page and the history comes
  back. The store keeps only a hash of the token, so its file cannot be turned into links.

A token is minted by this server: 128 random bits plus a 128-bit HMAC tag made with the server's secret
(`mint_token`). Only a token whose tag verifies opens a history; any other (an attacker's chosen string,
a link from another server, a tampered one) gets a freshly minted token and `Owner.token_rejected`, so the
page can say that a new private history was started. The secret is `QWENCHAT_SECRET` when set, else a
random one kept in a file next to the SQLite database (`server_secret`); see `secret_for`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from qwenchat import settings as table
from qwenchat.database_url import from_secrets, is_postgres_url
from qwenchat.store import default_path

_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")


_RANDOM_CHARS = 22  # token_urlsafe(16): 128 bits
_TAG_BYTES = 16
_MINTED_CHARS = _RANDOM_CHARS + 22  # + 128-bit tag, base64url without padding
_TAG_CONTEXT = b"qwenchat owner token v1\x00"
SECRET_NAME = "QWENCHAT_SECRET"


@dataclass(frozen=True)
class Owner:
    id: str            # what the store keys on
    url_token: str = ""  # what the URL carries ("" when the owner is not a URL token)
    kind: str = "token"  # signed_in | single | token
    token_rejected: bool = False  # the URL carried a token this server did not make; a new one was given


def looks_like_id(value: str) -> bool:
    """A well-formed id or token: 128 random bits or more, URL-safe. Anything else opens nothing."""
    return bool(_TOKEN.fullmatch(value or ""))


def _tag(secret: bytes, random_part: str) -> str:
    digest = hmac.new(secret, _TAG_CONTEXT + random_part.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_TAG_BYTES]).rstrip(b"=").decode("ascii")


def mint_token(secret: bytes) -> str:
    """A new owner token: 22 random characters, then their 22-character tag under `secret`."""
    random_part = secrets.token_urlsafe(16)
    return random_part + _tag(secret, random_part)


def is_minted(token: str, secret: bytes) -> bool:
    """Whether `token` was minted with `secret` (compared in constant time)."""
    if not isinstance(token, str) or len(token) != _MINTED_CHARS or not _TOKEN.fullmatch(token):
        return False
    random_part, tag = token[:_RANDOM_CHARS], token[_RANDOM_CHARS:]
    return hmac.compare_digest(tag, _tag(secret, random_part))


def owner_for(*, signed_in_email: str = "", url_token: str = "", single_user: bool = False,
              secret: bytes | None = None) -> Owner:
    """Who this browser session is. With `secret`, only a token minted with it is accepted from the URL;
    anything else gives a fresh minted token and `token_rejected` (when a token was there at all).
    Without `secret` (the old behaviour, until every caller passes one) any well-formed token is taken."""
    if signed_in_email:
        return Owner("user:" + signed_in_email.strip().lower(), "", "signed_in")
    if single_user:
        return Owner("local", "", "single")
    if secret is None:
        token = url_token if looks_like_id(url_token) else secrets.token_urlsafe(16)
        return Owner(_token_id(token), token, "token")
    if url_token and is_minted(url_token, secret):
        return Owner(_token_id(url_token), url_token, "token")
    token = mint_token(secret)
    return Owner(_token_id(token), token, "token", token_rejected=bool(url_token))


def _token_id(token: str) -> str:
    return "anon:" + hashlib.sha256(token.encode()).hexdigest()


# --- the server's secret --------------------------------------------------------------------------

_known: dict[str, bytes] = {}  # read once per process: every rerun asks
_fallback_lock = threading.Lock()
_fallback: dict[str, bytes] = {}


def server_secret(db_path: str | os.PathLike[str]) -> bytes:
    """The secret kept next to the SQLite database, in `<db>.secret` (mode 0600), created on first use.

    Creation is atomic: the secret is written to a private temporary file, which is then hard-linked to
    its name (a link never replaces an existing file), so two processes starting together agree on one
    secret and nobody reads a half-written one. Raises OSError when the folder cannot be written or read.
    """
    path = Path(f"{os.fspath(db_path)}.secret")
    known = _known.get(str(path))
    if known is not None:
        return known
    for _ in range(50):
        try:
            value = path.read_bytes().strip()
        except FileNotFoundError:
            value = None
        if value is not None:
            if len(value) >= 32:
                _known[str(path)] = value
                return value
            time.sleep(0.02)  # created by another process an instant ago (the O_EXCL fallback path)
            continue
        _create_secret(path)
    raise OSError(f"the secret file next to the database is unusable: {path.name}")


def _create_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32).encode("ascii")
    temporary = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(value)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process was first: its secret is the one
        except OSError:  # no hard links here: create the name itself, exclusively
            try:
                descriptor = os.open(path, flags, 0o600)
            except FileExistsError:
                return
            with os.fdopen(descriptor, "wb") as file:
                file.write(value)
                file.flush()
                os.fsync(file.fileno())
    finally:
        try:
            os.unlink(temporary)
        except OSError:
            pass


def secret_for(secrets_: Mapping[str, object], environ: Mapping[str, str], options: "StorageOptions") -> bytes:
    """The secret owner tokens are minted with: `QWENCHAT_SECRET` when set; else the file next to the
    database (`server_secret`); else, when conversations are not saved or that file cannot be kept, a
    random one for this process's lifetime (links then work until the server restarts). Never raises."""
    configured = str(table.read(SECRET_NAME, secrets_, environ))
    if configured:
        return configured.encode("utf-8")
    if options.saving:
        try:
            if is_postgres_url(options.path):
                from qwenchat.store_postgres import shared_secret

                return shared_secret(options.path)  # one for every server on the database
            return server_secret(options.path)
        except OSError:
            pass
    with _fallback_lock:
        return _fallback.setdefault(options.path, secrets.token_bytes(32))


def single_user(secrets_: Mapping[str, object], environ: Mapping[str, str]) -> bool:
    return bool(table.read("QWENCHAT_SINGLE_USER", secrets_, environ))


@dataclass(frozen=True)
class StorageOptions:
    path: str
    saving: bool  # False: conversations are kept in this server's memory only


def storage_options(secrets_: Mapping[str, object], environ: Mapping[str, str]) -> StorageOptions:
    """`QWENCHAT_DB` (secrets, then the environment), else `[connections.qwenchat]` in secrets.toml, else
    the default file. A `postgresql://` URL is kept as it is (its password included: never show it)."""
    path = table.raw("QWENCHAT_DB", secrets_, environ) or from_secrets(secrets_) or str(default_path())
    saving = bool(table.read("QWENCHAT_SAVE", secrets_, environ))
    return StorageOptions(path if is_postgres_url(path) else str(Path(path).expanduser()), saving)
