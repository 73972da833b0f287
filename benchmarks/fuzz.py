"""The long fuzz run: ``tests/fuzz`` with many more examples than CI gives it.

    .venv/bin/python -m benchmarks.fuzz [--examples 500] [--no-coverage] [--seed N]
        [--database-url postgres://meshport:meshport@127.0.0.1:5432/meshport_fuzz]

Runs ``pytest tests/fuzz`` in a scratch data dir (SQLite; ``--database-url`` for
PostgreSQL, whose ``test_`` database pytest-django creates and drops) with:

- ``MESHPORT_FUZZ_EXAMPLES=--examples``: the schema test generates that many inputs per
  API operation (valid and invalid), each sent anonymously and with a token holding every
  scope; the property tests draw 5 times as many events and 2 times as many descriptors;
- ``MESHPORT_FUZZ_COVERAGE=1`` (unless ``--no-coverage``): schemathesis' coverage phase
  adds the boundary and wrong-type values of every parameter and body field;
- ``MESHPORT_FUZZ_SEED=--seed``: other inputs than CI's.

Then prints, per operation, the requests sent by status class and what failed, the
pytest summary and the time taken (``--log``: pytest's whole output, with the falsifying
example of each failure). Exits non-zero when anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    args = _arguments()
    with tempfile.TemporaryDirectory(prefix="meshport-fuzz-") as scratch:
        report = Path(scratch) / "report.json"
        started = time.monotonic()
        summary, code = _pytest(args, Path(scratch), report)
        minutes = (time.monotonic() - started) / 60
        runs = json.loads(report.read_text())["operations"] if report.exists() else []
    _print_operations(runs)
    print(f"\n{summary}")
    print(
        f"{args.examples} examples per operation, coverage {'on' if args.coverage else 'off'}, "
        f"seed {args.seed}: {minutes:.1f} min"
    )
    return code


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=500)
    parser.add_argument("--no-coverage", dest="coverage", action="store_false")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--log", type=Path, help="write pytest's whole output there")
    return parser.parse_args()


def _pytest(args: argparse.Namespace, scratch: Path, report: Path) -> tuple[str, int]:
    """Run the fuzz tests; (pytest's last line, its exit code)."""
    env = {
        **os.environ,
        "MESHPORT_DEBUG": "1",
        "MESHPORT_DATA_DIR": str(scratch / "data"),
        "MESHPORT_FUZZ_EXAMPLES": str(args.examples),
        "MESHPORT_FUZZ_COVERAGE": "1" if args.coverage else "",
        "MESHPORT_FUZZ_SEED": str(args.seed),
        "MESHPORT_FUZZ_REPORT": str(report),
    }
    env.pop("DATABASE_URL", None)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:logging"]
    done = subprocess.run(
        [*command, "-q", "tests/fuzz"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if args.log:
        args.log.write_text(done.stdout + done.stderr)
    lines = done.stdout.strip().splitlines()
    for line in lines:
        if line.startswith(("FAILED", "ERROR")):
            print(line)
    return (lines[-1] if lines else done.stderr.strip()[-2000:]), done.returncode


def _print_operations(runs: list[dict[str, Any]]) -> None:
    if not runs:
        print("no report: the schema test did not run to its end")
        return
    total: Counter[str] = Counter()
    print(f"{'operation':<58} {'cases':>6} {'2xx':>6} {'4xx':>6} {'5xx':>4} {'unrouted':>8}")
    for run in runs:
        classes = _by_class(run["statuses"])
        total.update(classes)
        total.update(cases=run["cases"], unrouted=run["unrouted"], failed=bool(run["failures"]))
        mark = "  FAILED" if run["failures"] else ""
        print(
            f"{run['label']:<58} {run['cases']:>6} {classes['2xx']:>6} {classes['4xx']:>6} "
            f"{classes['5xx']:>4} {run['unrouted']:>8}{mark}"
        )
    print(
        f"{len(runs)} operations, {total['cases']} cases, "
        f"{sum(total[c] for c in ('2xx', '3xx', '4xx', '5xx'))} requests "
        f"({total['2xx']} 2xx, {total['4xx']} 4xx, {total['5xx']} 5xx, "
        f"{total['unrouted']} to paths no view serves), {total['failed']} operations failed"
    )
    for run in runs:
        for failure in run["failures"]:
            print(f"\n{failure}")


def _by_class(statuses: dict[str, int]) -> Counter[str]:
    classes: Counter[str] = Counter({"2xx": 0, "4xx": 0, "5xx": 0})
    for status, count in statuses.items():
        classes[f"{str(status)[0]}xx"] += count
    return classes


if __name__ == "__main__":
    sys.exit(main())
