"""Browser tests: a real ``motionscript serve`` process, Debian's Chromium driven by Playwright.

Chromium plays the synthetic-truth clip (``clip.py``) as its camera. It is Debian's package
(``make test`` installs it; never ``playwright install``); without it the tests skip here and
fail in CI. Screenshots are kept in ``tests/artifacts/web/`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.service._servers import Processes, cli, free_port, service_env, wait_ready
from tests.service.conftest import client, database_url, pg_server, settings  # noqa: F401 - test_routes.py, both databases
from tests.web.clip import ClipSpec, write_y4m
from tests.web.realtime import RealtimeWatchdog, guarded_executable, kill_groups

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"


def chromium_args(camera: Path) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--mute-audio",  # its audio threads are the ones that ask for real-time priority (tests/web/realtime.py)
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}",
        "--autoplay-policy=no-user-gesture-required",
    ]


@pytest.fixture(scope="session")
def chromium() -> str:
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if not path:
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is required in CI but not found at {CHROMIUM}; `make test` installs it")
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install chromium (make test does)")
    return path


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> tuple[Path, ClipSpec]:
    spec = ClipSpec()
    path = tmp_path_factory.mktemp("camera") / "clip.y4m"
    write_y4m(path, spec)
    return path, spec


@dataclass(frozen=True)
class Server:
    base: str
    app_key: str  # the patient page's role
    clinician_key: str


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("server")
    (root / "logs").mkdir()
    env = service_env(data_dir=root / "var", workers=1)  # SQLite, one local worker: two cores are shared
    keys = {
        role: cli("keys", "create", "--clinic", "Web Clinic", "--role", role, env=env, cwd=root).strip()
        for role in ("app", "clinician")
    }
    procs = Processes(root / "logs")
    port = free_port()
    try:
        proc = procs.serve("serve", port, env=env, cwd=root)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc, timeout_s=120)
        yield Server(base, keys["app"], keys["clinician"])
    finally:
        procs.close()
        procs.dump_logs(60)


CLOSE_TIMEOUT_S = 30.0  # the browser's own close; then its process groups are killed regardless


@pytest.fixture(scope="session")
def watchdog() -> Iterator[RealtimeWatchdog]:
    """Demotes any thread below this test run found at a real-time policy (tests/web/realtime.py)."""
    with RealtimeWatchdog() as w:
        yield w


@pytest.fixture(scope="module")
def browser(chromium, clip, watchdog, tmp_path_factory):
    """Chromium that cannot take real-time scheduling; closed within CLOSE_TIMEOUT_S, then its groups killed."""
    from playwright.sync_api import sync_playwright

    launcher = guarded_executable(chromium, tmp_path_factory.mktemp("chromium"))
    mark = len(watchdog.demoted)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(launcher), headless=True, args=chromium_args(clip[0]))
        groups = watchdog.browser_groups()  # Playwright starts Chromium as a process-group leader
        try:
            yield b
        finally:
            # Playwright's sync API only runs on this thread: a timer kills the groups if close hangs
            deadline = threading.Timer(CLOSE_TIMEOUT_S, kill_groups, args=(groups,))
            deadline.start()
            try:
                b.close()
            finally:
                deadline.cancel()
                watchdog.scan()
                kill_groups(groups)
    demoted = watchdog.since(mark)
    assert not demoted, "the test browser took real-time priority (demoted):\n" + "\n".join(map(str, demoted))


class ConsoleErrors:
    """The page's console errors and uncaught exceptions; a test names the ones it provokes on purpose."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.expected: list[str] = []

    def expect(self, fragment: str) -> None:
        self.expected.append(fragment)

    def unexpected(self) -> list[str]:
        return [m for m in self.seen if not any(f in m for f in self.expected)]


@pytest.fixture
def console() -> ConsoleErrors:
    return ConsoleErrors()


@pytest.fixture
def page(browser, console, watchdog):
    """A fresh page (its own sessionStorage); console errors the test did not expect fail it, as does a real-time thread."""
    mark = len(watchdog.demoted)
    context = browser.new_context(viewport={"width": 412, "height": 915}, device_scale_factor=1)
    pg = context.new_page()
    pg.on("console", lambda m: console.seen.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: console.seen.append(f"page error: {e}"))
    try:
        yield pg
    finally:
        context.close()
    assert not console.unexpected(), "\n".join(console.unexpected())
    demoted = watchdog.since(mark)
    assert not demoted, "a real-time thread ran during this test (demoted):\n" + "\n".join(map(str, demoted))


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
