"""Browser tests: Debian's chromium driven by Playwright against a live server."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.cache import caches
from django.core.management import call_command
from playwright.sync_api import Browser, Page, sync_playwright

from catalog.search.outbox import search_outbox_drain

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
