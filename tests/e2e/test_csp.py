"""The portal under its Content-Security-Policy (meshport.security), in a real browser: the
pages people use break no rule of it, and their scripts still work."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.e2e.conftest import log_in

pytestmark = pytest.mark.live

# Every violation the page reports, kept on the window for the test to read.
LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push({
    directive: event.violatedDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    line: event.lineNumber,
  });
});
"""


class Violations:
    """What the pages reported as they were opened, by address."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.found: dict[str, list[Any]] = {}
        page.add_init_script(LISTEN)
        page.on("console", self.console)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.found.setdefault(self.page.url, []).append(message.text)

    def collect(self) -> None:
        reported = self.page.evaluate("window.__cspViolations || []")
        if reported:
            self.found.setdefault(self.page.url, []).extend(reported)

    def visit(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_load_state("load")
        self.collect()


def test_the_portals_pages_break_no_rule_of_the_policy_and_still_work(
    demo_portal: None, live_server: Any, page: Page
) -> None:
    base = live_server.url
    seen = Violations(page)

    seen.visit(f"{base}/login/")
    log_in(page, base, "admin")
    seen.collect()
    for path in (
        "/",
        "/search/?q=customer",
        "/products/revenue-by-region/",
        "/lineage/runs/",
        "/governance/",
        "/governance/scorecards/",
        "/governance/scorecards/readiness/",
        "/governance/slos/",
        "/tokens/",
    ):
        seen.visit(f"{base}{path}")

    # "/" puts the cursor in the header's search box.
    page.locator("main h1").click()
    page.keyboard.press("/")
    expect(page.locator(".header-search input[name=q]")).to_be_focused()

    # A dataset's lineage, expanded in place by the page's script.
    seen.visit(f"{base}/datasets/?q=fct_orders")
    page.get_by_role("link", name="ANALYTICS.SALES.FCT_ORDERS").click()
    page.get_by_role("link", name="Open the full lineage").click()
    expect(page.locator("#lineage-figure")).to_be_visible()
    nodes = page.locator("#lineage-figure g.node")
    before = nodes.count()
    page.locator("#lineage-figure a.expand").first.click()
    expect(page).to_have_url(re.compile(r"expand="))
    expect(nodes).not_to_have_count(before)
    seen.collect()

    # The copy button of a new token (its script is a static file now).
    seen.visit(f"{base}/tokens/")
    page.get_by_label("Name").fill("csp-check")
    page.get_by_label(re.compile("lineage:write")).check()
    page.get_by_role("button", name="Issue token").click()
    copy = page.locator("button[data-copy]")
    copy.click()
    expect(copy).to_have_text("Copied")
    seen.collect()

    assert seen.found == {}


def test_every_html_page_carries_the_policy(demo_mesh: None, live_server: Any, page: Page) -> None:
    response = page.goto(f"{live_server.url}/products/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
