"""The demo mesh shows SLOs in every state a steward should recognise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from governance.models import Slo, SloKind
from governance.services import slo_changes_drain, slos_sweep

pytestmark = pytest.mark.django_db

ANCHOR = datetime(2025, 3, 14, tzinfo=UTC)


@pytest.fixture
def demo_slos() -> dict[tuple[str, str], Slo]:
    call_command(
        "load_demo", "--anchor", ANCHOR.date().isoformat(), "--no-progress", stdout=StringIO()
    )
    now = ANCHOR + timedelta(minutes=30)  # half an hour after the last events
    slo_changes_drain(now=now, limit=10_000)
    slos_sweep(now=now)
    return {
        (s.product.external_id, s.evidence.get("dataset", "").rsplit(":", 1)[-1] + "/" + s.kind): s
        for s in Slo.objects.select_related("product")
        if s.product is not None
    }


def test_the_demo_has_slos_met_one_breached_and_one_burning_its_budget(
    demo_slos: dict[tuple[str, str], Slo],
) -> None:
    states = [s.state for s in demo_slos.values()]
    assert states.count("met") >= 15

    breached = {key for key, s in demo_slos.items() if s.state == "breached"}
    assert {product for product, _ in breached} == {"revenue-daily"}
    fresh = demo_slos[("revenue-daily", "ANALYTICS.FINANCE.FCT_REVENUE_DAILY/freshness")]
    assert fresh.state == "breached" and fresh.evidence["last_success"]["run"]

    burning = demo_slos[("fx-rates", "ANALYTICS.FINANCE.DIM_FX_RATES/freshness")]
    assert burning.state == "met"
    assert burning.burn_rate_1d is not None and burning.burn_rate_1d > 1
    assert burning.budget_remaining is not None and 0 < burning.budget_remaining < 1
    assert burning.kind == SloKind.FRESHNESS
