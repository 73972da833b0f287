"""Golden files: real producer events in, the normalized projection out.

Each case posts a scenario through ``/api/v1/lineage/batch`` and compares a deterministic
dump of what was projected (no database ids, no receive times) with
``tests/lineage/golden/<case>.json``. Regenerate after an intended change with::

    UPDATE_GOLDEN=1 pytest tests/lineage/test_golden.py

and read the diff before committing it.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

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
from tests.conftest import OPENLINEAGE_FIXTURES
from tests.lineage import fixture_corpus as fc

GOLDEN_DIR = Path(__file__).parent / "golden"
SCENARIOS = "compatibility-tests/consumer/scenarios"


def _literal(scenario: str) -> list[Any]:
    folder = OPENLINEAGE_FIXTURES / SCENARIOS / scenario / "events"
    files = sorted(folder.glob("*.json"), key=lambda p: (len(p.stem), p.stem))
    return [json.loads(p.read_text()) for p in files]


CASES = {
    # Airflow providers-openlineage 1.14: three DAGs, task runs under DAG runs, GCS and BQ.
    "airflow": lambda: _literal("airflow"),
    # Airflow 3 system test (template): DAG and TASK job types, parent and root facets.
    "airflow3": lambda: fc.template_events(
        "airflow-provider-system-tests/openlineage_base_simple_dag__af3.json"
    ),
    # Spark on Dataproc reading a public BigQuery table into files.
    "spark": lambda: _literal("spark_dataproc_bigquery_shakespare"),
    # dbt: a build with tests (dataQualityAssertions) and a BigQuery run with columnLineage.
    "dbt": lambda: [
        *fc.template_events("openlineage-dbt/build/result.json"),
        *fc.template_events(
            "openlineage-dbt/structured_logs/bigquery/run/results/successful_run_ol_events.json"
        ),
    ],
    # Spark column-level lineage of a CTAS over two sources.
    "column_lineage": lambda: _literal("CLL"),
}


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _ds(dataset: Dataset) -> str:
    return f"{dataset.namespace.name}:{dataset.name}"


def _job(job: Job | None) -> str | None:
    return f"{job.namespace.name}:{job.name}" if job else None


# Rows are sorted in Python: SQLite and PostgreSQL collate text and place NULLs apart.


def _jobs() -> list[dict[str, Any]]:
    jobs = Job.objects.select_related("namespace", "parent__namespace", "latest_run")
    return sorted(
        (
            {
                "job": _job(job),
                "type": job.type,
                "integration": job.integration,
                "job_type": job.job_type,
                "has_sql": bool(job.sql),
                "has_description": bool(job.description),
                "owners": job.owners,
                "parent": _job(job.parent),
                "latest_run": str(job.latest_run.uuid) if job.latest_run else None,
            }
            for job in jobs
        ),
        key=lambda j: j["job"],
    )


def _io(run: Run, direction: str) -> list[str]:
    rows = RunDataset.objects.filter(run=run, direction=direction).select_related(
        "dataset__namespace", "version"
    )
    return sorted(f"{_ds(r.dataset)}{'' if r.version_id else ' (no schema)'}" for r in rows)


def _runs() -> list[dict[str, Any]]:
    runs = sorted(
        Run.objects.select_related("job__namespace", "parent"),
        key=lambda r: (
            r.started_at is None,
            r.started_at.isoformat() if r.started_at else "",
            str(r.uuid),
        ),
    )
    return [
        {
            "run": str(run.uuid),
            "job": _job(run.job),
            "state": run.state,
            "started_at": _time(run.started_at),
            "ended_at": _time(run.ended_at),
            "nominal_start": _time(run.nominal_start_time),
            "nominal_end": _time(run.nominal_end_time),
            "error": run.error_message,
            "parent": str(run.parent.uuid) if run.parent else None,
            "root": str(run.root_uuid) if run.root_uuid else None,
            "events": run.events_count,
            "inputs": _io(run, "input"),
            "outputs": _io(run, "output"),
        }
        for run in runs
    ]


def _datasets() -> list[dict[str, Any]]:
    datasets = Dataset.objects.select_related("namespace").prefetch_related(
        "schema_fields", "symlinks", "versions", "lifecycle"
    )
    rows = [
        {
            "dataset": _ds(ds),
            "type": ds.type,
            "subtype": ds.subtype,
            "source": [ds.source_name, ds.source_uri],
            "has_description": bool(ds.description),
            "fields": [f"{f.name}: {f.type}" if f.type else f.name for f in ds.schema_fields.all()],
            "versions": len(ds.versions.all()),
            "symlinks": sorted(f"{s.namespace}:{s.name} ({s.type})" for s in ds.symlinks.all()),
            "lifecycle": sorted(
                f"{e.state} {e.related_namespace}:{e.related_name}" for e in ds.lifecycle.all()
            ),
            "is_deleted": ds.is_deleted,
            "last_modified_at": _time(ds.last_modified_at),
        }
        for ds in datasets
    ]
    return sorted(rows, key=lambda d: d["dataset"])


def _edges() -> list[str]:
    edges = JobDataset.objects.select_related("job__namespace", "dataset__namespace")
    return sorted(
        f"{_ds(e.dataset)} -> {_job(e.job)}"
        if e.direction == "input"
        else f"{_job(e.job)} -> {_ds(e.dataset)}"
        for e in edges
    )


def _column_lineage() -> list[dict[str, Any]]:
    rows = ColumnLineage.objects.select_related(
        "output_dataset__namespace", "input_dataset__namespace", "job__namespace"
    )
    return sorted(
        (
            {
                "output": f"{_ds(r.output_dataset)}.{r.output_field or '*'}",
                "input": f"{_ds(r.input_dataset)}.{r.input_field}",
                "transformation": f"{r.transformation_type}/{r.transformation_subtype}",
                "masking": r.masking,
                "job": _job(r.job),
            }
            for r in rows
        ),
        key=lambda r: (r["output"], r["input"], r["transformation"]),
    )


def _assertions() -> list[dict[str, Any]]:
    rows = DataQualityAssertion.objects.select_related("dataset__namespace", "run")
    return sorted(
        (
            {
                "dataset": _ds(a.dataset),
                "assertion": a.assertion,
                "column": a.column,
                "success": a.success,
                "severity": a.severity,
                "run": str(a.run.uuid),
            }
            for a in rows
        ),
        key=lambda a: (a["dataset"], a["column"], a["assertion"], a["run"]),
    )


def _statistics() -> list[dict[str, Any]]:
    rows = DatasetStatistics.objects.select_related("dataset__namespace", "run")
    return sorted(
        (
            {
                "dataset": _ds(s.dataset),
                "direction": s.direction,
                "run": str(s.run.uuid),
                "rows": s.row_count,
                "bytes": s.bytes,
                "files": s.file_count,
                "column_metrics": s.column_metrics,
            }
            for s in rows
        ),
        key=lambda s: (s["dataset"], s["direction"], s["run"]),
    )


def _events() -> dict[str, Any]:
    events = LineageEvent.objects.order_by("event_time", "id")
    return {
        "stored": len(events),
        "duplicates": sum(e.duplicates for e in events),
        "warnings": sorted({f"{w['path']}: {w['message']}" for e in events for w in e.warnings}),
    }


def projection_snapshot() -> dict[str, Any]:
    """Everything the events projected to, in a stable order."""
    return {
        "events": _events(),
        "jobs": _jobs(),
        "runs": _runs(),
        "datasets": _datasets(),
        "edges": _edges(),
        "column_lineage": _column_lineage(),
        "assertions": _assertions(),
        "statistics": _statistics(),
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_projection_matches_golden_file(case: str, pipeline: APIClient) -> None:
    response = pipeline.post("/api/v1/lineage/batch", CASES[case](), format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["failed"] == 0

    actual = json.dumps(projection_snapshot(), indent=1, sort_keys=True, ensure_ascii=False)
    golden = GOLDEN_DIR / f"{case}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(actual + "\n", encoding="utf-8")
    assert actual + "\n" == golden.read_text(encoding="utf-8")
