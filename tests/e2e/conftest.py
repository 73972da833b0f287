"""Browser tests: Debian's chromium driven by Playwright against a live server.

``demo_portal`` loads what ``make run`` loads (the mesh, SLOs, scorecards and their history,
the demo users) and ``worker`` runs huey's consumer in this process, as ``make run``'s
worker does, so that queued work (scorecard runs, search indexing) happens as in use.

Screenshots for the README are taken by the tests where the pages are; they are written
to ``docs/`` only with ``MESHPORT_SCREENSHOTS=1`` (``make screenshots``).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.utils.module_loading import autodiscover_modules
from huey.consumer import Consumer
from huey.contrib.djhuey import HUEY
from playwright.sync_api import Browser, Page, expect, sync_playwright

from catalog.polling import PollingThread
from catalog.search.outbox import OutboxWriter, search_outbox_drain
from governance.services import SloWatcher

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def demo_mesh(transactional_db: None) -> None:
    """The demo mesh, loaded before the browser starts (its event loop would otherwise
    make Django refuse database calls from this thread)."""
    caches["graph"].clear()
    call_command("load_demo", "--no-progress", stdout=StringIO())
    search_outbox_drain(wait=True)  # what the worker would index: pages search as in use


@pytest.fixture
def demo_portal(demo_mesh: None) -> None:
    """Everything ``make run`` loads after the mesh: SLOs, scorecards with a week of
    history and a pending waiver, and the demo users (admin, nina the owner, lena the
    steward; password ``meshport-demo``)."""
    quiet = StringIO()
    call_command("slo_sweep", "--new-only", stdout=quiet)
    call_command("load_demo_governance", stdout=quiet)
    call_command("ensure_demo_users", stdout=quiet)
    search_outbox_drain(wait=True)


WORKER_THREADS: list[type[PollingThread]] = [OutboxWriter, SloWatcher]


@pytest.fixture
def worker(transactional_db: None) -> Iterator[Consumer]:
    """``manage.py run_huey`` in this process (it must share the test database): its
    worker threads, its scheduler and the threads its start-up hooks start."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    autodiscover_modules("tasks")  # as run_huey does: the apps' tasks and start-up hooks
    HUEY.flush()  # nothing left over from another run
    consumer = HUEY.create_consumer(workers=2, worker_type="thread", check_worker_health=False)
    consumer.start()
    try:
        yield consumer
    finally:
        consumer.stop(graceful=True)
        for thread in WORKER_THREADS:
            thread.stop_started()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


DOCS = Path(__file__).resolve().parents[2] / "docs"


def screenshot(page: Page, name: str, tmp_path: Path, *, height: int = 1000) -> Path:
    """A screenshot of the viewport (1280 × ``height``): into ``docs/`` for the README
    when ``MESHPORT_SCREENSHOTS`` is set, else beside the test's other files."""
    folder = DOCS if os.environ.get("MESHPORT_SCREENSHOTS") else tmp_path
    page.set_viewport_size({"width": 1280, "height": height})
    path = folder / f"{name}.png"
    page.screenshot(path=path)
    return path


def log_in(page: Page, base: str, username: str) -> None:
    """Through the login page, as people do."""
    page.goto(f"{base}/")
    page.get_by_role("navigation", name="Tools and account").get_by_role(
        "link", name="Log in"
    ).click()
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill("meshport-demo")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".aux-nav .user")).to_contain_text(username)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    yield page
    page.close()
