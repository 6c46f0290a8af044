"""The knowledge base from a terminal, for operators, on the app's settings and database:

    python -m qwenchat.knowledge add --kb NAME FILE...        # creates the knowledge base if missing
    python -m qwenchat.knowledge list [--json]
    python -m qwenchat.knowledge remove --kb NAME (FILE... | --all)
    python -m qwenchat.knowledge search --kb NAME [--top-k K] [--rerank] [--json] "question"

Settings as the app and `python -m qwenchat` read them (`.env`, the environment: DASHSCOPE_API_KEY,
DASHSCOPE_BASE_URL, QWENCHAT_DB, QWENCHAT_EMBEDDING_MODEL, QWENCHAT_EMBEDDING_DIMENSIONS), owner "local" (the console's and single-user
mode's). Progress goes to stderr; `--json` output to stdout. The key is never printed. Exit status: 0, 1
when a file failed or nothing was found to remove, 2 for a usage error or an unknown knowledge base.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from qwenchat import config
from qwenchat.console import OWNER, chosen_language
from qwenchat.i18n import t
from qwenchat.knowledge.model import FAILED, KnowledgeBaseNotFound
from qwenchat.knowledge.service import KnowledgeBases


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m qwenchat.knowledge", description=__doc__.splitlines()[0])
    p.add_argument("--lang", choices=("zh", "en"), help="language of messages (default: the locale)")
    sub = p.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add files to a knowledge base (created if missing)")
    add.add_argument("--kb", required=True)
    add.add_argument("files", nargs="+")
    listing = sub.add_parser("list", help="knowledge bases and their files")
    listing.add_argument("--json", action="store_true")
    remove = sub.add_parser("remove", help="remove files from a knowledge base")
    remove.add_argument("--kb", required=True)
    remove.add_argument("files", nargs="*")
    remove.add_argument("--all", action="store_true")
    search = sub.add_parser("search", help="search a knowledge base")
    search.add_argument("--kb", required=True)
    search.add_argument("--top-k", type=int, default=5)
    search.add_argument("--rerank", action="store_true")
    search.add_argument("--json", action="store_true")
    search.add_argument("question")
    return p


def open_knowledge(environ: Any) -> KnowledgeBases:
    from qwenchat.database_url import is_postgres_url
    from qwenchat.providers import provider_for
    from qwenchat.store import default_path

    settings = config.resolve(environ=environ)
    provider = provider_for(settings) if settings.ready else None
    configured = str(environ.get("QWENCHAT_DB", "")).strip()  # a URL is no path (see `service.sqlite_path`)
    return KnowledgeBases.from_settings(configured if is_postgres_url(configured) else default_path(), OWNER,
                                        provider, environ=environ)


def run(argv: list[str], stdout: TextIO, stderr: TextIO, environ: Any) -> int:
    lang = chosen_language(argv, environ)
    args = parser().parse_args(argv)
    kbs = open_knowledge(environ)
    if args.command == "list":
        return _list(kbs, args, stdout, lang)
    kb = kbs.find(args.kb)
    if kb is None and args.command == "add":
        kb = kbs.create(args.kb)
    if kb is None:
        stderr.write(t("kb.not_found", lang, name=args.kb) + "\n")
        return 2
    if args.command == "add":
        failed = 0
        for path in args.files:
            name = Path(path).name

            def progress(phase: str, done: int, total: int, name: str = name) -> None:
                stderr.write(t("kb.cli.progress", lang, name=name, phase=phase, done=done, total=total) + "\n")
                stderr.flush()

            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                stderr.write(t("kb.cli.failed", lang, name=name, reason=exc.strerror or type(exc).__name__) + "\n")
                failed += 1
                continue
            report = kbs.add_file(kb.id, name, data, progress=progress)
            if report.status == FAILED:
                failed += 1
                reason = report.error.text(lang) if report.error else report.error_kind
                stderr.write(t("kb.cli.failed", lang, name=name, reason=reason) + "\n")
            else:
                stderr.write(t("kb.cli.added", lang, name=name, status=report.status, chunks=report.chunks,
                               tokens=report.tokens, embedding_tokens=report.embedding_tokens) + "\n")
        return 1 if failed else 0
    if args.command == "remove":
        names = [f.name for f in kbs.files(kb.id)] if args.all else [Path(f).name for f in args.files]
        removed = sum(kbs.remove_file(kb.id, name) for name in names)
        stderr.write(t("kb.cli.removed", lang, count=removed) + "\n")
        return 0 if removed or args.all else 1
    hits = kbs.search(kb.id, args.question, top_k=args.top_k, rerank=args.rerank)
    for notice in hits.notices:
        stderr.write(notice.text(lang) + "\n")
    if args.json:
        json.dump([asdict(h) for h in hits], stdout, ensure_ascii=False, indent=2)
        stdout.write("\n")
    else:
        for n, h in enumerate(hits, start=1):
            where = f"p.{h.page}" if h.page else h.heading
            stdout.write(f"{n}. [{h.score:.3f}] {h.file} {where}\n   {' '.join(h.text.split())[:300]}\n")
    return 0


def _list(kbs: KnowledgeBases, args: argparse.Namespace, stdout: TextIO, lang: str) -> int:
    bases = kbs.list()
    if args.json:
        out = [{**asdict(b), "file_list": [{**asdict(f), "error": f.error.text(lang) if f.error else None}
                                           for f in kbs.files(b.id)]} for b in bases]
        json.dump(out, stdout, ensure_ascii=False, indent=2)
        stdout.write("\n")
        return 0
    if not bases:
        stdout.write(t("kb.cli.no_bases", lang) + "\n")
    for b in bases:
        stdout.write(t("kb.cli.base", lang, name=b.name, files=b.files, chunks=b.chunks) + "\n")
        for f in kbs.files(b.id):
            stdout.write(t("kb.cli.file", lang, name=f.name, status=f.status, chunks=f.chunks) + "\n")
    return 0


def main() -> int:
    config.load_dotenv_once()
    try:
        return run(sys.argv[1:], sys.stdout, sys.stderr, os.environ)
    except KnowledgeBaseNotFound:
        return 2


if __name__ == "__main__":
    sys.exit(main())
