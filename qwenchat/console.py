"""The console chat: `python -m qwenchat`, the course's Project 1 in a terminal, on the app's turn engine.

    python -m qwenchat [--model M] [--thinking] [--show-thinking] [--system TEXT] [--save] [--no-color]
                       [--lang zh|en]

Each line typed is one message; the reply streams in as it arrives, followed by its token counts. `/reset`
starts a new conversation (the session's limits are not reset, as in the app), `/quit` ends. When the end
detector hears a goodbye ("好的我知道了"), the farewell 感谢您的咨询，再见！ is printed and the program ends.

Settings come from where the app reads them: `.env` (loaded by `main`), then the environment
(`DASHSCOPE_API_KEY`, `DASHSCOPE_BASE_URL`, `QWEN_MODEL`, the `QWENCHAT_*` limits). Conversations are kept
in memory unless `--save` writes them to the app's database (owner "local", as in single-user mode).

When standard input is not a terminal, it reads one message per line, so it can be scripted:
`printf '你好\\n再见\\n' | python -m qwenchat`. Exit codes: 0 for a normal end (the farewell, `/quit`, end
of input, Ctrl-D or Ctrl-C at the prompt), 2 for a missing key or a wrong flag, 1 when `--save` cannot open
the database. When the reader of its output leaves (`| head`), it ends silently as SIGPIPE ends `cat` (the
shell sees 141), the reply so far kept and saved as for Ctrl-C. Ctrl-C while a reply streams stops that
reply (the text received is kept, as the app's Stop keeps it) and returns to the prompt.

It speaks one language, `--lang zh|en`, by default the locale's (`LC_ALL`, then `LC_MESSAGES`, then `LANG`:
zh* is Chinese, anything else English; Chinese when none is set). Every word comes from `qwenchat.i18n`; the
farewell follows the conversation's language, this one when the conversation has too few words to tell.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from contextlib import redirect_stderr, redirect_stdout
from typing import Any, Mapping, TextIO

from qwenchat import config, errors
from qwenchat.budget import default_budget
from qwenchat.catalog import lookup
from qwenchat.chat.engine import ChatEngine, TurnOptions
from qwenchat.chat.events import Closed, Refused, ReplyEnded, ReplyProgress, ReplyStarted
from qwenchat.chat.saving import Saver, SaveState
from qwenchat.chat.spending import Spending
from qwenchat.conversation import DEFAULT_SYSTEM_PROMPT, FAILED, INTERRUPTED, STOPPED, Conversation, Message
from qwenchat.i18n import LANGS, language_from_locale, t
from qwenchat.quotas import DailyCounter, Limits, SessionQuota

OWNER = "local"  # the owner of conversations saved with --save: the app's single-user owner
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")  # the first one set decides, as for gettext

DIM, RED, CYAN, RESET = "\x1b[2m", "\x1b[31m", "\x1b[36m", "\x1b[0m"
# C0 but newline and tab, DEL, C1: what a terminal could take for (part of) a command
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # \r is dropped instead (see `write`)


def provider_for(settings: config.Settings) -> Any:
    """DashScope, or any OpenAI-compatible server (a local Ollama or vLLM), by the base URL."""
    from qwenchat import providers

    return providers.provider_for(settings)


def locale_language(environ: Mapping[str, str]) -> str:
    """"zh" or "en" from the first of LC_ALL, LC_MESSAGES, LANG that is set (and not empty); "zh" when none is."""
    for name in LOCALE_VARIABLES:
        if environ.get(name):
            return language_from_locale(environ[name])
    return language_from_locale(None)


def chosen_language(argv: list[str], environ: Mapping[str, str]) -> str:
    """The language of `--lang` when it names one, else the locale's: known before the parser is built, so
    that `--help` already speaks it."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--lang", default=None)
    try:
        lang = early.parse_known_args(argv)[0].lang
    except SystemExit:  # "--lang" with no value: the real parser says so
        lang = None
    return lang if lang in LANGS else locale_language(environ)


def parser(lang: str = "zh") -> argparse.ArgumentParser:
    commands = t("console.commands", lang)
    p = argparse.ArgumentParser(prog="python -m qwenchat",
                                description=t("console.help.description", lang, commands=commands),
                                epilog=t("console.help.epilog", lang))
    p.add_argument("--model", default="", help=t("console.help.model", lang))
    p.add_argument("--thinking", action="store_true", help=t("console.help.thinking", lang))
    p.add_argument("--show-thinking", action="store_true", help=t("console.help.show_thinking", lang))
    p.add_argument("--system", default=None, help=t("console.help.system", lang))
    p.add_argument("--save", action="store_true", help=t("console.help.save", lang))
    p.add_argument("--no-color", action="store_true", help=t("console.help.no_color", lang))
    p.add_argument("--lang", choices=LANGS, default=lang, help=t("console.help.lang", lang))
    return p


