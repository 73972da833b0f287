"""SLOs declared by contracts follow the product's revisions, and watch its bound outputs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.services import data_product_register
from governance.models import Slo, SloKind
from governance.services import declared_slos, slo_changes_drain
from lineage.services import lineage_event_ingest
from tests.catalog.test_product_pages import WAREHOUSE, bundle
from tests.conftest import run_event

pytestmark = pytest.mark.django_db

PID = "shop:orders.v1"


def register(files: dict[str, str]) -> None:
    data_product_register(files=files, actor="tests", source="test")


def contract_slos() -> dict[str, Slo]:
    return {s.kind: s for s in Slo.objects.filter(product__external_id=PID)}


def test_a_contract_declares_freshness_availability_volume_and_schema_slos() -> None:
    register(bundle(PID))
    slos = contract_slos()
    assert set(slos) == {
        SloKind.FRESHNESS,
        SloKind.PIPELINE_SUCCESS,
        SloKind.VOLUME,
        SloKind.SCHEMA_STABILITY,
    }
    fresh = slos[SloKind.FRESHNESS]
    assert (fresh.threshold_seconds, fresh.element, fresh.source) == (
        4 * 3600,
        "orders.order_id",
        "contract",
    )
    assert slos[SloKind.PIPELINE_SUCCESS].target == pytest.approx(0.999)
    assert (slos[SloKind.VOLUME].min_rows, slos[SloKind.VOLUME].element) == (1, "orders")


def test_a_new_revision_updates_changed_lines_and_drops_removed_ones() -> None:
    register(bundle(PID))
    before = contract_slos()
    files = bundle(PID)
    files["contract.yaml"] = (
        files["contract.yaml"]
        .replace("value: 4\n", "value: 2\n")
        .replace("  - property: availability\n    value: 99.9%\n", "")
    )
    register(files)
    after = contract_slos()
    assert SloKind.PIPELINE_SUCCESS not in after
    assert after[SloKind.FRESHNESS].pk == before[SloKind.FRESHNESS].pk
    assert after[SloKind.FRESHNESS].threshold_seconds == 2 * 3600


def test_slos_added_through_the_api_survive_a_new_revision() -> None:
    register(bundle(PID))
    product = Slo.objects.filter(product__external_id=PID).first().product  # type: ignore[union-attr]
    Slo.objects.create(product=product, name="mine", kind=SloKind.QUALITY, target=0.9)
    register(bundle(PID, purpose="Every order, now with more words."))
    assert Slo.objects.filter(product=product, name="mine").exists()


def test_a_dry_run_leaves_no_slo_behind() -> None:
    data_product_register(files=bundle(PID), actor="tests", source="test", dry_run=True)
    assert not Slo.objects.exists()


def test_the_worker_evaluates_a_contract_slo_from_a_write_of_the_bound_dataset() -> None:
    register(bundle(PID))
    now = timezone.now()
    output = {"namespace": WAREHOUSE, "name": "shop.public.orders"}
    event = run_event(outputs=[output], event_time=(now - timedelta(hours=1)).isoformat())
    lineage_event_ingest(payload=event)
    report = slo_changes_drain(now=now)
    fresh = contract_slos()[SloKind.FRESHNESS]
    assert report.slos >= 1
    assert (fresh.state, fresh.evidence["dataset"]) == ("met", f"{WAREHOUSE}:shop.public.orders")


def test_quality_rules_other_than_row_counts_make_one_quality_slo() -> None:
    normalized = {
        "contracts": [
            {
                "id": "c",
                "objects": [
                    {
                        "name": "t",
                        "quality": [
                            {"definition": {"metric": "rowCount", "mustBeBetween": [5, 9]}}
                        ],
                        "properties": [
                            {"name": "id", "quality": [{"definition": {"metric": "nullValues"}}]},
                            {"name": "x", "quality": [{"definition": {"metric": "duplicates"}}]},
                        ],
                    }
                ],
            }
        ]
    }
    found = {d.kind: d for d in declared_slos(normalized)}
    assert found[SloKind.VOLUME].values == {"min_rows": 5, "max_rows": 9}
    assert found[SloKind.QUALITY].values == {"target": 1.0}
    assert len(declared_slos(normalized)) == 3  # volume, quality, schema stability
