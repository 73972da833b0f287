"""``manage.py ingest_events``: JSON, arrays, JSON lines, bad lines, reloads, exit status."""

from __future__ import annotations

import gc
import gzip
import json
import uuid
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import Job as OLJob
from openlineage.client.event_v2 import Run as OLRun
from openlineage.client.event_v2 import RunEvent, RunState
from openlineage.client.transport.file import FileConfig, FileTransport

from lineage.models import Job, LineageEvent, Run
from tests.conftest import run_event

pytestmark = pytest.mark.django_db


def event(n: int, event_type: str = "COMPLETE") -> dict[str, Any]:
    return run_event(
        event_type,
        run_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"run-{n}")),
        job=("cli-tests", f"job_{n}"),
        outputs=[{"namespace": "postgres://db:5432", "name": f"public.table_{n}"}],
    )


def ingest(*files: Path, **options: Any) -> str:
    out = StringIO()
    call_command("ingest_events", *map(str, files), stdout=out, no_progress=True, **options)
    return out.getvalue()


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_it_ingests_a_single_pretty_printed_event(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event(1), indent=2))

    output = ingest(path)

    assert "Read 1 event from 1 file: 1 accepted, 0 duplicates, 0 rejected." in output
    assert LineageEvent.objects.get().token_name == "cli"
    assert Job.objects.filter(name="job_1").exists()


def test_it_ingests_an_array_of_events_under_the_given_token_name(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text(json.dumps([event(1), event(2), event(3)]))

    output = ingest(path, token_name="backfill")

    assert "3 accepted" in output
    assert set(LineageEvent.objects.values_list("token_name", flat=True)) == {"backfill"}


def test_it_ingests_json_lines_in_chunks(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "events.jsonl", [json.dumps(event(n)) for n in range(7)])

    output = ingest(path, chunk_size=3)

    assert "Read 7 events from 1 file: 7 accepted" in output
    assert Run.objects.count() == 7


def test_it_rejects_a_bad_json_line_by_line_number_and_loads_the_rest(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "events.jsonl",
        [json.dumps(event(1)), '{"eventType": "START", ', "", json.dumps(event(2))],
    )

    with pytest.raises(CommandError, match="1 event rejected"):
        ingest(path)

    assert LineageEvent.objects.count() == 2


def test_it_reports_where_each_rejected_event_came_from(tmp_path: Path) -> None:
    lines = tmp_path / "events.jsonl"
    write_lines(lines, [json.dumps(event(1)), "not json", json.dumps({**event(2), "run": {}})])
    array = tmp_path / "batch.json"
    array.write_text(json.dumps([event(3), {**event(4), "eventTime": "yesterday"}]))

    output = ingest(lines, array, allow_rejects=True)

    assert f"{lines}:2: malformed JSON: Expecting value (column 1)" in output
    assert f"{lines}:3: run.runId: is required" in output
    assert f"{array}[1]: eventTime: must be an ISO-8601 date-time" in output
    assert "2 accepted, 0 duplicates, 3 rejected" in output


def test_it_exits_zero_with_allow_rejects(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "events.jsonl", ["{"])

    output = ingest(path, allow_rejects=True)

    assert "1 rejected" in output


def test_a_second_load_of_the_same_file_stores_only_duplicates(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "events.jsonl", [json.dumps(event(n)) for n in range(4)])
    ingest(path)

    output = ingest(path)

    assert "0 accepted, 4 duplicates, 0 rejected" in output
    assert LineageEvent.objects.count() == 4
    assert Run.objects.count() == 4
    assert set(LineageEvent.objects.values_list("duplicates", flat=True)) == {1}


def test_it_reads_gzipped_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(json.dumps(event(n)).encode() for n in range(2))))

    assert "2 accepted" in ingest(path)


@pytest.mark.parametrize("debug_mode", [False, True], ids=["json-lines", "pretty-printed"])
def test_it_reads_what_openlineage_file_transport_writes(tmp_path: Path, debug_mode: bool) -> None:
    log = tmp_path / "openlineage.log"
    config = FileConfig(log_file_path=str(log), append=True, debug_mode=debug_mode)
    client = OpenLineageClient(transport=FileTransport(config))
    run = OLRun(runId=str(uuid.uuid4()))
    for state in (RunState.START, RunState.COMPLETE):
        client.emit(
            RunEvent(
                eventType=state,
                eventTime="2024-05-01T10:00:00Z",
                run=run,
                job=OLJob(namespace="cli-tests", name="from_client"),
                producer="https://example.com/tests",
            )
        )

    assert "2 accepted" in ingest(log)
    assert Run.objects.get().state == "COMPLETED"


def test_it_refuses_a_missing_file_before_ingesting_anything(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "events.jsonl", [json.dumps(event(1))])

    with pytest.raises(CommandError, match="no such file"):
        ingest(path, tmp_path / "missing.jsonl")

    assert not LineageEvent.objects.exists()


def test_it_loads_with_the_heap_frozen_and_unfreezes_it_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the process loaded stays out of the collector's full passes during the load,
    and the process (here the test run) is left as it was."""
    from lineage.management.commands import ingest_events as command

    frozen_during: list[int] = []
    ingest_chunk = command.lineage_events_ingest

    def spy(**kwargs: Any) -> Any:
        frozen_during.append(gc.get_freeze_count())
        return ingest_chunk(**kwargs)

    monkeypatch.setattr(command, "lineage_events_ingest", spy)
    before = gc.get_freeze_count()
    path = write_lines(tmp_path / "events.jsonl", [json.dumps(event(n)) for n in range(3)])

    assert "3 accepted" in ingest(path)
    assert frozen_during and min(frozen_during) > before
    assert gc.get_freeze_count() == before
