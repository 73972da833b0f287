"""SLO evaluation at scale: a full sweep of every SLO, and the worker's cost per event.

    python -m benchmarks.slo --dir /tmp/meshport-slo-bench            # 10k SLOs, 1M runs
    python -m benchmarks.slo --dir /tmp/meshport-slo-bench --slos 1000 --runs 50000

The data dir is migrated and filled on the first run (``benchmarks/slo_synth.py``) and
reused by the next ones (``--fresh`` starts over, ``--reset`` only forgets the
evaluations so that the first one is measured again). Measured, in one process on SQLite (or
the database of ``DATABASE_URL``):

* **first evaluation**: every SLO evaluated for the first time, which computes its last
  28 days;
* **the minute sweep**: the tick of the worker (``slos_sweep``) a minute later, which
  evaluates the SLOs that are due and refreshes every other's figures;
* **every SLO evaluated again**: all of them recomputed from their last evaluation, as
  after a restart that missed ticks;
* **per event**: single run events written through the ingestion service, each touching
  a watched dataset, then what the worker does for each (``slo_changes_drain`` of one
  queued change): the mean and p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import timedelta
from typing import Any

from benchmarks.env import setup_django


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default="/tmp/meshport-slo-bench", help="data dir (kept)")
    parser.add_argument("--slos", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200, help="events for the per-event cost")
    parser.add_argument("--fresh", action="store_true", help="rebuild the data dir")
    parser.add_argument(
        "--reset", action="store_true", help="forget every evaluation, keep the generated data"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup_django(args.dir, fresh=args.fresh)
    from django.core.management import call_command
    from django.utils import timezone

    from benchmarks.slo_synth import Scale, write_history
    from governance.models import Slo

    call_command("migrate", verbosity=0)
    rows: list[tuple[str, str, str, str]] = []
    if not Slo.objects.exists():
        began = time.perf_counter()
        counts = write_history(Scale(slos=args.slos, runs=args.runs))
        print(f"generated {counts} in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    elif args.reset:
        _forget_evaluations()
    now = timezone.now()
    rows.append(_sweep("first evaluation of every SLO (28 days each)", now, only_new=True))
    rows.append(_sweep("the minute sweep", now + timedelta(minutes=1), only_new=False))
    rows.append(_sweep("every SLO evaluated again", now + timedelta(minutes=2), forced=True))
    rows.append(_per_event(args.events, now + timedelta(minutes=3)))
    print(report(rows, Slo.objects.count()))


def _forget_evaluations() -> None:
    from governance.models import Slo, SloSegment

    SloSegment.objects.all().delete()
    Slo.objects.update(evaluated_at=None, due_at=None, state="unknown", state_since=None)


def _sweep(
    label: str, now: Any, *, only_new: bool = False, forced: bool = False
) -> tuple[str, str, str, str]:
    from governance.models import Slo, SloQuerySet
    from governance.services import slos_sweep

    slos: SloQuerySet | None = None
    if only_new:
        slos = Slo.objects.enabled().filter(evaluated_at__isnull=True)
    elif forced:
        slos = Slo.objects.enabled()
    began = time.perf_counter()
    count = slos_sweep(now=now, slos=slos.iterator() if slos is not None else None)
    seconds = time.perf_counter() - began
    verdict = "ok" if seconds < 30 else "MISSED"
    if only_new and not count:
        return (label, "0 (already evaluated)", "—", "")
    work = f"{count:,} SLOs"
    if slos is None:  # the tick refreshes the figures of every SLO it did not evaluate
        work = f"{count:,} evaluated + {Slo.objects.enabled().count() - count:,} refreshed"
    return (label, work, f"{seconds:.1f} s", f"< 30 s: {verdict}")


def _per_event(events: int, now: Any) -> tuple[str, str, str, str]:
    from benchmarks.slo_synth import NAMESPACE
    from governance.models import Slo
    from governance.services import slo_changes_drain
    from lineage.models import ChangeOutbox
    from lineage.services import lineage_event_ingest

    names = list(
        Slo.objects.filter(namespace=NAMESPACE)
        .order_by("?")
        .values_list("dataset_name", flat=True)[:events]
    )
    ChangeOutbox.objects.all().delete()
    for i, name in enumerate(names):
        when = (now - timedelta(seconds=events - i)).isoformat()
        output = {
            "namespace": NAMESPACE,
            "name": name,
            "outputFacets": {"outputStatistics": {"rowCount": 1_000_000 + i}},
        }
        job = f"etl.job_{int(name.rsplit('_', 1)[1]) // 2:06d}"  # the dataset's own writer
        lineage_event_ingest(payload=_event(when, job, output))
    costs = []
    while True:
        began = time.perf_counter()
        report = slo_changes_drain(now=now, limit=1)
        if not report.rows:
            break
        costs.append((time.perf_counter() - began) * 1000)
    mean, p95 = statistics.mean(costs), sorted(costs)[int(len(costs) * 0.95) - 1]
    verdict = "ok" if p95 < 50 else "MISSED"
    return (
        "per event (worker)",
        f"{len(costs)} events",
        f"{mean:.1f} ms mean, {p95:.1f} ms p95",
        f"< 50 ms: {verdict}",
    )


def _event(when: str, job: str, output: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": when,
        "producer": "https://meshport.invalid/benchmarks/slo",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "bench://slo", "name": job},
        "inputs": [],
        "outputs": [output],
    }


def report(rows: list[tuple[str, str, str, str]], slos: int) -> str:
    lines = [
        f"SLO evaluation, {slos:,} SLOs",
        "",
        "| step | work | time | target |",
        "|---|---:|---:|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
