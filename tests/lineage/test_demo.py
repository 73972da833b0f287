"""The demo mesh: what ``load_demo`` builds, and that loading it again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from catalog.models import Dataset, DatasetSymlink, DatasetVersion, Namespace
from lineage.demo import demo_events, demo_namespaces
from lineage.models import ColumnLineage, DataQualityAssertion, Job, LineageEvent, Run, RunState

pytestmark = pytest.mark.django_db

ANCHOR = datetime(2025, 3, 14, tzinfo=UTC)


def load(*args: str) -> str:
    out = StringIO()
    call_command(
        "load_demo", "--anchor", ANCHOR.date().isoformat(), "--no-progress", *args, stdout=out
    )
    return out.getvalue()


def snapshot() -> dict[str, int]:
    return {
        "events": LineageEvent.objects.count(),
        "jobs": Job.objects.count(),
        "runs": Run.objects.count(),
        "datasets": Dataset.objects.count(),
        "versions": DatasetVersion.objects.count(),
        "column edges": ColumnLineage.objects.count(),
        "assertions": DataQualityAssertion.objects.count(),
    }


@pytest.fixture
def demo(db: None) -> str:
    return load()


def test_events_are_the_same_for_the_same_anchor() -> None:
    assert demo_events(ANCHOR) == demo_events(ANCHOR)
    assert demo_events(ANCHOR) != demo_events(datetime(2025, 3, 15, tzinfo=UTC))


def test_the_timeline_ends_at_the_anchor_and_spans_two_weeks() -> None:
    times = sorted(e["eventTime"] for e in demo_events(ANCHOR))

    assert times[0].startswith("2025-02-28")
    assert times[-1] < "2025-03-14T00:00:00"


def test_it_builds_several_domains_of_jobs_and_datasets(demo: str) -> None:
    domains = {
        ns
        for ns in Namespace.objects.values_list("name", flat=True)
        if ns.startswith(("airflow://", "dbt://"))
    }
    assert len({ns.split("://")[1] for ns in domains}) >= 4
    assert Namespace.objects.filter(name__in=demo_namespaces()).count() >= 4
    assert 15 <= Job.objects.count() <= 30
    assert 30 <= Dataset.objects.count() <= 50
    assert "24 jobs, 36 datasets" in demo


def test_runs_completed_failed_and_one_still_running(demo: str) -> None:
    assert Run.objects.filter(state=RunState.COMPLETED).count() > 200
    failed = Run.objects.filter(state=RunState.FAILED).exclude(stack_trace="")
    assert failed.count() >= 3
    running = Run.objects.get(state=RunState.RUNNING)
    assert running.job.type == "STREAMING"


def test_it_carries_column_lineage_with_transformation_types(demo: str) -> None:
    kinds = set(ColumnLineage.objects.values_list("transformation_type", "transformation_subtype"))
    assert {
        ("DIRECT", "IDENTITY"),
        ("DIRECT", "TRANSFORMATION"),
        ("DIRECT", "AGGREGATION"),
        ("INDIRECT", "JOIN"),
        ("INDIRECT", "FILTER"),
    } <= kinds
    assert ColumnLineage.objects.filter(masking=True).exists()


def test_it_tells_the_story_of_a_schema_change_a_symlink_and_a_drop(demo: str) -> None:
    orders = Dataset.objects.get(name="RAW.SALES.ORDERS")
    assert orders.versions.count() == 2
    assert orders.schema_fields.filter(name="discount_amount").exists()
    assert DatasetSymlink.objects.filter(name="raw.clickstream_events").exists()
    legacy = Dataset.objects.get(name="ANALYTICS.MARKETING.LEGACY_CAMPAIGN_STATS")
    assert legacy.is_deleted and legacy.lifecycle_state == "DROP"
    assert DataQualityAssertion.objects.filter(success=False).count() == 1


def test_cross_domain_lineage_from_sales_to_finance(demo: str) -> None:
    revenue = Job.objects.get(name="analytics.finance.fct_revenue_daily")
    inputs = set(
        revenue.dataset_edges.filter(direction="input").values_list("dataset__name", flat=True)
    )
    assert "ANALYTICS.SALES.FCT_ORDERS" in inputs


def test_a_second_load_is_skipped(demo: str) -> None:
    before = snapshot()

    assert "demo mesh already loaded" in load()
    assert snapshot() == before


def test_a_load_after_the_raw_events_were_purged_is_skipped_too(demo: str) -> None:
    LineageEvent.objects.update(received_at=timezone.now() - timedelta(days=100))
    call_command("purge_events", "--older-than", "90d", "--no-progress", stdout=StringIO())
    assert not LineageEvent.objects.exists()
    before = snapshot()

    assert "demo mesh already loaded" in load()
    assert snapshot() == before


def test_a_forced_second_load_the_same_day_stores_only_duplicates(demo: str) -> None:
    before = snapshot()

    output = load("--force")

    assert " 0 accepted, " in output
    assert snapshot() == before
    assert not LineageEvent.objects.filter(duplicates=0).exists()
