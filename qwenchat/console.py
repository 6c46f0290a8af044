"""The console chat: `python -m qwenchat`, the course's Project 1 in a terminal, on the app's turn engine.

    python -m qwenchat [--model M] [--thinking] [--show-thinking] [--system TEXT] [--save] [--no-color]

Each line typed is one message; the reply streams in as it arrives, followed by its token counts. `/reset`
starts a new conversation (the session's limits are not reset, as in the app), `/quit` ends. When the end
detector hears a goodbye ("好的我知道了"), the farewell 感谢您的咨询，再见！ is printed and the program ends.

Settings come from where the app reads them: `.env` (loaded by `main`), then the environment
(`DASHSCOPE_API_KEY`, `DASHSCOPE_BASE_URL`, `QWEN_MODEL`, the `QWENCHAT_*` limits). Conversations are kept
in memory unless `--save` writes them to the app's database (owner "local", as in single-user mode).

When standard input is not a terminal, it reads one message per line, so it can be scripted:
`printf '你好\\n再见\\n' | python -m qwenchat`. Exit codes: 0 for a normal end (the farewell, `/quit`, end
of input, Ctrl-D or Ctrl-C at the prompt), 2 for a missing key or a wrong flag, 1 when `--save` cannot open
the database. Ctrl-C while a reply streams stops that reply (the text received is kept, as the app's Stop
keeps it) and returns to the prompt.
"""

from __future__ import annotations

import argparse
import os
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
from qwenchat.quotas import DailyCounter, Limits, SessionQuota

OWNER = "local"  # the owner of conversations saved with --save: the app's single-user owner
PROMPT = "你 > "
BOT = "千问 > "
COMMANDS = "/reset 新对话 / new conversation · /quit 退出 / quit · /help 帮助 / help"
MISSING_KEY = ("未找到 DASHSCOPE_API_KEY：请在 .env 或环境变量中设置你的 DashScope API Key"
               "（export DASHSCOPE_API_KEY=sk-...）。\n"
               "DASHSCOPE_API_KEY is not set: put your DashScope API key in .env or the environment "
               "(export DASHSCOPE_API_KEY=sk-...).\n")

DIM, RED, CYAN, RESET = "\x1b[2m", "\x1b[31m", "\x1b[36m", "\x1b[0m"


def provider_for(settings: config.Settings) -> Any:
    """DashScope, or any OpenAI-compatible server (a local Ollama or vLLM), by the base URL."""
    from qwenchat import providers

    return providers.provider_for(settings)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m qwenchat",
        description="Qwen Chat in the terminal: multi-turn, streamed, with token counts and the end detector. "
                    f"Commands: {COMMANDS}.",
        epilog="Settings: .env and the environment (DASHSCOPE_API_KEY, DASHSCOPE_BASE_URL, QWEN_MODEL, "
               "QWENCHAT_* limits), as in the app.")
    p.add_argument("--model", default="", help="model name (default: QWEN_MODEL, else qwen-plus)")
    p.add_argument("--thinking", action="store_true", help="ask the model to think first (enable_thinking)")
    p.add_argument("--show-thinking", action="store_true", help="print the model's reasoning, dimmed")
    p.add_argument("--system", default=None, help="the system prompt (default: the app's)")
    p.add_argument("--save", action="store_true", help="save conversations to the app's database (QWENCHAT_DB)")
    p.add_argument("--no-color", action="store_true", help="no colours (also when NO_COLOR is set)")
    return p


class Screen:
    """Where the chat is printed: flushed at every write, coloured only when allowed."""

    def __init__(self, out: TextIO, color: bool):
        self.out, self.color = out, color

    def write(self, text: str, style: str = "") -> None:
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
        self.screen.write(BOT, CYAN)

    def show(self, message: Message) -> None:
        reasoning, text = message.reasoning, message.content
        if len(reasoning) > self.reasoning_shown and not self.text_shown:
            if not self.thinking_noted:
                self.screen.write("[思考 / thinking]\n" if self.show_thinking else "（思考中… / thinking…）", DIM)
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
            self.screen.write("[已停止 / stopped]\n", DIM)
        elif message.error:
            chat_error = errors.ChatError(message.error)
            self.screen.write(f"{chat_error.message_zh}\n{chat_error.message_en}\n", RED)
            if message.status in (FAILED, INTERRUPTED) and chat_error.retryable:
                self.screen.write("（再发送一次即可重试 / send it again to retry）\n", DIM)
        if message.usage:
            self.screen.write(token_line(message, session_tokens) + "\n", DIM)


