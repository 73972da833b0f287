"""No N+1 on the portal's list pages: each is read in a fixed number of queries, whatever
the number of rows. Every page is counted on the demo mesh, then again after the mesh has
grown (more products, jobs, runs, SLOs, waivers, tokens), and the counts must not move.
The counts are pinned: a page that needs another query should say why."""

from __future__ import annotations

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import ApiToken, DataProduct
from catalog.search.outbox import search_outbox_drain
from governance.models import Scorecard
from governance.scorecard_services import waiver_request
from lineage.services import lineage_events_ingest
from tests.catalog.test_product_pages import register
from tests.conftest import run_event
from tests.governance.test_scorecards import run_now

pytestmark = pytest.mark.django_db

# page -> (who looks, the queries it takes: the search page answers from the index)
PAGES: dict[str, tuple[str, int]] = {
    "/": ("visitor", 10),
    "/products/": ("visitor", 5),
    "/datasets/": ("visitor", 3),
    "/search/?q=customer": ("visitor", 0),
    "/domains/": ("visitor", 1),
    "/teams/": ("visitor", 2),
    "/lineage/runs/": ("visitor", 4),
    "/governance/": ("visitor", 8),
    "/governance/slos/": ("visitor", 11),
    "/governance/scorecards/": ("visitor", 6),
    "/governance/waivers/": ("steward", 6),
    "/governance/webhooks/": ("steward", 4),
    "/governance/my/": ("owner", 8),
    "/tokens/": ("admin", 4),
}


def grow(admin: User) -> None:
    """Three more products, ten more jobs with two runs each, more waivers and tokens, and
    another scorecard run."""
    for i in range(3):
        register(f"grow:p{i}", name=f"Grown {i}", domain="customer", table=f"grown{i}")
    now = timezone.now().isoformat()
    events = [
        run_event(state, job=("airflow://grown", f"job_{i}"), run_id=run, event_time=now)
        for i in range(10)
        for run in (str(uuid.uuid4()), str(uuid.uuid4()))
        for state in ("START", "FAIL" if i % 3 == 0 else "COMPLETE")
    ]
    lineage_events_ingest(payloads=events, token_name="tests")
    for product in DataProduct.objects.filter(external_id__startswith="grow:"):
        waiver_request(
            product=product,
            check_key="has_tags",
            justification="soon",
            expires_at=timezone.now() + timedelta(days=20),
            actor="tests",
        )
    for i in range(5):
        ApiToken.issue(name=f"grown-{i}", scopes=["lineage:write"], created_by=admin)
    call_command("slo_sweep", "--new-only", stdout=StringIO())
    for scorecard in Scorecard.objects.all():
        run_now(scorecard)
    search_outbox_drain(wait=True)


def counts(clients: dict[str, Client]) -> dict[str, int]:
    found = {}
    for url, (who, _) in PAGES.items():
        client = clients[who]
        client.get(url)  # warm: sessions, caches
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, url
        found[url] = len(queries)
    return found


def test_list_pages_read_in_a_fixed_number_of_queries() -> None:
    caches["graph"].clear()
    call_command("load_demo", "--no-progress", stdout=StringIO())
    call_command("slo_sweep", "--new-only", stdout=StringIO())
    call_command("load_demo_governance", stdout=StringIO())
    call_command("ensure_demo_users", stdout=StringIO())
    search_outbox_drain(wait=True)
    clients: dict[str, Client] = {"visitor": Client()}
    for who, name in (("owner", "nina"), ("steward", "lena"), ("admin", "admin")):
        clients[who] = Client()
        clients[who].force_login(User.objects.get(username=name))

    before = counts(clients)
    grow(User.objects.get(username="admin"))
    after = counts(clients)

    assert after == before, {u: (before[u], after[u]) for u in before if before[u] != after[u]}
    assert after == {url: pinned for url, (_, pinned) in PAGES.items()}
