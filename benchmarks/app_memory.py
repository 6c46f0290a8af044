"""How much memory the app server needs per visitor, and whether the tokenizer is loaded once.

    .venv/bin/python benchmarks/app_memory.py [--sessions 20] [--no-tutorial]

Starts the fake DashScope server and `streamlit run app.py` (public mode, loopback only, temporary HOME
and QWENCHAT_DB), then opens one browser context after another in Debian's Chromium; each context is a
new Streamlit session that sends one message and waits for the reply. All contexts stay open, so every
session is still alive when the server's memory is read: VmRSS of the `streamlit run` process from
/proc/<pid>/status, read once the page is idle and again after a short settle.

Prints the server's RSS after start, after the first session's page, after its first turn and after
every session, and from those: the cost of the first session (imports, the tokenizer, the first client),
the cost per extra session (the slope from session 1 to session N; target ≤ 10 MB), and the tokenizer's
own size measured in this process (`qwenchat.tokens.warm_up`). The tokenizer is loaded once per process
if the first session's jump holds it and no later session adds anything near its size. With the
tutorial app (`benchmarks/tutorial_app.py`) measured the same way for comparison.

RSS is what the OS charges; Python returns little memory to it, so a figure is an upper bound of what
a session holds, and single increments are noisy (an arena of 1 MB appears at once or not at all).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e import helpers  # noqa: E402
from tests.e2e import load_helpers as lh  # noqa: E402

TARGET_MB = 10.0
TUTORIAL = ROOT / "benchmarks" / "tutorial_app.py"
HIGH_LIMITS = {"QWENCHAT_MAX_MESSAGES_PER_SESSION": "1000", "QWENCHAT_MAX_TOKENS_PER_SESSION": "100000000",
               "QWENCHAT_DAILY_TOKEN_CAP": "1000000000"}


@dataclass
class Trace:
    name: str
    started: float = 0.0      # RSS after the server is up, before any session
    first_page: float = 0.0   # after the first session's page is drawn
    after: list[float] = field(default_factory=list)  # after session k's turn, k = 1..N

    @property
    def first_session(self) -> float:
        return self.after[0] - self.started

    @property
    def per_extra_session(self) -> float:
        return (self.after[-1] - self.after[0]) / max(1, len(self.after) - 1)

    @property
    def largest_step(self) -> float:
        return max((b - a for a, b in zip(self.after, self.after[1:])), default=0.0)


def settled_rss(pid: int) -> float:
    """RSS after the process had a moment to finish what the last page asked for."""
    time.sleep(0.5)
    return lh.rss_mb(pid)


def measure(script: Path, sessions: int, browser, fake, home: Path, name: str) -> Trace:
    app = helpers.start_streamlit(script, fake=fake, home=home, log_dir=home, name=name, extra_env=HIGH_LIMITS)
    trace = Trace(name)
    contexts = []
    try:
        time.sleep(1.0)
        trace.started = lh.rss_mb(app.process.pid)
        for k in range(1, sessions + 1):
            context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN",
                                          reduced_motion="reduce")
            contexts.append(context)
            page = context.new_page()
            helpers.open_app(page, app.url, timeout=60_000)
            helpers.wait_idle(page, timeout=60_000)
            if k == 1:
                trace.first_page = settled_rss(app.process.pid)
            question = f"访客{k:03d}的问题：内存测试"
            helpers.send_message(page, question)
            helpers.wait_for_last_message(page, "收到：" + question, timeout=60_000)
            helpers.wait_idle(page, timeout=60_000)
            assert page.locator('[data-testid="stException"]').count() == 0, f"{name}: a traceback in session {k}"
            trace.after.append(settled_rss(app.process.pid))
            print(f"  {name}: session {k:2d} -> {trace.after[-1]:.1f} MB", flush=True)
    finally:
        for context in contexts:
            context.close()
        app.stop()
    return trace


def tokenizer_mb() -> float:
    """RSS this process gains by loading the vocabulary the default model (qwen-plus) uses."""
    import gc

    from qwenchat import tokens
    gc.collect()
    before = lh.rss_mb(os.getpid())
    tokens.warm_up(("qwen-plus",))
    return lh.rss_mb(os.getpid()) - before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--no-tutorial", action="store_true")
    args = parser.parse_args()
    problem = helpers.chromium_problem()
    if problem:
        print(f"skipped: {problem}")
        return 0
    from playwright.sync_api import sync_playwright

    home = helpers.temp_home("qwenchat-memory-bench-")
    fake = helpers.start_fake(home, home)
    traces = []
    try:
        with sync_playwright() as playwright:
            browser = helpers.launch_chromium(playwright)
            try:
                traces.append(measure(helpers.APP, args.sessions, browser, fake, home, "app"))
                if not args.no_tutorial:
                    traces.append(measure(TUTORIAL, args.sessions, browser, fake, home, "tutorial"))
            finally:
                browser.close()
    finally:
        fake.stop()
        shutil.rmtree(home, ignore_errors=True)

    vocabulary = tokenizer_mb()
    n = args.sessions
    print(f"\nServer RSS (VmRSS of `streamlit run`), {n} sessions each with one turn, all kept open")
    lh.print_table(
        ["app", "started", "1st page", "after 1 session", f"after {n}", "first session", "per extra session",
         "largest single step", f"target ≤ {TARGET_MB:.0f} MB"],
        [[t.name, f"{t.started:.1f} MB", f"{t.first_page:.1f} MB", f"{t.after[0]:.1f} MB", f"{t.after[-1]:.1f} MB",
          f"+{t.first_session:.1f} MB", f"+{t.per_extra_session:.2f} MB", f"+{t.largest_step:.1f} MB",
          ("met" if t.per_extra_session <= TARGET_MB else "missed") if t.name == "app" else "(baseline)"]
         for t in traces])
    ours = traces[0]
    print(f"\nTokenizer (qwen vocabulary, loaded in this process): +{vocabulary:.1f} MB")
    print(f"app: first page +{ours.first_page - ours.started:.1f} MB (imports and the tokenizer: the usage panel "
          f"counts the system prompt), first turn +{ours.after[0] - ours.first_page:.1f} MB, then "
          f"+{ours.per_extra_session:.2f} MB a session, largest single step +{ours.largest_step:.1f} MB")
    once = ours.largest_step < vocabulary / 2
    print("tokenizer loaded once: " + ("yes" if once else "NOT SHOWN") +
          f" (no session after the first grew the server by half the tokenizer's {vocabulary:.1f} MB)")
    if len(traces) > 1:
        tutorial = traces[1]
        ratio = ours.per_extra_session / tutorial.per_extra_session if tutorial.per_extra_session > 0 else float("nan")
        print(f"per extra session, app / tutorial: {ratio:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
