"""Twenty visitors at once on one server: each sees only their own chat, their own replies and their own
token counts.

One `streamlit run app.py` (public mode: every visitor is a URL token, QWENCHAT_SINGLE_USER unset) and
one Chromium with 20 browser contexts, driven together with Playwright's async API. Each context sends
a slow reply first, Enter pressed in all of them at once (the test checks that the 20 replies really
streamed at the same time), then an echo that carries the context's own marker back. Checked per
context: exactly its own four messages and no other context's marker anywhere in its page (text or
HTML); every reply complete; no traceback, no alert, no JavaScript error; its own owner token and
conversation id in the URL; the sidebar's usage table and session-limit panel showing its own counts
(the fake bills prompt tokens as characters, and each context's question has a different length). And
on the wire: two requests per context, each carrying that context's messages only.

The quotas are set high: this test is about isolation under load, not about limits. Most of its time is
Chromium drawing 20 Streamlit pages on two cores (the app server itself uses a few CPU seconds).

No wall clock decides the result, so a machine busy with other work makes the test slower, not red:
- every wait and page action runs without a timeout, under `load_helpers.ProgressWatch`, which fails the
  run (saying what each waiting context shows) only when nothing progressed in any of the 20 pages for
  STALL_S seconds; progress is a page getting further than before (files loaded, app shown, input ready,
  a new message, a reply's next chunk) or a step finished. pytest-timeout is off for this test for that
  reason;
- the pages are opened OPENING_AT_ONCE at a time (one per core), so each shows up in turn instead of all
  20 after minutes of silence; the two turns are then sent in all 20 at once, as before;
- the slow replies are held by the fake before their last chunk until every page shows its first chunk,
  so "all 20 streaming at once" holds however long the server takes to start 20 script runs (on a quiet
  machine every page shows its first chunk long before the last one is due, and the gate holds nothing).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from qwenchat import ending
from qwenchat.i18n import t
from tests.e2e import helpers
from tests.e2e import load_helpers as lh
from tests.fake_dashscope import last_user_text, prompt_size, split_pairs

PROBLEM = helpers.chromium_problem()
# Skipped on a machine without Chromium, never in CI, where a missing browser is a failure.
# timeout(0): no per-test wall clock; the ProgressWatch ends a stuck run (see the module's docstring).
pytestmark = [pytest.mark.timeout(0), pytest.mark.skipif(bool(PROBLEM) and not helpers.in_ci(), reason=PROBLEM)]

CONTEXTS = 20
SLOW_CHUNKS = 30  # as [[fake:slow:30]]: 30 chunks 0.1 s apart, three seconds of streaming per reply
STALL_S = 60.0  # the run fails when no page of the 20 got any further for this long
# Pages loading at once, one per core (at least 2): 20 pages parsing Streamlit's scripts together on a busy
# 2-core machine show nothing for minutes, then everything at once. The chat itself runs in all 20 at once.
OPENING_AT_ONCE = max(2, os.cpu_count() or 2)
HIGH_LIMITS = {
    "QWENCHAT_MAX_MESSAGES_PER_SESSION": "1000",
    "QWENCHAT_MAX_TOKENS_PER_SESSION": "100000000",
    "QWENCHAT_DAILY_TOKEN_CAP": "1000000000",
}


@dataclass
class Visitor:
    index: int
    marker: str = ""
    first: str = ""   # the slow question; padded with `index` characters so each prompt's size differs
    second: str = ""  # an echo: the reply carries the marker back
    url: str = ""
    shown: list[dict[str, str]] = field(default_factory=list)
    page_text: str = ""
    page_html: str = ""
    usage: dict[str, list[str]] = field(default_factory=dict)
    limits_text: str = ""
    doing: str = ""  # the step under way, for the report when the run stalls
    page: Any = field(default=None, repr=False)
    exceptions: int = 0
    alerts: int = 0
    page_errors: list[str] = field(default_factory=list)
    first_chunk_at: float = 0.0  # monotonic seconds, seen from the test
    last_chunk_at: float = 0.0


def make_visitor(i: int) -> Visitor:
    # Digits without an 8: the end-of-conversation rules read "88" as 拜拜 (bye-bye), even inside a code.
    marker = f"暗号{i:02d}x{secrets.randbelow(10 ** 6):06d}".replace("8", "9")
    visitor = Visitor(i, marker,  # the first reply is queued (slow_reply_spec), not triggered
                      first=f"用户{i:02d}的问题 {marker} 请慢慢回答{'啊' * i}",
                      second=f"用户{i:02d}的第二个问题 {marker}")
    for text in (visitor.first, visitor.second):  # a farewell would close the chat instead of answering
        assert not ending.detect(text).is_end, f"the end detector reads {text!r} as a goodbye"
    return visitor


def slow_reply_spec(gate: str) -> dict[str, Any]:
    """[[fake:slow:30]]'s reply, held before its last chunk until the test opens `gate`."""
    return {"kind": "text", "chunks": [f"片段{k} " for k in range(SLOW_CHUNKS)], "delay": 0.1,
            "hold": {"gate": gate, "before": SLOW_CHUNKS - 1}}


