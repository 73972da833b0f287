"""Crash safety: ``kill -9`` the web server and the worker while events pour in.

The script:

1. makes a fresh data directory (or, with ``--database-url``, a fresh PostgreSQL database
   next to the one given), migrates and issues a token;
2. starts gunicorn with production settings (``DEBUG`` off, 2 gthread workers) and the
   huey worker (``manage.py run_huey``), each in its own process group;
3. runs producer threads that post runs — a START then a COMPLETE event, each reading
   and writing datasets — one event per request or in batches, retrying on 503, on 5xx
   and on connection errors as openlineage-python does (waiting for ``Retry-After``);
4. ``--kills`` times, at random moments, kills the whole web server (master and
   workers) and the worker with SIGKILL, one shortly after the other in random order,
   and starts them again;
5. stops the producers, lets the worker drain the search outbox, and checks:
   every acknowledged (2xx) event is stored exactly once; every stored event's run
   exists, in the state its stored events give, counting exactly those events, with its
   datasets attached (nothing half-projected); the search outbox drains to empty; and
   ``manage.py search_check --dry-run`` finds the index in agreement with the database.

It prints one table and exits 1 when a check fails.

    .venv/bin/python -m benchmarks.crash --quick
    .venv/bin/python -m benchmarks.crash --kills 10 --seconds 180
    .venv/bin/python -m benchmarks.crash --quick --database-url postgres://u:p@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.ingest import _free_port, _pg_admin, _with_database

ROOT = Path(__file__).resolve().parent.parent
PRODUCER = "https://github.com/meshport/benchmarks/crash"
# Like openlineage-python's HttpTransport: 5 retries, growing backoff, Retry-After honoured.
# More tries than its default, so that a restart (a few seconds) rarely exhausts them.
RETRIES = 12
BACKOFF = 0.3
BACKOFF_MAX = 4.0


@dataclass
class Options:
    seconds: float
    kills: int
    producers: int
    batch: int
    datasets: int
    seed: int
    database_url: str
    keep: bool
    work_dir: str | None


# --- the store and the processes ---------------------------------------------------------


@contextmanager
def fresh_store(options: Options) -> Iterator[dict[str, str]]:
    """Production-like environment on a scratch data dir (and database)."""
    data_dir = tempfile.mkdtemp(prefix="meshport-crash-", dir=options.work_dir)
    env = {
        **os.environ,
        "MESHPORT_DEBUG": "0",
        "MESHPORT_SECRET_KEY": secrets.token_urlsafe(48),
        "MESHPORT_ALLOWED_HOSTS": "127.0.0.1",
        "MESHPORT_DATA_DIR": data_dir,
        "MESHPORT_LOG_LEVEL": "WARNING",
        "MESHPORT_SEARCH_BACKEND": "catalog.search.whoosh_backend.WhooshBackend",
        "DATABASE_URL": "",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop("MESHPORT_SEARCH_PATH", None)
    database = None
    # Databases are created and dropped from the server's maintenance database, whatever
    # database the URL names.
    admin = _with_database(options.database_url, "postgres")
    try:
        if options.database_url:
            database = f"meshport_crash_{os.getpid()}"
            _pg_admin(admin, f'CREATE DATABASE "{database}"')
            env["DATABASE_URL"] = _with_database(options.database_url, database)
        yield env
    finally:
        if database is not None:
            _pg_admin(admin, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if options.keep:
            print(f"  kept {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def manage(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


class Service:
    """One process group (gunicorn with its workers, or the huey worker)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = Path(env["MESHPORT_DATA_DIR"]) / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=log, start_new_session=True
            )

    def kill(self) -> None:
        """SIGKILL to every process of the group: no handler, no cleanup, mid-write."""
        assert self.proc is not None
        with suppress(ProcessLookupError):  # already gone
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.kills += 1

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def web_service(env: dict[str, str], port: int) -> Service:
    argv = [
        sys.executable, "-m", "gunicorn", "meshport.wsgi",
        "--bind", f"127.0.0.1:{port}",
        "--workers", "2", "--worker-class", "gthread", "--threads", "4",
        "--timeout", "60", "--graceful-timeout", "5", "--log-level", "warning",
    ]  # fmt: skip
    return Service("web", argv, env)


