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


def test_two_crashes_lose_no_acknowledged_event(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "benchmarks.crash", "--quick", "--kills", "2"]
    argv += ["--seconds", "25", "--work-dir", str(tmp_path)]
    if os.environ.get("DATABASE_URL"):
        argv += ["--database-url", os.environ["DATABASE_URL"]]

    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=170, check=False)

    output = done.stdout
    assert done.returncode == 0, output + done.stderr[-3000:]
    assert _row(output, "kill -9") == "2 rounds: web 2, worker 2"
    acknowledged = int(_row(output, "events acknowledged (2xx)").replace(",", ""))
    stored = int(_row(output, "events stored").replace(",", ""))
    assert 0 < acknowledged <= stored
    assert _row(output, "acknowledged but not stored").startswith("0 ")
    assert _row(output, "search outbox left").startswith("0 ")
    assert _row(output, "search_check").startswith("clean")
    assert _row(output, "verdict") == "PASS"