@pytest.fixture(scope="module")
def servers():
    home = helpers.temp_home("qwenchat-load-e2e-")
    log_dir = home / "logs"
    log_dir.mkdir()
    fake = helpers.start_fake(log_dir, home)
    app = None
    try:
        app = helpers.start_streamlit(helpers.APP, fake=fake, home=home, log_dir=log_dir, extra_env=HIGH_LIMITS)
        yield app, fake
    finally:
        if app is not None:
            app.stop()
        fake.stop()
        shutil.rmtree(home, ignore_errors=True)


class StepFailed(AssertionError):
    pass


async def explain(page: Any, visitor: Visitor, step: str, exc: Exception) -> StepFailed:
    """What one context showed when a step failed, for the failure message."""
    try:
        state = await asyncio.wait_for(page.evaluate("""() => ({
            script: document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state'),
            input: document.querySelector('[data-testid="stChatInputTextArea"]')?.value,
            disabled: document.querySelector('[data-testid="stChatInputTextArea"]')?.disabled,
        })"""), timeout=15)
        shown = await asyncio.wait_for(lh.chat_messages_async(page), timeout=15)
    except Exception as inner:  # noqa: BLE001 - the page itself may be gone
        state, shown = f"(page unreadable: {inner})", []
    return StepFailed(f"context {visitor.index}, {step}: {exc}\nstate: {state}\nshown: {shown}\nurl: {page.url}")


# Every wait below has timeout=0 (none): the ProgressWatch around the whole run bounds them.

async def open_page(page: Any, visitor: Visitor, url: str, opening: asyncio.Semaphore) -> None:
    async with opening:
        await lh.open_app_async(page, url, timeout=0)


async def type_first(page: Any, visitor: Visitor) -> None:
    await lh.type_message_async(page, visitor.first)


async def submit(page: Any, visitor: Visitor) -> None:
    await lh.submit_async(page)


async def first_chunk(page: Any, visitor: Visitor) -> None:
    await lh.wait_for_last_message_async(page, "片段0 ", timeout=0)
    visitor.first_chunk_at = time.monotonic()


async def rest_of_reply(page: Any, visitor: Visitor) -> None:
    await lh.wait_for_last_message_async(page, f"片段{SLOW_CHUNKS - 1}", timeout=0)
    visitor.last_chunk_at = time.monotonic()
    await lh.wait_idle_async(page, timeout=0)


async def echo_turn(page: Any, visitor: Visitor) -> None:
    await lh.type_message_async(page, visitor.second)
    await lh.submit_async(page)
    await lh.wait_for_last_message_async(page, "收到：" + visitor.second, timeout=0)
    await lh.wait_idle_async(page, timeout=0)


async def step(name: str, action: Any, visitor: Visitor, watch: lh.ProgressWatch, *args: Any) -> None:
    """One context's step: a finished step is progress; a failed one says what the context showed."""
    visitor.doing = name
    try:
        await action(visitor.page, visitor, *args)
    except StepFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - say which context and what it showed
        raise await explain(visitor.page, visitor, name, exc) from exc
    visitor.doing = ""
    watch.note()


async def in_every(name: str, action: Any, visitors: list[Visitor], watch: lh.ProgressWatch, *args: Any) -> None:
    await asyncio.gather(*(step(name, action, v, watch, *args) for v in visitors))


