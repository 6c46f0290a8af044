"""What the load test and the benchmarks need beyond `helpers.py`: async page actions (many browser contexts
driven at once from one Playwright), a watch that bounds their waits by progress instead of a wall clock,
a run timer inside the page, a process's memory from /proc, the shared benchmark history, and small
statistics and table printing.

Playwright is imported lazily, so `benchmarks/tutorial_history_app.py` can import `history()` from here
without it. Nothing here talks to anything but 127.0.0.1 (the servers are started with `helpers`).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Sequence

from tests.e2e.helpers import CHAT_INPUT, CHAT_MESSAGE, CHAT_MESSAGES_JS, MESSAGE_CONTROLS

# --- page state, the same checks as helpers.wait_idle / chat_messages, for the async API ---------------


INPUT_READY_JS = f"""() => {{
    const t = document.querySelector('{CHAT_INPUT}');
    return !!t && !t.disabled && t.offsetParent !== null;
}}"""

# Waits poll every 100 ms, not on every animation frame (Playwright's default): twenty pages polling at
# 60 frames a second cost more CPU than the app they wait for.
POLL_MS = 100

LAST_MESSAGE_HAS_JS = f"""needle => {{
    const all = document.querySelectorAll('{CHAT_MESSAGE}');
    return all.length > 0 && all[all.length - 1].innerText.includes(needle);
}}"""

# The sidebar's usage table (components/usage_panel.py): {row label: [last reply, this chat]} as shown.
USAGE_TABLE_JS = """() => {
    const table = document.querySelector('[data-testid="stSidebar"] table');
    if (!table) return null;
    const rows = {};
    for (const tr of table.querySelectorAll('tbody tr')) {
        const cells = [...tr.querySelectorAll('td, th')].map(c => c.innerText.trim());
        rows[cells[0]] = cells.slice(1);
    }
    return rows;
}"""


async def open_app_async(page: Any, url: str, timeout: float = 30_000) -> None:
    """As `helpers.open_app`: load the app and wait until the chat input takes typing."""
    await page.goto(url, wait_until="domcontentloaded", timeout=timeout)
    await page.wait_for_function(INPUT_READY_JS, timeout=timeout, polling=POLL_MS)


async def type_message_async(page: Any, text: str) -> None:
    box = page.locator(CHAT_INPUT)
    await box.click()
    await box.fill(text)


async def submit_async(page: Any) -> None:
    await page.locator(CHAT_INPUT).press("Enter")


# Idle for `settleMs` in a row: a run that ends in `st.rerun()` reports 'notRunning' for a moment before
# the next run starts (the same rule as `helpers.wait_idle`).
SETTLED_IDLE_JS = """settleMs => {
    const app = document.querySelector('[data-testid="stApp"]');
    const idle = !!app && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-stale="true"]');
    const now = performance.now();
    if (!idle) { window.__loadIdleSince = null; return false; }
    if (window.__loadIdleSince == null) window.__loadIdleSince = now;
    return now - window.__loadIdleSince >= settleMs;
}"""


async def wait_idle_async(page: Any, timeout: float = 30_000, settle_ms: int = 300) -> None:
    """As `helpers.wait_idle`: the run is over, nothing is stale, and it stays so for `settle_ms` (call it
    after waiting for something the run produces)."""
    await page.evaluate("() => { window.__loadIdleSince = null; }")
    await page.wait_for_function(SETTLED_IDLE_JS, arg=settle_ms, timeout=timeout, polling=POLL_MS)


async def wait_for_last_message_async(page: Any, needle: str, timeout: float = 30_000) -> None:
    await page.wait_for_function(LAST_MESSAGE_HAS_JS, arg=needle, timeout=timeout, polling=POLL_MS)


async def chat_messages_async(page: Any) -> list[dict[str, str]]:
    return await page.evaluate(CHAT_MESSAGES_JS, MESSAGE_CONTROLS)


# --- waits bounded by progress, not by the wall clock ---------------------------------------------------

# What a page has got to: [files loaded, elements in the page, app root shown, chat input ready, chat
# messages, characters in them]. Each part only counts when it passes its own best so far, so a rerun that
# redraws the same text is not progress. The first two see a page that is still loading its scripts.
PROGRESS_JS = f"""() => {{
    const t = document.querySelector('{CHAT_INPUT}');
    const messages = document.querySelectorAll('{CHAT_MESSAGE}');
    let chars = 0;
    for (const m of messages) chars += m.innerText.length;
    return [performance.getEntriesByType('resource').length, document.getElementsByTagName('*').length,
            document.querySelector('[data-testid="stApp"]') ? 1 : 0,
            !!t && !t.disabled && t.offsetParent !== null ? 1 : 0, messages.length, chars];
}}"""


class Stalled(AssertionError):
    """Nothing progressed in any page for the allowed time."""


class ProgressWatch:
    """Runs many pages' work with no wall-clock limit of its own, failing only when nothing progressed in
    any of `pages` for `stall_s` seconds.

    Progress is a page getting further than it ever was (more of its files loaded, more elements, its app
    shown, its input ready, a new message, more characters in its messages: a new message or a reply's
    next chunk), seen by sampling every page
    each `interval` seconds, or a step of the work reported done with `note()`. Each page's figures are
    bounded by what the test makes it show, so a run that is not stuck ends, however slow the machine; the
    waits inside the work can then go without timeouts (Playwright's `timeout=0`)."""

    def __init__(self, stall_s: float, interval: float = 1.0) -> None:
        self.stall_s = stall_s
        self.interval = interval
        self.pages: list[Any] = []
        self._best: dict[int, list[int]] = {}
        self._last = time.monotonic()

    def note(self) -> None:
        self._last = time.monotonic()

    def quiet_for(self) -> float:
        return time.monotonic() - self._last

    async def _read(self, page: Any) -> list[int] | None:
        try:
            return await asyncio.wait_for(page.evaluate(PROGRESS_JS), timeout=max(5.0, 5 * self.interval))
        except Exception:  # noqa: BLE001 - navigating, busy or closed: no news from this page this time
            return None

    async def sample(self) -> None:
        pages = list(self.pages)
        for i, figures in enumerate(await asyncio.gather(*(self._read(page) for page in pages))):
            if figures is None:
                continue
            best = self._best.get(i)
            if best is None or any(now > then for now, then in zip(figures, best)):
                self._best[i] = figures if best is None else [max(a, b) for a, b in zip(figures, best)]
                self.note()

    async def run(self, work: Awaitable[Any], describe: Callable[[], Awaitable[str]] | None = None) -> Any:
        """Await `work`; if nothing progresses for `stall_s` seconds, cancel it and raise `Stalled` with
        `describe()` (what the pages show, read before `work` is cancelled)."""
        task = asyncio.ensure_future(work)
        self.note()
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.interval)
                if done:
                    return task.result()
                await self.sample()
                if self.quiet_for() > self.stall_s and not task.done():
                    detail = ""
                    if describe is not None:
                        try:
                            detail = "\n" + await asyncio.wait_for(describe(), timeout=60)
                        except Exception as exc:  # noqa: BLE001 - the report is a courtesy
                            detail = f"\n(no description: {exc!r})"
                    raise Stalled(f"nothing progressed in any of {len(self.pages)} pages for "
                                  f"{self.quiet_for():.0f} s{detail}")
        finally:
            if not task.done():
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):  # noqa: BLE001 - cancelled on purpose
                    pass


