"""Scorecard pages: the dashboard, one scorecard, one run, previewing a change, the waiver
queue and requests, and the scorecard panel of product pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import DataProduct
from catalog.services import data_product_register
from governance.charts import Part, Sample, stacked_bar, trend_chart
from governance.models import (
    Scorecard,
    ScorecardCheck,
    ScorecardResult,
    ScorecardRun,
    Waiver,
    WaiverEvent,
)
from governance.scorecard_services import (
    scorecard_run_execute,
    scorecard_save,
    waiver_decide,
    waiver_request,
)
from governance.scorecard_views import definition_yaml, digest, product_panel
from governance.scorecards import Definition, definition_from_dict
from governance.templatetags.scorecard_tags import cron_words
from tests.catalog.test_product_pages import bundle

pytestmark = pytest.mark.django_db

DASHBOARD = "/governance/scorecards/"
DETAIL = "/governance/scorecards/readiness/"
PREVIEW = "/governance/scorecards/readiness/preview/"
WAIVERS = "/governance/waivers/"
REQUEST = "/governance/waivers/request/"
TAGS_FIX = "Add at least 2 tag(s)"


def register(pid: str, **kw: Any) -> DataProduct:
    data_product_register(
        files=bundle(pid, table=pid.replace("-", "_"), **kw), actor="t", source="test"
    )
    return DataProduct.objects.get(external_id=pid)


def readiness(*more: dict[str, Any], **extra: Any) -> Scorecard:
    """Bronze needs an owner; Silver two tags; a check counted from 2099 on; ``more``
    checks."""
    data = {
        "slug": "readiness",
        "name": "Readiness",
        "schedule": "0 6 * * *",
        "levels": [
            {"slug": "bronze", "name": "Bronze", "color": "#a8713a"},
            {"slug": "silver", "name": "Silver", "color": "#7b8a97"},
        ],
        "checks": [
            {"check": "has_owner", "level": "bronze", "category": "Ownership", "weight": 3},
            {"check": "has_tags", "level": "silver", "params": {"min_tags": 2}},
            {"check": "description_filled", "category": "Documentation"},
            {"check": "semantic_version", "enabled_from": "2099-01-01"},
            *more,
        ],
        **extra,
    }
    return scorecard_save(actor="tester", via="api", definition=definition_from_dict(data))


def run_at(scorecard: Scorecard, at: datetime | None = None) -> ScorecardRun:
    """A run created and executed at ``at``, as the demo's history is."""
    at = at or timezone.now()
    run = ScorecardRun.objects.create(
        scorecard=scorecard, trigger=ScorecardRun.Trigger.MANUAL, created_at=at
    )
    done = scorecard_run_execute(run_pk=run.pk, now=at)
    assert done is not None and done.status == ScorecardRun.Status.DONE, done and done.error
    return done


@pytest.fixture
def mesh() -> dict[str, DataProduct]:
    """``orders`` (sales) at Silver, ``ledger`` (finance) at Bronze, ``clicks`` (sales)
    at Silver, owned by alice, carol and alice."""
    return {
        "orders": register("orders", tags=("orders", "sales")),
        "ledger": register("ledger", domain="finance", owner="carol", tags=("finance",)),
        "clicks": register("clicks", tags=("web", "clicks")),
    }


@pytest.fixture
def card(mesh: dict[str, DataProduct]) -> Scorecard:
    scorecard = readiness()
    run_at(scorecard)
    scorecard.refresh_from_db()
    return scorecard


@pytest.fixture
def alice(db: None) -> Client:
    """A browser logged in as alice, whom the descriptors name as an owner."""
    client = Client()
    client.force_login(User.objects.create_user("alice", "alice@example.com", "pw-alice-1"))
    return client


@pytest.fixture
def steward_browser(steward: User) -> Client:
    client = Client()
    client.force_login(steward)
    return client


@pytest.fixture
def outsider_browser(outsider: User) -> Client:
    client = Client()
    client.force_login(outsider)
    return client


def section(text: str, anchor: str) -> str:
    start = text.index(f'id="{anchor}"')
    return text[start : text.index("</section>", start)]