async def look(page: Any, visitor: Visitor) -> None:
    visitor.url = page.url
    visitor.shown = await lh.chat_messages_async(page)
    visitor.page_text = await page.evaluate("() => document.body.innerText")
    visitor.page_html = await page.content()
    visitor.usage = await page.evaluate(lh.USAGE_TABLE_JS) or {}
    visitor.limits_text = await page.get_by_test_id("stSidebar").inner_text()
    visitor.exceptions = await page.locator('[data-testid="stException"]').count()
    visitor.alerts = await page.locator('[data-testid="stAlert"]').count()


async def drive(url: str, visitors: list[Visitor], phases: dict[str, float], fake: helpers.FakeServer,
                gate: str) -> float:
    """The whole browser side, bounded by progress; returns when the gate was opened (monotonic)."""
    from playwright.async_api import async_playwright

    watch = lh.ProgressWatch(STALL_S)
    browser = None
    gate_opened_at = 0.0

    async def describe() -> str:
        stuck = [v for v in visitors if v.doing and v.page is not None]
        reports = await asyncio.gather(*(explain(v.page, v, v.doing, "still waiting") for v in stuck))
        return "\n".join(str(r) for r in reports) or "(no context was inside a step)"

    async def run(playwright: Any) -> None:
        nonlocal browser, gate_opened_at
        browser = await playwright.chromium.launch(executable_path=helpers.CHROMIUM, headless=True,
                                                   args=helpers.CHROMIUM_ARGS, timeout=0)
        for visitor in visitors:
            # Reduced motion: Streamlit's loading and "running" animations, painted in software in 20
            # pages at once, cost more CPU than the app itself (about a third of the test's time).
            context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN",
                                                reduced_motion="reduce")
            context.set_default_timeout(0)  # actions too are bounded by the watch, not by a clock
            page = await context.new_page()
            page.on("pageerror", lambda error, v=visitor: v.page_errors.append(str(error)))
            visitor.page = page
            watch.pages.append(page)
            watch.note()

        clock = lh.Stopwatch()
        await in_every("open", open_page, visitors, watch, url, asyncio.Semaphore(OPENING_AT_ONCE))
        phases["open"] = clock()
        # Type everywhere first, then press Enter everywhere at once: the 20 replies stream together.
        await in_every("type", type_first, visitors, watch)
        await in_every("submit", submit, visitors, watch)
        await in_every("first chunk", first_chunk, visitors, watch)
        # Every page shows its reply's first chunk, and no reply can end before this: all 20 stream at once.
        await asyncio.to_thread(fake.open_gate, gate)
        gate_opened_at = time.monotonic()
        await in_every("slow turn", rest_of_reply, visitors, watch)
        phases["slow turn"] = clock() - phases["open"]
        await in_every("echo turn", echo_turn, visitors, watch)
        phases["echo turn"] = clock() - phases["open"] - phases["slow turn"]
        await in_every("look", look, visitors, watch)

    async with async_playwright() as playwright:
        try:
            await watch.run(run(playwright), describe)
        finally:
            if browser is not None:
                try:
                    await asyncio.wait_for(browser.close(), timeout=60)
                except Exception:  # noqa: BLE001 - leaving async_playwright stops the browser anyway
                    pass
    return gate_opened_at


def cell(visitor: Visitor, row_prefix: str, column: int) -> int | None:
    for label, cells in visitor.usage.items():
        if label.startswith(row_prefix):
            return lh.parse_count(cells[column])
    raise AssertionError(f"context {visitor.index}: no usage row {row_prefix!r} in {visitor.usage}")


