"""The demo mesh ships two scorecards with products at every level, a week of runs and a
pending waiver, as `make run` loads them."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from governance.models import Scorecard, Waiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo() -> dict[str, Scorecard]:
    for command in (
        ["load_demo", "--no-progress"],
        ["slo_sweep", "--new-only"],
        ["load_demo_governance"],
    ):
        call_command(*command, stdout=StringIO())
    return {s.slug: s for s in Scorecard.objects.select_related("last_run")}


def test_the_demo_has_a_global_and_a_domain_scorecard_with_history(
    demo: dict[str, Scorecard],
) -> None:
    assert set(demo) == {"readiness", "finance-controls"}
    assert demo["finance-controls"].filters == {"domains": ["finance"]}
    for scorecard in demo.values():
        assert scorecard.runs.filter(status="done").count() == 8  # a week of days, and now


def test_readiness_has_products_at_every_level(demo: dict[str, Scorecard]) -> None:
    last = demo["readiness"].last_run
    assert last is not None
    levels = dict(last.results.values_list("product__external_id", "level"))
    assert set(levels.values()) == {"", "bronze", "silver", "gold"}
    assert levels["order-events"] == ""  # a draft nobody owns
    assert levels["revenue-by-region"] == "bronze"  # half of its columns undescribed
    assert levels["crm-customers"] == "silver"  # no run for a week: the waiver's subject


def test_a_waiver_waits_for_a_steward(demo: dict[str, Scorecard]) -> None:
    waiver = Waiver.objects.get()
    assert (waiver.product.external_id, waiver.check_key, waiver.status) == (
        "crm-customers",
        "lineage_recent",
        "pending",
    )
    assert waiver.events.get().action == "requested"
