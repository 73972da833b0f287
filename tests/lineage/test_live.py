"""Against a real HTTP server: the OpenLineage client our users run, and concurrent writers."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import schema_dataset, sql_job
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpCompression,
    HttpConfig,
    HttpTransport,
)

from catalog.models import ApiToken, Dataset
from lineage.models import JobDataset, LineageEvent
from lineage.models import Run as RunRow
from tests.conftest import run_event

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.20.0/client/python"


def test_it_stores_events_sent_by_openlineage_python_with_api_key_and_gzip(live_server):
    _, secret = ApiToken.issue(name="dbt", scopes=["lineage:write"])
    transport = HttpTransport(
        HttpConfig(
            url=live_server.url,
            endpoint="api/v1/lineage",
            auth=ApiKeyTokenProvider({"apiKey": secret}),
            compression=HttpCompression.GZIP,
        )
    )
    client = OpenLineageClient(transport=transport)
    run = Run(runId=str(uuid.uuid4()))
    job = Job(
        namespace="dbt-prod",
        name="analytics.daily_orders",
        facets={"sql": sql_job.SQLJobFacet(query="select * from orders")},
    )
    inputs = [InputDataset(namespace="postgres://db:5432", name="shop.public.orders")]
    outputs = [
        OutputDataset(
            namespace="postgres://db:5432",
            name="analytics.public.daily_orders",
            facets={
                "schema": schema_dataset.SchemaDatasetFacet(
                    fields=[
                        schema_dataset.SchemaDatasetFacetFields(name="day", type="DATE"),
                        schema_dataset.SchemaDatasetFacetFields(name="orders", type="INT"),
                    ]
                )
            },
        )
    ]
    start = datetime.now(UTC) - timedelta(minutes=5)
    for state, at in ((RunState.START, start), (RunState.COMPLETE, start + timedelta(minutes=2))):
        client.emit(
            RunEvent(
                eventType=state,
                eventTime=at.isoformat(),
                run=run,
                job=job,
                producer=PRODUCER,
                inputs=inputs,
                outputs=outputs,
            )
        )

    assert LineageEvent.objects.filter(token_name="dbt").count() == 2
    stored = RunRow.objects.select_related("job").get(uuid=run.runId)
    assert stored.state == "COMPLETED"
    assert stored.duration_ms == 120_000
    assert stored.job.sql == "select * from orders"
    output = Dataset.objects.get(name="analytics.public.daily_orders")
    assert [f.name for f in output.schema_fields.all()] == ["day", "orders"]
    assert JobDataset.objects.filter(job=stored.job).count() == 2


def _post_all(url: str, secret: str, events: list[dict], failures: list[str]) -> None:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {secret}"
        for event in events:
            for _attempt in range(5):  # like openlineage-python: retry 503 after a pause
                response = session.post(url, json=event, timeout=60)
                if response.status_code != 503:
                    break
                threading.Event().wait(float(response.headers.get("Retry-After", "1")))
            if response.status_code not in (200, 201):
                failures.append(f"{response.status_code} {response.text[:200]}")


def test_it_keeps_every_event_from_eight_concurrent_writers(live_server):
    """8 writers × 500 events, sharing jobs and datasets: none lost, none doubled."""
    _, secret = ApiToken.issue(name="load", scopes=["lineage:write"])
    base = datetime(2024, 6, 1, tzinfo=UTC)
    writers: list[list[dict]] = []
    for w in range(8):
        events = []
        for i in range(250):
            run_id = str(uuid.uuid4())
            job = ("load", f"job_{(w + i) % 10}")
            inputs = [{"namespace": "warehouse", "name": f"raw_{i % 7}"}]
            outputs = [{"namespace": "warehouse", "name": f"mart_{(w + i) % 10}"}]
            at = base + timedelta(seconds=w * 1000 + i)
            for kind, offset in (("START", 0), ("COMPLETE", 30)):
                events.append(
                    run_event(
                        kind,
                        run_id=run_id,
                        job=job,
                        inputs=inputs,
                        outputs=outputs,
                        event_time=(at + timedelta(seconds=offset)).isoformat(),
                    )
                )
        writers.append(events)
    url = f"{live_server.url}/api/v1/lineage"
    failures: list[str] = []
    threads = [
        threading.Thread(target=_post_all, args=(url, secret, events + events[:5], failures))
        for events in writers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert LineageEvent.objects.count() == 4000
    assert sum(LineageEvent.objects.values_list("duplicates", flat=True)) == 8 * 5
    assert RunRow.objects.count() == 2000
    assert RunRow.objects.filter(state="COMPLETED", events_count=2).count() == 2000
    assert JobDataset.objects.filter(direction="output").count() == 10
    assert JobDataset.objects.filter(direction="input").count() == 70
    assert Dataset.objects.filter(namespace__name="warehouse").count() == 17