def test_twenty_contexts_chat_at_once_and_each_sees_only_its_own(servers):
    app, fake = servers
    visitors = [make_visitor(i) for i in range(CONTEXTS)]
    gate = f"load-{secrets.token_hex(4)}"
    for _ in visitors:  # the first request of each context takes one of these
        fake.enqueue(slow_reply_spec(gate))
    phases: dict[str, float] = {}
    started = time.monotonic()
    try:
        gate_opened_at = asyncio.run(drive(app.url, visitors, phases, fake, gate))
    except Exception as exc:
        sent = [last_user_text(r["body"]) for r in fake.requests()]
        raise AssertionError(f"{exc}\nrequests received ({len(sent)}): {sent}\n--- app log ---\n"
                             f"{app.log_tail(60)}") from exc
    elapsed = time.monotonic() - started
    requests = fake.requests()

    # The replies really streamed at the same time: one moment when every context had its first chunk
    # and none had its last.
    assert max(v.first_chunk_at for v in visitors) < min(v.last_chunk_at for v in visitors), \
        "the 20 replies did not overlap; the test did not load the server"

    slow_reply = " ".join(f"片段{k}" for k in range(SLOW_CHUNKS))
    markers = [v.marker for v in visitors]
    for v in visitors:
        others = [m for m in markers if m != v.marker]
        where = f"context {v.index}"
        assert v.shown == [{"role": "user", "text": v.first}, {"role": "assistant", "text": slow_reply},
                           {"role": "user", "text": v.second}, {"role": "assistant", "text": "收到：" + v.second}], \
            f"{where} shows {v.shown}"
        leaked = [m for m in others if m in v.page_text or m in v.page_html]
        assert not leaked, f"{where} shows other contexts' text: {leaked}"
        assert v.exceptions == 0, f"{where} shows a traceback"
        assert v.alerts == 0, f"{where} shows an alert:\n{v.page_text}"
        assert not v.page_errors, f"{where} had JavaScript errors: {v.page_errors}"

    # Every visitor is a different owner with a different conversation in the URL.
    tokens = {v.url.split("o=")[1].split("&")[0] for v in visitors if "o=" in v.url}
    ids = {v.url.split("c=")[1].split("&")[0] for v in visitors if "c=" in v.url}
    assert len(tokens) == CONTEXTS and len(ids) == CONTEXTS, [v.url for v in visitors]

    # What went over the wire: two requests per context, each carrying that context's messages only.
    assert len(requests) == 2 * CONTEXTS, f"{len(requests)} requests for {CONTEXTS} contexts × 2 turns"
    by_visitor: dict[int, list[dict]] = {v.index: [] for v in visitors}
    for request in requests:
        body = request["body"]
        owners = [v for v in visitors if v.marker in last_user_text(body)]
        assert len(owners) == 1, f"a request for {len(owners)} contexts: {last_user_text(body)!r}"
        sent = " ".join(str(m.get("content")) for m in body["messages"])
        assert not [m for m in markers if m != owners[0].marker and m in sent], "a request mixed contexts"
        by_visitor[owners[0].index].append(body)

    # The sidebar's numbers are each context's own: prompt tokens as the fake billed them (characters),
    # completions as it streamed them; and the session's limits panel counts this session only.
    last_prompts = set()
    for v in visitors:
        first, second = sorted(by_visitor[v.index], key=lambda b: len(b["messages"]))
        assert [m["role"] for m in first["messages"]] == ["system", "user"]
        assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]
        prompt_1, prompt_2 = prompt_size(first), prompt_size(second)
        completion_1, completion_2 = SLOW_CHUNKS, len(split_pairs("收到：" + v.second))
        total = prompt_1 + prompt_2 + completion_1 + completion_2
        where = f"context {v.index}: {v.usage}"
        assert cell(v, "输入", 0) == prompt_2 and cell(v, "输入", 1) == prompt_1 + prompt_2, where
        assert cell(v, "输出", 0) == completion_2 and cell(v, "输出", 1) == completion_1 + completion_2, where
        assert cell(v, "合计", 1) == total, where
        assert f"{t('quota.row.session_tokens', 'zh')}：{total:,} /" in v.limits_text, \
            f"context {v.index}: the session limit panel does not show {total:,}:\n{v.limits_text}"
        assert f"{t('quota.row.messages', 'zh')}：2 /" in v.limits_text, v.limits_text
        last_prompts.add(prompt_2)
    assert len(last_prompts) == CONTEXTS, "the prompts were meant to differ in size per context"

    together = min(v.last_chunk_at for v in visitors) - max(v.first_chunk_at for v in visitors)
    first_spread = max(v.first_chunk_at for v in visitors) - min(v.first_chunk_at for v in visitors)
    # A reply's last chunk is due 2.9 s after its first: a later gate held some replies back.
    held = gate_opened_at - min(v.first_chunk_at for v in visitors) > (SLOW_CHUNKS - 1) * 0.1
    print(f"\n{CONTEXTS} contexts, 2 turns each, in {elapsed:.1f} s (" +
          ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items()) +
          f"); all {CONTEXTS} replies were streaming at once for {together:.2f} s; first chunks "
          f"{first_spread:.2f} s apart" + ("; the gate held replies back" if held else ""))
