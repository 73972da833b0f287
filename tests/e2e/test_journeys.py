"""The four journeys people come to Meshport for, each in a real browser against a live
server holding what ``make run`` loads, with the worker running:

1. a consumer decides whether to trust a product;
2. an owner publishes a breaking revision of theirs, with a major version;
3. a steward approves a waiver and sees a product's level move;
4. a pipeline admin issues a token and a pipeline posts lineage with it.

They also take the README's screenshots (``make screenshots``).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from huey.consumer import Consumer
from playwright.sync_api import Page, expect

import catalog
from tests.e2e.conftest import log_in, screenshot

pytestmark = pytest.mark.live

DEMO_PRODUCTS = Path(catalog.__file__).parent / "demo_products"


def test_a_consumer_finds_a_product_and_decides_whether_to_trust_it(
    demo_portal: None, live_server: Any, page: Page, tmp_path: Path
) -> None:
    base = live_server.url
    page.goto(f"{base}/")
    account = page.get_by_role("navigation", name="Tools and account")
    expect(account.get_by_role("link", name="Log in")).to_be_visible()  # reading needs none

    box = page.locator("main form[role=search] input[name=q]")
    box.fill("custmer")  # a typo
    box.press("Enter")
    expect(page.locator(".search-note")).to_contain_text("Showing results for “customer”")
    page.locator('#facet-domain input[value="finance"]').check()
    expect(page).to_have_url(re.compile(r"domain=finance"))
    page.locator(".search-hits .hit-title a", has_text="Revenue by region").click()

    expect(page.locator("h1")).to_have_text("Revenue by region")
    pii = page.locator("tr.row-pii")
    expect(pii).to_have_count(1)
    expect(pii).to_contain_text("region_controller_email")
    expect(pii.locator(".badge-pii")).to_have_text("PII")
    expect(page.locator("#owners + dd")).to_contain_text("Erik Nilsson")
    slos = page.locator("#slos")
    expect(slos).to_contain_text("Service levels")
    expect(slos.locator(".badge").first).to_be_visible()
    expect(page.locator("#scorecard-readiness")).to_contain_text("Bronze")
    screenshot(page, "product", tmp_path, height=1100)

    page.get_by_role("link", name="Open the full lineage").click()
    expect(page.locator("h1")).to_have_text("product:revenue-by-region")
    page.wait_for_load_state("domcontentloaded")  # graph.js (deferred) listens from here
    page.get_by_label("Level").select_option("dataset")
    page.get_by_label("Direction").select_option("upstream")
    expect(page).to_have_url(re.compile(r"direction=upstream"))
    nodes = page.locator("#lineage-figure g.node")
    before = nodes.count()
    page.locator('#lineage-figure a.expand[data-side="upstream"]').first.click()
    expect(page).to_have_url(re.compile(r"expand="))
    expect(nodes).not_to_have_count(before)
    failing = page.locator("#lineage-figure g.node--job.state--failed")
    expect(failing).to_have_count(1)
    screenshot(page, "lineage", tmp_path, height=900)

    failing.locator("a").first.click()
    expect(page.locator("h1")).to_contain_text("analytics.finance.fct_revenue_daily")
    latest = page.locator(".page-head .meta span", has_text="Latest run")
    expect(latest.locator(".badge-failed")).to_have_text("FAILED")
    latest.get_by_role("link").click()
    expect(page.locator(".kicker")).to_contain_text("Run")
    expect(page.locator(".badge-failed").first).to_be_visible()
    expect(page.locator("main")).to_contain_text("Numeric value 'N/A' is not recognized")


def _customer_profiles(tmp_path: Path, version: str) -> list[str]:
    """customer-profiles' descriptors as its owner changed them: ``city`` dropped (lineage
    shows jobs reading it), ``preferred_language`` added, at ``version``."""
    folder = tmp_path / version
    folder.mkdir()
    paths = []
    for source in sorted((DEMO_PRODUCTS / "customer" / "customer-profiles").glob("*.yaml")):
        text = source.read_text()
        if source.name == "dim-customers.odcs.yaml":
            city = text.index("  - name: city\n")
            after = text.index("  - name:", city + 1)
            new = (
                "  - name: preferred_language\n"
                "    logicalType: string\n"
                "    physicalType: VARCHAR(8)\n"
                "    description: Language the customer chose for messages, as a BCP 47 tag\n"
            )
            text = text[:city] + new + text[after:]
            text = text.replace("version: 2.1.0", f"version: {version}", 1)
        else:
            text = re.sub(r"(?m)^version: 2\.1\.0$", f"version: {version}", text)
            text = text.replace("  version: 2.1.0", f"  version: {version}")
        (folder / source.name).write_text(text)
        paths.append(str(folder / source.name))
    return paths


def test_an_owner_publishes_a_breaking_revision_with_a_major_version(
    demo_portal: None, worker: Consumer, live_server: Any, page: Page, tmp_path: Path
) -> None:
    base = live_server.url
    log_in(page, base, "nina")
    page.get_by_role("link", name="My data").click()
    row = page.locator("#owned tr", has_text="Customer profiles")
    row.get_by_role("link", name="Upload a new revision").click()
    expect(page.locator("h1")).to_have_text("New revision of Customer profiles")

    page.get_by_label("Descriptor files").set_input_files(_customer_profiles(tmp_path, "2.2.0"))
    page.get_by_role("button", name="Preview").click()
    result = page.locator("main")
    expect(result).to_contain_text("Refused: a breaking change without a major version bump")
    breaking = page.locator(".finding-group.finding-breaking")
    expect(breaking).to_contain_text("Property dim_customers.city was removed")
    expect(page.locator(".finding-group.finding-info")).to_contain_text(
        "dim_customers.preferred_language was added"
    )
    consumers = breaking.locator(".consumers").first
    expect(consumers.get_by_role("link", name="revenue-by-region")).to_be_visible()
    expect(consumers).to_contain_text("analytics.sales.fct_orders")

    page.get_by_label("Descriptor files").set_input_files(_customer_profiles(tmp_path, "3.0.0"))
    page.get_by_role("button", name="Preview").click()
    expect(result).to_contain_text("Preview: nothing was saved")
    expect(result).to_contain_text("Property dim_customers.city was removed")
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page).to_have_url(re.compile(r"/products/customer-profiles/(#result)?$"))
    expect(page.locator(".messages")).to_contain_text("Registered revision 2 of customer-profiles")
    expect(page.locator(".page-head")).to_contain_text("v3.0.0")
    expect(page.locator("main")).to_contain_text("preferred_language")

    # The worker indexes the new revision: search finds the new column within seconds.
    for _ in range(20):
        page.goto(f"{base}/search/?q=preferred_language")
        if page.locator(".search-hits .hit-title a", has_text="Customer profiles").count():
            break
        page.wait_for_timeout(500)
    expect(page.locator(".search-hits .hit-title a", has_text="Customer profiles")).to_be_visible()


def test_a_steward_approves_a_waiver_and_sees_the_level_move(
    demo_portal: None, worker: Consumer, live_server: Any, page: Page, tmp_path: Path
) -> None:
    base = live_server.url
    log_in(page, base, "lena")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Governance").click()
    governance = page.get_by_role("navigation", name="Governance")
    governance.get_by_role("link", name="Scorecards").click()
    board = page.locator("#sc-readiness")
    domains = board.locator("table.sc-domains")
    expect(domains.locator("tr", has_text="customer")).to_contain_text("3")
    trend = board.locator("svg.sc-trend > title")
    expect(trend).to_contain_text("Gold")
    gold_before = _gold_now(trend.text_content() or "")
    screenshot(page, "governance", tmp_path, height=1000)

    failing = board.locator("table.sc-failing tbody tr")
    first_reach = int(failing.first.locator("td.num").text_content() or "0")
    reaches = [int(r.text_content() or "0") for r in failing.locator("td.num").all()]
    assert reaches == sorted(reaches, reverse=True) and reaches[0] == first_reach
    crm = failing.filter(has_text="CRM customers").filter(has_text="Lineage observed recently")
    expect(crm).to_have_count(1)

    governance.get_by_role("link", name="Waivers").click()
    pending = (
        page.locator(".sc-waiver, li, tr, article")
        .filter(has_text="CRM customers")
        .filter(has_text="Lineage observed recently")
    )
    expires = (date.today() + timedelta(days=60)).isoformat()
    pending.first.get_by_label("Expires on").fill(expires)
    pending.first.get_by_role("button", name="Approve").click()
    expect(page.locator(".messages")).to_contain_text(
        f"Waiver of lineage_recent for CRM customers approved until {expires}"
    )

    page.goto(f"{base}/governance/scorecards/readiness/")
    page.get_by_role("button", name=re.compile("Run now")).click()
    expect(page.locator(".messages")).to_contain_text("queued")
    # The worker runs it: the run page shows it done, with CRM customers moving up.
    for _ in range(40):
        if page.locator(".badge", has_text=re.compile("^done$", re.I)).count():
            break
        page.wait_for_timeout(500)
        page.reload()
    moved = page.locator("tr", has_text="CRM customers")
    expect(moved).to_contain_text("Gold")

    page.goto(f"{base}/products/crm-customers/")
    expect(page.locator("#scorecards")).to_contain_text("Gold")
    expect(page.locator("#scorecards")).to_contain_text("waived")
    page.goto(f"{base}/governance/scorecards/")
    trend = page.locator("#sc-readiness svg.sc-trend > title")
    assert _gold_now(trend.text_content() or "") == gold_before + 1


def _gold_now(title: str) -> int:
    found = re.search(r"Gold \d+ → (\d+)", title)
    assert found, title
    return int(found.group(1))


def test_a_pipeline_admin_issues_a_token_and_a_pipeline_posts_with_it(
    demo_portal: None, live_server: Any, page: Page
) -> None:
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    base = live_server.url
    log_in(page, base, "admin")
    page.get_by_role("link", name="Tokens").click()
    page.get_by_label("Name").fill("airflow-prod")
    page.get_by_label(re.compile("lineage:write")).check()
    page.get_by_role("button", name="Issue token").click()
    expect(page.locator("h1")).to_have_text("Token “airflow-prod” issued")
    secret = page.locator("#token-secret").input_value()
    assert secret.startswith("mp_")
    page.get_by_role("link", name="Back to the tokens").click()
    listed = page.locator("tr", has_text="airflow-prod")
    expect(listed).to_be_visible()
    assert secret not in page.content()  # shown once

    config = HttpConfig.from_dict(
        {"url": base, "auth": {"type": "api_key", "apiKey": secret}, "compression": "gzip"}
    )
    client = OpenLineageClient(transport=HttpTransport(config))
    run_id = str(uuid.uuid4())
    job = Job(namespace="airflow://journeys", name="nightly_export")
    now = datetime.now(UTC)
    for state, at in ((RunState.START, now - timedelta(minutes=3)), (RunState.COMPLETE, now)):
        client.emit(
            RunEvent(
                eventType=state,
                eventTime=at.isoformat(),
                run=Run(runId=run_id),
                job=job,
                producer="https://github.com/OpenLineage/OpenLineage/tree/1.0.0/client/python",
            )
        )

    page.goto(f"{base}/lineage/runs/")
    row = page.locator("tr", has_text="nightly_export")
    expect(row).to_contain_text("COMPLETED")
    expect(row).to_contain_text("3 min")
    row.get_by_role("link", name="nightly_export").first.click()
    expect(page.locator("h1")).to_contain_text("nightly_export")