def worker_service(env: dict[str, str]) -> Service:
    return Service("worker", [sys.executable, "manage.py", "run_huey"], env)


def wait_ready(service: Service, port: int, secret: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not service.alive():
            raise SystemExit(f"gunicorn exited:\n{service.log_path.read_text()[-4000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/namespaces", headers=_headers(secret))
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"gunicorn did not answer within {timeout:.0f} s")


def _headers(secret: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": f"Bearer {secret}"}


# --- the producers ------------------------------------------------------------------------


JOBS = 20


def run_events(
    rng: random.Random,
    datasets: int,
    namespace: str = "crash",
    pair: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """START and COMPLETE of one new run of one of :data:`JOBS` jobs, reading one
    dataset and writing another (both searchable, so the search outbox has work):
    two of ``datasets`` drawn at random, or ``pair``."""
    run_id = str(uuid.uuid4())
    job = f"job_{rng.randrange(JOBS):02d}"
    source, target = pair or rng.sample(range(datasets), 2)
    now = datetime.now(UTC)

    def event(kind: str) -> dict[str, Any]:
        return {
            "eventType": kind,
            "eventTime": now.isoformat().replace("+00:00", "Z"),
            "producer": PRODUCER,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": run_id},
            "job": {"namespace": namespace, "name": job},
            "inputs": [{"namespace": f"{namespace}-db", "name": f"table_{source:03d}"}],
            "outputs": [{"namespace": f"{namespace}-db", "name": f"table_{target:03d}"}],
        }

    return [event("START"), event("COMPLETE")]


@dataclass
class Tally:
    sent: set[tuple[str, str]] = field(default_factory=set)  # (runId, eventType)
    acknowledged: set[tuple[str, str]] = field(default_factory=set)
    unknown: set[tuple[str, str]] = field(default_factory=set)  # retries ran out
    answers: Counter[str] = field(default_factory=Counter)  # non-2xx answers and errors
    # Events a retry found stored already: the first answer was lost in a crash.
    duplicates: int = 0
    requests: int = 0
    # Seconds each request took, by kind ("single", "batch"), and when events were
    # acknowledged (monotonic time, how many), for latencies and throughput over time.
    latency: dict[str, list[float]] = field(default_factory=lambda: {"single": [], "batch": []})
    acknowledged_at: list[tuple[float, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Producer(threading.Thread):
    """Posts runs until ``stop`` is set: one event per request, or ``batch`` events."""

    def __init__(
        self,
        port: int,
        secret: str,
        tally: Tally,
        *,
        batch: int,
        seed: int,
        datasets: int,
        namespace: str = "crash",
    ):
        super().__init__(daemon=True)
        self.port, self.secret, self.tally = port, secret, tally
        self.batch, self.datasets, self.namespace = batch, datasets, namespace
        self.rng = random.Random(seed)
        self.stopping = threading.Event()
        self.conn: http.client.HTTPConnection | None = None

    def run(self) -> None:
        while not self.stopping.is_set():
            if self.batch == 1:
                for event in run_events(self.rng, self.datasets, self.namespace):
                    self.post([event])
            else:
                events: list[dict[str, Any]] = []
                while len(events) < self.batch:
                    events += run_events(self.rng, self.datasets, self.namespace)
                self.post(events)

    def post(self, events: list[dict[str, Any]]) -> None:
        keys = {(e["run"]["runId"], e["eventType"]) for e in events}
        with self.tally.lock:
            self.tally.sent |= keys
        single = len(events) == 1
        body = json.dumps(events[0] if single else events).encode()
        path = "/api/v1/lineage" if single else "/api/v1/lineage/batch"
        for attempt in range(RETRIES):
            status, data, retry_after = self._request(path, body)
            if status is not None and (duplicates := self._acknowledged(status, data, events)):
                with self.tally.lock:
                    self.tally.acknowledged |= keys
                    self.tally.duplicates += duplicates - 1
                    self.tally.acknowledged_at.append((time.monotonic(), len(keys)))
                return
            with self.tally.lock:
                self.tally.answers[str(status) if isinstance(status, int) else data.decode()] += 1
            if isinstance(status, int) and status < 500:
                break  # a 4xx will not pass on retry
            wait = retry_after if retry_after is not None else BACKOFF * 2**attempt
            time.sleep(min(wait, BACKOFF_MAX))
        with self.tally.lock:
            self.tally.unknown |= keys

    def _request(self, path: str, body: bytes) -> tuple[int | None, bytes, float | None]:
        started = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request("POST", path, body=body, headers=_headers(self.secret))
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return None, type(exc).__name__.encode(), None
        finally:
            with self.tally.lock:
                self.tally.requests += 1
                kind = "batch" if path.endswith("/batch") else "single"
                self.tally.latency[kind].append(time.perf_counter() - started)
        after = response.getheader("Retry-After")
        return response.status, data, float(after) if after else None

    @staticmethod
    def _acknowledged(status: int, data: bytes, events: list[dict[str, Any]]) -> int:
        """0 unless every event was taken; else 1 + the events already stored."""
        if len(events) == 1:
            return {201: 1, 200: 2}.get(status, 0)
        if status != 200:
            return 0
        answer = json.loads(data)
        if answer["accepted"] + answer["duplicates"] != len(events):
            return 0
        return 1 + int(answer["duplicates"])


# --- the killer ---------------------------------------------------------------------------


def kill_schedule(rng: random.Random, kills: int, seconds: float) -> list[float]:
    """``kills`` random moments in ``seconds``, one in each equal slice (so that a
    restart has room before the next kill)."""
    width = seconds / (kills + 1)
    return [width * (i + 0.5) + rng.uniform(0, width * 0.8) for i in range(kills)]


def crash_and_restart(
    rng: random.Random, web: Service, worker: Service, port: int, secret: str
) -> str:
    order = [web, worker]
    rng.shuffle(order)
    order[0].kill()
    time.sleep(rng.uniform(0, 0.5))
    order[1].kill()
    worker.start()
    web.start()
    wait_ready(web, port, secret)
    return f"{order[0].name} then {order[1].name}"


# --- the schedule -------------------------------------------------------------------------

EVERY_MINUTE = """\
name: Every minute
slug: every-minute
schedule: "* * * * *"
levels: [bronze]
checks: [{check: has_owner, level: bronze}, has_tags]
"""


def schedule_scorecard(env: dict[str, str]) -> datetime:
    """Load a scorecard scheduled every minute; returns when it was created."""
    path = Path(env["MESHPORT_DATA_DIR"]) / "every-minute.yaml"
    path.write_text(EVERY_MINUTE)
    created = datetime.now(UTC)
    done = manage(env, "load_scorecards", str(path))
    if done.returncode != 0:
        raise SystemExit(f"load_scorecards failed:\n{done.stderr[-3000:]}")
    return created


@dataclass
class Schedule:
    """The every-minute scorecard's runs: one per minute slot, whatever was killed.

    The worker ticks when it starts and every 60 s after, and a tick claims every slot
    of the last five minutes that has no run, so every minute that began 90 s or more
    before the posting ended (a tick's gap, plus a restart) must have its one run."""

    expected: int = 0
    slots: int = 0
    missing: int = 0
    doubled: int = 0  # more than one run for a slot, or a run's products scored twice
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.doubled)

    def __str__(self) -> str:
        states = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items())) or "none"
        return (
            f"{self.slots} runs for {self.expected} minutes due ({states}); "
            f"missing {self.missing}, doubled {self.doubled}  (must be 0)"
        )


def check_schedule(created: datetime, ended: datetime) -> Schedule:
    from django.db.models import Count

    from governance.models import ScorecardRun

    runs = ScorecardRun.objects.filter(
        scorecard__slug="every-minute", trigger=ScorecardRun.Trigger.SCHEDULE
    ).annotate(scored=Count("results"), products=Count("results__product", distinct=True))
    first = created.replace(second=0, microsecond=0) + timedelta(minutes=1)
    last = (ended - timedelta(seconds=90)).replace(second=0, microsecond=0)
    due = set()
    while first <= last:
        due.add(first)
        first += timedelta(minutes=1)
    slots = Counter(run.slot for run in runs)
    return Schedule(
        expected=len(due),
        slots=len(slots),
        missing=len(due - set(slots)),
        doubled=sum(n - 1 for n in slots.values()) + sum(r.scored != r.products for r in runs),
        statuses=Counter(run.status for run in runs),
    )


# --- the checks ---------------------------------------------------------------------------


@dataclass
class Findings:
    stored: int = 0
    acknowledged_missing: int = 0
    stored_unacknowledged: int = 0
    runs_missing: int = 0
    runs_wrong_state: int = 0
    runs_wrong_count: int = 0
    runs_without_io: int = 0
    outbox_left: int = 0
    outbox_seconds: float = 0.0
    search_check: str = ""
    schedule: Schedule | None = None

    @property
    def ok(self) -> bool:
        return not (
            self.acknowledged_missing
            or self.runs_missing
            or self.runs_wrong_state
            or self.runs_wrong_count
            or self.runs_without_io
            or self.outbox_left
            or (self.schedule is not None and not self.schedule.ok)
        ) and self.search_check.startswith("clean")


def setup_django(env: dict[str, str]) -> None:
    """Django in this process, with the server's settings, to read its store."""
    os.environ.update({k: v for k, v in env.items() if k.startswith(("MESHPORT_", "DATABASE"))})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meshport.settings")
    import django

    django.setup()


def check_database(env: dict[str, str], tally: Tally) -> Findings:
    """What the database holds, read in this process with the server's settings."""
    setup_django(env)
    from lineage.models import LineageEvent, Run, RunState

    stored = {
        (str(run_uuid), kind)
        for run_uuid, kind in LineageEvent.objects.filter(producer=PRODUCER).values_list(
            "run_uuid", "event_type"
        )
    }
    findings = Findings(
        stored=len(stored),
        acknowledged_missing=len(tally.acknowledged - stored),
        stored_unacknowledged=len(stored - tally.acknowledged),
    )
    by_run: dict[str, set[str]] = {}
    for run_id, kind in stored:
        by_run.setdefault(run_id, set()).add(kind)
    runs = {
        str(r.uuid): r for r in Run.objects.filter(uuid__in=list(by_run)).prefetch_related("io")
    }
    for run_id, kinds in by_run.items():
        run = runs.get(run_id)
        if run is None:
            findings.runs_missing += 1
            continue
        expected = RunState.COMPLETED if "COMPLETE" in kinds else RunState.RUNNING
        findings.runs_wrong_state += run.state != expected
        findings.runs_wrong_count += run.events_count != len(kinds)
        findings.runs_without_io += len(run.io.all()) != 2
    return findings


def wait_for_outbox(findings: Findings, timeout: float) -> None:
    from catalog.models import SearchOutbox

    started = time.monotonic()
    while (left := SearchOutbox.objects.count()) and time.monotonic() - started < timeout:
        time.sleep(0.2)
    findings.outbox_left = left
    findings.outbox_seconds = time.monotonic() - started


def run_search_check(env: dict[str, str], findings: Findings) -> None:
    done = manage(env, "search_check", "--dry-run")
    summary = done.stdout.strip().splitlines()[0] if done.stdout.strip() else done.stderr[-300:]
    findings.search_check = ("clean: " if done.returncode == 0 else "DIFFERS: ") + summary


# --- the run ------------------------------------------------------------------------------


def prepare(env: dict[str, str]) -> str:
    """Migrate the scratch database and issue a token; returns its secret."""
    for step in (
        ["migrate", "--noinput"],
        ["create_token", "--name", "crash", "--scope", "lineage:write"],
    ):
        done = manage(env, *step)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(step)} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


