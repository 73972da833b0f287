"""``benchmarks/crash.py --quick``: two rounds of kill -9 on the web server and the worker
lose no acknowledged event and leave nothing half-written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parent.parent


def _row(output: str, name: str) -> str:
    match = re.search(rf"^{re.escape(name)}\s+(.+)$", output, re.MULTILINE)
    assert match, f"no {name!r} row in:\n{output}"
    return match.group(1)


def run_script(module: str, *args: str, work_dir: Path, timeout: float) -> str:
    """``python -m benchmarks.<module>`` on a scratch store in ``work_dir`` (on the tests'
    PostgreSQL server when they run on one); its report, once it exited 0."""
    argv = [sys.executable, "-m", f"benchmarks.{module}", *args, "--work-dir", str(work_dir)]
    if os.environ.get("DATABASE_URL"):
        argv += ["--database-url", os.environ["DATABASE_URL"]]
    done = subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    return done.stdout


def test_two_crashes_lose_no_acknowledged_event(tmp_path: Path) -> None:
    output = run_script(
        "crash", "--quick", "--kills", "2", "--seconds", "25", work_dir=tmp_path, timeout=170
    )

    assert _row(output, "kill -9") == "2 rounds: web 2, worker 2"
    acknowledged = int(_row(output, "events acknowledged (2xx)").replace(",", ""))
    stored = int(_row(output, "events stored").replace(",", ""))
    assert 0 < acknowledged <= stored
    assert _row(output, "acknowledged but not stored").startswith("0 ")
    assert _row(output, "search outbox left").startswith("0 ")
    assert _row(output, "search_check").startswith("clean")
    assert _row(output, "verdict") == "PASS"