def page(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status
    return response.content.decode()


def soon(days: int = 10) -> str:
    return (timezone.localdate() + timedelta(days=days)).isoformat()


def waive(
    product: DataProduct,
    key: str,
    scorecard: Scorecard | None = None,
    *,
    why: str = "why",
    days: int = 5,
) -> Waiver:
    """A pending waiver, asked for by carol."""
    return waiver_request(
        product=product,
        check_key=key,
        scorecard=scorecard,
        justification=why,
        expires_at=timezone.now() + timedelta(days=days),
        actor="carol",
    )


def ask(client: Client, product: str = "ledger", **data: str) -> Any:
    form = {
        "product": product,
        "scorecard": "readiness",
        "check": "has_tags",
        "justification": "Tags come with the next release.",
        "expires_at": soon(),
        **data,
    }
    return client.post(REQUEST, form)


# --- the dashboard ------------------------------------------------------------------------


def test_the_governance_page_links_the_scorecards(client: Client) -> None:
    text = page(client, "/governance/")

    assert f'href="{DASHBOARD}"' in text and f'href="{WAIVERS}"' in text


def test_the_dashboard_without_scorecards_says_how_to_load_one(client: Client) -> None:
    text = page(client, DASHBOARD)

    assert "No scorecard yet:" in text and "manage.py load_scorecards PATH" in text


def test_the_dashboard_says_when_a_scorecard_has_not_run(client: Client) -> None:
    readiness()

    text = section(page(client, DASHBOARD), "sc-readiness")

    assert "Not run yet." in text and "every day at 06:00 UTC" in text


def test_the_dashboard_shows_levels_domains_trend_improvements_and_failures(
    client: Client, mesh: dict[str, DataProduct]
) -> None:
    scorecard = readiness()
    now = timezone.now()
    register("orders", tags=("orders",))  # a week ago, orders had one tag only
    week_ago = run_at(scorecard, now - timedelta(days=8))
    run_at(scorecard, now - timedelta(days=1))
    register("orders", tags=("orders", "sales"))
    run_at(scorecard, now)
    ScorecardResult.objects.filter(product=mesh["ledger"]).update(blast_radius=7)

    text = section(page(client, DASHBOARD), "sc-readiness")

    assert "<title>Readiness: Silver 2, Bronze 1, no level 0 of 3 products</title>" in text
    assert "<title>Readiness, 3 runs from" in text and "Silver 1 → 2" in text
    # by domain: finance's one product is at Bronze, sales' two at Silver
    assert "<title>finance: Silver 0, Bronze 1, no level 0 of 1 product</title>" in text
    assert "<title>sales: Silver 2, Bronze 0, no level 0 of 2 products</title>" in text
    improved = text[text.index("Most improved") : text.index("Failing checks")]
    assert f"/governance/scorecards/readiness/runs/{week_ago.pk}/" in improved
    assert "orders" in improved and "ledger" not in improved and "(+" in improved
    failing = text[text.index("Failing checks") :]
    assert failing.index("/products/ledger/") < failing.index("/products/orders/")
    assert "Tagged" in failing and TAGS_FIX in failing and ">7<" in failing


def test_failing_checks_come_widest_reach_first(
    client: Client, mesh: dict[str, DataProduct], card: Scorecard
) -> None:
    register("orders", tags=("orders",))
    run_at(card)
    ScorecardResult.objects.filter(product=mesh["ledger"]).update(blast_radius=2)
    ScorecardResult.objects.filter(product=mesh["orders"]).update(blast_radius=9)

    text = page(client, DASHBOARD)
    failing = text[text.index("Failing checks") :]

    assert failing.index('href="/products/orders/') < failing.index('href="/products/ledger/')


@pytest.mark.parametrize("more", [0, 10])
def test_the_dashboard_reads_in_six_queries_whatever_the_number_of_products(
    client: Client, mesh: dict[str, DataProduct], more: int, django_assert_num_queries: Any
) -> None:
    for i in range(more):
        register(f"extra-{i}", domain=f"d{i % 3}", tags=("x",))
    scorecard = readiness()
    run_at(scorecard, timezone.now() - timedelta(days=7))
    run_at(scorecard)
    # scorecards with their last runs; a run a day; domains; results of the last and the
    # baseline runs; failing checks by reach; pending waivers
    with django_assert_num_queries(6):
        response = client.get(DASHBOARD)
    assert response.status_code == 200


# --- one scorecard ------------------------------------------------------------------------


def test_the_scorecard_page_shows_its_definition_products_and_runs(
    client: Client, mesh: dict[str, DataProduct], card: Scorecard
) -> None:
    text = page(client, DETAIL)

    assert "Runs every day at 06:00 UTC" in text and "<code" in text
    definition = section(text, "definition")
    assert definition.index("Bronze") < definition.index("Silver") < definition.index("Score only")
    assert "Has an owner" in definition and "×3" in definition
    assert "counts from Jan 1, 2099" in definition and TAGS_FIX in definition
    products = section(text, "products")
    # ledger (Bronze, a failing check) comes before the Silver ones
    assert products.index("ledger") < products.index("orders")
    assert 'class="badge level-badge"><svg class="level-tint"' in products
    assert 'fill="#a8713a"></circle></svg>Bronze' in products
    assert '<span class="text-bad">1</span>' in products
    run = card.last_run
    assert run is not None and f"/governance/scorecards/readiness/runs/{run.pk}/" in text
    assert "Run now" not in text and "Preview a change" not in text


def test_the_scorecard_page_filters_products_by_level(
    client: Client, mesh: dict[str, DataProduct], card: Scorecard
) -> None:
    bronze = section(page(client, DETAIL + "?level=bronze"), "products")
    nothing = section(page(client, DETAIL + "?level=gold"), "products")

    assert "ledger" in bronze and "/products/orders/" not in bronze
    assert "No product at this level" in nothing


def test_a_scorecard_not_run_yet_says_so(client: Client) -> None:
    readiness(schedule="")

    text = page(client, DETAIL)

    assert "Not run yet." in text and "No schedule: runs on demand" in text


def test_an_unknown_scorecard_is_404(client: Client) -> None:
    assert client.get("/governance/scorecards/nope/").status_code == 404
    assert client.get("/governance/scorecards/nope/runs/1/").status_code == 404


@pytest.mark.parametrize("more", [0, 10])
def test_the_scorecard_page_reads_in_seven_queries_whatever_the_number_of_products(
    client: Client, mesh: dict[str, DataProduct], more: int, django_assert_num_queries: Any
) -> None:
    for i in range(more):
        register(f"extra-{i}", tags=("x",))
    scorecard = readiness()
    run_at(scorecard, timezone.now() - timedelta(days=1))
    run_at(scorecard)
    # the scorecard with its last run; levels; checks; products: count, page; runs; waivers
    with django_assert_num_queries(7):
        response = client.get(DETAIL)
    assert response.status_code == 200


def test_stewards_run_a_scorecard_now(
    steward_browser: Client, card: Scorecard, steward: User
) -> None:
    assert "Run now" in page(steward_browser, DETAIL)

    response = steward_browser.post(DETAIL + "run/")

    run = ScorecardRun.objects.latest("pk")
    assert (run.status, run.requested_by) == (ScorecardRun.Status.PENDING, steward.username)
    assert response.status_code == 302
    assert response["Location"] == f"/governance/scorecards/readiness/runs/{run.pk}/"
    assert "Queued" in page(steward_browser, response["Location"])


def test_others_may_not_run_a_scorecard(
    client: Client, outsider_browser: Client, card: Scorecard
) -> None:
    assert outsider_browser.post(DETAIL + "run/").status_code == 403
    assert client.post(DETAIL + "run/").status_code == 403
    assert ScorecardRun.objects.count() == 1


# --- one run ------------------------------------------------------------------------------


def test_a_run_page_lists_what_moved_and_why(client: Client, mesh: dict[str, DataProduct]) -> None:
    card = readiness({"key": "gdpr", "rule": 'tags contains "gdpr"', "name": "GDPR tagged"})
    before = run_at(card)
    register("orders", tags=("orders",))  # drops to Bronze
    register("ledger", domain="finance", owner="carol", tags=("finance", "gl"))  # rises
    register("clicks", tags=("web", "clicks", "gdpr"))  # a check passes, same level
    run = run_at(card)

    text = page(client, f"/governance/scorecards/readiness/runs/{run.pk}/")

    assert "Run #" in text and "run on demand" in text
    dropped = section(text, "dropped")
    assert "orders" in dropped and "Tagged" in dropped
    assert dropped.index("Bronze") > dropped.index("Silver")  # Silver → Bronze
    assert (
        '<span class="badge badge-ok">pass</span> → <span class="badge badge-bad">fail' in dropped
    )
    rose = section(text, "rose")
    assert "ledger" in rose and "orders" not in rose
    checks = section(text, "checks")
    assert "clicks" in checks and "GDPR tagged" in checks
    assert f"runs/{before.pk}/" in text  # compared with the run before


def test_the_first_run_has_nothing_to_compare_with(client: Client, card: Scorecard) -> None:
    text = page(client, f"/governance/scorecards/readiness/runs/{card.last_run_id}/")

    assert "The first run of this scorecard" in text
    assert "No product dropped a level" in text


def test_a_run_is_found_only_under_its_scorecard(client: Client, card: Scorecard) -> None:
    other = scorecard_save(
        actor="tester",
        via="api",
        definition=definition_from_dict({"name": "Other", "checks": ["has_owner"]}),
    )

    assert (
        client.get(f"/governance/scorecards/{other.slug}/runs/{card.last_run_id}/").status_code
        == 404
    )


# --- previewing and saving a change -------------------------------------------------------


def stricter(scorecard: Scorecard) -> str:
    """The saved definition with Bronze needing two tags as well."""
    data = Definition.from_model(scorecard).to_dict()
    two_tags = {"key": "two-tags", "check": "has_tags", "params": {"min_tags": 2}}
    data["checks"].append({**two_tags, "level": "bronze"})
    return definition_yaml(definition_from_dict(data))


def test_the_preview_page_holds_the_definition_as_yaml(
    steward_browser: Client, card: Scorecard
) -> None:
    text = page(steward_browser, PREVIEW)

    assert "slug: readiness" in text and "- key: has_owner" in text
    assert "enabled_from: &#x27;2099-01-01T00:00:00+00:00&#x27;" in text


def test_a_preview_tells_what_would_move_and_saves_nothing(
    steward_browser: Client, mesh: dict[str, DataProduct], card: Scorecard
) -> None:
    text = stricter(card)

    response = steward_browser.post(PREVIEW, {"definition": text, "action": "preview"})

    body = response.content.decode()
    assert response.status_code == 200
    assert "1 product would drop Bronze → no level" in body
    assert "ledger" in section(body, "preview") and "two-tags" in body
    assert f'name="previewed" value="{digest(text)}"' in body
    assert not ScorecardCheck.objects.filter(key="two-tags").exists()


def test_saving_takes_the_previewed_definition(
    steward_browser: Client, mesh: dict[str, DataProduct], card: Scorecard
) -> None:
    text = stricter(card)

    response = steward_browser.post(
        PREVIEW, {"definition": text, "action": "save", "previewed": digest(text)}
    )

    assert response.status_code == 302 and response["Location"] == DETAIL
    assert ScorecardCheck.objects.filter(scorecard=card, key="two-tags").exists()


def test_a_definition_changed_since_its_preview_is_previewed_again_not_saved(
    steward_browser: Client, mesh: dict[str, DataProduct], card: Scorecard
) -> None:
    text = stricter(card)

    response = steward_browser.post(
        PREVIEW, {"definition": text, "action": "save", "previewed": digest("older text")}
    )

    assert response.status_code == 200
    assert "changed since its preview" in response.content.decode()
    assert not ScorecardCheck.objects.filter(key="two-tags").exists()


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (
            "name: Readiness\nlevels: [bronze]\nchecks: [{check: nope, level: bronze}]",
            "checks/0/check",
        ),
        ("name: Readiness\nchecks: [has_owner]\nbogus: 1", "bogus"),
        ("name: Readiness\nchecks: [has_owner\n", "line 3, column 1"),
        ("slug: another\nname: Readiness\nchecks: [has_owner]", "slug"),
    ],
)
def test_a_definition_with_errors_names_their_paths_and_changes_nothing(
    steward_browser: Client, card: Scorecard, text: str, path: str
) -> None:
    for action in ("preview", "save"):
        response = steward_browser.post(
            PREVIEW, {"definition": text, "action": action, "previewed": digest(text)}
        )
        assert response.status_code == 400
        assert f"<code>{path}</code>" in response.content.decode()
    assert list(card.checks.values_list("key", flat=True)) == [
        "has_owner",
        "has_tags",
        "description_filled",
        "semantic_version",
    ]
    assert Scorecard.objects.count() == 1


