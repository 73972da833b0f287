"""How fast Meshport ingests OpenLineage events, and how that holds as the history grows.

For each history size (10k and 1M stored events by default) the benchmark:

1. makes a fresh data directory (or, with ``--database-url``, a fresh PostgreSQL database
   next to the one given), migrates, issues a token and pre-fills the history
   (``benchmarks/history.py setup``);
2. starts gunicorn on a free 127.0.0.1 port with production settings (``DEBUG`` off);
3. posts generated events one per request from several keep-alive client threads, then
   in batches of 100 (``/api/v1/lineage/batch``);
4. stops the server and measures, on the same database, the ingestion service in process
   (no HTTP) and the floor: the same events decoded, hashed and appended raw, projecting
   nothing (with and without validation);
5. prints one table with the rates, the server CPU spent per event, and the ratio of the
   rate at the large history to the rate at the small one.

Every mode stops at ``--max-seconds``; the server is stopped and the data removed on the
way out, even on Ctrl-C.

    .venv/bin/python -m benchmarks.ingest --quick
    .venv/bin/python -m benchmarks.ingest
    .venv/bin/python -m benchmarks.ingest --database-url postgres://bench@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from benchmarks.generate import MeshGenerator

ROOT = Path(__file__).resolve().parent.parent
BATCH = 100
TARGETS = {"single": 500.0, "batch": 5_000.0}
RATIO_TARGET = 0.8  # rate at the large history within 20% of the rate at the small one


@dataclass
class Row:
    history: int
    mode: str
    events: int
    seconds: float
    cpu_seconds: float | None = None  # server (or process) CPU, all cores
    target: float | None = None
    errors: dict[str, int] = field(default_factory=dict)  # failed requests by status

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_event(self) -> float | None:
        if self.cpu_seconds is None or not self.events:
            return None
        return 1000 * self.cpu_seconds / self.events


@dataclass
class Settings:
    events: int
    histories: list[int]
    modes: set[str]
    jobs: int
    datasets: int
    workers: int
    threads: int
    worker_class: str
    clients: int
    batch_clients: int
    max_seconds: float
    database_url: str
    keep: bool
    work_dir: str | None
    json_path: str | None = None
    notes: list[str] = field(default_factory=list)


# --- the store: a fresh data dir, and a fresh PostgreSQL database when asked ---------------


@contextmanager
def fresh_store(settings: Settings, history: int) -> Iterator[dict[str, str]]:
    """The environment of one measurement; everything it created is removed afterwards."""
    data_dir = tempfile.mkdtemp(prefix=f"meshport-bench-{history}-", dir=settings.work_dir)
    env = {
        **os.environ,
        "MESHPORT_DEBUG": "0",
        "MESHPORT_SECRET_KEY": secrets.token_urlsafe(48),
        "MESHPORT_ALLOWED_HOSTS": "127.0.0.1",
        "MESHPORT_DATA_DIR": data_dir,
        "MESHPORT_LOG_LEVEL": "WARNING",
        "DATABASE_URL": "",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    database = None
    try:
        if settings.database_url:
            database = f"meshport_bench_{history}_{os.getpid()}"
            _pg_admin(settings.database_url, f'CREATE DATABASE "{database}"')
            env["DATABASE_URL"] = _with_database(settings.database_url, database)
        yield env
    finally:
        if database is not None:
            _pg_admin(settings.database_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if settings.keep:
            print(f"  kept {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def _pg_admin(url: str, sql: str) -> None:
    import psycopg

    dsn = url.replace("postgis://", "postgresql://").replace("postgres://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def run_step(env: dict[str, str], step: str, settings: Settings, **options: Any) -> dict[str, Any]:
    """Run one ``benchmarks.history`` step in its own process and return its JSON result."""
    argv = [
        sys.executable,
        "-m",
        "benchmarks.history",
        step,
        "--jobs",
        str(settings.jobs),
        "--datasets",
        str(settings.datasets),
    ]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    proc = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"benchmark step {step!r} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# --- the server ---------------------------------------------------------------------------


class Server:
    """gunicorn on a free 127.0.0.1 port, stopped (the whole process group) on exit."""

    def __init__(self, env: dict[str, str], settings: Settings, secret: str):
        self.env = env
        self.settings = settings
        self.secret = secret
        self.port = _free_port()
        self.log_path = Path(env["MESHPORT_DATA_DIR"]) / "gunicorn.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        s = self.settings
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "meshport.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(s.workers),
            "--worker-class",
            s.worker_class,
            "--threads",
            str(s.threads),
            "--keep-alive",
            "30",
            "--timeout",
            "120",
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
        ]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv, env=self.env, cwd=ROOT, stdout=log, stderr=log, start_new_session=True
            )
        self._wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited:\n{self.log_path.read_text()[-4000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("POST", "/api/v1/lineage", body=b"{}", headers=self.headers)
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not answer within 60 s")

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "Authorization": f"Bearer {self.secret}"}

    def cpu_seconds(self) -> float:
        """CPU time of the master and its workers so far (Linux ``/proc``)."""
        assert self.proc is not None
        pids = [self.proc.pid, *child_pids(self.proc.pid)]
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks


def child_pids(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            children.append(int(entry.name))
    return children


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the clients --------------------------------------------------------------------------


def post_all(
    server: Server, path: str, bodies: list[tuple[bytes, int]], clients: int, max_seconds: float
) -> tuple[int, Counter[str], float]:
    """POST ``bodies`` (each with its event count) from ``clients`` keep-alive threads.

    Returns the events accepted, the failed requests by HTTP status (or exception name),
    and the seconds taken. Stops taking new requests at ``max_seconds``.
    """
    counter = itertools.count()
    lock = threading.Lock()
    accepted = [0]
    failures: Counter[str] = Counter()
    started = time.perf_counter()
    deadline = started + max_seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        events, failed = 0, Counter[str]()
        while time.perf_counter() < deadline:
            index = next(counter)
            if index >= len(bodies):
                break
            body, count = bodies[index]
            try:
                conn.request("POST", path, body=body, headers=server.headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
                failed[type(exc).__name__] += 1
                continue
            if _accepted(response.status, data, count):
                events += count
            else:
                failed[str(response.status)] += 1
        conn.close()
        with lock:
            accepted[0] += events
            failures.update(failed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return accepted[0], failures, time.perf_counter() - started


# The web stack's own cost: a request authenticated, parsed and validated, then answered
# 400 (no runId) without touching the event tables.
HTTP_FLOOR = "http-floor: rejected event"
REJECTED = json.dumps(
    {
        "eventType": "START",
        "eventTime": "2024-01-01T00:00:00Z",
        "producer": "bench",
        "run": {},
        "job": {"namespace": "bench", "name": "floor"},
    }
).encode()


def _accepted(status: int, data: bytes, count: int) -> bool:
    if data.startswith(b'{"error":"invalid OpenLineage event"'):
        return status == 400
    if count == 1:
        return status == 201
    if status != 200:
        return False
    answer = json.loads(data)
    return bool(answer["accepted"] + answer["duplicates"] == count)


def encoded(
    mesh: MeshGenerator, count: int, first_run: int, per_body: int
) -> list[tuple[bytes, int]]:
    bodies, batch = [], []
    for event in mesh.events(count, first_run=first_run):
        batch.append(event)
        if len(batch) == per_body:
            bodies.append((json.dumps(batch[0] if per_body == 1 else batch).encode(), per_body))
            batch = []
    if batch:
        bodies.append((json.dumps(batch).encode(), len(batch)))
    return bodies


# --- one history size ---------------------------------------------------------------------


MODES = ("single", "batch", "http-floor", "service", "floor")


def measure(settings: Settings, history: int) -> list[Row]:
    print(f"history {history:,} events: setting up", file=sys.stderr, flush=True)
    rows: list[Row] = []
    with fresh_store(settings, history) as env:
        setup = run_step(env, "setup", settings, history=history)
        print(f"  pre-filled in {setup['seconds']:.0f} s: {setup['counts']}", file=sys.stderr)
        # Each mode gets its own slice of the run sequence, right after the history.
        slices = [history // 2 + i * settings.events for i in range(4)]
        if {"single", "batch"} & settings.modes:
            with Server(env, settings, setup["secret"]) as server:
                rows += measure_http(settings, server, history, slices[:2])
        rows += measure_in_process(settings, env, history, slices[2:])
    return rows


def measure_http(settings: Settings, server: Server, history: int, slices: list[int]) -> list[Row]:
    mesh = MeshGenerator(jobs=settings.jobs, datasets=settings.datasets)
    rows = []
    for mode, per_body, clients, start in (
        ("single", 1, settings.clients, slices[0]),
        ("batch", BATCH, settings.batch_clients, slices[1]),
        (HTTP_FLOOR, 1, settings.clients, slices[0]),
    ):
        if mode.split(":")[0] not in settings.modes:
            continue
        if mode == HTTP_FLOOR:
            bodies = [(REJECTED, 1)] * settings.events
        else:
            bodies = encoded(mesh, settings.events, start, per_body)
        print(f"  {mode}: posting up to {settings.events:,} events", file=sys.stderr, flush=True)
        path = "/api/v1/lineage" if per_body == 1 else "/api/v1/lineage/batch"
        cpu = server.cpu_seconds()
        events, errors, seconds = post_all(server, path, bodies, clients, settings.max_seconds)
        rows.append(
            Row(
                history,
                mode,
                events,
                seconds,
                server.cpu_seconds() - cpu,
                TARGETS.get(mode),
                dict(errors),
            )
        )
    return rows


def measure_in_process(
    settings: Settings, env: dict[str, str], history: int, slices: list[int]
) -> list[Row]:
    rows = []
    for mode, step, extra, start in (
        ("service in process", "service", {}, slices[0]),
        ("floor: validate + append", "floor", {"validate": True}, slices[1]),
        ("floor: append raw", "floor", {}, slices[1]),
    ):
        if step not in settings.modes:
            continue
        print(f"  {mode}", file=sys.stderr, flush=True)
        result = run_step(
            env,
            step,
            settings,
            first_run=start,
            events=settings.events,
            max_seconds=settings.max_seconds,
            **extra,
        )
        rows.append(Row(history, mode, result["events"], result["seconds"], result["cpu_seconds"]))
    return rows


# --- report -------------------------------------------------------------------------------


def report(settings: Settings, rows: list[Row]) -> str:
    lines = [
        f"Meshport ingestion benchmark — {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, "
        f"{'PostgreSQL' if settings.database_url else 'SQLite (WAL)'}, gunicorn "
        f"{settings.workers} {settings.worker_class} workers × {settings.threads} threads, "
        f"{settings.clients} single / {settings.batch_clients} batch clients",
        "",
        "| history | mode | events | seconds | events/s | CPU ms/event | target | |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        cpu = f"{row.cpu_ms_per_event:.2f}" if row.cpu_ms_per_event is not None else ""
        target = f"≥ {row.target:,.0f}" if row.target else ""
        verdict = ("ok" if row.rate >= row.target else "MISSED") if row.target else ""
        if row.errors:
            failed = ", ".join(f"{n} × {status}" for status, n in sorted(row.errors.items()))
            verdict += f" (failed requests: {failed})"
        lines.append(
            f"| {row.history:,} | {row.mode} | {row.events:,} | {row.seconds:.1f} | "
            f"{row.rate:,.0f} | {cpu} | {target} | {verdict} |"
        )
    small, large = settings.histories[0], settings.histories[-1]
    lines.append("")
    for mode in ("single", "batch", "service in process", "floor: append raw"):
        rates = {r.history: r.rate for r in rows if r.mode == mode}
        if small != large and small in rates and large in rates and rates[small]:
            ratio = rates[large] / rates[small]
            verdict = "ok" if ratio >= RATIO_TARGET else "MISSED"
            lines.append(
                f"- {mode}: rate at {large:,} / rate at {small:,} = {ratio:.2f} "
                f"(target ≥ {RATIO_TARGET:.2f}: {verdict})"
            )
    load = os.getloadavg()
    lines.append(f"- load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    lines.extend(f"- {note}" for note in settings.notes)
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> Settings:
    parser = argparse.ArgumentParser(
        description="Measure OpenLineage ingestion over HTTP against the raw-append floor.",
    )
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help="events per mode (default 100000; 2000 with --quick)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: histories of 1k and 20k, short modes"
    )
    parser.add_argument(
        "--history",
        type=int,
        nargs="+",
        metavar="N",
        help="stored events before measuring, one run per size; the first "
        "and last are compared (default 10000 1000000)",
    )
    parser.add_argument(
        "--modes", default=",".join(MODES), help=f"comma-separated subset of {','.join(MODES)}"
    )
    parser.add_argument("--jobs", type=int, default=None, help="jobs in the mesh")
    parser.add_argument("--datasets", type=int, default=None, help="datasets in the mesh")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker")
    parser.add_argument(
        "--worker-class", default="gthread", choices=["gthread", "sync"], help="gunicorn workers"
    )
    parser.add_argument("--clients", type=int, default=8, help="client threads, single mode")
    parser.add_argument("--batch-clients", type=int, default=2, help="client threads, batch mode")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="time limit of each mode (default 60; 15 with --quick)",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL server to use: the benchmark creates and drops "
        "its own databases next to the one named",
    )
    parser.add_argument("--work-dir", default=None, help="where to make the data dirs")
    parser.add_argument("--keep", action="store_true", help="keep the data dirs")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    if not set(args.modes.split(",")) <= set(MODES):
        parser.error(f"--modes takes a subset of {','.join(MODES)}")
    quick = args.quick
    settings = Settings(
        events=args.events or (2_000 if quick else 100_000),
        histories=args.history or ([1_000, 20_000] if quick else [10_000, 1_000_000]),
        modes=set(args.modes.split(",")),
        jobs=args.jobs or (100 if quick else 1_000),
        datasets=args.datasets or (300 if quick else 3_000),
        workers=args.workers,
        threads=args.threads,
        worker_class=args.worker_class,
        clients=args.clients,
        batch_clients=args.batch_clients,
        max_seconds=args.max_seconds or (15.0 if quick else 60.0),
        database_url=args.database_url,
        keep=args.keep,
        work_dir=args.work_dir,
        json_path=args.json,
    )
    settings.notes.append(
        f"mesh: {settings.jobs} jobs over {settings.datasets} datasets; "
        f"time limit {settings.max_seconds:.0f} s per mode"
    )
    return settings


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv)
    rows: list[Row] = []
    for history in settings.histories:
        rows.extend(measure(settings, history))
    text = report(settings, rows)
    print(text)
    if settings.json_path:
        Path(settings.json_path).write_text(
            json.dumps([{**asdict(r), "rate": r.rate} for r in rows], indent=2)
        )


if __name__ == "__main__":
    main()
