"""Django-side steps of the ingestion benchmark, each run in its own process.

``benchmarks/ingest.py`` drives them with the data directory (or database) of one
measurement in the environment, and reads the JSON object each prints on its last line.

    python -m benchmarks.history setup --history 10000 --jobs 1000 --datasets 3000
    python -m benchmarks.history service --first-run 5000 --events 20000 --max-seconds 60
    python -m benchmarks.history floor --first-run 15000 --events 20000 --max-seconds 60

``setup`` migrates, issues a token and pre-fills a history of ``--history`` stored events.
The history is what the service would have built: the first and last run of every job go
through ``lineage_events_ingest`` (so that every job, dataset, field, version and edge
exists and is current), and the runs in between are written straight to the tables
(raw events, runs, run inputs/outputs, statistics) with a few large inserts, which is
what makes a million-event history take minutes instead of hours.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meshport.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.management.color import no_style  # noqa: E402
from django.db import connection, models, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from benchmarks.generate import MeshGenerator  # noqa: E402
from catalog.models import ApiToken, Dataset  # noqa: E402
from lineage.events import canonical_hash, canonical_json, parse_event  # noqa: E402
from lineage.facets import read_event  # noqa: E402
from lineage.models import (  # noqa: E402
    DatasetStatistics,
    Job,
    LineageEvent,
    Run,
    RunDataset,
    RunState,
)
from lineage.services import lineage_events_ingest, raw_event_row  # noqa: E402
from meshport.db import WalCheckpointer  # noqa: E402
from meshport.heap import freeze_loaded  # noqa: E402
from meshport.prepared import JsonText, insert_returning  # noqa: E402

HISTORY_TOKEN = "bench-history"
FLOOR_TOKEN = "bench-floor"
BATCH = 100
SQL_CHUNK_RUNS = 2_000


class _JsonText(str):
    """JSON already serialized: written as is, without a second ``json.dumps``."""


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _insert(model: type[models.Model], rows: list[dict[str, Any]]) -> None:
    """``INSERT`` rows given by attribute name; columns not given take the field default."""
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key or "id" in rows[0]]
    pg = connection.vendor == "postgresql"
    marks = []
    for f in fields:
        marks.append("%s::jsonb" if pg and isinstance(f, models.JSONField) else "%s")
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        connection.ops.quote_name(model._meta.db_table),
        ", ".join(connection.ops.quote_name(f.column or f.attname) for f in fields),
        ", ".join(marks),
    )
    defaults = {f.attname: f.get_default() for f in fields if f.attname not in rows[0]}
    prepared = []
    for row in rows:
        values = []
        for f in fields:
            value = row[f.attname] if f.attname in row else defaults[f.attname]
            if isinstance(f, models.JSONField):
                values.append(value if isinstance(value, _JsonText) else json.dumps(value))
            else:
                values.append(f.get_db_prep_save(value, connection))
        prepared.append(values)
    with connection.cursor() as cursor:
        cursor.executemany(sql, prepared)


def _ingest(events: Iterable[dict[str, Any]]) -> int:
    batch: list[dict[str, Any]] = []
    count = 0
    for event in events:
        batch.append(event)
        if len(batch) == BATCH:
            count += _ingest_batch(batch)
            batch = []
    if batch:
        count += _ingest_batch(batch)
    return count


def _ingest_batch(batch: list[dict[str, Any]]) -> int:
    result = lineage_events_ingest(payloads=batch, token_name=HISTORY_TOKEN)
    if result.failed:
        raise SystemExit(f"generated events were rejected: {result.failed[:3]}")
    return result.accepted


def _run_events(mesh: MeshGenerator, first: int, last: int) -> Iterator[dict[str, Any]]:
    for run in range(first, last):
        yield from mesh.run_events(run)


class _DirectWriter:
    """Writes runs straight to the tables, the rows the projection would have made."""

    def __init__(self, mesh: MeshGenerator):
        self.mesh = mesh
        self.jobs = {
            (ns, name): pk
            for pk, ns, name in Job.objects.values_list("pk", "namespace__name", "name")
        }
        self.datasets = {
            (ns, name): (pk, version)
            for pk, ns, name, version in Dataset.objects.values_list(
                "pk", "namespace__name", "name", "current_version_id"
            )
        }
        self.next_run_id = (Run.objects.aggregate(m=models.Max("pk"))["m"] or 0) + 1

    def write(self, first: int, last: int) -> None:
        for start in range(first, last, SQL_CHUNK_RUNS):
            with transaction.atomic():
                self._chunk(start, min(last, start + SQL_CHUNK_RUNS))
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [Run]):
                cursor.execute(sql)

    def _chunk(self, first: int, last: int) -> None:
        events: list[dict[str, Any]] = []
        runs: list[dict[str, Any]] = []
        io: list[dict[str, Any]] = []
        stats: list[dict[str, Any]] = []
        for number in range(first, last):
            start, end = self.mesh.run_events(number)
            events.extend(self._raw(e) for e in (start, end))
            run_pk = self.next_run_id
            self.next_run_id += 1
            runs.append(self._run(run_pk, start, end))
            for direction, refs in (("input", end["inputs"]), ("output", end["outputs"])):
                for ref in refs:
                    pk, version = self.datasets[(ref["namespace"], ref["name"])]
                    facets = {**ref.get("facets", {}), **ref.get("outputFacets", {})}
                    io.append(
                        {
                            "run_id": run_pk,
                            "dataset_id": pk,
                            "direction": direction,
                            "version_id": version,
                            "facets": _JsonText(_canonical(facets)),
                        }
                    )
                    out = ref.get("outputFacets", {}).get("outputStatistics")
                    if out:
                        stats.append(
                            {
                                "run_id": run_pk,
                                "dataset_id": pk,
                                "direction": direction,
                                "row_count": out["rowCount"],
                                "bytes": out["size"],
                                "observed_at": _time(end["eventTime"]),
                            }
                        )
        _insert(LineageEvent, events)
        _insert(Run, runs)
        _insert(RunDataset, io)
        _insert(DatasetStatistics, stats)

    @staticmethod
    def _raw(event: dict[str, Any]) -> dict[str, Any]:
        text = _canonical(event)
        return {
            "hash": hashlib.sha256(text.encode()).hexdigest(),
            "kind": "run",
            "event_type": event["eventType"],
            "event_time": _time(event["eventTime"]),
            "received_at": _time(event["eventTime"]),
            "producer": event["producer"],
            "schema_url": event["schemaURL"],
            "run_uuid": event["run"]["runId"],
            "job_namespace": event["job"]["namespace"],
            "job_name": event["job"]["name"],
            "token_name": HISTORY_TOKEN,
            "payload": _JsonText(text),
        }

    def _run(self, pk: int, start: dict[str, Any], end: dict[str, Any]) -> dict[str, Any]:
        started, ended = _time(start["eventTime"]), _time(end["eventTime"])
        error = end["run"]["facets"].get("errorMessage") or {}
        return {
            "id": pk,
            "uuid": end["run"]["runId"],
            "job_id": self.jobs[(end["job"]["namespace"], end["job"]["name"])],
            "state": RunState.FAILED if end["eventType"] == "FAIL" else RunState.COMPLETED,
            "started_at": started,
            "ended_at": ended,
            "transitioned_at": ended,
            "nominal_start_time": _time(end["run"]["facets"]["nominalTime"]["nominalStartTime"]),
            "error_message": error.get("message", ""),
            "error_language": error.get("programmingLanguage", ""),
            "stack_trace": error.get("stackTrace", ""),
            "facets": _JsonText(_canonical(end["run"]["facets"])),
            "events_count": 2,
            "created_at": started,
            "updated_at": ended,
        }


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _counts() -> dict[str, int]:
    return {
        "events": LineageEvent.objects.count(),
        "runs": Run.objects.count(),
        "jobs": Job.objects.count(),
        "datasets": Dataset.objects.count(),
        "run_io": RunDataset.objects.count(),
    }


def setup(args: argparse.Namespace) -> dict[str, Any]:
    """Migrate, issue a token, and pre-fill ``args.history`` events (half as many runs)."""
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    _, secret = ApiToken.issue(name="bench", scopes=["lineage:write"])
    mesh = _mesh(args)
    runs = args.history // 2
    cover = min(len(mesh.jobs), runs // 2)  # every job runs once at each end of the history
    _ingest(_run_events(mesh, 0, cover))
    _DirectWriter(mesh).write(cover, runs - cover)
    _ingest(_run_events(mesh, runs - cover, runs))
    return {"secret": secret, "seconds": time.perf_counter() - started, "counts": _counts()}


def _timed_batches(args: argparse.Namespace, work: Callable[[list[bytes]], None]) -> dict[str, Any]:
    """Run ``work`` on batches of encoded events until done or out of time.

    As in Meshport's web processes: WAL checkpoints run in a thread of their own, so that
    the measured commits do not copy the WAL back into the database file as SQLite's
    autocheckpoint would (the thread's CPU time is counted), and what was loaded before
    the first event is frozen out of the cyclic collector's full passes
    (:mod:`meshport.heap`).
    """
    mesh = _mesh(args)
    bodies = [json.dumps(e).encode() for e in mesh.events(args.events, first_run=args.first_run)]
    WalCheckpointer.start_for_sqlite()
    freeze_loaded()
    deadline = time.perf_counter() + args.max_seconds
    done = 0
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(bodies), BATCH):
        work(bodies[i : i + BATCH])
        done += len(bodies[i : i + BATCH])
        if time.perf_counter() > deadline:
            break
    return {
        "events": done,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
    }


def service(args: argparse.Namespace) -> dict[str, Any]:
    """The ingestion service in process, batches of 100: the web stack taken away."""

    def work(chunk: list[bytes]) -> None:
        result = lineage_events_ingest(
            payloads=[json.loads(b) for b in chunk], token_name="bench-service"
        )
        if result.failed:
            raise SystemExit(f"generated events were rejected: {result.failed[:3]}")

    return _timed_batches(args, work)


def floor(args: argparse.Namespace) -> dict[str, Any]:
    """Decode, hash and append raw events, 100 per transaction, projecting nothing — with
    the very statement the service appends with.

    With ``--validate`` the events are also parsed and their facets read, as the service
    does before projecting. The rows are deleted afterwards so the history stays the same.
    """

    def work(chunk: list[bytes]) -> None:
        rows = []
        for body in chunk:
            payload = json.loads(body)
            if args.validate:
                rows.append(raw_event_row(read_event(parse_event(payload)), FLOOR_TOKEN))
                continue
            text = canonical_json(payload)
            rows.append(
                {
                    "hash": canonical_hash(payload, text),
                    "kind": "run",
                    "event_type": payload["eventType"],
                    "event_time": _time(payload["eventTime"]),
                    "received_at": timezone.now(),
                    "producer": payload["producer"],
                    "schema_url": payload["schemaURL"],
                    "run_uuid": uuid.UUID(payload["run"]["runId"]),
                    "job_namespace": payload["job"]["namespace"],
                    "job_name": payload["job"]["name"],
                    "token_name": FLOOR_TOKEN,
                    "payload": JsonText(text),
                    "warnings": [],
                    "duplicates": 0,
                }
            )
        with transaction.atomic():
            insert_returning(
                LineageEvent, rows, unique=["event_time", "hash"], returning=["hash", "id"]
            )

    result = _timed_batches(args, work)
    LineageEvent.objects.filter(token_name=FLOOR_TOKEN).delete()
    return result


def _mesh(args: argparse.Namespace) -> MeshGenerator:
    return MeshGenerator(jobs=args.jobs, datasets=args.datasets, seed=args.seed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Django-side benchmark steps.")
    parser.add_argument("step", choices=["setup", "service", "floor"])
    parser.add_argument("--history", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=1_000)
    parser.add_argument("--datasets", type=int, default=3_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--first-run", type=int, default=0)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--max-seconds", type=float, default=60)
    parser.add_argument("--validate", action="store_true")
    args = parser.parse_args(argv)
    result = {"setup": setup, "service": service, "floor": floor}[args.step](args)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
