"""The UI in real headless Chromium: load the board, open a cluster, act on it, watch a live update.

Screenshots land in ``var/screenshots/`` for a person to look at. Skipped with the reason when
Chromium (``apt-get install chromium``) or the ``playwright`` package is missing; Playwright's own
browser download is never used.
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from api.app import create_app
from tests.api.factories import Builder, build_incident_day
from triage.access.settings import ApiSettings
from triage.settings import Settings
from triage.storage.database import transaction

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None,
    reason="headless Chromium not found at /usr/bin/chromium (apt-get install chromium)",
)


@pytest.fixture
def server(settings: Settings) -> Iterator[tuple[str, FastAPI]]:
    app = create_app(settings.model_copy(update={"api": ApiSettings(live_poll_seconds=0.2)}))
    with transaction(app.state.sessions) as session:
        build_incident_day(session)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    while not instance.started and thread.is_alive():
        thread.join(0.05)
    yield f"http://127.0.0.1:{port}", app
    instance.should_exit = True
    thread.join(10)
    app.state.engine.dispose()


@pytest.fixture
def page(server: tuple[str, FastAPI]) -> Iterator[object]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        browser_page = browser.new_page(viewport={"width": 1400, "height": 900})
        yield browser_page
        browser.close()


def test_board_open_cluster_and_mute(server: tuple[str, FastAPI], page: object) -> None:
    base, _ = server
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(base + "/")
    rows = page.locator("tbody#board-rows tr[data-cluster]")
    assert rows.count() == 3
    page.wait_for_selector("#live-status.on")
    page.screenshot(path=str(SCREENSHOTS / "board.png"), full_page=True)

    page.click("text=cannot log in · sign in · session expired")
    page.wait_for_selector("h1:has-text('cannot log in')")
    assert page.locator("svg.chart").count() == 1
    page.select_option("#mute-minutes", "240")
    page.click("button:has-text('Mute')")
    page.wait_for_selector(".flash.ok:has-text('Muted.')")
    assert page.locator(".pill.lead", has_text="muted until").count() >= 1
    page.screenshot(path=str(SCREENSHOTS / "cluster.png"), full_page=True)


def test_board_updates_live_without_reload(server: tuple[str, FastAPI], page: object) -> None:
    base, app = server
    page.goto(base + "/")
    page.wait_for_selector("#live-status.on")
    page.evaluate("window.__sameDocument = true")
    with transaction(app.state.sessions) as session:
        build = Builder(session, post_number=1000)
        posts = [
            build.post(f"search returns nothing for anything ({index})", 95 + index) for index in range(4)
        ]
        build.cluster("k-search", "search returns nothing", "search", "emerging", posts)
    page.wait_for_selector("tr[data-cluster='k-search']", timeout=10_000)
    assert page.evaluate("window.__sameDocument") is True
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "board-live.png"), full_page=True)
