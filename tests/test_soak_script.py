"""``benchmarks/soak.py``: a short soak under producers, readers and a kill -9, and the
check that the every-minute scorecard ran once per minute slot."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from benchmarks.crash import EVERY_MINUTE, check_schedule
from governance.models import Scorecard, ScorecardRun
from tests.test_crash_script import _row, run_script


@pytest.mark.live
def test_a_short_soak_with_a_crash_keeps_every_event_and_agrees_everywhere(
    tmp_path: Path,
) -> None:
    args = ["--seconds", "20", "--kills", "1", "--producers", "4", "--readers", "2"]

    output = run_script("soak", *args, work_dir=tmp_path, timeout=300)

    assert _row(output, "kill -9") == "1 rounds: web 1, worker 1"
    acknowledged = int(_row(output, "events acknowledged").split()[0].replace(",", ""))
    assert acknowledged > 0
    assert _row(output, "events stored") == f"{acknowledged:,}"
    assert int(_row(output, "reads").split()[0].replace(",", "")) > 0
    assert _row(output, "graph vs database").endswith("missing 0, extra 0")
    assert _row(output, "search_check").startswith("clean")
    assert _row(output, "verdict") == "PASS"
    for kind in ("POST one event", "POST batch of 20"):
        assert int(_row(output, kind).split()[0].replace(",", "")) > 0
    # Reads fail only while the server restarts: connection errors, never an HTTP error.
    failed_reads = _row(output, "reads not 2xx")
    assert failed_reads == "none" or not re.search(r"\b[345]\d\d:", failed_reads), failed_reads


@pytest.mark.django_db
def test_the_schedule_check_counts_the_minutes_left_without_their_run(tmp_path: Path) -> None:
    (tmp_path / "every-minute.yaml").write_text(EVERY_MINUTE)
    call_command("load_scorecards", str(tmp_path / "every-minute.yaml"), stdout=StringIO())
    scorecard = Scorecard.objects.get(slug="every-minute")
    created = datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC)
    ended = created + timedelta(minutes=5)  # 10:05:30: the slots 10:01 to 10:04 are due
    for minute, status in ((1, "done"), (2, "failed"), (4, "running"), (5, "pending")):
        ScorecardRun.objects.create(
            scorecard=scorecard,
            slot=created.replace(second=0) + timedelta(minutes=minute),
            trigger=ScorecardRun.Trigger.SCHEDULE,
            status=status,
        )

    schedule = check_schedule(created, ended)

    assert (schedule.expected, schedule.slots, schedule.missing, schedule.doubled) == (4, 4, 1, 0)
    assert not schedule.ok
    assert schedule.statuses == {"done": 1, "failed": 1, "running": 1, "pending": 1}
