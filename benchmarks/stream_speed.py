"""How fast a long streamed reply reaches the screen: the SDK alone, our app, and the tutorial pattern.

    python benchmarks/stream_speed.py [--chunks 8000] [--repeat 3] [--check]

Starts the fake DashScope server (tests/fake_dashscope.py), `streamlit run app.py` and
`streamlit run benchmarks/tutorial_app.py` on free loopback ports, and Debian's Chromium. Each repeat
measures, for a reply of N two-character chunks (trigger `[[fake:long:N]]`):

  (a) sdk       the `openai` SDK alone: from `create()` to the last chunk read;
  (b) app       our app in Chromium: from the Enter key to the whole reply text in the last chat message;
  (c) tutorial  the same for benchmarks/tutorial_app.py (`st.write_stream`, one re-render per chunk).

Browser times are taken inside the page (`performance.now()` at the Enter keydown, then checked on every
animation frame), so they are what a user sees. Each browser run is a fresh context (a new Streamlit
session); each app gets one short warm-up turn first. Also reported per app: time to the first reply text,
websocket frames and bytes received for the turn, and the time until the script run is over.

Targets: app <= 2x sdk, app <= 0.25x tutorial. `--check` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e import helpers  # noqa: E402

CHUNK = "数据"  # what the fake server streams for [[fake:long:N]]

INSTRUMENT = """full => {
    const bench = {enter: null, first: null, done: null};
    window.__bench = bench;
    document.addEventListener('keydown', e => {
        if (e.key === 'Enter' && bench.enter === null) bench.enter = performance.now();
    }, true);
    const tick = () => {
        if (bench.enter !== null) {
            const all = document.querySelectorAll('[data-testid="stChatMessage"]');
            const text = all.length ? all[all.length - 1].textContent : '';
            const now = performance.now();
            if (bench.first === null && text.includes('数据')) bench.first = now;
            if (text.includes(full)) { bench.done = now; return; }
        }
        requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
}"""


def measure_sdk(fake: helpers.FakeServer, chunks: int) -> float:
    import openai

    client = openai.OpenAI(api_key=helpers.VALID_KEY, base_url=fake.base_url, max_retries=0,
                           http_client=openai.DefaultHttpxClient(trust_env=False))
    try:
        start = time.perf_counter()
        stream = client.chat.completions.create(
            model="qwen-plus", stream=True, messages=[{"role": "user", "content": f"[[fake:long:{chunks}]]"}])
        parts = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
        elapsed = time.perf_counter() - start
    finally:
        client.close()
    if "".join(parts) != CHUNK * chunks:
        raise RuntimeError("the SDK read an incomplete reply")
    return elapsed


class RequestClock:
    """Notes when the fake server has received its next chat request (polled every 5 ms in a thread)."""

    def __init__(self, fake: helpers.FakeServer):
        self.fake = fake
        self.arrived: float | None = None
        self._stop = threading.Event()
        self._known = len(fake.requests())
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "RequestClock":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            if len(self.fake.requests()) > self._known:
                self.arrived = time.perf_counter()
                return
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def measure_client(fake: helpers.FakeServer, chunks: int) -> float:
    """Diagnostic: the app's own client (`qwenchat.client.QwenClient.stream_chat`, typed events on top of
    the SDK), without Streamlit. NaN if its interface changed."""
    try:
        from qwenchat.client import QwenClient, TextDelta
        from qwenchat.config import Settings

        client = QwenClient(Settings(api_key=helpers.VALID_KEY, base_url=fake.base_url), max_retries=0)
        start = time.perf_counter()
        text = "".join(event.text for event in client.stream_chat(
            [{"role": "user", "content": f"[[fake:long:{chunks}]]"}], model="qwen-plus")
            if isinstance(event, TextDelta))
        elapsed = time.perf_counter() - start
    except Exception as exc:  # noqa: BLE001 - a diagnostic must not stop the benchmark
        print(f"(app client not measured: {type(exc).__name__}: {exc})", file=sys.stderr)
        return float("nan")
    return elapsed if text == CHUNK * chunks else float("nan")


def measure_browser(browser: Any, url: str, chunks: int, timeout_s: float,
                    fake: helpers.FakeServer) -> dict[str, float]:
    """One turn in a fresh context; times in seconds from the Enter key."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        frames = {"count": 0, "bytes": 0, "on": False}

        def on_frame(payload: Any) -> None:
            if frames["on"]:
                frames["count"] += 1
                frames["bytes"] += len(payload)

        page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
        helpers.open_app(page, url)
        page.evaluate(INSTRUMENT, CHUNK * chunks)
        helpers.type_message(page, f"[[fake:long:{chunks}]]")
        frames["on"] = True
        clock = RequestClock(fake).start()
        wall = time.perf_counter()
        page.locator(helpers.CHAT_INPUT).press("Enter")
        page.wait_for_function("() => window.__bench.done !== null", polling=100, timeout=timeout_s * 1000)
        bench = page.evaluate("() => window.__bench")
        helpers.wait_idle(page, timeout=timeout_s * 1000)
        idle = time.perf_counter() - wall
        frames["on"] = False
        clock.stop()
        return {"total": (bench["done"] - bench["enter"]) / 1000, "first": (bench["first"] - bench["enter"]) / 1000,
                "request": (clock.arrived - wall) if clock.arrived else float("nan"),
                "idle": idle, "frames": frames["count"], "bytes": frames["bytes"]}
    finally:
        context.close()