def test_only_stewards_preview_or_save(
    client: Client, outsider_browser: Client, card: Scorecard
) -> None:
    text = stricter(card)
    data = {"definition": text, "action": "save", "previewed": digest(text)}

    assert outsider_browser.get(PREVIEW).status_code == 403
    assert outsider_browser.post(PREVIEW, data).status_code == 403
    assert client.get(PREVIEW).status_code == 302  # to the login page
    assert client.post(PREVIEW, data).status_code == 403
    assert not ScorecardCheck.objects.filter(key="two-tags").exists()


# --- the product page's panel -------------------------------------------------------------


def test_the_product_panel_shows_level_failing_checks_and_the_waiver_form_to_an_owner(
    alice: Client, mesh: dict[str, DataProduct], card: Scorecard
) -> None:
    text = section(page(alice, "/products/ledger/"), "scorecards")  # alice does not own it
    assert "Ask for a waiver" not in text
    register("ledger", domain="finance", owner="alice", tags=("finance",))
    run_at(card)

    text = section(page(alice, "/products/ledger/"), "scorecards")

    assert 'fill="#a8713a"></circle></svg>Bronze</span>' in text and "<strong>60</strong>" in text
    assert "To reach" in text and 'fill="#7b8a97"></circle></svg>Silver' in text
    failing = text[text.index('id="check-readiness-has_tags"') :]
    assert "badge-bad" in failing[:300] and TAGS_FIX in failing
    assert "Ask for a waiver" in failing and f'action="{REQUEST}"' in failing
    assert "semantic_version" in text and "Counts from Jan 1, 2099" in text


