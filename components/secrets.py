"""The app's secrets (`.streamlit/secrets.toml`), read so that a file that does not parse fails closed.

Streamlit (checked on 1.67) raises the same `StreamlitSecretNotFoundError` (a `FileNotFoundError`) for a
missing file and for a broken one, told apart by its `error_id`: "no-secrets-found" when there is no
secrets file at all; "failed-parsing-secrets-file" (with the `TOMLDecodeError` as its cause) for a file
that is not valid TOML, "invalid-secrets-path" and "secrets-directory-entry-not-folder" for other
unreadable sources. Only the first means "no secrets". Anything else is broken: the access code, the
limits and BYOK may be in that file, so running without it would silently open the app while the
environment's key keeps paying. `components.gate.require_access()` stops every page instead.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

_MISSING = "no-secrets-found"


def _load() -> tuple[dict[str, Any], bool]:
    """(secrets as a plain dict, broken)."""
    try:
        return {name: st.secrets[name] for name in st.secrets.keys()}, False
    except Exception as exc:  # noqa: BLE001 - decided below: missing, or broken
        return {}, not _is_missing(exc)


def _is_missing(exc: BaseException) -> bool:
    error_id = getattr(exc, "error_id", None)
    if error_id is not None:
        return error_id == _MISSING
    # Streamlit releases without error ids: only a plain "no secrets file" counts as missing.
    return isinstance(exc, FileNotFoundError) and exc.__cause__ is None and "No secrets" in str(exc)


def read_secrets() -> dict[str, Any]:
    """`st.secrets` as a plain dict; empty when there is no secrets file (and when it is broken: check
    `secrets_broken()` first, as the gate does)."""
    return _load()[0]


def secrets_broken() -> bool:
    """A secrets file exists but cannot be read. Never says what is wrong with it (it may quote a key)."""
    return _load()[1]
