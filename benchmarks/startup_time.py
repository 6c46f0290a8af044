"""How long from `streamlit run` to a page a visitor can use: our app next to the tutorial app.

    .venv/bin/python benchmarks/startup_time.py [--runs 7]

Each run starts a fresh `streamlit run` process (headless, loopback, temporary HOME, the fake DashScope
server's key and URL, as `tests/e2e/helpers.start_streamlit` does) and times, from just before the process
is spawned:

- **server up**: `/_stcore/health` answers (polled every 0.1 s): Python, Streamlit and the server started;
- **first paint**: a fresh browser context in an already running Chromium loaded the page and shows the
  app's title (our app: the `h1` "通义千问 Qwen Chat"; the tutorial: its `h1` "Tutorial chatbot") and an
  enabled chat input: the first script run (imports of the app's modules, the tokenizer for the usage
  panel, the sidebar) and the frontend's load.

Runs alternate between the two apps; a first run of each warms the OS file cache and is not counted.
Prints medians and the ratio (ours / tutorial). Chromium's own start is outside the timings.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e import helpers  # noqa: E402
from tests.e2e import load_helpers as lh  # noqa: E402

APPS = {
    "app": (helpers.APP, "通义千问 Qwen Chat"),
    "tutorial": (ROOT / "benchmarks" / "tutorial_app.py", "Tutorial chatbot"),
}
PAINTED_JS = f"""title => {{
    const h1 = [...document.querySelectorAll('h1')].find(h => h.innerText.includes(title));
    const box = document.querySelector('{helpers.CHAT_INPUT}');
    return !!h1 && h1.offsetParent !== null && !!box && !box.disabled && box.offsetParent !== null;
}}"""


def one_start(script: Path, title: str, browser, fake, home: Path) -> tuple[float, float]:
    """(seconds to server up, seconds to first paint), both from just before the process starts."""
    start = time.perf_counter()
    # The fake stands in for DashScope, the default configuration. (Taken for a local OpenAI-compatible
    # server, as the browser tests take it, the first page also asks it for its models: one request more.)
    app = helpers.start_streamlit(script, fake=fake, home=home, log_dir=home, name=script.stem,
                                  extra_env={"QWENCHAT_PROVIDER": "dashscope"})
    up = time.perf_counter() - start
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(app.url, wait_until="commit", timeout=60_000)
        page.wait_for_function(PAINTED_JS, arg=title, timeout=60_000, polling=20)
        painted = time.perf_counter() - start
        assert page.locator('[data-testid="stException"]').count() == 0, f"a traceback in {script.name}"
    finally:
        context.close()
        app.stop()
    return up, painted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed starts per app (after one warm-up)")
    args = parser.parse_args()
    problem = helpers.chromium_problem()
    if problem:
        print(f"skipped: {problem}")
        return 0
    from playwright.sync_api import sync_playwright

    home = helpers.temp_home("qwenchat-startup-bench-")
    fake = helpers.start_fake(home, home)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in APPS}
    try:
        with sync_playwright() as playwright:
            browser = helpers.launch_chromium(playwright)
            try:
                for k in range(args.runs + 1):
                    for name, (script, title) in APPS.items():
                        up, painted = one_start(script, title, browser, fake, home)
                        print(f"  {name}: run {k}{' (warm-up)' if k == 0 else ''}: server up {up:.2f} s, "
                              f"first paint {painted:.2f} s", flush=True)
                        if k:
                            samples[name].append((up, painted))
            finally:
                browser.close()
    finally:
        fake.stop()
        shutil.rmtree(home, ignore_errors=True)

    medians = {name: (lh.median(u for u, _ in runs), lh.median(p for _, p in runs)) for name, runs in samples.items()}
    print(f"\nStartup, median of {args.runs} runs (from spawning `streamlit run`)")
    lh.print_table(["app", "server up", "first paint", "paint after up"],
                   [[name, f"{up:.2f} s", f"{painted:.2f} s", f"{painted - up:.2f} s"]
                    for name, (up, painted) in medians.items()])
    ours, tutorial = medians["app"][1], medians["tutorial"][1]
    print(f"first paint, app / tutorial: {ours / tutorial:.2f}× ({ours - tutorial:+.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