def token_line(message: Message, session_tokens: int) -> str:
    """`[tokens: prompt 22 · completion 17 · total 39 · session 39]`, `≈` first when counted locally."""
    usage = message.usage
    assert usage is not None
    completion = f"completion {usage.completion_tokens:,}"
    if usage.reasoning_tokens:
        completion += f" (reasoning {usage.reasoning_tokens:,})"
    mark = "≈ " if usage.estimated else ""
    return (f"[{mark}tokens: prompt {usage.prompt_tokens:,} · {completion} · total {usage.total_tokens:,} · "
            f"session {session_tokens:,}]")


class ConsoleChat:
    """One terminal session: its limits outlive `/reset`, its conversation does not."""

    def __init__(self, settings: config.Settings, args: argparse.Namespace, limits: Limits, store: Any,
                 screen: Screen):
        info = lookup(settings.model)
        self.screen, self.show_thinking = screen, args.show_thinking
        self.system_prompt = DEFAULT_SYSTEM_PROMPT if args.system is None else args.system
        self.provider = provider_for(settings)
        self.spending = Spending(limits, SessionQuota(), DailyCounter(),
                                 operator_pays=settings.key_source != config.SOURCE_SIDEBAR)
        self.saver = Saver(store, OWNER, SaveState())
        self.options = TurnOptions(settings.model, thinking=args.thinking,
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
                        self.screen.write(f"{problem.message('zh')}\n{problem.message('en')}\n", RED)
                    case Closed(farewell):
                        self.screen.write(BOT, CYAN)
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
        return False


def read_line(stdin: TextIO, stdout: TextIO, interactive: bool) -> str | None:
    """The next line typed, without its newline; None at the end of input."""
    if interactive and stdin is sys.stdin and stdout is sys.stdout:
        try:
            return input(PROMPT)  # readline's editing and history, when the module is there
        except EOFError:
            stdout.write("\n")
            return None
    if interactive:
        stdout.write(PROMPT)
        stdout.flush()
    line = stdin.readline()
    if not line:
        return None
    line = line.rstrip("\r\n")
    if not interactive:  # a scripted session still reads as a transcript
        stdout.write(f"{PROMPT}{line}\n")
    return line


def run(argv: list[str], stdin: TextIO, stdout: TextIO, environ: Mapping[str, str],
        stderr: TextIO | None = None) -> int:
    """The console chat with these arguments, streams and settings; returns the exit code. Reads no `.env`
    itself: `main` loads it into the environment first."""
    stderr = stderr if stderr is not None else sys.stderr
    try:
        with redirect_stdout(stdout), redirect_stderr(stderr):
            args = parser().parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a wrong flag (2, with argparse's message)
        return int(exit_.code or 0)

    settings = config.resolve(sidebar_model=args.model, environ=environ)
    if not settings.ready:  # a key, or the operator's own local server that needs none
        stderr.write(MISSING_KEY)
        return 2
    store = _store(args.save, stderr)
    if store is None:
        return 1

    color = _isatty(stdout) and not args.no_color and not environ.get("NO_COLOR")
    screen = Screen(stdout, color)
    interactive = _isatty(stdin)
    chat = ConsoleChat(settings, args, Limits.from_config({}, environ), store, screen)
    if interactive:
        screen.write(f"Qwen Chat · {settings.model} · {COMMANDS}\n", DIM)
        if "readline" not in sys.modules:
            try:
                import readline  # noqa: F401 - line editing and history for input()
            except ImportError:
                pass
    while True:
        try:
            line = read_line(stdin, stdout, interactive)
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
            screen.write("[新对话 / new conversation]\n", DIM)
            continue
        if command in ("/help", "/?") or (command.startswith("/") and command[1:].isalpha()):
            screen.write(f"{COMMANDS}\n", DIM)
            continue
        if chat.say(line):
            return 0


def _store(save: bool, stderr: TextIO) -> Any:
    from qwenchat import store

    if not save:
        return store.MemoryStore()
    try:
        return store.open_store()
    except Exception as exc:  # noqa: BLE001 - a clear line, never a traceback
        stderr.write(f"无法打开对话数据库 / cannot open the conversation database ({store.default_path()}): "
                     f"{type(exc).__name__}: {exc}\n")
        return None


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def main() -> int:
    config.load_dotenv_once()
    return run(sys.argv[1:], sys.stdin, sys.stdout, os.environ)
