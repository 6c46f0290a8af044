"""How long a rerun takes with a long history: our app next to the tutorial pattern with the same messages.

    .venv/bin/python benchmarks/rerun_speed.py [--sizes 10,100,500] [--repeat 15] [--script-repeat 41] [--no-browser] [--no-script]
                                               [--against GIT_REF[,GIT_REF...]]

Target: our app's rerun at most 1.2× the tutorial's (`benchmarks/tutorial_app.py`) for the same history.
Two measurements, both medians, with the same N messages (`tests/e2e/load_helpers.history`: alternating
questions of ~60 characters and Markdown answers of ~400 with a code block):

- **browser** (Debian's Chromium, fake DashScope, loopback only): our app opens a conversation saved in a
  temporary QWENCHAT_DB by its link (`?c=<id>&o=<owner token>`, public mode); the tutorial app is
  `benchmarks/tutorial_history_app.py?n=N` (the tutorial page with its `messages` seeded). Each sample
  presses "r" (Streamlit's rerun shortcut: nothing changes, the whole script runs again) and times, with
  the page's own clock, from the key press until the app root's script state, having left `notRunning`
  (`rerunRequested`, `running`), is back to `notRunning` with no stale element. That is the rerun as a
  user waits for it: websocket round trip, the script run, the deltas and React's update (the paint of
  the last frame after it is not included). Both apps are measured alternately in the same Chromium,
  after one untimed round.
- **script** (server side, no browser): `AppTest.run()` repeated with the history put in session state
  (`conversation` for our app, `messages` for `tutorial_app.py`), timing only the script's execution
  inside Streamlit's runner (`exec_func_with_error_handling`, wrapped for the benchmark): the app's code
  and every `st.*` call building its messages, without AppTest's polling and tree building (which add a
  few milliseconds of noise to `AppTest.run()` itself) and without the websocket or the browser.

`--against REF` (e.g. `13b74fd`, the code before the chat controls) also serves that commit's app from a
temporary `git worktree`, seeded by that commit's own store code, and times it in the same browser, in
turn with the two others: the "ours / REF" ratio is the regression measured in one run, which a shared
machine's noise between runs cannot fake. Several refs, comma-separated, are all timed in that one run (an
experiment committed on a scratch branch is timed against the code it changes this way).

Limits: the machines are shared, so single times are noise; compare the ratios printed side by side, and
run it twice when the machine is busy. The tutorial page has no sidebar, so with a short history the
ratio mostly measures our sidebar's fixed cost; with a long one, the cost per message.
A rerun with nothing changed is the cheapest rerun; a rerun triggered by a sidebar widget costs the same
script run plus that widget's callback.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qwenchat import identity  # noqa: E402
from qwenchat.chat.state import ChatSession  # noqa: E402
from qwenchat.conversation import Conversation, Message, Usage  # noqa: E402
from qwenchat.store import open_store  # noqa: E402
from tests.e2e import helpers  # noqa: E402
from tests.e2e import load_helpers as lh  # noqa: E402

TARGET = 1.2
TUTORIAL = ROOT / "benchmarks" / "tutorial_app.py"
TUTORIAL_HISTORY = ROOT / "benchmarks" / "tutorial_history_app.py"
SECRET = "rerun-benchmark-owner-secret"  # the app's QWENCHAT_SECRET here, so the token below is its own
OWNER_TOKEN = identity.mint_token(SECRET.encode())
APP_ENV = {"QWENCHAT_SECRET": SECRET, "QWENCHAT_PROVIDER": "dashscope"}


def conversation_of(n: int) -> Conversation:
    """The benchmark history as our app keeps it: replies with their model and billed usage."""
    conversation = Conversation(model="qwen-plus", title=f"rerun benchmark {n}")
    for k, item in enumerate(lh.history(n)):
        if item["role"] == "user":
            conversation.messages.append(Message("user", item["content"]))
        else:
            conversation.messages.append(Message("assistant", item["content"], model="qwen-plus",
                                                 usage=Usage(200 + 10 * k, 150, 350 + 10 * k)))
    return conversation


# --- browser ------------------------------------------------------------------------------------------

OLD_SEED = """
import sys
sys.path.insert(0, sys.argv[1])
from benchmarks import rerun_speed as bench
from qwenchat import identity
from qwenchat.store import open_store
secret = getattr(bench, "SECRET", None)
owner = identity.owner_for(url_token=bench.OWNER_TOKEN, **({"secret": secret.encode()} if secret else {}))
with open_store(sys.argv[2]) as store:
    for n in sys.argv[3].split(","):
        conversation = bench.conversation_of(int(n))
        store.save_conversation(owner.id, conversation)
        print(n, conversation.id, bench.OWNER_TOKEN)
