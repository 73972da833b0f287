"""Lineage in a real browser: from a product page to its lineage, expand, follow a link."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.live


def test_it_opens_a_products_lineage_expands_a_node_and_follows_a_link(
    demo_mesh: None, live_server: Any, page: Page
) -> None:
    page.goto(f"{live_server.url}/products/revenue-daily/")
    page.get_by_role("link", name="Open the full lineage").click()
    expect(page.locator("h1")).to_have_text("product:revenue-daily")
    expect(page.locator('g.node[data-node-id="product:refunds"]')).to_be_visible()

    # graph.js is deferred: it listens for changes once the document is parsed (on a
    # loaded machine, after the SVG above is already visible).
    page.wait_for_load_state("domcontentloaded")
    page.get_by_label("Level").select_option("dataset")  # redraws on change
    expect(page).to_have_url(re.compile(r"level=dataset"))
    nodes = page.locator("#lineage-figure g.node")
    before = nodes.count()
    badge = page.locator("#lineage-figure a.expand").first
    expanded = badge.get_attribute("data-node-id")
    badge.click()
    expect(page).to_have_url(re.compile(r"expand="))
    expect(nodes).not_to_have_count(before)
    assert nodes.count() > before
    assert page.locator(f'g.node[data-node-id="{expanded}"]').count() == 1

    job = page.locator("#lineage-figure g.node--job a").first
    name = job.locator(".node-label").text_content() or ""
    job.click()
    expect(page.locator(".kicker")).to_contain_text("Job")
    expect(page.locator("h1")).to_contain_text(name.rstrip("…"))
