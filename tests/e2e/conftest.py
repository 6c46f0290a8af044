"""Fixtures for the browser tests: one fake DashScope server and one `streamlit run app.py` per session,
one Chromium per test module, and a fresh browser context (a new Streamlit session) per test.

The app runs with HOME, QWENCHAT_DB and the secrets file in a temporary folder and the fake server's key
and URL in its environment: nothing reads or writes the user's files, nothing leaves 127.0.0.1.

Without /usr/bin/chromium the tests are skipped, unless CI is set: CI fails instead of skipping silently.
A failed test leaves a screenshot and the app's log tail in `test-artifacts/` (git-ignored).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from . import helpers

ARTIFACTS = helpers.REPO_ROOT / "test-artifacts"


def require_chromium() -> None:
    """Skip (or, under CI, fail) when the browser tests cannot run on this machine."""
    problem = helpers.chromium_problem()
    if not problem:
        return
    if helpers.in_ci():
        pytest.fail(f"browser tests cannot run: {problem}. CI is set, so this fails instead of skipping.",
                    pytrace=False)
    pytest.skip(f"browser tests skipped: {problem}", allow_module_level=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[Any]:
    report = yield
    setattr(item, f"report_{report.when}", report)  # lets fixtures see whether the test failed
    return report


@pytest.fixture(scope="session")
def e2e_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-home")


@pytest.fixture(scope="session")
def fake_server(e2e_home: Path) -> Iterator[helpers.FakeServer]:
    require_chromium()  # no point starting servers for tests that will be skipped
    server = helpers.start_fake(e2e_home, e2e_home)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def app_server(fake_server: helpers.FakeServer, e2e_home: Path) -> Iterator[helpers.Child]:
    app = helpers.start_streamlit(helpers.APP, fake=fake_server, home=e2e_home, log_dir=e2e_home)
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="session")
def app_url(app_server: helpers.Child) -> str:
    return app_server.url


@pytest.fixture
def fake(fake_server: helpers.FakeServer) -> helpers.FakeServer:
    """The fake server with its request log and reply queue emptied for this test."""
    fake_server.reset()
    return fake_server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module. Module scope, not session: Playwright's sync API allows one running
    instance per thread, and a module that starts its own must find none left over from another."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = helpers.launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest, app_server: helpers.Child) -> Iterator[Any]:
    """A page in a fresh context (new cookies, new Streamlit session), 1280x800, Chinese locale."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    context.set_default_timeout(15_000)  # a stuck wait fails with a message before pytest-timeout fires
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            name = request.node.name.replace("/", "_")
            try:
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), timeout=5_000)
            except Exception:  # noqa: BLE001 - a screenshot is a courtesy, not a result
                pass
            (ARTIFACTS / f"{name}.app.log").write_text(app_server.log_tail(200))
        context.close()


@pytest.fixture
def received_frames(page: Any) -> list[bytes]:
    """Every websocket frame the page receives from now on, as bytes (register before opening the app)."""
    frames: list[bytes] = []

    def on_websocket(ws: Any) -> None:
        ws.on("framereceived",
              lambda payload: frames.append(payload if isinstance(payload, bytes) else payload.encode()))

    page.on("websocket", on_websocket)
    return frames