def test_the_panel_offers_no_waiver_form_to_visitors_and_outsiders(
    client: Client, outsider_browser: Client, steward_browser: Client, card: Scorecard
) -> None:
    for browser, offered in ((client, False), (outsider_browser, False), (steward_browser, True)):
        text = section(page(browser, "/products/ledger/"), "scorecards")
        assert TAGS_FIX in text
        assert ("Ask for a waiver" in text) is offered


def test_the_panel_shows_waived_checks_with_their_expiry_and_the_products_waivers(
    client: Client, mesh: dict[str, DataProduct], card: Scorecard
) -> None:
    until = timezone.now() + timedelta(days=20)
    waiver = waiver_request(
        product=mesh["ledger"],
        check_key="has_tags",
        scorecard=card,
        justification="Next release.",
        expires_at=until,
        actor="carol",
    )
    waiver_decide(waiver=waiver, approve=True, actor="sam")
    waive(mesh["ledger"], "has_owner", why="Reorg.", days=20)
    run_at(card)

    text = section(page(client, "/products/ledger/"), "scorecards")

    assert '<span class="badge badge-warn">waived</span>' in text
    assert f"Waived until {until:%b} {until.day}, {until.year}" in text
    assert "Silver" in text and "Waivers of this product" in text
    assert "Next release." in text and "Reorg." in text and "every scorecard" in text


