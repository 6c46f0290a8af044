"""The knowledge base wired to this browser session: the owner's `KnowledgeBases` (in the same SQLite file
as the conversations), the provider that embeds for it, who pays, and the session's upload queue.

The owner is the conversations' owner (`components.session.owner`), so the page and the chat see the same
knowledge bases and nobody else's. The provider is the chat's (the key typed in the sidebar, or the app's).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from components import session
from components.lang import lang
from components.secrets import read_secrets
from qwenchat import config, identity
from qwenchat.chat.spending import Spending
from qwenchat.i18n import Msg
from qwenchat.knowledge import KnowledgeBases
from qwenchat.knowledge.uploads import UploadQueue
from qwenchat.rendering import escape_inline


def settings() -> config.Settings:
    """The chat's settings as chosen on the Settings page now (a key typed there, with its region or URL,
    pays for the embeddings and evaluations; else the app's own key, or none in BYOK mode)."""
    from components import settings as settings_page

    found = settings_page.choices()
    return found.resolve(found.model)


def database() -> str:
    """The conversations' SQLite file; with saving off, a file of this process in the temporary folder."""
    options = identity.storage_options(read_secrets(), os.environ)
    if options.saving:
        return options.path
    return str(Path(tempfile.gettempdir()) / f"qwenchat-knowledge-{os.getpid()}.db")


def bases(current: config.Settings | None = None) -> KnowledgeBases:
    """This owner's knowledge bases, embedding with the chat's provider (keywords only without a key)."""
    current = current or settings()
    provider = session.client_for(current) if current.ready else None
    return KnowledgeBases.from_settings(database(), session.owner(), provider, secrets=read_secrets())


def spending() -> Spending:
    return session.spending(settings())


def uploads() -> UploadQueue:
    return session.state().uploads


def said(msg: Msg) -> str:
    """A core message in the visitor's language with the names in it (files, knowledge bases) escaped, as
    Streamlit's alerts render Markdown and a file name is anybody's text."""
    params = {k: escape_inline(v) if isinstance(v, str) and k in NAMES else v for k, v in msg.params.items()}
    return Msg(msg.id, params).text(lang())


NAMES = ("name", "file")
