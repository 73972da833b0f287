"""SLOs computed from lineage: tests drive the clock and the events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from catalog.models import DataProduct, Dataset, Namespace, ProductRevision
from governance import slo as governance_slo
from governance.models import Slo, SloKind, SloSegment, WebhookSubscription
from governance.services import (
    slo_changes_drain,
    slo_evaluate,
    slo_figures,
    slos_evaluate,
    slos_sweep,
)
from lineage.models import ChangeOutbox, DatasetVersion
from lineage.services import lineage_event_ingest, lineage_events_ingest
from tests.conftest import clone, run_event
from tests.lineage.fixture_corpus import template_events

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
WAREHOUSE = "postgres://warehouse:5432"
ORDERS = "public.orders"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def write_event(
    minutes: float,
    state: str = "COMPLETE",
    *,
    rows: int | None = None,
    run_id: str | None = None,
    job: str = "load_orders",
    facets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    output: dict[str, Any] = {"namespace": WAREHOUSE, "name": ORDERS, "facets": facets or {}}
    if rows is not None:
        output["outputFacets"] = {"outputStatistics": {"rowCount": rows}}
    return run_event(
        state,
        run_id=run_id or str(uuid.uuid4()),
        job=("etl", job),
        outputs=[output],
        event_time=iso(at(minutes)),
    )


def write(minutes: float, state: str = "COMPLETE", **kwargs: Any) -> None:
    lineage_event_ingest(payload=write_event(minutes, state, **kwargs))


def make_slo(kind: str, **values: Any) -> Slo:
    return Slo.objects.create(
        name=kind,
        kind=kind,
        namespace=WAREHOUSE,
        dataset_name=ORDERS,
        created_at=T0,
        **values,
    )


def timeline(slo: Slo) -> list[tuple[str, float, float | None]]:
    """The stored segments as (state, start, end) in minutes after T0."""

    def minutes(when: datetime | None) -> float | None:
        return None if when is None else (when - T0).total_seconds() / 60

    return [
        (s.state, minutes(s.start), minutes(s.end))  # type: ignore[misc]
        for s in SloSegment.objects.filter(slo=slo).order_by("start")
    ]


# --- freshness ------------------------------------------------------------------------


def test_a_freshness_slo_breaches_when_no_write_comes_in_time_and_recovers_with_one() -> None:
    write(0)
    slo = make_slo(SloKind.FRESHNESS, threshold_seconds=3600)

    assert slo_evaluate(slo=slo, now=at(30)).state == "met"
    breached = slo_evaluate(slo=slo, now=at(61))
    assert (breached.state, breached.state_since) == ("breached", at(60))
    assert breached.evidence["last_success"]["at"] == at(0).isoformat()

    write(90)
    slo_changes_drain(now=at(95))
    slo.refresh_from_db()
    assert (slo.state, slo.state_since) == ("met", at(90))
    assert timeline(slo) == [
        ("unknown", -28 * 24 * 60, 0),
        ("met", 0, 60),
        ("breached", 60, 90),
        ("met", 90, None),
    ]


def test_a_freshness_breach_starts_on_the_minute_it_was_due_not_when_the_sweep_ran() -> None:
    write(0)
    slo = make_slo(SloKind.FRESHNESS, threshold_seconds=45 * 60)
    slo_evaluate(slo=slo, now=at(10))
    slo_evaluate(slo=slo, now=at(600))  # the worker was down for hours
    assert timeline(slo)[1:] == [("met", 0, 45), ("breached", 45, None)]


def test_a_failed_run_is_not_a_successful_write() -> None:
    write(0)
    write(50, "FAIL")
    slo = make_slo(SloKind.FRESHNESS, threshold_seconds=3600)
    assert slo_evaluate(slo=slo, now=at(70)).state == "breached"


def test_a_late_event_rewrites_the_past_it_belongs_to() -> None:
    write(0)
    slo = make_slo(SloKind.FRESHNESS, threshold_seconds=3600)
    slo_evaluate(slo=slo, now=at(100))
    assert slo.segments.get(end=None).state == "breached"

    write(50)  # a success at 50 that reached us late: fresh until 110
    slo_changes_drain(now=at(100))
    assert timeline(slo)[1:] == [("met", 0, None)]
    assert ChangeOutbox.objects.count() == 0


def test_duplicate_and_out_of_order_events_do_not_change_the_timeline() -> None:
    run_id = str(uuid.uuid4())
    complete, start = write_event(90, run_id=run_id), write_event(80, "START", run_id=run_id)
    write(0)
    slo = make_slo(SloKind.FRESHNESS, threshold_seconds=3600)
    slo_evaluate(slo=slo, now=at(70))

    lineage_events_ingest(payloads=[complete, clone(complete)])  # COMPLETE twice
    lineage_event_ingest(payload=start)  # then its START, late
    lineage_events_ingest(payloads=[complete])  # and the same batch again
    slo_changes_drain(now=at(100))
    assert timeline(slo)[1:] == [("met", 0, 60), ("breached", 60, 90), ("met", 90, None)]


def test_a_dataset_never_written_breaches_once_the_slo_has_waited_its_threshold() -> None:
    Dataset.objects.create(namespace=Namespace.objects.create(name=WAREHOUSE), name=ORDERS)
    slo = make_slo(SloKind.FRESHNESS, threshold_seconds=3600)
    assert slo_evaluate(slo=slo, now=at(30)).state == "unknown"
    late = slo_evaluate(slo=slo, now=at(90))
    assert (late.state, late.state_since) == ("breached", at(60))


# --- volume ---------------------------------------------------------------------------


def test_volume_is_checked_against_bounds_and_the_recent_median() -> None:
    for i, rows in enumerate([1000, 1100, 900, 1050]):
        write(i * 60, rows=rows)
    slo = make_slo(SloKind.VOLUME, min_rows=500, tolerance=0.5)
    assert slo_evaluate(slo=slo, now=at(200)).state == "met"

    write(240, rows=100)  # under the bound, and far from the median of 1,025
    drop = slo_evaluate(slo=slo, now=at(250))
    assert (drop.state, drop.state_since) == ("breached", at(240))
    assert drop.evidence["rows"] == 100 and drop.evidence["median"] == 1025
    assert len(drop.evidence["problems"]) == 2

    write(300, rows=2000)  # within bounds but double the median (1,000): still breached
    assert slo_evaluate(slo=slo, now=at(310)).state == "breached"
    write(360, rows=1000)
    assert slo_evaluate(slo=slo, now=at(370)).state == "met"


def test_volume_counts_a_run_once_whatever_events_repeat_it() -> None:
    run_id = str(uuid.uuid4())
    for i, rows in enumerate([1000, 1000, 1000]):
        write(i * 60, rows=rows)
    write(200, "START", rows=10, run_id=run_id)
    write(210, rows=1000, run_id=run_id)  # the COMPLETE corrects what START said
    slo = make_slo(SloKind.VOLUME, tolerance=0.1)
    slo_evaluate(slo=slo, now=at(220))
    assert timeline(slo)[1:] == [("met", 0, None)]


# --- quality --------------------------------------------------------------------------


def dbt_assertions(model: str) -> dict[str, Any]:
    """The dataQualityAssertions facet dbt sent for ``model`` (openlineage-dbt fixtures)."""
    for event in template_events("openlineage-dbt/test/result.json"):
        for dataset in event.get("inputs", []):
            facets = {**dataset.get("facets", {}), **dataset.get("inputFacets", {})}
            if dataset["name"].endswith(model) and "dataQualityAssertions" in facets:
                return clone(facets["dataQualityAssertions"])
    raise LookupError(model)


def check(minutes: float, facet: dict[str, Any]) -> None:
    tested = {
        "namespace": WAREHOUSE,
        "name": ORDERS,
        "inputFacets": {"dataQualityAssertions": facet},
    }
    lineage_event_ingest(
        payload=run_event(
            "COMPLETE", job=("dbt", "test"), inputs=[tested], event_time=iso(at(minutes))
        )
    )


def test_quality_follows_the_share_of_passing_error_assertions_of_each_run() -> None:
    passing = dbt_assertions("test_second_parallel_dbt_model")
    failing = dbt_assertions("test_first_dbt_model")
    assert all(a["success"] for a in passing["assertions"])
    assert not all(a["success"] for a in failing["assertions"])
    check(0, passing)
    check(60, failing)
    check(120, passing)
    slo = make_slo(SloKind.QUALITY, target=1.0)
    slo_evaluate(slo=slo, now=at(130))
    assert timeline(slo)[1:] == [("met", 0, 60), ("breached", 60, 120), ("met", 120, None)]
    breach = SloSegment.objects.get(slo=slo, state="breached")
    failed = {a["assertion"] for a in failing["assertions"] if not a["success"]}
    assert {f["assertion"] for f in breach.evidence["failing"]} <= failed
    assert breach.evidence["passed"] < breach.evidence["total"]


def test_warnings_do_not_count_against_quality() -> None:
    facet = {
        "assertions": [
            {"assertion": "not_null", "column": "id", "success": True, "severity": "error"},
            {"assertion": "fresh_enough", "success": False, "severity": "warn"},
        ]
    }
    check(0, facet)
    slo = make_slo(SloKind.QUALITY, target=1.0)
    assert slo_evaluate(slo=slo, now=at(10)).evidence["total"] == 1


# --- pipeline success -------------------------------------------------------------------


def test_pipeline_success_is_the_share_of_runs_in_the_window_that_complete() -> None:
    for hour, state in enumerate(["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"], start=1):
        write(hour * 60, state)
    slo = make_slo(SloKind.PIPELINE_SUCCESS, target=0.75, window_seconds=24 * 3600)
    slo_evaluate(slo=slo, now=at(300))
    # 1/1, then 1/2 and 2/3 (breached), then 3/4 (met)
    assert timeline(slo)[1:] == [("met", 60, 120), ("breached", 120, 240), ("met", 240, None)]
    # A day after the failed run it leaves the window; nothing else changes the state.
    later = slo_evaluate(slo=slo, now=at(120 + 24 * 60 + 5))
    assert later.state == "met"
    assert later.evidence["runs"] == 2


# --- schema stability -----------------------------------------------------------------


def test_a_breaking_schema_change_breaches_until_a_major_version_is_published() -> None:
    product = DataProduct.objects.create(external_id="orders", name="Orders", format="odps")
    revise(product, 1, "1.0.0", at(0))
    dataset = Dataset.objects.create(
        namespace=Namespace.objects.create(name=WAREHOUSE), name=ORDERS
    )
    id_, name = {"name": "id", "type": "int"}, {"name": "name", "type": "string"}
    version(dataset, [id_, name], at(10))
    version(dataset, [id_, name, {"name": "added", "type": "int"}], at(20))  # additive
    version(dataset, [id_], at(30))  # "name" dropped under 1.x
    revise(product, 2, "1.1.0", at(40))  # a minor version does not excuse it
    revise(product, 3, "2.0.0", at(50))
    slo = Slo.objects.create(
        product=product, name="s", kind=SloKind.SCHEMA_STABILITY, created_at=T0
    )
    slo.namespace, slo.dataset_name = WAREHOUSE, ORDERS
    slo.save()
    slo_evaluate(slo=slo, now=at(60))
    assert timeline(slo)[1:] == [("met", 10, 30), ("breached", 30, 50), ("met", 50, None)]
    breach = SloSegment.objects.get(slo=slo, state="breached")
    assert breach.evidence["removed"] == ["name", "added"]

    revise(product, 4, "2.1.0", at(70))
    version(dataset, [{"name": "id", "type": "string"}], at(80))  # retyped after 2.0.0: no
    revise(product, 5, "3.0.0", at(90))  # answers that break
    revise(product, 6, "4.0.0", at(100))  # announced first...
    version(dataset, [{"name": "key", "type": "string"}], at(110))  # ...then changed: fine
    slo_evaluate(slo=slo, now=at(120))
    assert timeline(slo)[4:] == [("breached", 80, 90), ("met", 90, None)]


def revise(product: DataProduct, number: int, version: str, when: datetime) -> None:
    ProductRevision.objects.create(
        product=product,
        number=number,
        version=version,
        content_hash=str(number),
        files={},
        normalized={},
        created_at=when,
    )


def version(dataset: Dataset, fields: list[dict[str, Any]], when: datetime) -> None:
    DatasetVersion.objects.create(
        dataset=dataset, schema_hash=str(uuid.uuid4()), fields=fields, created_at=when
    )


# --- attainment, budget, burn rate -------------------------------------------------------


def test_attainment_budget_and_burn_rate_by_hand() -> None:
    now = at(0)
    slo = make_slo(SloKind.FRESHNESS, threshold_seconds=3600, objective=0.99)
    SloSegment.objects.create(slo=slo, state="unknown", start=now - timedelta(days=40))
    SloSegment.objects.filter(slo=slo).update(end=now - timedelta(days=10))
    SloSegment.objects.create(
        slo=slo, state="met", start=now - timedelta(days=10), end=now - timedelta(hours=2)
    )
    SloSegment.objects.create(slo=slo, state="breached", start=now - timedelta(hours=2))
    figures = slo_figures(slo=slo, now=now)

    # 28-day budget: 1% of 28 days = 24,192 s; 2 h breached spent 7,200 s of it.
    assert figures.budget_remaining == pytest.approx(1 - 7200 / 24192)
    # The last day: 2 h of 24 breached, against 1% allowed.
    assert figures.burn_rate(timedelta(days=1)) == pytest.approx((7200 / 86400) / 0.01)
    assert figures.burn_rate(timedelta(days=7)) == pytest.approx((7200 / 604800) / 0.01)
    # Attainment counts known time only: 7 d all known, 28 d only the last 10 d are.
    assert figures.attainment(timedelta(days=7)) == pytest.approx((604800 - 7200) / 604800)
    assert figures.attainment(timedelta(days=28)) == pytest.approx((864000 - 7200) / 864000)


def test_an_overspent_budget_goes_below_zero() -> None:
    slo = make_slo(SloKind.FRESHNESS, threshold_seconds=3600, objective=0.999)
    SloSegment.objects.create(slo=slo, state="breached", start=at(0) - timedelta(days=1))
    figures = slo_figures(slo=slo, now=at(0))
    assert figures.budget_remaining == pytest.approx(1 - 86400 / (0.001 * 28 * 86400))
    assert figures.budget_remaining < 0


def test_evaluating_twice_changes_nothing() -> None:
    write(0)
    write(120)
    slo = make_slo(SloKind.FRESHNESS, threshold_seconds=3600)
    slo_evaluate(slo=slo, now=at(130))
    first = timeline(slo)
    slo_evaluate(slo=slo, now=at(130), since=at(0))
    assert timeline(slo) == first
    assert Slo.objects.get(pk=slo.pk).budget_remaining == pytest.approx(
        1 - 3600 / (0.01 * 28 * 86400)
    )


def test_the_sweep_evaluates_what_time_may_have_changed_and_refreshes_the_rest() -> None:
    write(0, rows=1000)
    fresh = make_slo(SloKind.FRESHNESS, threshold_seconds=3600)
    volume = make_slo(SloKind.VOLUME, min_rows=10)
    assert slos_sweep(now=at(30)) == 2  # both new
    fresh.refresh_from_db()
    volume.refresh_from_db()
    assert (fresh.due_at, volume.due_at) == (at(60), None)

    assert slos_sweep(now=at(45)) == 0  # nothing due: figures only
    volume.refresh_from_db()
    assert volume.evaluated_at == at(45) and volume.attainment_7d == 1.0

    assert slos_sweep(now=at(90)) == 1
    fresh.refresh_from_db()
    assert (fresh.state, fresh.state_since, fresh.due_at) == ("breached", at(60), None)
    assert fresh.burn_rate_1d == pytest.approx((30 * 60 / 86400) / 0.01)


def _evaluated(slo: Slo) -> tuple[Any, ...]:
    slo.refresh_from_db()
    segments = [
        (s.state, s.start, s.end, s.evidence)
        for s in SloSegment.objects.filter(slo=slo).order_by("start")
    ]
    figures = (slo.attainment_7d, slo.attainment_28d, slo.budget_remaining, slo.burn_rate_1d)
    return (slo.state, slo.state_since, slo.evidence, slo.due_at, figures, segments)


def test_slos_evaluated_together_come_out_as_each_evaluated_alone() -> None:
    write(0, rows=1000)
    write(100, "FAIL")
    write(200, rows=1100)
    check(150, dbt_assertions("test_first_dbt_model"))
    check(250, dbt_assertions("test_second_parallel_dbt_model"))

    def declared() -> list[Slo]:
        slos = [
            make_slo(SloKind.FRESHNESS, threshold_seconds=3600),
            make_slo(SloKind.FRESHNESS, threshold_seconds=7200),
            make_slo(SloKind.VOLUME, min_rows=1050),
            make_slo(SloKind.QUALITY, target=1.0),
            make_slo(SloKind.PIPELINE_SUCCESS, target=0.9, window_seconds=3 * 3600),
        ]
        # Starts that differ: one SLO was evaluated before, the others never were.
        slo_evaluate(slo=slos[1], now=at(90))
        return slos

    alone = declared()
    for slo in alone:
        slo_evaluate(slo=slo, now=at(400))
    together = declared()
    assert len(slos_evaluate(pks=[slo.pk for slo in together], now=at(400))) == len(together)

    assert [_evaluated(slo) for slo in together] == [_evaluated(slo) for slo in alone]
    assert {_evaluated(slo)[0] for slo in together} == {"met", "breached", "unknown"}


def test_an_slo_changed_while_it_was_computed_is_computed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write(0)
    slo = make_slo(SloKind.FRESHNESS, threshold_seconds=3600)
    computed = governance_slo.timelines
    calls = []

    def edited_meanwhile(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:  # a steward tightens the SLO while the worker computes
            Slo.objects.filter(pk=slo.pk).update(threshold_seconds=600, updated_at=at(29))
        return computed(*args, **kwargs)

    monkeypatch.setattr(governance_slo, "timelines", edited_meanwhile)
    evaluated = slo_evaluate(slo=slo, now=at(30))
    assert len(calls) == 2
    assert (evaluated.state, evaluated.state_since) == ("breached", at(10))
    assert timeline(slo)[1:] == [("met", 0, 10), ("breached", 10, None)]


def test_a_breach_and_a_recovery_notify_the_subscriptions() -> None:
    hook = WebhookSubscription.objects.create(name="all", url="https://hooks.example.com/x")
    write(0)
    slo = make_slo(SloKind.FRESHNESS, threshold_seconds=3600)
    slo_evaluate(slo=slo, now=at(30))
    slo_evaluate(slo=slo, now=at(61))
    write(90)
    slo_changes_drain(now=at(95))
    slo_evaluate(slo=slo, now=at(96))  # nothing new: no third notification
    sent = list(hook.deliveries.order_by("id").values_list("event", "payload"))
    assert [event for event, _ in sent] == ["slo.breached", "slo.recovered"]
    breach = sent[0][1]
    assert breach["state"] == "breached" and breach["previous_state"] == "met"
    assert breach["slo"]["promise"] == "updated within 1 h"
    assert breach["since"] == at(60).isoformat()