def test_a_product_no_scorecard_scored_says_so(
    client: Client, mesh: dict[str, DataProduct]
) -> None:
    text = section(page(client, "/products/ledger/"), "scorecards")

    assert "No scorecard has scored this product yet." in text


@pytest.mark.parametrize("scorecards", [1, 3])
def test_the_panel_reads_in_two_queries_whatever_the_number_of_scorecards(
    mesh: dict[str, DataProduct], scorecards: int, django_assert_num_queries: Any
) -> None:
    for i in range(scorecards):
        run_at(readiness(slug=f"card-{i}", name=f"Card {i}"))
        waive(mesh["ledger"], "has_tags")
    # the product's results in the last runs, with their runs and scorecards; its waivers
    with django_assert_num_queries(2):
        html = product_panel(mesh["ledger"]).render(request=None)  # type: ignore[arg-type]
    assert html.count('class="sc-card"') == scorecards


def test_the_product_page_query_count_does_not_grow_with_scorecards(
    alice: Client, mesh: dict[str, DataProduct]
) -> None:
    def count() -> int:
        alice.get("/products/orders/")  # warm the lineage graph's cache
        with CaptureQueriesContext(connection) as queries:
            alice.get("/products/orders/")
        return len(queries)

    run_at(readiness())
    one = count()
    for i in range(3):
        run_at(readiness(slug=f"card-{i}", name=f"Card {i}"))
    assert count() == one