class Screen:
    """Where the chat is printed: flushed at every write, coloured only when allowed."""

    def __init__(self, out: TextIO, color: bool, lang: str = "zh"):
        self.out, self.color, self.lang = out, color, lang

    def say(self, message_id: str, style: str = "", **params: Any) -> None:
        """One line of the catalog, in this screen's language."""
        self.write(t(message_id, self.lang, **params) + "\n", style)

    def write(self, text: str, style: str = "") -> None:
        """`text` with every control character shown as `\\xNN`: the model's text cannot retitle the
        terminal, clear it or write its clipboard. Character by character, so a sequence split across two
        deltas is shown too; only `style` adds sequences. A carriage return is dropped: models end lines with
        "\\r\\n" now and then, and alone it could only write over what the line already showed."""
        text = CONTROL.sub(lambda match: f"\\x{ord(match[0]):02x}", text.replace("\r", ""))
        if style and self.color and text.strip():
            body = text.rstrip("\n")
            text = f"{style}{body}{RESET}{text[len(body):]}"  # the colour ends before the line does
        if text:
            self.out.write(text)
            self.out.flush()


class ReplyPrinter:
    """Prints one streaming reply: only what is new since the last event, reasoning apart."""

    def __init__(self, screen: Screen, show_thinking: bool):
        self.screen, self.show_thinking = screen, show_thinking
        self.text_shown = self.reasoning_shown = 0
        self.thinking_noted = False

    def start(self) -> None:
        self.screen.write(t("console.bot", self.screen.lang), CYAN)

    def show(self, message: Message) -> None:
        reasoning, text = message.reasoning, message.content
        if len(reasoning) > self.reasoning_shown and not self.text_shown:
            if not self.thinking_noted:
                lang = self.screen.lang
                self.screen.write(t("console.thinking", lang) + "\n" if self.show_thinking
                                  else t("console.thinking_hidden", lang), DIM)
                self.thinking_noted = True
            if self.show_thinking:
                self.screen.write(reasoning[self.reasoning_shown:], DIM)
            self.reasoning_shown = len(reasoning)
        if len(text) > self.text_shown:
            if self.thinking_noted and not self.text_shown:
                self.screen.write("\n\n" if self.show_thinking else "\n")
            self.screen.write(text[self.text_shown:])
            self.text_shown = len(text)

    def end(self, message: Message, session_tokens: int) -> None:
        self.show(message)
        self.screen.write("\n")
        if message.status == STOPPED:
            self.screen.say("console.stopped", DIM)
        elif message.error:
            chat_error = errors.ChatError(message.error)
            self.screen.write(chat_error.message(self.screen.lang) + "\n", RED)
            if message.status in (FAILED, INTERRUPTED) and chat_error.retryable:
                self.screen.say("console.retry", DIM)
        if message.usage:
            self.screen.write(token_line(message, session_tokens, self.screen.lang) + "\n", DIM)


def token_line(message: Message, session_tokens: int, lang: str = "zh") -> str:
    """`[tokens: prompt 22 · completion 17 · total 39 · session 39]` (or its Chinese), `≈` first when counted
    locally."""
    usage = message.usage
    assert usage is not None
    if usage.reasoning_tokens:
        completion = t("console.completion_reasoning", lang, tokens=usage.completion_tokens,
                       reasoning=usage.reasoning_tokens)
    else:
        completion = t("console.completion", lang, tokens=usage.completion_tokens)
    return t("console.tokens", lang, mark="≈ " if usage.estimated else "", prompt=usage.prompt_tokens,
             completion=completion, total=usage.total_tokens, session=session_tokens)


class ConsoleChat:
    """One terminal session: its limits outlive `/reset`, its conversation does not."""

    def __init__(self, settings: config.Settings, args: argparse.Namespace, limits: Limits, store: Any,
                 screen: Screen):
        info = lookup(settings.model)
        self.screen, self.show_thinking = screen, args.show_thinking
        self.system_prompt = DEFAULT_SYSTEM_PROMPT if args.system is None else args.system
        self.provider = provider_for(settings)
        self.spending = Spending(limits, SessionQuota(), DailyCounter(),
                                 operator_pays=not settings.visitor_pays)
        self.saver = Saver(store, OWNER, SaveState())
        self.options = TurnOptions(settings.model, thinking=args.thinking, lang=screen.lang,
                                   budget=default_budget(info.context_window, info.max_output))
        self.reset()

    def reset(self) -> None:
        conversation = Conversation(model=self.options.model, system_prompt=self.system_prompt)
        self.engine = ChatEngine(conversation, self.provider, self.spending, self.saver, self.options)

    def say(self, text: str) -> bool:
        """Run one turn and print it; True when the end detector closed the conversation."""
        printer = ReplyPrinter(self.screen, self.show_thinking)
        reply: Message | None = None
        turn = self.engine.send(text)
        try:
            for event in turn:
                match event:
                    case Refused(problem):
                        self.screen.write(problem.message(self.screen.lang) + "\n", RED)
                    case Closed(farewell):
                        self.screen.write(t("console.bot", self.screen.lang), CYAN)
                        self.screen.write(farewell.content + "\n")
                        return True
                    case ReplyStarted(message):
                        reply = message
                        printer.start()
                    case ReplyProgress(message):
                        printer.show(message)
                    case ReplyEnded(message):
                        printer.end(message, self.spending.quota.tokens)
        except KeyboardInterrupt:  # Ctrl-C: stop this reply; the engine keeps, counts and saves the part
            turn.close()
            if reply is not None:
                printer.end(reply, self.spending.quota.tokens)
            else:
                self.screen.write("\n")
        finally:  # a closed pipe too: the engine still settles and saves what it had
            turn.close()
        return False


