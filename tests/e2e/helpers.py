"""Plumbing shared by the browser tests and the benchmarks: free ports, the fake DashScope server and
Streamlit apps as child processes, Debian's Chromium under Playwright, and a few page actions.

Nothing here talks to anything but 127.0.0.1. Every child process gets its own process group and a
scrubbed environment (a temporary HOME, no DashScope variables but the ones given, no proxies), so a
developer's own key, `.env`, `~/.streamlit/secrets.toml` or proxy never reaches a test.
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
FAKE_SERVER = REPO_ROOT / "tests" / "fake_dashscope.py"
APP = REPO_ROOT / "app.py"
TUTORIAL_APP = REPO_ROOT / "benchmarks" / "tutorial_app.py"

# Debian's Chromium, or the browser scripts/test.sh found (QWENCHAT_CHROMIUM).
CHROMIUM = os.environ.get("QWENCHAT_CHROMIUM") or "/usr/bin/chromium"

# In headless Chromium every browser context is a window of its own, and every window starts renderers for
# its address bar's suggestion popups (chrome://omnibox-popup.top-chrome/), which no test ever opens: about
# 1.5 CPU-seconds per context (the chat and controls browser tests: 140 CPU-s with them, 117 without; the
# 20-context load test: 21 CPU-s less before its first page loads).
UNUSED_FEATURES = ["WebUIOmniboxPopup", "WebUIOmniboxAimPopup"]
# What Playwright 1.65 disables itself (its chromiumSwitches.ts), for when its driver cannot be read.
_PLAYWRIGHT_DISABLED_FEATURES = [
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding", "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect", "TcpPortRandomizationWin", "OptimizationHints",
    "NetworkTimeServiceQuerying", "AimEnabled", "PreconnectToSearch", "msForceBrowserSignIn",
    "msEdgeUpdateLaunchServicesPreferredVersion"]


def playwright_disabled_features() -> list[str]:
    """The features Playwright's own launch switches disable, read from the driver it ships (its list
    changes between releases), else 1.65's. Chromium keeps only the last --disable-features it is given, so
    a test that disables more must name these again or turn them back on."""
    try:
        import playwright

        package = Path(playwright.__file__).parent / "driver" / "package" / "lib"
        for path in [package / "coreBundle.js", package / "server" / "chromium" / "chromiumSwitches.js"]:
            if path.exists():
                found = re.search(r"disabledFeatures\s*=\s*\[(.*?)\]", path.read_text(encoding="utf-8"), re.S)
                if found:
                    names = re.findall(r"""["']([A-Za-z0-9_]+)["']""", found.group(1))
                    if names:
                        return names
    except (ImportError, OSError, UnicodeDecodeError):
        pass
    return list(_PLAYWRIGHT_DISABLED_FEATURES)


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-features=" + ",".join(dict.fromkeys(playwright_disabled_features() + UNUSED_FEATURES))]

# Variables that could point a child process at a real key, a real endpoint or a proxy.
_SCRUBBED_PREFIXES = ("DASHSCOPE_", "QWEN", "OPENAI_", "STREAMLIT_")
_SCRUBBED_NAMES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"}

# Loopback only: never let urllib pick up a proxy from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _load_valid_key() -> str:
    """The one key the fake server accepts, read from its module without importing the tests package."""
    namespace: dict[str, Any] = {}
    for line in FAKE_SERVER.read_text(encoding="utf-8").splitlines():
        if line.startswith("VALID_KEY ="):
            exec(line, namespace)  # a single string literal assignment
            return namespace["VALID_KEY"]
    raise RuntimeError(f"VALID_KEY not found in {FAKE_SERVER}")


VALID_KEY = _load_valid_key()


def _playwright_own_chromium() -> bool:
    """Whether `playwright install chromium` has put a browser of its own in its cache (not on Debian here,
    where that download fails, but on macOS and other systems scripts/test.sh supports)."""
    roots = [os.environ.get("PLAYWRIGHT_BROWSERS_PATH", ""), "~/.cache/ms-playwright", "~/Library/Caches/ms-playwright"]
    return any(next(Path(root).expanduser().glob("chromium*"), None) is not None
               for root in roots if root and root != "0")


def chromium_executable() -> str | None:
    """The browser to launch: CHROMIUM when it exists, else None for Playwright's own download."""
    return CHROMIUM if Path(CHROMIUM).exists() else None


@functools.lru_cache(maxsize=1)
def chromium_problem() -> str:
    """Why browser tests cannot run here ('' when they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -r requirements-dev.txt)"
    if Path(CHROMIUM).exists():
        return ""
    if os.environ.get("QWENCHAT_CHROMIUM"):
        return f"QWENCHAT_CHROMIUM={CHROMIUM} does not exist"
    if _playwright_own_chromium():
        return ""
    return (f"{CHROMIUM} is missing: browser tests need Debian's Chromium (apt-get install -y chromium; "
            "`playwright install` does not work on these machines), or run scripts/test.sh")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The parent's environment minus anything that could leak a real key or route off the machine."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(_SCRUBBED_PREFIXES) and name.lower() not in _SCRUBBED_NAMES}
    env.update(HOME=str(home), NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


@dataclass
class Child:
    """A child process in its own process group, with its output in a log file."""

    name: str
    process: subprocess.Popen
    log_path: Path
    url: str = ""

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 5.0) -> None:
        if self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


def spawn(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> Child:
    log_path = log_dir / f"{name}.log"
    log = open(log_path, "wb")
    try:
        process = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()  # the child holds its own copy of the descriptor
    return Child(name, process, log_path)


def http_get(url: str, timeout: float = 5.0) -> bytes:
    with _opener.open(url, timeout=timeout) as response:
        return response.read()


def http_post_json(url: str, payload: Any, timeout: float = 5.0) -> Any:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with _opener.open(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def wait_until_up(child: Child, url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.process.returncode}:\n{child.log_tail()}")
        try:
            http_get(url, timeout=2.0)
            return
        except Exception as exc:  # noqa: BLE001 - not up yet
            last_error = exc
            time.sleep(0.1)
    child.stop()
    raise RuntimeError(f"{child.name} not up at {url} after {timeout:.0f} s ({last_error}):\n{child.log_tail()}")


@dataclass
class FakeServer:
    child: Child
    root_url: str

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/compatible-mode/v1"

    def requests(self) -> list[dict[str, Any]]:
        """Every chat request received since the last reset: {"path", "authorization", "body"}."""
        return json.loads(http_get(f"{self.root_url}/_fake/requests"))

    def reset(self) -> None:
        http_post_json(f"{self.root_url}/_fake/reset", {})

    def enqueue(self, spec: dict[str, Any]) -> None:
        """Queue the next reply (see tests/fake_dashscope.py), ahead of any trigger in the message."""
        http_post_json(f"{self.root_url}/_fake/enqueue", spec)

    def open_gate(self, name: str) -> None:
        """Let every stream held at gate `name` (a queued spec's "hold") go on."""
        http_post_json(f"{self.root_url}/_fake/open_gate", {"gate": name})

    def stop(self) -> None:
        self.child.stop()


def start_fake(log_dir: Path, home: Path) -> FakeServer:
    port = free_port()
    child = spawn("fake_dashscope", [sys.executable, str(FAKE_SERVER), "--port", str(port)],
                  clean_env(home), log_dir)
    root = f"http://127.0.0.1:{port}"
    wait_until_up(child, f"{root}/_fake/requests")
    return FakeServer(child, root)


def start_streamlit(script: Path, *, fake: Any, home: Path, log_dir: Path, name: str = "app",
                    extra_env: dict[str, str] | None = None, api_key: str | None = VALID_KEY) -> Child:
    """`streamlit run <script>` headless on a free port, keyed to the fake server (anything with a
    `base_url`); returns once healthy. `api_key=None` starts it with no DASHSCOPE_API_KEY at all."""
    port = free_port()
    keys = {"DASHSCOPE_API_KEY": api_key} if api_key is not None else {}
    settings = {"QWENCHAT_DB": str(home / "qwenchat.db"),
                "QWENCHAT_ALLOW_PRIVATE_URLS": "1",  # the fake server is on 127.0.0.1
                **(extra_env or {})}  # extra_env may name another database (a PostgreSQL URL)
    env = clean_env(home, **keys, DASHSCOPE_BASE_URL=fake.base_url, **settings)
    args = [sys.executable, "-m", "streamlit", "run", str(script),
            "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            # Only a secrets file that does not exist: a developer's .streamlit/secrets.toml stays unread.
            "--secrets.files", str(home / "no-secrets.toml")]
    child = spawn(name, args, env, log_dir)
    child.url = f"http://127.0.0.1:{port}"
    wait_until_up(child, f"{child.url}/_stcore/health", timeout=45.0)
    return child


def launch_chromium(playwright: Any, **kwargs: Any) -> Any:
    return playwright.chromium.launch(executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS,
                                      **kwargs)


def temp_home(prefix: str = "qwenchat-e2e-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


# --- page actions -------------------------------------------------------------------------------------

CHAT_INPUT = '[data-testid="stChatInputTextArea"]'
CHAT_MESSAGE = '[data-testid="stChatMessage"]'


def open_app(page: Any, url: str, timeout: float = 30_000) -> None:
    """Load the app and wait until the chat input is ready for typing."""
    page.goto(url, wait_until="domcontentloaded", timeout=timeout)
    page.locator(CHAT_INPUT).wait_for(state="visible", timeout=timeout)
    page.wait_for_function(
        f"() => {{ const t = document.querySelector('{CHAT_INPUT}'); return t && !t.disabled; }}",
        timeout=timeout)


def type_message(page: Any, text: str) -> None:
    box = page.locator(CHAT_INPUT)
    box.click()
    box.fill(text)


def send_message(page: Any, text: str) -> None:
    type_message(page, text)
    page.locator(CHAT_INPUT).press("Enter")


def wait_idle(page: Any, timeout: float = 30_000, settle_ms: int = 300) -> None:
    """Wait until the script run is over: Streamlit's own `data-test-script-state` on the app root says
    'notRunning', no element from an earlier run is shown as stale, and both stay so for `settle_ms`.

    The settling matters: a run that ends in `st.rerun()` reports 'notRunning' for a few milliseconds
    before the next run starts (and the new run drops the old run's unsent deltas). Call this after
    waiting for something the run produces: right after a submit the run may not have started yet."""
    page.evaluate("() => { window.__idleSince = null; }")
    page.wait_for_function(
        """settleMs => {
            const app = document.querySelector('[data-testid="stApp"]');
            const idle = !!app && app.getAttribute('data-test-script-state') === 'notRunning'
                && !document.querySelector('[data-stale="true"]');
            const now = performance.now();
            if (!idle) { window.__idleSince = null; return false; }
            if (window.__idleSince == null) window.__idleSince = now;
            return now - window.__idleSince >= settleMs;
        }""",
        arg=settle_ms, polling=20, timeout=timeout)
    page.evaluate("() => { window.__idleSince = null; }")


def go_to_page(page: Any, name: str, url_part: str, ready: str) -> None:
    """Open another page of the app through the sidebar's menu (the same session: a URL typed in the
    address bar would start a new one) and wait until `ready` shows and the run is over."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=name).click()
    page.wait_for_url(f"**{url_part}**")
    page.locator(ready).first.wait_for()
    wait_idle(page)


def choose_option(page: Any, selectbox: Any, option: str, attempts: int = 3) -> None:
    """Pick `option` in a Streamlit selectbox (a menu a rerun can close under the click: retry)."""
    for attempt in range(attempts):
        selectbox.click()
        choice = page.get_by_role("option", name=option)
        try:
            choice.wait_for(state="visible", timeout=3_000)
        except Exception:  # noqa: BLE001 - the menu closed or never opened
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")
            continue
        choice.click()
        return


# The row of small buttons under a message (branch switch, regenerate, edit, copy, delete) is a horizontal
# container of the message; message text never makes one.
MESSAGE_CONTROLS = '[data-testid="stHorizontalBlock"]'


# The chat as a user sees it, without the row of control buttons under each message (shared with the
# async load test). Call with MESSAGE_CONTROLS as its argument.
CHAT_MESSAGES_JS = """controls => [...document.querySelectorAll('[data-testid="stChatMessage"]')].map(m => {
    const content = m.querySelector('[data-testid="stChatMessageContent"]') || m;
    const rows = [...content.querySelectorAll(controls)];
    rows.forEach(r => { r.dataset.e2eHidden = r.style.display; r.style.display = 'none'; });
    const text = content.innerText.trim();
    rows.forEach(r => { r.style.display = r.dataset.e2eHidden; delete r.dataset.e2eHidden; });
    return {
        role: m.querySelector('[data-testid="stChatMessageAvatarUser"]') ? 'user' : 'assistant',
        text: text,
    };
})"""


def chat_messages(page: Any) -> list[dict[str, str]]:
    """The chat as a user sees it: [{"role": "user"|"assistant", "text": ...}] in page order, without the
    row of control buttons under each message."""
    return page.evaluate(CHAT_MESSAGES_JS, MESSAGE_CONTROLS)


def message_controls(message: Any) -> str:
    """The text of a message's control row as shown (e.g. '‹ 2/2 ›' around the buttons' icons)."""
    rows = message.locator(MESSAGE_CONTROLS)
    return " ".join(rows.all_inner_texts())


def wait_for_last_message(page: Any, needle: str, timeout: float = 30_000) -> None:
    """Wait until the last chat message on the page contains `needle`."""
    page.wait_for_function(
        """needle => {
            const all = document.querySelectorAll('[data-testid="stChatMessage"]');
            return all.length > 0 && all[all.length - 1].innerText.includes(needle);
        }""",
        arg=needle, timeout=timeout)


def wait_for(predicate: Any, timeout: float = 15.0, interval: float = 0.05) -> bool:
    """Poll `predicate()` until it is true or `timeout` seconds pass; returns its last verdict."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def has_cjk_font() -> bool:
    """Whether fontconfig knows a Chinese font (without one, Chinese text renders as empty boxes)."""
    try:
        out = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(out.strip())