# --- asking for a waiver ------------------------------------------------------------------


def test_an_owner_asks_for_a_waiver(
    alice: Client, mesh: dict[str, DataProduct], card: Scorecard
) -> None:
    assert "Ask for a waiver" in page(
        alice, f"{REQUEST}?product=orders&scorecard=readiness&check=has_tags"
    )

    response = ask(alice, "orders")

    waiver = Waiver.objects.get()
    assert response.status_code == 302
    assert response["Location"] == "/products/orders/#check-readiness-has_tags"
    assert (waiver.product, waiver.scorecard, waiver.check_key) == (
        mesh["orders"],
        card,
        "has_tags",
    )
    assert (waiver.status, waiver.requested_by) == (Waiver.Status.PENDING, "alice")
    assert timezone.localtime(waiver.expires_at).date().isoformat() == soon()
    assert WaiverEvent.objects.get().action == "requested"


def test_only_owners_and_stewards_ask_for_waivers(
    client: Client,
    outsider_browser: Client,
    alice: Client,
    steward_browser: Client,
    card: Scorecard,
) -> None:
    assert ask(outsider_browser).status_code == 403
    assert ask(alice, "ledger").status_code == 403  # carol owns it
    assert ask(client).status_code == 403
    assert not Waiver.objects.exists()
    assert ask(steward_browser).status_code == 302


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"justification": "  "}, "<strong>Justification</strong>: This field is required."),
        (
            {"expires_at": "2020-01-01"},
            "<strong>Expires on</strong>: the expiry must be in the future",
        ),
        ({"expires_at": "soon"}, "<strong>Expires on</strong>: Enter a valid date."),
        ({"check": "no-such-check"}, "<strong>Check</strong>: no scorecard has a check"),
    ],
)
def test_a_waiver_request_with_errors_names_the_field_and_saves_nothing(
    alice: Client, card: Scorecard, data: dict[str, str], named: str
) -> None:
    response = ask(alice, "orders", **data)

    assert response.status_code == 400
    assert named in response.content.decode()
    assert not Waiver.objects.exists()


# --- the waiver queue ---------------------------------------------------------------------


@pytest.fixture
def pending(mesh: dict[str, DataProduct], card: Scorecard) -> Waiver:
    return waive(mesh["ledger"], "has_tags", card, why="Tags come with the next release.")


def test_the_queue_needs_a_login_and_decisions_need_a_steward(
    client: Client, outsider_browser: Client, steward_browser: Client, pending: Waiver
) -> None:
    assert client.get(WAIVERS).status_code == 302
    read_only = page(outsider_browser, WAIVERS)
    assert "Tags come with the next release." in read_only and "Tagged" in read_only
    assert "Approve" not in read_only
    assert "Approve" in page(steward_browser, WAIVERS)
    for browser in (client, outsider_browser):
        assert (
            browser.post(
                f"/governance/waivers/{pending.pk}/decide/", {"decision": "approve"}
            ).status_code
            == 403
        )
        assert browser.post(f"/governance/waivers/{pending.pk}/revoke/").status_code == 403
    pending.refresh_from_db()
    assert pending.status == Waiver.Status.PENDING


def test_an_empty_queue_says_where_waivers_come_from(steward_browser: Client) -> None:
    text = page(steward_browser, WAIVERS)

    assert "Nothing waits for a decision." in text and "No waiver decided yet." in text


def test_a_steward_approves_with_another_expiry_and_a_note(
    steward_browser: Client, pending: Waiver, steward: User
) -> None:
    response = steward_browser.post(
        f"/governance/waivers/{pending.pk}/decide/",
        {"decision": "approve", "expires_at": soon(3), "note": "Until the release."},
    )

    assert response.status_code == 302 and response["Location"] == WAIVERS
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by) == (Waiver.Status.APPROVED, steward.username)
    assert timezone.localtime(pending.expires_at).date().isoformat() == soon(3)
    decided = section(page(steward_browser, WAIVERS), "decided")
    assert "approved" in decided and "Until the release." in decided and "Revoke" in decided
    assert decided.index("requested") < decided.index("approved</strong>")


