"""``/api/v1/slos``: definitions, status, history, evaluation; stewards write."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from governance.models import Slo, SloKind, SloSegment
from lineage.services import lineage_event_ingest
from tests.catalog.test_product_pages import register
from tests.conftest import run_event

pytestmark = pytest.mark.django_db

WAREHOUSE = "postgres://warehouse:5432"
FRESH = {
    "name": "orders fresh",
    "kind": "freshness",
    "namespace": WAREHOUSE,
    "datasetName": "public.orders",
    "thresholdSeconds": 3600,
}


def wrote(hours_ago: float) -> None:
    when = timezone.now() - timedelta(hours=hours_ago)
    output = {"namespace": WAREHOUSE, "name": "public.orders"}
    lineage_event_ingest(payload=run_event(outputs=[output], event_time=when.isoformat()))


def test_it_creates_an_slo_and_answers_with_its_evaluated_status(governor: APIClient) -> None:
    wrote(0.5)
    response = governor.post("/api/v1/slos", FRESH, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["state"], body["source"], body["promise"]) == ("met", "api", "updated within 1 h")
    assert body["dataset"] == f"{WAREHOUSE}:public.orders"
    assert body["evaluatedAt"] and body["attainment7d"] == 1.0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "sometimes"}, "kind"),
        ({"thresholdSeconds": None}, "thresholdSeconds"),
        ({"thresholdSeconds": 5}, "thresholdSeconds"),
        ({"namespace": None, "datasetName": None}, "product"),
        ({"datasetName": None}, "datasetName"),
        ({"product": "nope"}, "product"),
        ({"objective": 1.0}, "objective"),
        ({"kind": "volume", "thresholdSeconds": None}, "minRows"),
        ({"kind": "volume", "minRows": 10, "maxRows": 5}, "maxRows"),
        ({"kind": "schema_stability"}, "product"),
    ],
)
def test_a_bad_slo_is_400_naming_the_field_and_nothing_is_stored(
    governor: APIClient, change: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in {**FRESH, **change}.items() if v is not None}
    response = governor.post("/api/v1/slos", body, format="json")
    assert response.status_code == 400
    assert field in str(response.json())
    assert not Slo.objects.exists()


def test_only_stewards_write(
    pipeline: APIClient, anonymous: APIClient, client: Any, outsider: User, steward: User
) -> None:
    assert pipeline.post("/api/v1/slos", FRESH, format="json").status_code == 403
    assert anonymous.post("/api/v1/slos", FRESH, format="json").status_code in (401, 403)
    client.force_login(outsider)
    assert client.post("/api/v1/slos", FRESH, content_type="application/json").status_code == 403
    client.force_login(steward)
    assert client.post("/api/v1/slos", FRESH, content_type="application/json").status_code == 201
    assert anonymous.get("/api/v1/slos").status_code == 200


def test_the_list_filters_by_state_kind_product_and_dataset(governor: APIClient) -> None:
    register()
    governor.post("/api/v1/slos", FRESH, format="json")  # never written: unknown for now
    both = governor.get("/api/v1/slos").json()
    assert both["count"] == 5  # four from the contract, ours
    only = governor.get("/api/v1/slos", {"kind": "freshness", "product": "shop:orders.v1"}).json()
    assert [s["kind"] for s in only["results"]] == ["freshness"]
    named = governor.get("/api/v1/slos", {"namespace": WAREHOUSE, "dataset": "public.orders"})
    assert [s["name"] for s in named.json()["results"]] == ["orders fresh"]
    assert governor.get("/api/v1/slos", {"state": "breached"}).json()["count"] == 0
    assert governor.get("/api/v1/slos", {"state": "red"}).status_code == 400


def test_a_contract_slo_takes_only_enabled_and_objective(governor: APIClient) -> None:
    register()
    slo = Slo.objects.get(kind=SloKind.FRESHNESS)
    url = f"/api/v1/slos/{slo.pk}"
    refused = governor.patch(url, {"thresholdSeconds": 60 * 60 * 24}, format="json")
    assert refused.status_code == 400 and "thresholdSeconds" in str(refused.json())
    assert governor.patch(url, {"objective": 0.95}, format="json").json()["objective"] == 0.95
    assert governor.delete(url).status_code == 400
    assert Slo.objects.filter(pk=slo.pk).exists()


def test_history_lists_the_stretches_and_checks_its_times(governor: APIClient) -> None:
    wrote(3)
    slo_id = governor.post("/api/v1/slos", FRESH, format="json").json()["id"]
    history = governor.get(f"/api/v1/slos/{slo_id}/history").json()
    assert [s["state"] for s in history][-2:] == ["met", "breached"]
    assert history[-1]["end"] is None and history[-1]["durationSeconds"] > 0
    assert history[-1]["evidence"]["last_success"]["run"]
    bad = governor.get(f"/api/v1/slos/{slo_id}/history", {"since": "yesterday"})
    assert bad.status_code == 400 and "since" in str(bad.json())
    assert governor.get("/api/v1/slos/999999/history").status_code == 404


def test_evaluate_and_delete(governor: APIClient) -> None:
    slo_id = governor.post("/api/v1/slos", FRESH, format="json").json()["id"]
    wrote(0.1)
    assert governor.post(f"/api/v1/slos/{slo_id}/evaluate").json()["state"] == "met"
    assert governor.delete(f"/api/v1/slos/{slo_id}").status_code == 204
    assert not SloSegment.objects.exists()
