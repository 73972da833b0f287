"""Two workers started together run a due scorecard once: each ticks (the worker's own
periodic task, its queued runs executed in process) in a process of its own, on one
store (a data dir of its own, or the database of ``DATABASE_URL``, flushed first)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.catalog.test_product_pages import bundle

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
SCORECARD = """\
name: Every minute
schedule: "* * * * *"
levels: [bronze]
checks: [{check: has_owner, level: bronze}, has_tags]
"""
TICK = """
import time
from huey.contrib.djhuey import HUEY
from governance.tasks import scorecard_tick
HUEY.immediate = True  # the runs the tick queues execute here, as a worker would
time.sleep(max(0.0, {start} - time.time()))
scorecard_tick.call_local()
"""
REPORT = """
import json
from governance.models import ScorecardRun
runs = ScorecardRun.objects.order_by("slot")
print(json.dumps([[str(r.slot), r.status, r.results.count()] for r in runs]))
"""
BACKDATE = """
from datetime import timedelta
from django.utils import timezone
from governance.models import Scorecard
Scorecard.objects.update(created_at=timezone.now() - timedelta(hours=1))
"""


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_two_workers_ticking_together_run_each_due_slot_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHPORT_")}
    env.update(MESHPORT_DEBUG="1", MESHPORT_DATA_DIR=str(tmp_path), MESHPORT_LOG_LEVEL="WARNING")
    manage(env, "migrate", "-v0")
    if "DATABASE_URL" in env:
        manage(env, "flush", "--noinput")
    product = tmp_path / "product"
    product.mkdir()
    for name, text in bundle("ticked").items():
        (product / name).write_text(text)
    manage(env, "register_products", str(product), "--no-progress")
    (tmp_path / "card.yaml").write_text(SCORECARD)
    manage(env, "load_scorecards", str(tmp_path / "card.yaml"))
    manage(env, "shell", "-c", BACKDATE)

    start = time.time() + 3  # both processes are up by then; they tick at once
    command = [sys.executable, str(ROOT / "manage.py"), "shell", "-c", TICK.format(start=start)]
    workers = [
        subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for worker in workers:
        _, errors = worker.communicate(timeout=300)
        assert worker.returncode == 0, errors

    runs = json.loads(manage(env, "shell", "-c", REPORT).strip().splitlines()[-1])
    slots = [slot for slot, _, _ in runs]
    assert 1 <= len(runs) <= 6 and len(set(slots)) == len(slots)  # the last minutes, once each
    assert all(status == "done" and results == 1 for _, status, results in runs)
