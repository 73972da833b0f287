"""Where ingestion time goes: queries per event by table, and CPU by area.

Runs in the current environment (export ``MESHPORT_DATA_DIR`` to a scratch directory
first: it is migrated and filled). After a small history is pre-filled, it ingests:

* batches of 100 events through ``lineage_events_ingest`` (``--batches``),
* events one by one through ``lineage_event_ingest`` (``--singles``),
* events one by one through the whole web stack (``POST /api/v1/lineage`` with the
  Django test client: middleware, DRF, token authentication),
* batches of 100 through the web stack (``POST /api/v1/lineage/batch``),

and for each prints the queries per event grouped by statement and table, the time the
database itself reported, and a cProfile of the same work grouped by area.

    MESHPORT_DATA_DIR=/tmp/meshport-profile python -m benchmarks.profile_ingest
    MESHPORT_DATA_DIR=/tmp/meshport-profile-1m python -m benchmarks.profile_ingest \
        --history 1000000 --jobs 1000 --datasets 3000
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from benchmarks import history  # sets Django up
from benchmarks.generate import MeshGenerator
from catalog.models import ApiToken
from lineage.services import lineage_event_ingest, lineage_events_ingest

_TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)

# (area, pattern matched against "file:function"), first match wins.
_AREAS = [
    (
        "sqlite/psycopg execute + commit",
        re.compile(r"method '(execute|executemany|commit|fetch)|sqlite3|psycopg"),
    ),
    (
        "ORM: query building + compiling",
        re.compile(r"django/db/models/(sql|query|lookups|expressions|where|fields)"),
    ),
    ("ORM: model instances", re.compile(r"django/db/models/(base|manager)")),
    ("Django DB layer (wrappers, atomic)", re.compile(r"django/db/(backends|transaction|utils)")),
    ("JSON encode/decode", re.compile(r"json/|_json|method '(encode|decode)'")),
    ("hashing", re.compile(r"hashlib|sha256")),
    ("event parsing (events.py)", re.compile(r"lineage/events.py")),
    ("facet reading (facets.py)", re.compile(r"lineage/facets.py")),
    ("projection code (projection.py)", re.compile(r"lineage/projection.py")),
    ("service code (services.py)", re.compile(r"lineage/services.py")),
    (
        "DRF + middleware + request",
        re.compile(r"rest_framework|django/(middleware|core/handlers|http|test|contrib|urls)"),
    ),
    ("dates, uuids, dataclasses, copying", re.compile(r"datetime|uuid|dataclasses|copy")),
    ("builtins called from all of the above (getattr, isinstance...)", re.compile(r"^~:")),
]


def _kind(sql: str) -> tuple[str, str]:
    # executemany() is logged as "<n> times: <sql>"; it is one round of statements.
    sql = re.sub(r"^\d+ times: ", "", sql.lstrip())
    match = _TABLE.search(sql)
    return sql.split(None, 1)[0].upper(), match.group(1) if match else ""


class _QueryTimer:
    """``connection.execute_wrapper`` timing each statement with the precision that
    ``connection.queries`` (milliseconds, rounded) lacks."""

    def __init__(self) -> None:
        self.seconds: dict[tuple[str, str], float] = defaultdict(float)
        self.counts: Counter[tuple[str, str]] = Counter()

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds[_kind(sql)] += time.perf_counter() - started
            self.counts[_kind(sql)] += 1


def census(label: str, count: int, work: Callable[[], object]) -> float:
    """Print the queries per event; returns the CPU seconds per event, unprofiled."""
    timer = _QueryTimer()
    connection.queries_log = deque(maxlen=1_000_000)  # the default keeps the last 9,000
    with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(timer):
        started, cpu = time.perf_counter(), time.process_time()
        work()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    by_kind = Counter(timer.counts)
    for query in ctx.captured_queries:
        kind = _kind(query["sql"])
        if kind not in timer.counts:  # BEGIN and COMMIT bypass the wrapper
            by_kind[kind] += 1
            timer.seconds[kind] += float(query["time"] or 0)
    db_time = sum(timer.seconds.values())
    print(
        f"\n## {label}: {sum(by_kind.values()) / count:.2f} queries per event; "
        f"per event {wall / count * 1000:.2f} ms wall, {cpu / count * 1000:.2f} ms CPU, "
        f"{db_time / count * 1000:.2f} ms executing statements"
    )
    print("  queries/event  ms/event executing  statement")
    for kind, n in sorted(by_kind.items(), key=lambda kv: -timer.seconds[kv[0]]):
        ms = timer.seconds[kind] / count * 1000
        print(f"  {n / count:13.2f}  {ms:18.3f}  {kind[0]:<8} {kind[1]}")
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
    parser.add_argument("--batches", type=int, default=10, help="batches of 100 per step")
    parser.add_argument("--singles", type=int, default=100, help="single events per step")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="profile a data dir filled before (with --first-run past it)",
    )
    parser.add_argument(
        "--first-run",
        type=int,
        default=None,
        help="run number of the first profiled event (default: history / 2)",
    )
    parser.add_argument(
        "--no-autocheckpoint",
        action="store_true",
        help="SQLite: leave WAL checkpoints out of the commits measured",
    )
    args = parser.parse_args(argv)
    if args.reuse:
        secret = ApiToken.issue(name="profile", scopes=["lineage:write"])[1]
    else:
        secret = history.setup(
            argparse.Namespace(
                history=args.history, jobs=args.jobs, datasets=args.datasets, seed=42
            )
        )["secret"]
    if args.no_autocheckpoint and connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
    mesh = MeshGenerator(jobs=args.jobs, datasets=args.datasets)
    run = args.history // 2 if args.first_run is None else args.first_run
    slices: list[list[dict[str, Any]]] = []
    batch_size = 100 * args.batches
    for size in (batch_size, batch_size, *[args.singles] * 4, batch_size, batch_size):
        slices.append(list(mesh.events(size, first_run=run)))
        run += size // 2
    client = Client(HTTP_HOST="127.0.0.1")
    headers = {"Authorization": f"Bearer {secret}"}

    def batch(events: list[dict[str, Any]]) -> Callable[[], object]:
        return lambda: [
            lineage_events_ingest(payloads=events[i : i + 100], token_name="profile")
            for i in range(0, len(events), 100)
        ]

    def singles(events: list[dict[str, Any]]) -> Callable[[], object]:
        return lambda: [lineage_event_ingest(payload=e, token_name="profile") for e in events]

    def http(events: list[dict[str, Any]]) -> Callable[[], object]:
        def post() -> None:
            for event in events:
                response = client.post(
                    "/api/v1/lineage",
                    data=json.dumps(event),
                    content_type="application/json",
                    headers=headers,
                )
                assert response.status_code == 201, response.content

        return post

    def http_batch(events: list[dict[str, Any]]) -> Callable[[], object]:
        bodies = [json.dumps(events[i : i + 100]) for i in range(0, len(events), 100)]

        def post() -> None:
            for body in bodies:
                response = client.post(
                    "/api/v1/lineage/batch",
                    data=body,
                    content_type="application/json",
                    headers=headers,
                )
                assert response.json()["accepted"] == 100, response.content

        return post

    for label, size, make, first in (
        ("batches of 100, lineage_events_ingest", batch_size, batch, 0),
        ("single events, lineage_event_ingest", args.singles, singles, 2),
        ("single events, POST /api/v1/lineage", args.singles, http, 4),
        ("batches of 100, POST /api/v1/lineage/batch", batch_size, http_batch, 6),
    ):
        if not size:  # --singles 0 or --batches 0 leaves a step out
            continue
        cpu = census(label, size, make(slices[first]))
        profile(label, size, make(slices[first + 1]), args.top, cpu)


if __name__ == "__main__":
    main()
