"""Soak: producers post OpenLineage events for ten minutes while readers use the portal.

The script:

1. makes a fresh data directory (or, with ``--database-url``, a fresh PostgreSQL database
   next to the one given), migrates, loads the demo mesh and its products, issues a
   token and loads a scorecard scheduled every minute;
2. starts gunicorn with production settings (``DEBUG`` off, anonymous reads on) and the
   huey worker, as ``benchmarks/crash.py`` does;
3. posts one run through every dataset of its own namespace, so that every page the
   readers open exists, then for ``--seconds``:

   - ``--producers`` threads (16) post runs (a START and a COMPLETE event reading one
     dataset and writing another), half one event per request, half in batches of
     ``--batch``, retrying 503s, 5xx and connection errors as openlineage-python does;
   - ``--readers`` threads (4) search in the portal and the API (common words, names,
     typos), open lineage pages and graph walks of demo and soak datasets, and the runs
     page, one request after another;
   - with ``--kills N``, the web server and the worker are killed with SIGKILL N times
     at random moments and started again (the crash test under this load);

4. stops the producers and checks, as ``crash.py`` does, that every acknowledged event is
   stored exactly once, every run is whole, the search outbox drains and ``search_check``
   is clean; then that the lineage graph the server answers holds exactly the job–dataset
   edges of the database, and that the every-minute scorecard ran once per minute.

It prints throughput (overall and per minute), latencies of every kind of request,
error counts and the checks, and exits 1 when a check fails.

    .venv/bin/python -m benchmarks.soak                      # 10 minutes, SQLite
    .venv/bin/python -m benchmarks.soak --seconds 60         # a short run
    .venv/bin/python -m benchmarks.soak --kills 8            # with crashes
    .venv/bin/python -m benchmarks.soak --database-url postgres://u:p@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import http.client
import random
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from benchmarks import crash
from benchmarks.crash import Findings, Producer, Service, Tally
from benchmarks.ingest import _free_port
from benchmarks.stats import percentile

NAMESPACE = "soak"
SEARCH_WORDS = (
    "customer",  # the demo's common words
    "orders",
    "revenue",
    "custmer",  # typos
    "ordrs",
    "table_0",  # prefixes of the soak's names
    "job_1",
    "consents",
    "daily",
    "payments",
)


@dataclass
class Options:
    seconds: float
    producers: int
    readers: int
    batch: int
    datasets: int
    kills: int
    seed: int
    database_url: str
    keep: bool
    work_dir: str | None

    def crash_options(self) -> crash.Options:
        return crash.Options(
            seconds=self.seconds,
            kills=self.kills,
            producers=self.producers,
            batch=self.batch,
            datasets=self.datasets,
            seed=self.seed,
            database_url=self.database_url,
            keep=self.keep,
            work_dir=self.work_dir,
        )


# --- the readers --------------------------------------------------------------------------


@dataclass
class Reads:
    latency: dict[str, list[float]] = field(default_factory=dict)
    answers: dict[str, Counter[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float, answer: str) -> None:
        with self.lock:
            self.latency.setdefault(kind, []).append(seconds)
            self.answers.setdefault(kind, Counter())[answer] += 1


class Reader(threading.Thread):
    """Reads as a person at the portal would, and as an API client does, until stopped."""

    def __init__(self, port: int, nodes: list[str], reads: Reads, seed: int) -> None:
        super().__init__(daemon=True)
        self.port, self.nodes, self.reads = port, nodes, reads
        self.rng = random.Random(seed)
        self.stopping = threading.Event()
        self.conn: http.client.HTTPConnection | None = None

    def requests(self) -> list[tuple[str, str]]:
        word = self.rng.choice(SEARCH_WORDS)
        node = self.rng.choice(self.nodes)
        return [
            ("search page", f"/search/?{urllib.parse.urlencode({'q': word})}"),
            ("search API", f"/api/v1/search?{urllib.parse.urlencode({'q': word})}"),
            ("lineage page", f"/lineage/graph/?{urllib.parse.urlencode({'node': node})}"),
            ("graph API", f"/api/v1/graph/lineage?{urllib.parse.urlencode({'nodeId': node})}"),
            ("runs page", "/lineage/runs/"),
        ]

    def run(self) -> None:
        while not self.stopping.is_set():
            kind, path = self.rng.choice(self.requests())
            started = time.perf_counter()
            answer = self.get(path)
            self.reads.record(kind, time.perf_counter() - started, answer)

    def get(self, path: str) -> str:
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request("GET", path)
            response = self.conn.getresponse()
            response.read()
            return str(response.status)
        except (OSError, http.client.HTTPException) as exc:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            time.sleep(0.2)  # the server is restarting
            return type(exc).__name__


# --- the run ------------------------------------------------------------------------------


def prepare(env: dict[str, str]) -> tuple[str, datetime]:
    """A migrated store with the demo mesh, a token and the every-minute scorecard."""
    secret = crash.prepare(env)
    done = crash.manage(env, "load_demo")
    if done.returncode != 0:
        raise SystemExit(f"load_demo failed:\n{done.stderr[-3000:]}")
    return secret, crash.schedule_scorecard(env)


def reader_nodes(options: Options) -> list[str]:
    """The demo's datasets and the soak's own, as graph node ids."""
    from lineage.models import Dataset

    demo = [
        f"dataset:{ns}:{name}"
        for ns, name in Dataset.objects.exclude(namespace__name=f"{NAMESPACE}-db")
        .order_by("pk")
        .values_list("namespace__name", "name")[:40]
    ]
    own = [f"dataset:{NAMESPACE}-db:table_{i:03d}" for i in range(options.datasets)]
    return demo + own


def touch_every_dataset(options: Options, port: int, secret: str, tally: Tally) -> None:
    """One run into every soak dataset, so that the readers' pages exist from the start."""
    poster = Producer(port, secret, tally, batch=options.batch, seed=0, datasets=options.datasets)
    rng = random.Random(options.seed)
    events = []
    for i in range(options.datasets):
        pair = ((i + 1) % options.datasets, i)
        events += crash.run_events(rng, options.datasets, NAMESPACE, pair=pair)
    for start in range(0, len(events), 100):
        poster.post(events[start : start + 100])