def make_producers(
    options: Options, port: int, secret: str, tally: Tally, namespace: str = "crash"
) -> list[Producer]:
    """``options.producers`` threads, half posting one event per request, half in batches
    of ``options.batch``."""
    return [
        Producer(
            port,
            secret,
            tally,
            batch=1 if i % 2 == 0 else options.batch,
            seed=options.seed + i,
            datasets=options.datasets,
            namespace=namespace,
        )
        for i in range(options.producers)
    ]


def post_and_crash(
    options: Options, rng: random.Random, web: Service, worker: Service, secret: str, port: int
) -> tuple[Tally, list[str], float]:
    """Producers post for ``options.seconds`` while the killer strikes; returns what was
    posted, the crashes, and the seconds it all took."""
    tally = Tally()
    producers = make_producers(options, port, secret, tally)
    for producer in producers:
        producer.start()
    started = time.monotonic()
    crashes: list[str] = []
    for moment in kill_schedule(rng, options.kills, options.seconds):
        time.sleep(max(0.0, started + moment - time.monotonic()))
        crashes.append(crash_and_restart(rng, web, worker, port, secret))
        at = time.monotonic() - started
        print(f"  kill {len(crashes)} at {at:.1f} s: {crashes[-1]}", file=sys.stderr, flush=True)
    time.sleep(max(0.0, started + options.seconds - time.monotonic()))
    for producer in producers:
        producer.stopping.set()
    for producer in producers:
        producer.join(timeout=120)
    return tally, crashes, time.monotonic() - started


