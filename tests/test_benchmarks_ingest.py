"""The synthetic event stream the ingestion benchmark posts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

import pytest

from benchmarks.generate import MeshGenerator
from lineage.models import LineageEvent, Run
from lineage.services import lineage_events_ingest


def _parent_run_ids(events: Iterable[dict[str, Any]]) -> set[str]:
    """The run ids named by the events' parent facets (the Airflow DAG runs)."""
    return {
        e["run"]["facets"]["parent"]["run"]["runId"]
        for e in events
        if "parent" in e["run"]["facets"]
    }


def test_same_seed_same_events_byte_for_byte() -> None:
    first = [json.dumps(e) for e in MeshGenerator(jobs=5, datasets=12).events(40)]
    again = [json.dumps(e) for e in MeshGenerator(jobs=5, datasets=12).events(40)]
    other = [json.dumps(e) for e in MeshGenerator(jobs=5, datasets=12, seed=7).events(40)]
    assert first == again
    assert first != other


def test_run_ids_are_uuid7_that_grow_with_the_run_time() -> None:
    mesh = MeshGenerator(jobs=5, datasets=12)
    ids = [uuid.UUID(mesh.run_id(run)) for run in range(200)]
    assert {i.version for i in ids} == {7}
    assert ids == sorted(ids, key=str)
    assert len(set(ids)) == len(ids)
    # The parent (DAG) run of Airflow tasks is one per DAG and day, also UUIDv7.
    parents = _parent_run_ids(mesh.events(200))
    assert parents
    assert {uuid.UUID(p).version for p in parents} == {7}


def test_a_later_slice_continues_the_stream() -> None:
    mesh = MeshGenerator(jobs=5, datasets=12)
    whole = list(mesh.events(20))
    assert list(mesh.events(10, first_run=5)) == whole[10:]


def _schemas(events: Iterable[dict[str, Any]]) -> list[tuple[str, tuple[str, ...]]]:
    """Each dataset named with a schema, and the schema's column names."""
    return [
        (ds["name"], tuple(f["name"] for f in ds["facets"]["schema"]["fields"]))
        for event in events
        for ds in event.get("inputs", []) + event.get("outputs", [])
        if "schema" in ds.get("facets", {})
    ]


def test_schemas_change_without_growing_along_the_stream() -> None:
    """A measurement after a long history must post the same kind of events as one after
    a short history: schemas change (new dataset versions) but do not keep growing."""
    mesh = MeshGenerator(jobs=20, datasets=40, schema_change_every=50)

    def columns_per_event(first_run: int) -> float:
        events = list(mesh.events(2_000, first_run=first_run))
        return sum(len(columns) for _, columns in _schemas(events)) / len(events)

    early, late = columns_per_event(0), columns_per_event(100_000)
    assert abs(late - early) / early < 0.05
    # Over one cycle (4 × 50 runs) each dataset is seen with its own columns, then 1, 2
    # and 3 more.
    versions: dict[str, set[tuple[str, ...]]] = {}
    for name, columns in _schemas(mesh.events(2_000, first_run=0)):
        versions.setdefault(name, set()).add(columns)
    assert {len(v) for v in versions.values()} == {4}
    for seen in versions.values():
        widths = sorted(map(len, seen))
        assert widths == list(range(widths[0], widths[0] + 4))


@pytest.mark.django_db(transaction=True)
def test_generated_events_ingest_and_project() -> None:
    events = list(MeshGenerator(jobs=6, datasets=15).events(60))
    result = lineage_events_ingest(payloads=events)
    assert (result.accepted, result.duplicates, result.failed) == (60, 0, [])
    assert LineageEvent.objects.count() == 60
    runs = {e["run"]["runId"] for e in events}
    parents = _parent_run_ids(events)
    assert len(runs) == 30
    assert set(map(str, Run.objects.values_list("uuid", flat=True))) == runs | parents
    ended = Run.objects.filter(uuid__in=runs).exclude(ended_at=None)
    assert ended.count() == 30
    again = lineage_events_ingest(payloads=events)
    assert (again.accepted, again.duplicates) == (0, 60)
    assert LineageEvent.objects.filter(duplicates=1).count() == 60