@dataclass
class Load:
    tally: Tally
    reads: Reads
    seconds: float
    crashes: list[str]
    started: float


def soak(
    options: Options, rng: random.Random, web: Service, worker: Service, secret: str, port: int
) -> Load:
    tally, reads = Tally(), Reads()
    touch_every_dataset(options, port, secret, tally)
    producers = crash.make_producers(options.crash_options(), port, secret, tally, NAMESPACE)
    nodes = reader_nodes(options)
    readers = [Reader(port, nodes, reads, options.seed + 1000 + i) for i in range(options.readers)]
    started = time.monotonic()
    for thread in [*producers, *readers]:
        thread.start()
    crashes: list[str] = []
    kills = [started + at for at in crash.kill_schedule(rng, options.kills, options.seconds)]
    minute = 0
    while (left := started + options.seconds - time.monotonic()) > 0:
        if kills and time.monotonic() >= kills[0]:
            kills.pop(0)
            crashes.append(crash.crash_and_restart(rng, web, worker, port, secret))
            line = f"  kill {len(crashes)} at {time.monotonic() - started:.0f} s: {crashes[-1]}"
            print(line, file=sys.stderr, flush=True)
            continue
        until_kill = kills[0] - time.monotonic() if kills else left
        time.sleep(max(0.0, min(left, 5.0, until_kill)))
        if (elapsed := int((time.monotonic() - started) // 60)) > minute:
            minute = elapsed
            with tally.lock:
                acknowledged = len(tally.acknowledged)
            print(f"  {minute} min: {acknowledged:,} events", file=sys.stderr, flush=True)
    threads: list[Producer | Reader] = [*producers, *readers]
    for thread in threads:
        thread.stopping.set()
    for thread in threads:
        thread.join(timeout=120)
    return Load(tally, reads, time.monotonic() - started, crashes, started)


@dataclass
class GraphCheck:
    """The soak namespace's job–dataset edges: in the database, and of those missing from
    the graph the server answers or extra in it."""

    edges: int
    missing: int
    extra: int

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra)


def check_graph(port: int) -> GraphCheck:
    """The soak namespace's job–dataset edges as the server's graph answers them, against
    the database's."""
    import json

    from lineage.graph.service import limits
    from lineage.models import JobDataset

    expected = set()
    for job, ns, name, direction in JobDataset.objects.filter(
        job__namespace__name=NAMESPACE
    ).values_list("job__name", "dataset__namespace__name", "dataset__name", "direction"):
        job_id, dataset_id = f"job:{NAMESPACE}:{job}", f"dataset:{ns}:{name}"
        expected.add((dataset_id, job_id) if direction == "input" else (job_id, dataset_id))
    query = {
        "nodeId": f"job:{NAMESPACE}:job_00",
        "depth": limits()["MAX_DEPTH"],
        "cap": limits()["MAX_CAP"],
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", f"/api/v1/graph/lineage?{urllib.parse.urlencode(query)}")
    answer = json.loads(conn.getresponse().read())
    conn.close()
    soak_nodes = (f"job:{NAMESPACE}:", f"dataset:{NAMESPACE}-db:")
    answered = {
        (e["source"], e["target"])
        for e in answer.get("edges", [])
        if e["source"].startswith(soak_nodes) and e["target"].startswith(soak_nodes)
    }
    return GraphCheck(len(expected), len(expected - answered), len(answered - expected))


def run(options: Options) -> bool:
    rng = random.Random(options.seed)
    with crash.fresh_store(options.crash_options()) as env:
        env["MESHPORT_ANONYMOUS_READ"] = "1"
        secret, created = prepare(env)
        crash.setup_django(env)
        port = _free_port()
        web, worker = crash.web_service(env, port), crash.worker_service(env)
        worker.start()
        web.start()
        try:
            crash.wait_ready(web, port, secret)
            load = soak(options, rng, web, worker, secret, port)
            findings = crash.check_database(env, load.tally)
            findings.schedule = crash.check_schedule(created, datetime.now(UTC))
            crash.wait_for_outbox(findings, timeout=300)
            graph = check_graph(port)
        finally:
            web.stop()
            worker.stop()
        crash.run_search_check(env, findings)
        report(options, load, findings, graph, web, worker)
    return findings.ok and graph.ok


# --- the report ---------------------------------------------------------------------------


def _latency(seconds: list[float]) -> str:
    if not seconds:
        return "—"
    ms = [s * 1000 for s in seconds]
    return (
        f"{len(ms):>8,}  {percentile(ms, 0.5):7.1f}  {percentile(ms, 0.95):7.1f}  "
        f"{percentile(ms, 0.99):7.1f}  {max(ms):8.1f}"
    )


def per_minute(load: Load) -> list[float]:
    """Events acknowledged in each whole minute of the posting, per second."""
    minutes = int(load.seconds // 60)
    counts = [0] * minutes
    for at, events in load.tally.acknowledged_at:
        index = int((at - load.started) // 60)
        if 0 <= index < minutes:
            counts[index] += events
    return [count / 60 for count in counts]


def report(
    options: Options,
    load: Load,
    findings: Findings,
    graph: GraphCheck,
    web: Service,
    worker: Service,
) -> None:
    tally, reads, f = load.tally, load.reads, findings
    retried = ", ".join(f"{k}: {v}" for k, v in tally.answers.most_common()) or "none"
    read_errors = Counter[str]()
    for answers in reads.answers.values():
        read_errors.update({k: v for k, v in answers.items() if not k.startswith("2")})
    read_count = sum(len(v) for v in reads.latency.values())
    rates = per_minute(load)
    by_minute = " ".join(f"{r:,.0f}" for r in rates) or "—"
    acknowledged = len(tally.acknowledged)
    producers = (
        f"{options.producers} producers (half single, half batches of {options.batch}), "
        f"{options.readers} readers"
    )
    rows = [
        ("database", "PostgreSQL" if options.database_url else "SQLite"),
        ("posting time", f"{load.seconds:.0f} s, {producers}"),
        ("kill -9", f"{len(load.crashes)} rounds: web {web.kills}, worker {worker.kills}"),
        ("events acknowledged", f"{acknowledged:,}  ({acknowledged / load.seconds:,.0f}/s)"),
        ("events/s by minute", by_minute),
        ("events stored", f"{f.stored:,}"),
        ("acknowledged but not stored", f"{f.acknowledged_missing}  (must be 0)"),
        ("stored, never acknowledged", f"{f.stored_unacknowledged}"),
        ("retries that found the event stored", f"{tally.duplicates}"),
        ("gave up after retries", f"{len(tally.unknown)}"),
        ("producer answers retried", retried),
        ("reads", f"{read_count:,}  ({read_count / load.seconds:,.1f}/s)"),
        ("reads not 2xx", ", ".join(f"{k}: {v}" for k, v in read_errors.most_common()) or "none"),
        (
            "runs missing / wrong state / wrong count / no io",
            f"{f.runs_missing} / {f.runs_wrong_state} / {f.runs_wrong_count} / "
            f"{f.runs_without_io}  (must be 0)",
        ),
        ("search outbox left", f"{f.outbox_left}  (drained in {f.outbox_seconds:.1f} s)"),
        ("search_check", f.search_check),
        ("graph vs database", f"{graph.edges} edges; missing {graph.missing}, extra {graph.extra}"),
        ("scheduled scorecard", str(f.schedule)),
    ]
    rows.append(("verdict", "PASS" if f.ok and graph.ok else "FAIL"))
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    print()
    columns = ("count", "p50 ms", "p95 ms", "p99 ms", "max ms")
    print(
        f"{'request':<22}"
        + "  ".join(f"{c:>{w}}" for c, w in zip(columns, (8, 7, 7, 7, 8), strict=True))
    )
    kinds = [
        ("POST one event", tally.latency["single"]),
        (f"POST batch of {options.batch}", tally.latency["batch"]),
        *sorted(reads.latency.items()),
    ]
    for kind, seconds in kinds:
        print(f"{kind:<22}{_latency(seconds)}")


def parse(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=600.0, help="posting time (600)")
    parser.add_argument("--producers", type=int, default=16, help="posting threads (16)")
    parser.add_argument("--readers", type=int, default=4, help="reading threads (4)")
    parser.add_argument("--batch", type=int, default=20, help="events per batch post (20)")
    parser.add_argument("--datasets", type=int, default=60, help="datasets the runs use (60)")
    parser.add_argument("--kills", type=int, default=0, help="kill -9 rounds (0)")
    crash.add_store_arguments(parser)
    args = parser.parse_args(argv)
    options = Options(
        seconds=args.seconds,
        producers=args.producers,
        readers=args.readers,
        batch=args.batch,
        datasets=args.datasets,
        kills=args.kills,
        seed=args.seed,
        database_url=args.database_url,
        keep=args.keep,
        work_dir=args.work_dir,
    )
    if options.producers < 1 or options.readers < 0 or options.datasets < 2 or options.kills < 0:
        parser.error("--producers must be >= 1, --readers and --kills >= 0, --datasets >= 2")
    return options


def main(argv: list[str] | None = None) -> None:
    sys.exit(0 if run(parse(argv)) else 1)


if __name__ == "__main__":
    main()
