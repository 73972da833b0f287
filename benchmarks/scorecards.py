"""Scorecards at scale: a full run over 10k products × 20 checks, and shift-left.

    python -m benchmarks.scorecards --dir /tmp/meshport-scorecard-bench     # 10k products
    python -m benchmarks.scorecards --dir /tmp/meshport-scorecard-small --products 500
    DATABASE_URL=postgres://... python -m benchmarks.scorecards --products 10000

The data dir (or the database of ``DATABASE_URL``, flushed first when ``--fresh``) is
migrated and filled on the first run (``benchmarks/scorecards_synth.py``) and reused by
the next ones. Measured, in one process, as the worker does it:

* **full run**: ``scorecard_run_execute`` of a scorecard with every built-in check (20)
  over every product: facts loaded in batches, each product scored, results written;
* **second run**: the same again, now with a previous run to compare against (what
  changed, level drops);
* **peak memory**: the process's peak resident set size after both runs, against 500 MB;
* **shift-left**: ``scorecard_lint`` of products' descriptors (as YAML files, parsed and
  scored as if registered): p50 and p95 in milliseconds, against 200 ms.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
from typing import Any

from benchmarks.env import setup_django

CHECKS = [
    "has_owner", "has_support_channel", "description_filled", "columns_described",
    "pii_classified", "has_contract", "contract_declares_sla", "output_ports_bound",
    "lineage_recent", "runs_succeeding", "quality_passing", "slos_declared", "slos_met",
    "no_deprecated_upstream", "no_unversioned_breaking_change", "recently_attested",
    "is_active", "semantic_version", "has_consumers", "has_tags",
]  # fmt: skip
LEVELS = {"bronze": CHECKS[:6], "silver": CHECKS[6:13], "gold": CHECKS[13:17]}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default="/tmp/meshport-scorecard-bench", help="data dir (kept)")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--lints", type=int, default=50, help="descriptors for shift-left")
    parser.add_argument("--fresh", action="store_true", help="rebuild the data")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup_django(args.dir, fresh=args.fresh)
    from django.core.management import call_command
    from django.db import connection

    from benchmarks.scorecards_synth import NAMESPACE, Scale, write_mesh
    from catalog.models import Namespace

    call_command("migrate", verbosity=0)
    if args.fresh and connection.vendor == "postgresql":
        call_command("flush", "--noinput", verbosity=0)
    if not Namespace.objects.filter(name=NAMESPACE).exists():
        began = time.perf_counter()
        counts = write_mesh(Scale(products=args.products))
        print(f"generated {counts} in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    scorecard = _scorecard()
    rows = [_run("full run", scorecard), _run("second run (compared with the first)", scorecard)]
    peak = _peak_mb()
    rows.append(
        ("peak memory of the process", "", f"{peak:.0f} MB", _verdict(peak < 500, "< 500 MB"))
    )
    rows.append(_lint(scorecard, args.lints))
    print(report(rows, connection.vendor))


def _scorecard() -> Any:
    from governance.scorecard_services import scorecard_save
    from governance.scorecards import definition_from_dict

    checks = [
        {"check": name, "level": next((lv for lv, names in LEVELS.items() if name in names), "")}
        for name in CHECKS
    ]
    definition = definition_from_dict(
        {"slug": "bench", "name": "Benchmark readiness", "levels": list(LEVELS), "checks": checks}
    )
    return scorecard_save(actor="benchmark", via="command", definition=definition)


def _run(label: str, scorecard: Any) -> tuple[str, str, str, str]:
    from governance.models import ScorecardRun
    from governance.scorecard_services import scorecard_run_here

    began = time.perf_counter()
    done = scorecard_run_here(scorecard=scorecard, requested_by="benchmark")
    seconds = time.perf_counter() - began
    assert done.status == ScorecardRun.Status.DONE, done.error
    products = done.summary["products"]
    levels = ", ".join(f"{n:,} {lv or 'none'}" for lv, n in sorted(done.summary["levels"].items()))
    work = f"{products:,} products × {len(CHECKS)} checks ({levels})"
    return (label, work, f"{seconds:.1f} s", _verdict(seconds < 60, "< 60 s"))


def _lint(scorecard: Any, count: int) -> tuple[str, str, str, str]:
    from benchmarks.descriptors_synth import bundle_files
    from catalog.descriptors.model import product_from_dict
    from catalog.models import DataProduct
    from governance.scorecard_services import scorecard_lint
    from governance.scorecards import Definition

    definition = Definition.from_model(scorecard)
    pks = list(DataProduct.objects.values_list("pk", flat=True))
    chosen = random.Random(3).sample(pks, min(count, len(pks)))
    costs = []
    for product in DataProduct.objects.filter(pk__in=chosen).select_related("active_revision"):
        assert product.active_revision is not None
        files = bundle_files(product_from_dict(product.active_revision.normalized))
        began = time.perf_counter()
        scorecard_lint(definition=definition, files=files)
        costs.append((time.perf_counter() - began) * 1000)
    costs.sort()
    p50, p95 = statistics.median(costs), costs[max(0, int(len(costs) * 0.95) - 1)]
    work = f"{len(costs)} descriptors, parsed and scored"
    return (
        "shift-left evaluation",
        work,
        f"{p50:.0f} ms p50, {p95:.0f} ms p95",
        _verdict(p95 < 200, "< 200 ms"),
    )


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _verdict(ok: bool, target: str) -> str:
    return f"{target}: {'ok' if ok else 'MISSED'}"


def report(rows: list[tuple[str, str, str, str]], vendor: str) -> str:
    lines = [
        f"Scorecards on {vendor}",
        "",
        "| step | work | result | target |",
        "|---|---|---:|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
