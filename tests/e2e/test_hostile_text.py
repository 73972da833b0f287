"""A descriptor written to attack its readers, opened in a real browser: its Markdown is
rendered, and nothing in it runs."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from catalog.services import data_product_register

pytestmark = pytest.mark.live

HOSTILE = """\
**Bold claim**, and the usual traps:

- <script>window.__xss=1</script>
- <img src=x onerror="window.__xss=2">
- [click me](javascript:window.__xss=3)
- <a href="javascript:window.__xss=4">tap me</a>

Read [the handbook](https://handbook.example.com/orders).
"""


def indented(text: str, spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in text.splitlines())


PRODUCT = f"""\
apiVersion: v1.0.0
kind: DataProduct
id: hostile
name: Hostile
version: 1.0.0
status: active
domain: sales
description:
  purpose: |
{indented(HOSTILE, 4)}outputPorts:
  - name: main
    version: 1.0.0
    contractId: hostile-contract
"""

CONTRACT = f"""\
apiVersion: v3.0.2
kind: DataContract
id: hostile-contract
version: 1.0.0
status: active
name: hostile contract
schema:
  - name: orders
    physicalType: table
    properties:
      - name: order_id
        logicalType: integer
        description: |
{indented(HOSTILE, 10)}"""


@pytest.fixture
def hostile_product(transactional_db: None) -> None:
    """Registered before the browser starts (its event loop would make Django refuse
    database calls from this thread)."""
    data_product_register(
        files={"product.yaml": PRODUCT, "contract.yaml": CONTRACT}, actor="tests", source="test"
    )


def test_hostile_markdown_is_rendered_and_nothing_in_it_runs(
    hostile_product: None, live_server: Any, page: Page
) -> None:
    page.goto(f"{live_server.url}/products/hostile/")
    expect(page.locator("h1")).to_have_text("Hostile")
    purpose = page.locator("dl.props dd.prose")
    expect(purpose.locator("strong")).to_have_text("Bold claim")
    expect(purpose.locator("ul > li")).to_have_count(4)
    handbook = purpose.get_by_role("link", name="the handbook")
    expect(handbook).to_have_attribute("href", "https://handbook.example.com/orders")
    expect(handbook).to_have_attribute("rel", "noopener noreferrer nofollow")
    column = page.locator("table.schema td", has_text="Bold claim")
    expect(column.locator("strong")).to_have_text("Bold claim")

    for name in ("click me", "tap me"):
        expect(page.get_by_role("link", name=name)).to_have_count(0)
        page.get_by_text(name).first.click()  # what a reader tempted by it would do

    assert page.evaluate("typeof window.__xss") == "undefined"
    urls = page.eval_on_selector_all(
        "[href], [src]", "els => els.map(e => e.getAttribute('href') || e.getAttribute('src'))"
    )
    assert urls and not [url for url in urls if "javascript:" in url.lower()]
    assert page.locator("[onerror], img[src=x], main script").count() == 0