def parse_count(cell: str) -> int | None:
    """'1,234' -> 1234, '≈1,234' -> 1234 (an estimate), '–' -> None."""
    digits = cell.replace(",", "").replace("≈", "").strip()
    return int(digits) if digits.isdigit() else None


# --- timing a script run inside the page ------------------------------------------------------------

# Records every change of the app root's script state with the page's own clock, so a run's length is
# measured without the polling delay of a wait loop in the test process.
RUN_RECORDER_JS = """() => {
    if (window.__runLog) return;
    window.__runLog = [];
    const app = document.querySelector('[data-testid="stApp"]');
    const note = () => window.__runLog.push([performance.now(), app.getAttribute('data-test-script-state')]);
    new MutationObserver(note).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""

# Resolves when, after time `t0`, a rerun was asked for (or ran) and the script state is back to
# `notRunning` with no stale element left; returns the page time of that `notRunning` change. A short run
# may never show `running` in the DOM: React can apply "running" and "finished" in one update.
RUN_FINISHED_AFTER_JS = """t0 => {
    const log = window.__runLog || [];
    let ran = false;
    for (const [t, state] of log) {
        if (t < t0) continue;
        if (state === 'running' || state === 'rerunRequested') ran = true;
        else if (ran && state === 'notRunning') {
            if (document.querySelector('[data-stale="true"]')) return false;
            return t;
        }
    }
    return false;
}"""


def timed_rerun(page: Any, trigger: Any, timeout: float = 60_000) -> float:
    """Seconds from `trigger(page)` (e.g. pressing "r") until that rerun is over and nothing is stale,
    measured with the page's clock. Sync API; the page must be idle before."""
    page.evaluate(RUN_RECORDER_JS)
    t0 = page.evaluate("() => performance.now()")
    trigger(page)
    end = page.wait_for_function(RUN_FINISHED_AFTER_JS, arg=t0, timeout=timeout, polling=20).json_value()
    return (end - t0) / 1000


def press_r(page: Any) -> None:
    """Streamlit's own "rerun" keyboard shortcut, sent to the page body (not to an input)."""
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("r")


# --- memory -----------------------------------------------------------------------------------------

def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MB (VmRSS from /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


# --- the benchmark history: the same messages for our app and the tutorial-pattern app ---------------

QUESTION = "第 {i} 个问题：请解释一下这个概念，并举一个例子。Explain this concept with an example."
ANSWER = (
    "好的，下面分三点说明第 {i} 个问题。\n\n"
    "1. **定义**：这个概念描述的是系统在负载下的行为。The concept describes how a system behaves "
    "under load.\n"
    "2. **例子**：一个聊天应用同时服务二十个用户，每个用户只看到自己的对话。\n"
    "3. **注意**：测量时要看中位数和比例，而不是单次的绝对时间。\n\n"
    "```python\nfor user in users:\n    assert user.sees_only_their_own_chat()\n```\n\n"
    "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。The quick brown fox jumps over the lazy dog."
)


def history(n: int) -> list[dict[str, str]]:
    """`n` alternating user/assistant messages (about 60 and 400 characters, Markdown with a code block)."""
    return [{"role": "user", "content": QUESTION.format(i=k // 2)} if k % 2 == 0
            else {"role": "assistant", "content": ANSWER.format(i=k // 2)} for k in range(n)]


# --- statistics and tables --------------------------------------------------------------------------

def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A plain Markdown table on stdout."""
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start