def warm_up(browser: Any, url: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        helpers.open_app(page, url)
        helpers.send_message(page, "warm-up")
        helpers.wait_for_last_message(page, "warm-up", timeout=60_000)
        helpers.wait_idle(page, timeout=60_000)
    finally:
        context.close()


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=8000, help="two-character chunks in the reply")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds allowed for one browser turn")
    parser.add_argument("--check", action="store_true", help="exit 1 if the app misses a target")
    args = parser.parse_args()

    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"  # loopback only
    problem = helpers.chromium_problem()
    if problem:
        print(f"cannot run: {problem}", file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    home = helpers.temp_home("qwenchat-bench-")
    fake = app = tutorial = None
    try:
        fake = helpers.start_fake(home, home)
        app = helpers.start_streamlit(helpers.APP, fake=fake, home=home, log_dir=home, name="app")
        tutorial = helpers.start_streamlit(helpers.TUTORIAL_APP, fake=fake, home=home, log_dir=home,
                                           name="tutorial")
        sdk_runs: list[float] = []
        client_runs: list[float] = []
        app_runs: list[dict[str, float]] = []
        tutorial_runs: list[dict[str, float]] = []
        with sync_playwright() as playwright:
            browser = helpers.launch_chromium(playwright)
            warm_up(browser, app.url)
            warm_up(browser, tutorial.url)
            measure_sdk(fake, 100)  # warm the SDK's imports
            for i in range(args.repeat):
                sdk_runs.append(measure_sdk(fake, args.chunks))
                client_runs.append(measure_client(fake, args.chunks))
                app_runs.append(measure_browser(browser, app.url, args.chunks, args.timeout, fake))
                tutorial_runs.append(measure_browser(browser, tutorial.url, args.chunks, args.timeout, fake))
                print(f"run {i + 1}/{args.repeat}: sdk {sdk_runs[-1]:.2f} s · app {app_runs[-1]['total']:.2f} s · "
                      f"tutorial {tutorial_runs[-1]['total']:.2f} s", flush=True)
            browser.close()
    finally:
        for child in (tutorial, app, fake):
            if child is not None:
                child.stop()
        shutil.rmtree(home, ignore_errors=True)

    sdk = statistics.median(sdk_runs)
    app_t = median(app_runs, "total")
    tut_t = median(tutorial_runs, "total")
    print(f"\n{args.chunks} chunks x {args.repeat} repeats (medians)")
    print(f"  (a) SDK alone           {sdk:7.2f} s")
    print(f"  (b) app in Chromium     {app_t:7.2f} s")
    print(f"  (c) tutorial app        {tut_t:7.2f} s")
    print(f"      app's client alone  {statistics.median(client_runs):7.2f} s   (diagnostic: typed events, no UI)")
    print(f"  app / SDK       {app_t / sdk:6.2f}x   (target <= 2)")
    print(f"  app / tutorial  {app_t / tut_t:6.2f}x   (target <= 0.25)")
    print("\nprofile (medians, from Enter)  request sent  first text  last chunk  run over  ws frames  ws bytes")
    for name, runs in (("app", app_runs), ("tutorial", tutorial_runs)):
        print(f"  {name:<28} {median(runs, 'request'):8.2f} s {median(runs, 'first'):9.2f} s "
              f"{median(runs, 'total'):9.2f} s "
              f"{median(runs, 'idle'):8.2f} s {median(runs, 'frames'):11.0f} {median(runs, 'bytes'):10.0f}")
    missed = app_t > 2 * sdk or app_t > 0.25 * tut_t
    if missed:
        print("\nthe app misses a target")
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
