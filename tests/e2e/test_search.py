"""Search in a real browser: suggestions as you type in the header, the results page, a
facet that narrows them, and a hit that opens its page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.live


def total(page: Page) -> int:
    return int(
        (page.locator(".results-bar .summary strong").text_content() or "0").replace(",", "")
    )


def test_it_suggests_as_you_type_searches_narrows_by_domain_and_opens_a_hit(
    demo_mesh: None, live_server: Any, page: Page, tmp_path: Path
) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/datasets/")
    box = page.locator(".header-search").get_by_role("combobox")
    page.keyboard.press("/")
    expect(box).to_be_focused()

    box.press_sequentially("cust")
    listbox = page.get_by_role("listbox", name="Suggestions")
    expect(listbox.locator('[role="option"][data-type="product"]').first).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    box.press("ArrowDown")
    first = listbox.get_by_role("option").first
    expect(first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", first.get_attribute("id") or "")
    page.screenshot(path=tmp_path / "suggest.png")

    box.press_sequentially("mer")  # "custmer": no name starts so; the last option searches
    expect(listbox.get_by_role("option").last).to_have_text("SearchAll results for “custmer”")
    box.press("Escape")
    expect(listbox).to_be_hidden()
    box.press("Enter")

    expect(page).to_have_url(re.compile(r"/search/\?q=custmer$"))
    expect(page.locator(".search-note")).to_contain_text("Showing results for “customer”")
    everything = total(page)
    page.locator('#facet-domain input[value="sales"]').check()  # applies at once
    expect(page).to_have_url(re.compile(r"domain=sales"))
    expect(page.locator('#facet-domain input[value="sales"]')).to_be_checked()
    assert 0 < total(page) < everything
    for meta in page.locator(".search-hits .hit-meta").all():
        expect(meta).to_contain_text("in sales")
    screenshot(page, "search", tmp_path)

    hit = page.locator(".search-hits .hit-title a").first
    name = hit.text_content() or ""
    hit.click()
    expect(page).not_to_have_url(re.compile(r"/search/"))
    expect(page.locator("h1")).to_contain_text(name)


def test_a_suggestion_opens_on_enter(demo_mesh: None, live_server: Any, page: Page) -> None:
    page.goto(f"{live_server.url}/")
    box = page.locator(".header-search").get_by_role("combobox")
    box.press_sequentially("customer prof")
    option = page.get_by_role("option", name=re.compile("Customer profiles"))
    expect(option).to_be_visible()
    box.press("ArrowDown")
    box.press("Enter")

    expect(page).to_have_url(re.compile(r"/products/customer-profiles/$"))
