"""`python -m qwenchat.knowledge` as an operator runs it: the app's settings, the fake server.

Most steps call the command's `main()` in this process, with the settings a real run has (the environment,
`.env` in the working folder, HOME) and its stdout and stderr captured: a new interpreter per step only
imported the same modules (jieba, the tokenizer) again, seven times a run. One test starts the real entry
point, `python -m qwenchat.knowledge`, as a process of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from qwenchat.knowledge import __main__ as knowledge_cli
from tests.fake_dashscope import VALID_KEY
from tests.knowledge_helpers import EN_CONTACTS, ZH_CONTACTS, ZH_PHONES

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(fake, tmp_path, monkeypatch, capsys):
    """`cli(*args)` runs the command's `main()` here, as `python -m qwenchat.knowledge *args` would run in
    `tmp_path` with an operator's environment: none of the developer's settings, the fake server's key and
    URL, the database in `tmp_path`, an English locale."""
    fake.reset()
    for name in list(os.environ):
        if name.startswith(("DASHSCOPE_", "QWENCHAT_", "QWEN_")):
            monkeypatch.delenv(name)
    for name, value in dict(HOME=str(tmp_path), DASHSCOPE_API_KEY=VALID_KEY, DASHSCOPE_BASE_URL=fake.base_url,
                            QWENCHAT_PROVIDER="dashscope", QWENCHAT_DB=str(tmp_path / "chats.db"),
                            LANG="en_US.UTF-8").items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Ran:
        monkeypatch.setattr(sys, "argv", ["python -m qwenchat.knowledge", *args])
        capsys.readouterr()  # only this run's output
        code = knowledge_cli.main()
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


def test_add_list_search_and_remove(cli, tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 nothing else")
    added = cli("add", "--kb", "demo", str(ZH_CONTACTS), str(EN_CONTACTS), str(broken), str(ZH_PHONES))
    assert added.returncode == 1  # one file failed, the others went in
    assert "embed 0/" in added.stderr and "done 1/1" in added.stderr
    assert 'broken.pdf: failed: The file "broken.pdf" is damaged' in added.stderr
    assert f"{ZH_PHONES.name}: ok, 6 passages" in added.stderr

    listed = cli("list")
    assert listed.returncode == 0 and listed.stdout.startswith("demo (4 files,")
    assert f"  {EN_CONTACTS.name}: ok" in listed.stdout and "  broken.pdf: failed, 0 passages" in listed.stdout

    found = cli("search", "--kb", "demo", "--top-k", "3", "--json", "Which department is Michael Johnson in?")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert len(hits) == 3 and hits[0]["score"] >= hits[-1]["score"]
    assert {"file", "text", "score", "page", "heading", "chunk_id", "start", "end"} <= set(hits[0])
    assert any("Michael Johnson" in h["text"] for h in hits)
    source = EN_CONTACTS.read_text(encoding="utf-8")
    assert all(h["text"] in source for h in hits if h["file"] == EN_CONTACTS.name)

    removed = cli("remove", "--kb", "demo", ZH_PHONES.name)
    assert removed.returncode == 0 and "Removed 1 files." in removed.stderr
    assert cli("remove", "--kb", "demo", ZH_PHONES.name).returncode == 1
    assert cli("remove", "--kb", "demo", "--all").returncode == 0
    assert "demo (0 files, 0 passages)" in cli("list").stdout
    everything = added.stdout + added.stderr + listed.stdout + found.stdout + found.stderr + removed.stderr
    assert VALID_KEY not in everything


def test_an_unknown_knowledge_base_is_a_clear_error(cli):
    result = cli("search", "--kb", "nope", "--json", "x")
    assert result.returncode == 2 and 'There is no knowledge base "nope".' in result.stderr


def test_the_real_command_reads_its_settings_from_the_environment_and_answers(cli, fake, tmp_path):
    """`python -m qwenchat.knowledge` as a process of its own, on a knowledge base added above: the module
    runs as a program, finds the database, key and endpoint in its environment (the query is embedded
    through the fake server, with the key), prints JSON on stdout and exits 0, and never prints the key."""
    assert cli("add", "--kb", "demo", str(EN_CONTACTS)).returncode == 0
    fake.reset()
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # the operator's environment the fixture set
    found = subprocess.run([sys.executable, "-m", "qwenchat.knowledge", "search", "--kb", "demo", "--top-k", "3",
                            "--json", "Which department is Michael Johnson in?"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert len(hits) == 3 and any("Michael Johnson" in h["text"] for h in hits)
    assert all(h["file"] == EN_CONTACTS.name for h in hits)
    assert [r["authorization"] for r in fake.embedding_requests] == [f"Bearer {VALID_KEY}"]
    assert VALID_KEY not in found.stdout + found.stderr