def test_a_steward_denies_and_revokes(
    steward_browser: Client, pending: Waiver, card: Scorecard, mesh: dict[str, DataProduct]
) -> None:
    steward_browser.post(
        f"/governance/waivers/{pending.pk}/decide/", {"decision": "deny", "note": "Tag it."}
    )
    other = waive(mesh["orders"], "has_owner", card)
    waiver_decide(waiver=other, approve=True, actor="sam")

    steward_browser.post(f"/governance/waivers/{other.pk}/revoke/", {"note": "Owner named."})

    pending.refresh_from_db()
    other.refresh_from_db()
    assert (pending.status, other.status) == (Waiver.Status.DENIED, Waiver.Status.REVOKED)
    assert list(other.events.values_list("action", flat=True)) == [
        "requested",
        "approved",
        "revoked",
    ]


def test_a_decision_with_errors_names_the_field_and_changes_nothing(
    steward_browser: Client, pending: Waiver
) -> None:
    url = f"/governance/waivers/{pending.pk}/decide/"
    past = steward_browser.post(
        url, {"decision": "approve", "expires_at": "2020-01-01"}, follow=True
    )
    unknown = steward_browser.post(url, {"decision": "maybe"}, follow=True)

    assert "Nothing decided: expires at: the expiry must be in the future" in past.content.decode()
    assert "Nothing decided: decision:" in unknown.content.decode()
    pending.refresh_from_db()
    assert pending.status == Waiver.Status.PENDING


# --- the pieces ---------------------------------------------------------------------------

GOLD, SILVER, NONE = (
    Part("gold", "Gold", "#b8921c"),
    Part("silver", "Silver", "#7b8a97"),
    Part("", "no level", "#ddd"),
)


def test_a_stacked_bar_splits_products_by_level() -> None:
    bar = stacked_bar([GOLD, SILVER, NONE], {"gold": 1, "": 3}, name="Card")

    assert [(s.part.key, s.x, s.width) for s in bar.segments] == [
        ("gold", 0.0, 25.0),
        ("", 25.0, 75.0),
    ]
    assert bar.segments[0].title == "Gold: 1 of 4 products (25%)"
    assert bar.title == "Card: Gold 1, Silver 0, no level 3 of 4 products"


def test_a_trend_stacks_shares_and_draws_the_score() -> None:
    start = timezone.now() - timedelta(days=2)
    samples = [
        Sample(start, {"gold": 1, "": 1}, 50.0, "/r/1/"),
        Sample(start + timedelta(days=2), {"gold": 2}, 100.0, "/r/2/"),
    ]

    trend = trend_chart(samples, [GOLD, SILVER, NONE], name="Card")

    assert trend is not None and trend_chart(samples[:1], [GOLD]) is None
    assert [b.part.key for b in trend.bands] == ["gold", ""]  # silver never held
    assert trend.bands[0].points == "0.0,50.00 1000.0,0.00 1000.0,100.00 0.0,100.00"
    assert trend.line == "0.0,50.00 1000.0,0.00"
    assert [(d.x, d.y, d.url) for d in trend.dots] == [(0.0, 60.0, "/r/1/"), (100.0, 0.0, "/r/2/")]
    assert trend.title.startswith("Card, 2 runs from") and "Gold 1 → 2" in trend.title
    assert trend.title.endswith("mean score 50 → 100")


def test_schedules_read_in_words() -> None:
    assert [cron_words(s) for s in ("0 6 * * *", "30 6 * * 1-5", "*/15 * * * *", "5 * * * *",
                                    "0 6,18 * * 0", "0 0 1 * *", "0 6 * 1 *", "")] == [
        "every day at 06:00 UTC",
        "Monday to Friday at 06:30 UTC",
        "every 15 minutes",
        "every hour at minute 5",
        "every Sunday at 06:00 and 18:00 UTC",
        "on day 1 of every month at 00:00 UTC",
        "",
        "",
    ]  # fmt: skip