"""


def start_reference(ref: str, sizes: list[int], fake, home: Path) -> tuple[helpers.Child, dict[int, str], Path]:
    """`ref`'s app from a temporary worktree, its history saved by `ref`'s own code: (app, links, worktree)."""
    import subprocess

    tree = home / f"ref-{ref}"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), ref], check=True)
    ref_home = home / f"ref-home-{ref}"
    ref_home.mkdir()
    seeded = subprocess.run([sys.executable, "-c", OLD_SEED, str(tree), str(ref_home / "qwenchat.db"),
                             ",".join(map(str, sizes))], check=True, capture_output=True, text=True, cwd=tree,
                            env={**os.environ, "QWENCHAT_SECRET": SECRET})
    links = {}
    for line in seeded.stdout.split("\n"):
        if line.strip():
            n, cid, token = line.split()
            links[int(n)] = f"?c={cid}&o={token}"
    app = helpers.start_streamlit(tree / "app.py", fake=fake, home=ref_home, log_dir=home, name=f"reference-{ref}",
                                  extra_env=APP_ENV)
    return app, links, tree


def browser_medians(sizes: list[int], repeat: int, against: tuple[str, ...] = ()) -> dict[int, tuple[float, ...]]:
    from playwright.sync_api import sync_playwright

    home = helpers.temp_home("qwenchat-rerun-bench-")
    owner = identity.owner_for(url_token=OWNER_TOKEN, secret=SECRET.encode())
    ids = {}
    with open_store(home / "qwenchat.db") as store:
        for n in sizes:
            conversation = conversation_of(n)
            store.save_conversation(owner.id, conversation)
            ids[n] = conversation.id
    fake = helpers.start_fake(home, home)
    apps: list[helpers.Child] = []
    results = {}
    trees: list[Path] = []
    references: list[tuple[helpers.Child, dict[int, str]]] = []
    try:
        ours = helpers.start_streamlit(helpers.APP, fake=fake, home=home, log_dir=home, name="app", extra_env=APP_ENV)
        apps.append(ours)
        tutorial = helpers.start_streamlit(TUTORIAL_HISTORY, fake=fake, home=home, log_dir=home, name="tutorial")
        apps.append(tutorial)
        for ref in against:
            reference, links, tree = start_reference(ref, sizes, fake, home)
            apps.append(reference)
            trees.append(tree)
            references.append((reference, links))
        with sync_playwright() as playwright:
            browser = helpers.launch_chromium(playwright)
            try:
                for n in sizes:
                    pages = []
                    urls = [f"{ours.url}/?c={ids[n]}&o={OWNER_TOKEN}", f"{tutorial.url}/?n={n}"]
                    urls += [f"{reference.url}/{links[n]}" for reference, links in references]
                    for url in urls:
                        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
                        page = context.new_page()
                        helpers.open_app(page, url, timeout=60_000)
                        page.wait_for_function(f"() => document.querySelectorAll('{helpers.CHAT_MESSAGE}')"
                                               f".length >= {n}", timeout=60_000)
                        helpers.wait_idle(page, timeout=60_000)
                        pages.append(page)
                    samples: tuple[list[float], ...] = tuple([] for _ in pages)
                    for k in range(repeat + 1):  # the first round warms them up and is not counted
                        for page, kept in zip(pages, samples):
                            seconds = lh.timed_rerun(page, lh.press_r)
                            helpers.wait_idle(page, timeout=60_000)
                            if k:
                                kept.append(seconds)
                    for page in pages:
                        shown = page.locator(helpers.CHAT_MESSAGE).count()
                        assert shown >= n, f"only {shown} of {n} messages on {page.url}"
                        assert page.locator('[data-testid="stException"]').count() == 0, page.url
                        page.context.close()
                    results[n] = tuple(lh.median(kept) for kept in samples)
                    print(f"  browser, {n} messages: " + ", ".join(
                        f"{name} {seconds * 1000:.0f} ms" for name, seconds in
                        zip(("ours", "tutorial", *against), results[n])), flush=True)
            finally:
                browser.close()
    finally:
        for app in apps:
            app.stop()
        fake.stop()
        import subprocess

        for tree in trees:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
        shutil.rmtree(home, ignore_errors=True)
    return results


# --- AppTest ------------------------------------------------------------------------------------------

def apptest_medians(sizes: list[int], repeat: int) -> dict[int, tuple[float, float]]:
    from streamlit.runtime.scriptrunner import script_runner
    from streamlit.testing.v1 import AppTest

    # Session state set between AppTest runs warns about a missing run context: not a problem here.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").disabled = True
    runs: list[float] = []
    execute = script_runner.exec_func_with_error_handling

    def timed_execute(func, ctx):  # the runner's call around the whole script
        start = time.perf_counter()
        try:
            return execute(func, ctx)
        finally:
            runs.append(time.perf_counter() - start)

    script_runner.exec_func_with_error_handling = timed_execute

    home = helpers.temp_home("qwenchat-rerun-apptest-")
    # As the browser servers get it: no real key or endpoint, a temporary store; nothing is sent anyway.
    for name in [n for n in os.environ if n.startswith(("DASHSCOPE_", "QWEN", "OPENAI_"))]:
        del os.environ[name]
    os.environ.update(DASHSCOPE_API_KEY=helpers.VALID_KEY, DASHSCOPE_BASE_URL="http://127.0.0.1:9/compatible-mode/v1",
                      QWENCHAT_DB=str(home / "qwenchat.db"))
    results = {}
    try:
        for n in sizes:
            ours = AppTest.from_file(str(helpers.APP), default_timeout=60)
            tutorial = AppTest.from_file(str(TUTORIAL), default_timeout=60)
            ours.session_state["chat"] = ChatSession(conversation=conversation_of(n))
            tutorial.session_state["messages"] = lh.history(n)
            samples: tuple[list[float], list[float]] = ([], [])
            for k in range(repeat + 1):
                for at, kept in zip((ours, tutorial), samples):
                    gc.collect()  # each run starts from the same collector state, whatever ran before
                    runs.clear()
                    at.run()
                    assert not at.exception, at.exception
                    assert len(runs) == 1, f"{len(runs)} script runs for one AppTest.run()"
                    if k:
                        kept.append(runs[0])
            assert len(ours.chat_message) >= n and len(tutorial.chat_message) >= n
            results[n] = (lh.median(samples[0]), lh.median(samples[1]))
            del ours, tutorial
            print(f"  script, {n} messages: ours {results[n][0] * 1000:.0f} ms, "
                  f"tutorial {results[n][1] * 1000:.0f} ms", flush=True)
    finally:
        script_runner.exec_func_with_error_handling = execute
        shutil.rmtree(home, ignore_errors=True)
    return results


def print_results(title: str, results: dict[int, tuple[float, ...]], against: tuple[str, ...] = ()) -> None:
    print(f"\n{title}")
    header = ["messages", "ours (median)", "tutorial (median)", "ratio", f"target ≤ {TARGET}"]
    refs = against if any(len(r) > 2 for r in results.values()) else ()
    for ref in refs:
        header += [f"{ref} (median)", f"ours / {ref}", f"{ref} / tutorial"]
    rows = []
    for n, times in results.items():
        ours, tutorial = times[:2]
        row = [n, f"{ours * 1000:.0f} ms", f"{tutorial * 1000:.0f} ms", f"{ours / tutorial:.2f}×",
               "met" if ours / tutorial <= TARGET else "missed"]
        for reference in times[2:]:
            row += [f"{reference * 1000:.0f} ms", f"{ours / reference:.2f}×", f"{reference / tutorial:.2f}×"]
        rows.append(row)
    lh.print_table(header, rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,500", help="history lengths, comma-separated")
    parser.add_argument("--repeat", type=int, default=15, help="timed browser reruns per app and size")
    parser.add_argument("--script-repeat", type=int, default=41, help="timed script runs per app and size")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-script", action="store_true", help="skip the server-side script timing")
    parser.add_argument("--against", default="",
                        help="also time these git commits' apps (comma-separated), in the same browser run")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    against = tuple(ref for ref in args.against.split(",") if ref)

    results = {}
    if not args.no_script:
        print("script (server side, under AppTest: the script's execution only)...", flush=True)
        results["Script run, server side (AppTest, script execution only)"] = apptest_medians(sizes, args.script_repeat)
    if not args.no_browser:
        problem = helpers.chromium_problem()
        if problem:
            print(f"browser part skipped: {problem}")
        else:
            print("browser (Chromium: from pressing r until the rerun is over and nothing is stale)...", flush=True)
            results["Browser rerun: key press to idle page, page clock"] = browser_medians(sizes, args.repeat,
                                                                                         against)
    for title, table in results.items():
        print_results(title, table, against)
    return 0


if __name__ == "__main__":
    sys.exit(main())
