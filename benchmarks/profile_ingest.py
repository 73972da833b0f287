"""Where ingestion time goes: queries per event by table, and CPU by area.

Runs in the current environment (export ``MESHPORT_DATA_DIR`` to a scratch directory
first: it is migrated and filled). After a small history is pre-filled, it ingests:

* a batch of 100 events through ``lineage_events_ingest``,
* 50 events one by one through ``lineage_event_ingest``,
* 50 events one by one through the whole web stack (``POST /api/v1/lineage`` with the
  Django test client: middleware, DRF, token authentication),

and for each prints the queries per event grouped by statement and table, the time the
database itself reported, and a cProfile of the same work grouped by area.

    MESHPORT_DATA_DIR=/tmp/meshport-profile python -m benchmarks.profile_ingest
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from benchmarks import history  # sets Django up
from benchmarks.generate import MeshGenerator
from lineage.services import lineage_event_ingest, lineage_events_ingest

_TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)

# (area, pattern matched against "file:function"), first match wins.
_AREAS = [
    ("sqlite/psycopg execute + commit",
     re.compile(r"method '(execute|executemany|commit|fetch)|sqlite3|psycopg")),
    ("ORM: query building + compiling",
     re.compile(r"django/db/models/(sql|query|lookups|expressions|where|fields)")),
    ("ORM: model instances", re.compile(r"django/db/models/(base|manager)")),
    ("Django DB layer (wrappers, atomic)", re.compile(r"django/db/(backends|transaction|utils)")),
    ("JSON encode/decode", re.compile(r"json/|_json|method '(encode|decode)'")),
    ("hashing", re.compile(r"hashlib|sha256")),
    ("event parsing (events.py)", re.compile(r"lineage/events.py")),
    ("facet reading (facets.py)", re.compile(r"lineage/facets.py")),
    ("projection code (projection.py)", re.compile(r"lineage/projection.py")),
    ("service code (services.py)", re.compile(r"lineage/services.py")),
    ("DRF + middleware + request",
     re.compile(r"rest_framework|django/(middleware|core/handlers|http|test|contrib|urls)")),
    ("dates, uuids, dataclasses, copying", re.compile(r"datetime|uuid|dataclasses|copy")),
    ("builtins called from all of the above (getattr, isinstance...)", re.compile(r"^~:")),
]


def census(label: str, count: int, work: Callable[[], object]) -> float:
    """Print the queries per event; returns the CPU seconds per event, unprofiled."""
    with CaptureQueriesContext(connection) as ctx:
        started, cpu = time.perf_counter(), time.process_time()
        work()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    by_kind: Counter[tuple[str, str]] = Counter()
    db_time = 0.0
    for query in ctx.captured_queries:
        # executemany() is logged as "<n> times: <sql>"; it is one round of statements.
        sql = re.sub(r"^\d+ times: ", "", query["sql"].lstrip())
        verb = sql.split(None, 1)[0].upper()
        match = _TABLE.search(sql)
        by_kind[(verb, match.group(1) if match else "")] += 1
        db_time += float(query["time"] or 0)
    print(f"\n## {label}: {len(ctx.captured_queries) / count:.2f} queries per event; "
          f"per event {wall / count * 1000:.2f} ms wall, {cpu / count * 1000:.2f} ms CPU, "
          f"{db_time / count * 1000:.2f} ms in the database driver")
    for (verb, name), n in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        print(f"  {n / count:6.2f}  {verb:<8} {name}")
    return cpu / count


def profile(label: str, count: int, work: Callable[[], object], top: int, cpu: float) -> None:
    """Print where the time goes, as shares of the profile scaled to ``cpu`` per event
    (the profiler's own overhead inflates the absolute figures, not the shares much)."""
    profiler = cProfile.Profile()
    profiler.enable()
    work()
    profiler.disable()
    stats = pstats.Stats(profiler)
    areas: Counter[str] = Counter()
    rows = []
    for (filename, _, function), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{filename}:{function}"
        area = next((name for name, rx in _AREAS if rx.search(where)), "other")
        areas[area] += tottime
        rows.append((tottime, where))
    total = sum(areas.values()) or 1.0
    scale = cpu * 1000 / total  # profiled seconds -> unprofiled ms per event
    print(f"\n## {label}: where the {cpu * 1000:.2f} ms CPU per event go")
    for area, seconds in areas.most_common():
        print(f"  {100 * seconds / total:5.1f}%  {seconds * scale:6.3f} ms/event  {area}")
    print(f"  top {top} functions by own time:")
    for tottime, where in sorted(rows, reverse=True)[:top]:
        print(f"    {tottime * scale:6.3f} ms/event  {where.split('site-packages/')[-1]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--datasets", type=int, default=300)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    secret = history.setup(
        argparse.Namespace(history=args.history, jobs=args.jobs, datasets=args.datasets, seed=42)
    )["secret"]
    mesh = MeshGenerator(jobs=args.jobs, datasets=args.datasets)
    run = args.history // 2
    slices: list[list[dict[str, Any]]] = []
    for size in (100, 100, 50, 50, 50, 50):
        slices.append(list(mesh.events(size, first_run=run)))
        run += size // 2
    client = Client(HTTP_HOST="127.0.0.1")
    headers = {"Authorization": f"Bearer {secret}"}

    def batch(events: list[dict[str, Any]]) -> Callable[[], object]:
        return lambda: lineage_events_ingest(payloads=events, token_name="profile")

    def singles(events: list[dict[str, Any]]) -> Callable[[], object]:
        return lambda: [lineage_event_ingest(payload=e, token_name="profile") for e in events]

    def http(events: list[dict[str, Any]]) -> Callable[[], object]:
        def post() -> None:
            for event in events:
                response = client.post("/api/v1/lineage", data=json.dumps(event),
                                       content_type="application/json", headers=headers)
                assert response.status_code == 201, response.content
        return post

    for label, size, make, first in (
        ("batch of 100, lineage_events_ingest", 100, batch, 0),
        ("single events, lineage_event_ingest", 50, singles, 2),
        ("single events, POST /api/v1/lineage", 50, http, 4),
    ):
        cpu = census(label, size, make(slices[first]))
        profile(label, size, make(slices[first + 1]), args.top, cpu)


if __name__ == "__main__":
    main()