def run(options: Options) -> bool:
    rng = random.Random(options.seed)
    with fresh_store(options) as env:
        secret = prepare(env)
        created = schedule_scorecard(env)
        port = _free_port()
        web, worker = web_service(env, port), worker_service(env)
        worker.start()
        web.start()
        try:
            wait_ready(web, port, secret)
            tally, crashes, seconds = post_and_crash(options, rng, web, worker, secret, port)
            findings = check_database(env, tally)
            findings.schedule = check_schedule(created, datetime.now(UTC))
            wait_for_outbox(findings, timeout=120)
        finally:
            web.stop()
            worker.stop()
        run_search_check(env, findings)
        report(options, tally, findings, crashes, seconds, web, worker)
    return findings.ok


def report(
    options: Options,
    tally: Tally,
    findings: Findings,
    crashes: list[str],
    seconds: float,
    web: Service,
    worker: Service,
) -> None:
    f = findings
    retried = ", ".join(f"{k}: {v}" for k, v in tally.answers.most_common()) or "none"
    producers = f"{options.producers} producers, half single, half batches of {options.batch}"
    rows = [
        ("database", "PostgreSQL" if options.database_url else "SQLite"),
        ("posting time", f"{seconds:.0f} s, {producers}"),
        ("kill -9", f"{len(crashes)} rounds: web {web.kills}, worker {worker.kills}"),
        ("requests", f"{tally.requests:,}"),
        ("events sent", f"{len(tally.sent):,}"),
        ("events acknowledged (2xx)", f"{len(tally.acknowledged):,}"),
        ("events stored", f"{f.stored:,}"),
        ("acknowledged but not stored", f"{f.acknowledged_missing}  (must be 0)"),
        ("retries that found the event stored", f"{tally.duplicates}  (answer lost in a crash)"),
        ("stored, never acknowledged", f"{f.stored_unacknowledged}"),
        ("gave up after retries", f"{len(tally.unknown)}"),
        ("failed answers, retried", retried),
        (
            "runs missing / wrong state / wrong count / no io",
            f"{f.runs_missing} / {f.runs_wrong_state} / {f.runs_wrong_count} / "
            f"{f.runs_without_io}  (must be 0)",
        ),
        ("search outbox left", f"{f.outbox_left}  (drained in {f.outbox_seconds:.1f} s)"),
        ("scheduled scorecard", str(f.schedule)),
        ("search_check", f.search_check),
        ("verdict", "PASS" if f.ok else "FAIL"),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """``--seed``, ``--database-url``, ``--keep`` and ``--work-dir``: the scratch store."""
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--database-url", default="", help="a PostgreSQL server (a scratch database is made)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir (logs)")
    parser.add_argument("--work-dir", help="where the scratch data dir goes")


def parse(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="about a minute: 30 s, 3 kills")
    parser.add_argument("--seconds", type=float, help="posting time (default 120; quick 30)")
    parser.add_argument("--kills", type=int, help="crash rounds (default 8; quick 3)")
    parser.add_argument("--producers", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--batch", type=int, default=20, help="events per batch post")
    parser.add_argument("--datasets", type=int, default=60, help="datasets the runs use")
    add_store_arguments(parser)
    args = parser.parse_args(argv)
    return Options(
        seconds=args.seconds or (30.0 if args.quick else 120.0),
        kills=args.kills if args.kills is not None else (3 if args.quick else 8),
        producers=args.producers,
        batch=args.batch,
        datasets=args.datasets,
        seed=args.seed,
        database_url=args.database_url,
        keep=args.keep,
        work_dir=args.work_dir,
    )


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)
    if options.kills < 0 or options.producers < 1 or options.datasets < 2:
        raise SystemExit("--kills must be >= 0, --producers >= 1 and --datasets >= 2")
    sys.exit(0 if run(options) else 1)


if __name__ == "__main__":
    main()