def read_line(stdin: TextIO, stdout: TextIO, interactive: bool, prompt: str) -> str | None:
    """The next line typed after `prompt`, without its newline; None at the end of input."""
    if interactive and stdin is sys.stdin and stdout is sys.stdout:
        try:
            return input(prompt)  # readline's editing and history, when the module is there
        except EOFError:
            stdout.write("\n")
            return None
    if interactive:
        stdout.write(prompt)
        stdout.flush()
    line = stdin.readline()
    if not line:
        return None
    line = line.rstrip("\r\n")
    if not interactive:  # a scripted session still reads as a transcript
        stdout.write(f"{prompt}{line}\n")
    return line


def run(argv: list[str], stdin: TextIO, stdout: TextIO, environ: Mapping[str, str],
        stderr: TextIO | None = None) -> int:
    """The console chat with these arguments, streams and settings; returns the exit code. Reads no `.env`
    itself: `main` loads it into the environment first."""
    stderr = stderr if stderr is not None else sys.stderr
    lang = chosen_language(argv, environ)
    try:
        with redirect_stdout(stdout), redirect_stderr(stderr):
            args = parser(lang).parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a wrong flag (2, with argparse's message)
        return int(exit_.code or 0)

    settings = config.resolve(sidebar_model=args.model, environ=environ)
    if not settings.ready:  # a key, or the operator's own local server that needs none
        stderr.write(t("console.missing_key", lang) + "\n")
        return 2
    store = _store(args.save, stderr, lang)
    if store is None:
        return 1

    color = _isatty(stdout) and not args.no_color and not environ.get("NO_COLOR")
    screen = Screen(stdout, color, lang)
    commands = t("console.commands", lang)
    interactive = _isatty(stdin)
    chat = ConsoleChat(settings, args, Limits.from_config({}, environ), store, screen)
    if interactive:
        screen.say("console.banner", DIM, model=settings.model, commands=commands)
        if "readline" not in sys.modules:
            try:
                import readline  # noqa: F401 - line editing and history for input()
            except ImportError:
                pass
    while True:
        try:
            line = read_line(stdin, stdout, interactive, t("console.prompt", lang))
        except KeyboardInterrupt:  # Ctrl-C at the prompt: leave quietly
            screen.write("\n")
            return 0
        if line is None:
            return 0
        command = line.strip()
        if not command:
            continue
        if command in ("/quit", "/exit"):
            return 0
        if command == "/reset":
            chat.reset()
            screen.say("console.new_conversation", DIM)
            continue
        if command in ("/help", "/?") or (command.startswith("/") and command[1:].isalpha()):
            screen.write(f"{commands}\n", DIM)
            continue
        if chat.say(line):
            return 0


def _store(save: bool, stderr: TextIO, lang: str) -> Any:
    from qwenchat import store

    if not save:
        return store.MemoryStore()
    try:
        return store.open_store()
    except Exception as exc:  # noqa: BLE001 - a clear line, never a traceback
        stderr.write(t("console.no_database", lang, path=store.default_path(),
                       error=f"{type(exc).__name__}: {exc}") + "\n")
        return None


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def main() -> int:
    config.load_dotenv_once()
    try:
        return run(sys.argv[1:], sys.stdin, sys.stdout, os.environ)
    except BrokenPipeError:  # the reader left (`| head`): the turn was saved on the way out
        return _end_as_sigpipe()


def _end_as_sigpipe() -> int:
    """Ends the process as SIGPIPE's default action does for `cat` or `grep`: the shell says nothing and
    sees 128 + 13, as for any filter whose reader left, not a failure of the chat (exit 1 is the database)."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error from the last flush
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.raise_signal(signal.SIGPIPE)
    return 1  # no SIGPIPE (Windows): what Python itself exits with on EPIPE
