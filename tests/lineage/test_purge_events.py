"""``manage.py purge_events``: old raw events go, what the pages and APIs show stays."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from catalog.models import Dataset
from lineage.models import (
    ColumnLineage,
    DataQualityAssertion,
    DatasetStatistics,
    Job,
    JobDataset,
    LineageEvent,
    Run,
    RunDataset,
)
from lineage.services import lineage_event_ingest
from tests.conftest import run_event

pytestmark = pytest.mark.django_db

API = "/api/v1"
PROJECTIONS = [Job, Run, Dataset, JobDataset, RunDataset, ColumnLineage, DatasetStatistics]


@pytest.fixture
def aged_demo() -> set[int]:
    """The demo mesh, its raw events received 100 days ago; returns their ids."""
    call_command("load_demo", "--no-progress", stdout=StringIO())
    LineageEvent.objects.update(received_at=timezone.now() - timedelta(days=100))
    return set(LineageEvent.objects.values_list("id", flat=True))


def purge(*args: str) -> str:
    out = StringIO()
    call_command("purge_events", "--no-progress", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        model.__name__: model._default_manager.count()
        for model in [*PROJECTIONS, DataQualityAssertion, LineageEvent]
    }


def _name(value: str) -> str:
    return quote(value, safe="")


def marquez_answers(client: Client) -> dict[str, Any]:
    """What the Marquez API says of every job, of each job's runs (and their facets), and
    of every dataset."""
    answers: dict[str, Any] = {}
    urls = []
    for job in Job.objects.select_related("namespace"):
        base = f"{API}/namespaces/{_name(job.namespace.name)}/jobs/{_name(job.name)}"
        urls += [base, f"{base}/runs?limit=1000"]
    for run in Run.objects.all():
        urls += [f"{API}/jobs/runs/{run.uuid}"]
        urls += [f"{API}/jobs/runs/{run.uuid}/facets?type={kind}" for kind in ("run", "job")]
    for dataset in Dataset.objects.select_related("namespace"):
        urls += [f"{API}/namespaces/{_name(dataset.namespace.name)}/datasets/{_name(dataset.name)}"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        answers[url] = response.json()
    return answers


def test_it_deletes_old_raw_events_and_keeps_the_new_ones(aged_demo: set[int]) -> None:
    new = lineage_event_ingest(payload=run_event("START"), token_name="tests").event_id

    output = purge("--older-than", "90d")

    assert set(LineageEvent.objects.values_list("id", flat=True)) == {new}
    assert f"Deleted {len(aged_demo)} raw events" in output and "1 batches" in output


def test_pages_and_the_marquez_api_answer_the_same_after_the_purge(
    aged_demo: set[int], client: Client
) -> None:
    before, answers = counts(), marquez_answers(client)

    purge("--older-than", "90d", "--batch-size", "100")

    assert LineageEvent.objects.count() == 0
    assert counts() == {**before, "LineageEvent": 0}
    assert marquez_answers(client) == answers
    run = Run.objects.filter(io__isnull=False).select_related("job__namespace").first()
    dataset = Dataset.objects.filter(run_io__run=run).first()
    assert run is not None and dataset is not None
    for url in (
        run.get_absolute_url(),
        run.job.get_absolute_url(),
        dataset.get_absolute_url(),
        "/lineage/runs/",
        "/lineage/graph/?node=job:" + run.job.namespace.name + ":" + run.job.name,
    ):
        response = client.get(url)
        assert response.status_code == 200, (url, response.content[:300])
    assert run.job.name in client.get(run.get_absolute_url()).content.decode()
    events = client.get(f"{API}/events/lineage")
    assert events.status_code == 200 and events.json()["events"] == []


def test_the_facets_of_a_purged_run_come_from_the_projection(
    aged_demo: set[int], client: Client
) -> None:
    run = Run.objects.exclude(facets={}).select_related("job").first()
    assert run is not None
    url = f"{API}/jobs/runs/{run.uuid}/facets?type=run"
    before = client.get(url).json()

    purge("--older-than", "90d")

    after = client.get(url).json()
    assert after == before and after["facets"]


def test_a_run_page_says_which_of_its_events_retention_removed(client: Client) -> None:
    run_id = "0190f0a6-8f3b-7c4e-9a51-3f1f2b6c8d01"
    first = lineage_event_ingest(payload=run_event("START", run_id=run_id), token_name="tests")
    LineageEvent.objects.update(received_at=timezone.now() - timedelta(days=100))
    complete = run_event("COMPLETE", run_id=run_id, event_time="2024-05-01T10:05:00Z")
    lineage_event_ingest(payload=complete, token_name="tests")
    run = Run.objects.get()
    page = run.get_absolute_url()
    assert "removed from the raw log" not in client.get(page).content.decode()

    purge("--older-than", "90d")
    html = client.get(page).content.decode()
    assert first.event_id not in set(LineageEvent.objects.values_list("id", flat=True))
    assert "1 event of this run was removed from the raw log by retention" in html
    assert "known as the parent of another run" not in html

    LineageEvent.objects.update(received_at=timezone.now() - timedelta(days=100))
    purge("--older-than", "90d")
    html = client.get(page).content.decode()
    assert "2 events of this run were removed from the raw log by retention" in html
    assert "known as the parent of another run" not in html


def test_a_dry_run_deletes_nothing(aged_demo: set[int]) -> None:
    output = purge("--older-than", "90d", "--dry-run", "--batch-size", "100")

    assert LineageEvent.objects.count() == len(aged_demo)
    batches = -(-len(aged_demo) // 100)
    assert f"{len(aged_demo)} raw events" in output and f"in {batches} batches" in output
    assert "nothing deleted" in output


def test_the_cutoff_counts_hours_days_and_weeks() -> None:
    old = lineage_event_ingest(payload=run_event(), token_name="tests").event_id
    LineageEvent.objects.filter(pk=old).update(received_at=timezone.now() - timedelta(hours=30))

    purge("--older-than", "2d")
    purge("--older-than", "1w")
    assert LineageEvent.objects.filter(pk=old).exists()

    purge("--older-than", "24h")
    assert not LineageEvent.objects.filter(pk=old).exists()
    assert Run.objects.count() == 1


def test_an_event_posted_again_after_its_purge_is_stored_again() -> None:
    event = run_event("COMPLETE")
    first = lineage_event_ingest(payload=event, token_name="tests")
    LineageEvent.objects.update(received_at=timezone.now() - timedelta(days=10))
    purge("--older-than", "7d")

    again = lineage_event_ingest(payload=event, token_name="tests")

    # The documented trade-off: the dedupe key went with the raw row.
    assert (first.status, again.status) == ("created", "created")
    assert Run.objects.get().state == "COMPLETED"


@pytest.mark.parametrize("value", ["90", "d", "90 days", "-5d", "0d", "1.5d", "3m", ""])
def test_it_refuses_an_age_it_cannot_read(value: str) -> None:
    with pytest.raises(CommandError, match="--older-than"):
        purge("--older-than", value)


def test_it_refuses_a_batch_size_below_one() -> None:
    with pytest.raises(CommandError, match="--batch-size"):
        purge("--older-than", "1d", "--batch-size", "0")
