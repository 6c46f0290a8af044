"""The console chat, `python -m qwenchat`: through a pipe and a terminal as its own process, and in-process
through `run()`, always against the fake DashScope with an environment holding nothing of the developer's.
It speaks one language, the locale's or `--lang`'s: the tests look for catalog texts in that language."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import select
import signal
import string
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from qwenchat.console import chosen_language, run
from qwenchat.i18n import LANGS, MESSAGES, t
from tests.fake_dashscope import VALID_KEY, FakeDashScope

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-m", "qwenchat"]
IDLE = 90.0  # seconds without a byte of output before a terminal test gives up (a loaded machine is slow)
CHINESE = "zh_CN.UTF-8"  # a locale the process only reads (it need not be installed)


def words(message_id: str, lang: str) -> list[str]:
    """The literal pieces of a catalog text, its fields aside: what a test can look for in the output."""
    template = MESSAGES[message_id][LANGS.index(lang)]
    return [text for text, *_ in string.Formatter().parse(template) if text.strip(" ·[]")]


@pytest.fixture(scope="module")
def fake():
    with FakeDashScope() as server:
        yield server


@pytest.fixture
def env(fake, tmp_path):
    """A process environment with the fake's key and URL, and no home .env, secrets or settings; English
    (`LANG=C.UTF-8`) unless a test sets `LANG`."""
    fake.reset()
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8",
            "PYTHONPATH": str(ROOT), "QWENCHAT_DB": str(tmp_path / "chats.db"),
            "DASHSCOPE_API_KEY": VALID_KEY, "DASHSCOPE_BASE_URL": fake.base_url, "QWENCHAT_ALLOW_PRIVATE_URLS": "1",
            "QWENCHAT_PROVIDER": "dashscope"}


def chat_requests(fake):
    return [r for r in fake.requests if r["path"].endswith("/chat/completions")]


class Terminal:
    """`python -m qwenchat` on a pseudo-terminal: type into it, wait for what it prints."""

    def __init__(self, env, cwd):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
        self.process = subprocess.Popen(COMMAND, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                                        start_new_session=True)
        os.close(slave)
        self.output, self.seen = b"", 0

    def expect(self, text: str) -> None:
        """Read until `text` appears after what was already matched; fail after IDLE seconds of silence."""
        wanted = text.encode()
        while (found := self.output.find(wanted, self.seen)) < 0:
            ready, _, _ = select.select([self.master], [], [], IDLE)
            data = self._read() if ready else b""
            if not data:
                pytest.fail(f"{text!r} never came; the terminal showed:\n{self.output.decode(errors='replace')}")
            self.output += data
        self.seen = found + len(wanted)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait(self) -> int:
        while self._read():  # drain, so the process never blocks on a full terminal
            pass
        return self.process.wait(timeout=IDLE)

    def interrupt_at_the_prompt(self) -> int:
        """Ctrl-C at the prompt, and the exit code. Sent again while the process lives: a signal that lands
        after the prompt is printed but before readline's select() starts is handled by Python without
        waking that select(), so the first one can be lost (a user's second Ctrl-C gets through too)."""
        for _ in range(int(IDLE) // 5):
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=5)  # it writes one newline: the terminal cannot be full
                break
            except subprocess.TimeoutExpired:
                continue
        return self.wait()

    def _read(self) -> bytes:
        try:
            return os.read(self.master, 4096)
        except OSError:  # EIO: the process has closed the terminal
            return b""

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


@pytest.fixture
def terminal(env, tmp_path):
    """Starts `python -m qwenchat` on a terminal with this `LANG`."""
    started = []

    def start(locale: str) -> Terminal:
        started.append(Terminal({**env, "LANG": locale}, tmp_path))
        return started[-1]

    yield start
    for term in started:
        term.close()


def test_through_a_pipe_it_answers_counts_and_says_goodbye_without_another_request(fake, env, tmp_path):
    env["LANG"] = CHINESE
    result = subprocess.run(COMMAND, input="你好\n好的我知道了\n还有一个问题\n", env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"{t('console.prompt', 'zh')}你好\n" in result.stdout and "收到：你好" in result.stdout
    assert all(word in result.stdout for word in words("console.tokens", "zh"))
    assert not any(word in result.stdout for word in words("console.tokens", "en"))  # one language
    assert result.stdout.rstrip().endswith(t("farewell", "zh"))
    assert "\x1b[" not in result.stdout  # no colours into a pipe
    assert [r["body"]["messages"][-1]["content"] for r in chat_requests(fake)] == ["你好"]


def test_in_a_terminal_it_streams_resets_and_quits(fake, terminal):
    terminal = terminal(CHINESE)
    prompt = t("console.prompt", "zh")
    terminal.expect(t("console.commands", "zh"))
    terminal.expect(prompt)
    terminal.type("你好\n")
    terminal.expect("收到：你好")
    terminal.expect(words("console.tokens", "zh")[0])
    terminal.expect(prompt)
    terminal.type("/reset\n")
    terminal.expect(t("console.new_conversation", "zh"))
    terminal.expect(prompt)
    terminal.type("重新开始\n")
    terminal.expect("收到：重新开始")
    terminal.expect(prompt)
    sent = chat_requests(fake)[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user"] and sent[-1]["content"] == "重新开始"
    terminal.type("/quit\n")
    assert terminal.wait() == 0
    assert b"Traceback" not in terminal.output
    assert t("console.prompt", "en").encode() not in terminal.output


def test_ctrl_c_stops_the_reply_keeps_its_text_and_ctrl_c_at_the_prompt_leaves(fake, terminal):
    terminal = terminal("en_US.UTF-8")
    prompt = t("console.prompt", "en")
    terminal.expect(prompt)
    terminal.type("[[fake:slow:200]]\n")
    terminal.expect("片段1 ")
    terminal.process.send_signal(signal.SIGINT)  # what Ctrl-C sends to the terminal's foreground process
    terminal.expect(t("console.stopped", "en"))
    terminal.expect("[≈ " + words("console.tokens", "en")[0])
    terminal.expect(prompt)
    terminal.type("还在吗\n")
    terminal.expect("收到：还在吗")
    terminal.expect(prompt)
    sent = chat_requests(fake)[-1]["body"]["messages"]
    assert sent[-2]["role"] == "assistant" and sent[-2]["content"].startswith("片段0 片段1 ")
    assert len(chat_requests(fake)) == 2
    assert terminal.interrupt_at_the_prompt() == 0
    assert b"Traceback" not in terminal.output


def test_a_missing_key_is_a_clear_message_and_exit_code_2(env, tmp_path):
    del env["DASHSCOPE_API_KEY"]
    result = subprocess.run(COMMAND, input="你好\n", env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    assert result.stderr == t("console.missing_key", "en") + "\n"  # LANG=C.UTF-8: English only
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("argv, environ, lang", [
    ([], {}, "zh"), ([], {"LANG": "C.UTF-8"}, "en"), ([], {"LANG": "zh_TW.UTF-8"}, "zh"),
    ([], {"LC_ALL": "zh_CN.UTF-8", "LC_MESSAGES": "en_US.UTF-8", "LANG": "C"}, "zh"),
    ([], {"LC_MESSAGES": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
    ([], {"LC_ALL": "", "LANG": "zh_CN.UTF-8"}, "zh"),  # an empty variable is not set
    (["--lang", "en"], {"LANG": "zh_CN.UTF-8"}, "en"), (["--lang=zh"], {"LANG": "C"}, "zh"),
    (["--lang", "fr"], {"LANG": "C"}, "en"),  # not a language: the locale's, and the parser refuses it
])
def test_the_language_is_the_flags_else_the_locales_else_chinese(argv, environ, lang):
    assert chosen_language(argv, environ) == lang


def chat(argv, text, environ):
    out, err = io.StringIO(), io.StringIO()
    code = run(argv, io.StringIO(text), out, environ, err)
    return code, out.getvalue(), err.getvalue()


def test_a_limit_from_the_environment_refuses_the_second_message_without_a_request(fake, env):
    env["QWENCHAT_MAX_MESSAGES_PER_SESSION"] = "1"
    code, out, _ = chat([], "第一条\n第二条\n", env)
    assert code == 0 and "收到：第一条" in out
    assert t("quota.messages", "en", limit=1) in out and t("quota.messages", "zh", limit=1) not in out
    assert [r["body"]["messages"][-1]["content"] for r in chat_requests(fake)] == ["第一条"]


def test_the_limits_outlive_a_reset(fake, env):
    env["QWENCHAT_MAX_MESSAGES_PER_SESSION"] = "1"
    code, out, _ = chat(["--lang", "zh"], "第一条\n/reset\n第二条\n", env)
    assert t("console.new_conversation", "zh") in out
    assert t("quota.messages", "zh", limit=1) in out and t("quota.messages", "en", limit=1) not in out
    assert len(chat_requests(fake)) == 1


@pytest.mark.parametrize("lang", LANGS)
def test_a_farewell_too_short_to_tell_is_in_the_consoles_language(fake, env, lang):
    code, out, _ = chat(["--lang", lang], "bye\n", env)
    assert code == 0 and out.rstrip().endswith(t("console.bot", lang) + t("farewell", lang))
    assert chat_requests(fake) == []


def test_the_missing_key_in_chinese_when_no_locale_is_set(env):
    environ = {name: value for name, value in env.items() if name not in ("LANG", "DASHSCOPE_API_KEY")}
    assert chat([], "你好\n", environ)[1:] == ("", t("console.missing_key", "zh") + "\n")


def test_flags_choose_the_model_system_prompt_and_thinking(fake, env):
    code, out, _ = chat(["--model", "qwen-turbo", "--system", "你是营养师。", "--thinking", "--show-thinking"],
                        "[[fake:think]]\n", env)
    body = chat_requests(fake)[-1]["body"]
    assert body["model"] == "qwen-turbo" and body["messages"][0] == {"role": "system", "content": "你是营养师。"}
    assert body["enable_thinking"] is True
    assert "用户在问问题" in out and "想好了：答案是 42。" in out and t("console.thinking", "en") in out
    assert words("console.completion_reasoning", "en")[0] in out


def test_reasoning_is_hidden_unless_asked_for(fake, env):
    code, out, _ = chat([], "[[fake:think]]\n", env)
    assert "想好了：答案是 42。" in out and "用户在问问题" not in out and t("console.thinking_hidden", "en") in out


@pytest.mark.parametrize("lang, other", [("zh", "en"), ("en", "zh")])
def test_a_failed_request_names_the_problem_and_the_chat_goes_on(fake, env, lang, other):
    code, out, _ = chat(["--lang", lang], "[[fake:invalid_api_key]]\n你好\n", env)
    assert code == 0 and t("error.invalid_key", lang) in out and "收到：你好" in out
    assert t("console.retry", lang) in out
    assert t("error.invalid_key", other) not in out and t("console.retry", other) not in out


class TerminalOut(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("argv, extra, coloured", [([], {}, True), (["--no-color"], {}, False),
                                                    ([], {"NO_COLOR": "1"}, False)])
def test_colours_only_on_a_terminal_that_wants_them(fake, env, argv, extra, coloured):
    out = TerminalOut()
    assert run(argv, io.StringIO("你好\n"), out, {**env, **extra}, io.StringIO()) == 0
    assert ("\x1b[" in out.getvalue()) is coloured


def test_help_and_a_wrong_flag(env):
    code, out, _ = chat(["--help"], "", env)
    assert code == 0 and "--show-thinking" in out and "/reset" in out and t("console.help.thinking", "en") in out
    code, out, _ = chat(["--lang", "zh", "--help"], "", env)
    assert code == 0 and "--lang" in out and t("console.help.thinking", "zh") in out
    code, _, err = chat(["--lang", "fr"], "", env)
    assert code == 2 and "--lang" in err
    code, _, err = chat(["--colour"], "", env)
    assert code == 2 and "unrecognized arguments" in err


def test_save_keeps_the_conversation_in_the_database(fake, env, tmp_path, monkeypatch):
    monkeypatch.setenv("QWENCHAT_DB", str(tmp_path / "saved.db"))
    assert chat(["--save"], "你好\n", env)[0] == 0
    from qwenchat.store import open_store

    with open_store(tmp_path / "saved.db") as store:
        [summary] = store.list_conversations("local")
        assert [m.content for m in store.load("local", summary.id).messages] == ["你好", "收到：你好"]


HOSTILE = "ok \x1b]0;PWNED\x07\x1b[2J\x1b[31mred\x1b]52;c;cHduZWQ=\x07\x9b2J\r\x08\x7fend"
HOSTILE_SHOWN = "ok \\x1b]0;PWNED\\x07\\x1b[2J\\x1b[31mred\\x1b]52;c;cHduZWQ=\\x07\\x9b2J\\x08\\x7fend"  # the CR dropped


def controls(text: str) -> set[str]:
    """The C0 and C1 control characters (and DEL) in `text`, newline and tab aside."""
    return {c for c in text if (ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f) and c not in "\n\t"}


def test_control_sequences_from_the_model_are_shown_not_obeyed(fake, env, tmp_path):
    # one piece whole, then the same split inside its sequences, in the reasoning and in the reply
    pieces = [HOSTILE[:4], HOSTILE[4:5], HOSTILE[5:13], HOSTILE[13:]]
    fake.enqueue({"kind": "text", "reasoning": pieces, "chunks": [HOSTILE, "\n", *pieces]})
    result = subprocess.run([*COMMAND, "--show-thinking"], input=b"hi\n", env=env, cwd=tmp_path,
                            capture_output=True, timeout=300)
    out = result.stdout.decode()
    assert result.returncode == 0 and controls(out) == set(), sorted(controls(out))
    assert out.count(HOSTILE_SHOWN) == 3 and "\t" not in HOSTILE_SHOWN


def test_a_reply_with_windows_line_ends_prints_plain_lines():
    from qwenchat.console import Screen

    out = io.StringIO()
    Screen(out, color=False).write("第一行\r\n第二行\r\n")
    assert out.getvalue() == "第一行\n第二行\n"


def test_on_a_colour_terminal_only_the_consoles_own_colours_are_sequences(fake, env):
    fake.enqueue({"kind": "text", "chunks": ["tab\there ", HOSTILE[:3], HOSTILE[3:]]})
    out = TerminalOut()
    assert run([], io.StringIO("hi\n"), out, env, io.StringIO()) == 0
    shown = out.getvalue()
    for own in ("\x1b[2m", "\x1b[31m", "\x1b[36m", "\x1b[0m"):
        shown = shown.replace(own, "")
    assert controls(shown) == set() and f"tab\there {HOSTILE_SHOWN}" in shown


def test_a_reader_that_leaves_ends_it_quietly_as_sigpipe_does_and_the_reply_so_far_is_saved(fake, env, tmp_path):
    process = subprocess.Popen([*COMMAND, "--save"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    process.stdin.write("hi [[fake:slow:30]]\nthere\n".encode())
    process.stdin.close()
    seen = b""
    while "片段0".encode() not in seen:  # the reply is streaming: then the reader leaves, as `| head` does
        data = process.stdout.read1(4096)
        assert data, seen
        seen += data
    process.stdout.close()
    assert process.wait(timeout=300) == -signal.SIGPIPE
    assert process.stderr.read() == b""
    assert len(chat_requests(fake)) == 1  # "there" is not sent
    from qwenchat.store import open_store

    with open_store(tmp_path / "chats.db") as store:
        [summary] = store.list_conversations("local")
        question, reply = store.load("local", summary.id).messages
        assert question.content == "hi [[fake:slow:30]]" and reply.content.startswith("片段0 ")
        assert reply.status == "stopped" and reply.usage is not None
