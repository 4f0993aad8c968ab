"""End-to-end: the real server (uvicorn on a free port, in a thread) on a small demo book,
driven by a real headless Chromium through Playwright.

The browser is the system's Chromium (Debian's ``chromium`` package; CI installs it), never
one downloaded by ``playwright install``; ``FORBEAR_CHROMIUM`` points elsewhere. Without a
browser (or without Playwright) every test here is skipped with the reason. Screenshots of
each page land in ``test-artefacts/screenshots/`` at the repository root.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from forbear.bootstrap import bootstrap
from forbear.settings import Environment, Settings
from forbear.web import create_app
from web.conftest import MORNING, PASSWORD, TEST_KEY, Book, Clock, shared_sqlite_book

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artefacts" / "screenshots"


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("FORBEAR_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        "/usr/bin/chromium",
        "/usr/lib/chromium/chromium",
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def browser_path() -> str:
    pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    found = chromium_path()
    if found is None:
        pytest.skip(
            "no Chromium found (install Debian's `chromium`, or set FORBEAR_CHROMIUM): "
            "the end-to-end tests need a real browser"
        )
    return found


@dataclass
class Server:
    url: str
    clock: Clock
    book: Book

    def shot(self, page, name: str) -> None:  # type: ignore[no-untyped-def]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, browser_path: str) -> Iterator[Server]:
    import uvicorn

    directory = tmp_path_factory.mktemp("e2e")
    book = shared_sqlite_book(tmp_path_factory, directory / "forbear.db")
    settings = Settings(
        environment=Environment.DEVELOPMENT,
        data_dir=directory,
        encryption_key=base64.b64encode(TEST_KEY).decode(),  # type: ignore[arg-type]
    )
    forbear = bootstrap(settings)
    clock = Clock(MORNING)
    app = create_app(forbear, clock=clock)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uvicorn_server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web server did not start")
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", clock, book)
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)
        forbear.close()


@pytest.fixture(scope="module")
def browser(browser_path: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=browser_path, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    opened = context.new_page()
    yield opened
    context.close()


def sign_in(page, server: Server, username: str = "agent1") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.url}/workbench")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form[action='/sign-in'] button[type=submit]")
    page.wait_for_url("**/workbench")


__all__ = ["PASSWORD", "datetime", "sign_in"]
