"""Who owns a conversation, and where conversations are kept.

Every saved conversation has an owner, and the store answers only its owner:
- a signed-in user (`st.login`) owns by e-mail;
- in single-user mode (`QWENCHAT_SINGLE_USER=1`, for one's own machine) everything belongs to "local",
  so every tab lists every conversation;
- otherwise a visitor is a random 128-bit token carried in the URL (`?o=`): bookmark the page and the
  history comes back. The store keeps only a hash of the token, so its file cannot be turned into links.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from qwenchat.config import FALSE, TRUE, setting
from qwenchat.store import default_path

_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")


@dataclass(frozen=True)
class Owner:
    id: str            # what the store keys on
    url_token: str = ""  # what the URL carries ("" when the owner is not a URL token)
    kind: str = "token"  # signed_in | single | token


def looks_like_id(value: str) -> bool:
    """A well-formed id or token: 128 random bits or more, URL-safe. Anything else opens nothing."""
    return bool(_TOKEN.fullmatch(value or ""))


def owner_for(*, signed_in_email: str = "", url_token: str = "", single_user: bool = False) -> Owner:
    if signed_in_email:
        return Owner("user:" + signed_in_email.strip().lower(), "", "signed_in")
    if single_user:
        return Owner("local", "", "single")
    token = url_token if looks_like_id(url_token) else secrets.token_urlsafe(16)
    return Owner("anon:" + hashlib.sha256(token.encode()).hexdigest(), token, "token")


def single_user(secrets_: Mapping[str, object], environ: Mapping[str, str]) -> bool:
    return setting("QWENCHAT_SINGLE_USER", secrets_, environ).lower() in TRUE


@dataclass(frozen=True)
class StorageOptions:
    path: str
    saving: bool  # False: conversations are kept in this server's memory only


def storage_options(secrets_: Mapping[str, object], environ: Mapping[str, str]) -> StorageOptions:
    path = setting("QWENCHAT_DB", secrets_, environ) or str(default_path())
    saving = setting("QWENCHAT_SAVE", secrets_, environ).lower() not in FALSE
    return StorageOptions(str(Path(path).expanduser()), saving)
