"""How fast Meshport answers lineage-graph questions on big meshes, and what it weighs.

For each scale (``--scale 100k``: 100,000 datasets and 50,000 jobs; ``--scale 1m``: about a
million nodes and two million job↔dataset edges; ``--scale small`` for a smoke run) the
benchmark:

1. builds the synthetic mesh of ``benchmarks/lineage_synth.py`` into a fresh data dir
   (written straight to the tables), or reuses the one kept by an earlier ``--keep`` run
   after migrating it;
2. issues a token (``manage.py create_token``) and starts gunicorn on a free 127.0.0.1
   port with production settings (``DEBUG`` off, a random secret key), one gthread worker
   × 4 threads by default;
3. from one keep-alive client, after a warm-up, asks each of ``--queries`` random start
   nodes twice — the first answer is "cold", the repeat "cached" — for:

   - the upstream lineage of a late-layer dataset, depth 5
     (``/api/v1/graph/lineage?direction=upstream&depth=5``);
   - the downstream impact of an early-layer dataset, depth 3 (``/api/v1/graph/impact``);
   - the column lineage of a late-layer field, depth 5 (Marquez ``/api/v1/column-lineage``);
   - the lineage of a middle-layer dataset, depth 5 (Marquez ``GET /api/v1/lineage``);

   and records the client-side latency (request sent → body read), the nodes each answer
   held and whether it was truncated (``"truncated"`` of the graph endpoints);
4. freshness: posts an OpenLineage COMPLETE event in which a new job reads an existing
   dataset and writes a new one, then asks for the new dataset's upstream (depth 1) until
   the new edge shows, and checks that the existing dataset's downstream, asked (so cached)
   before the post, shows the new reader too;
5. reads the peak resident memory (``VmHWM``) of gunicorn's workers, stops the server and
   prints one table with the targets next to the results.

Answers other than 2xx are counted as failed requests and reported, never fatal. Data dirs
are removed at the end unless ``--keep PREFIX`` names where to keep them (``PREFIX-<scale>``,
reused by the next run with the same prefix, scale and seed).

    .venv/bin/python -m benchmarks.lineage --scale small --queries 50
    .venv/bin/python -m benchmarks.lineage --scale 100k --scale 1m --keep /tmp/bench-lineage
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from benchmarks.ingest import ROOT, Server, Settings, child_pids
from benchmarks.lineage_synth import MESH_FORMAT, SCALES
from benchmarks.stats import percentile

MANIFEST = "lineage-mesh.json"
TARGET_P95_MS = {"100k": 50.0, "1m": 200.0}  # bounded queries, cold
TARGET_PEAK_MB = {"1m": 400.0}  # web worker, peak resident memory
FRESHNESS_JOB_NAMESPACE = "bench-freshness"


@dataclass(frozen=True)
class Query:
    name: str
    sample: str  # which start nodes of the manifest
    path: str  # ``{node}`` is the URL-encoded start node id
    answer: str  # the JSON list holding the answer's nodes
    # The issue's targets cover the graph API's bounded queries and column lineage; the
    # Marquez-shaped lineage answer, heavier by design (full dataset and job data per
    # node), is measured for information.
    targeted: bool = True


QUERIES = (
    Query(
        "upstream lineage, depth 5",
        "late_datasets",
        "/api/v1/graph/lineage?nodeId={node}&direction=upstream&depth=5",
        "nodes",
    ),
    Query(
        "downstream impact, depth 3",
        "early_datasets",
        "/api/v1/graph/impact?nodeId={node}&depth=3",
        "impacted",
    ),
    Query(
        "column lineage, depth 5 (Marquez)",
        "late_fields",
        "/api/v1/column-lineage?nodeId={node}&depth=5",
        "graph",
    ),
    Query(
        "lineage, depth 5 (Marquez)",
        "middle_datasets",
        "/api/v1/lineage?nodeId={node}&depth=5",
        "graph",
        targeted=False,
    ),
)


# --- results --------------------------------------------------------------------------------


@dataclass
class Answer:
    ms: float
    nodes: int  # in the answer's node list
    truncated: list[str] | None = None  # None: the endpoint does not say


@dataclass
class QueryResult:
    scale: str
    query: str
    sent: int = 0
    cold: list[Answer] = field(default_factory=list)
    cached: list[Answer] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # failed requests by status
    cpu_seconds: float = 0.0  # server CPU spent on these requests


@dataclass
class Freshness:
    trials: int = 0
    posted: int = 0
    visible_first: int = 0  # the new edge was in the very next answer
    ms_to_visible: list[float] = field(default_factory=list)  # post answered → edge shown
    refreshed: int = 0  # the input's cached downstream showed the new reader
    errors: dict[str, int] = field(default_factory=dict)  # failed requests by status


@dataclass
class ScaleResult:
    scale: str
    store: dict[str, Any]
    queries: list[QueryResult]
    freshness: Freshness
    peak_mb: list[float]  # VmHWM of each gunicorn worker


# --- the store ------------------------------------------------------------------------------


def store_env(data_dir: Path) -> dict[str, str]:
    """The environment of the server and the steps: production settings on ``data_dir``
    (what ``benchmarks.ingest.fresh_store`` sets up for its temporary dirs)."""
    return {
        **os.environ,
        "MESHPORT_DEBUG": "0",
        "MESHPORT_SECRET_KEY": secrets.token_urlsafe(48),
        "MESHPORT_ALLOWED_HOSTS": "127.0.0.1",
        "MESHPORT_DATA_DIR": str(data_dir),
        "MESHPORT_LOG_LEVEL": "WARNING",
        "DATABASE_URL": "",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


@contextmanager
def store_dir(args: argparse.Namespace, scale: str) -> Iterator[Path]:
    """``PREFIX-<scale>`` with ``--keep``, else a temporary dir removed afterwards."""
    if args.keep:
        path = Path(f"{args.keep}-{scale}")
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix=f"meshport-lineage-{scale}-", dir=args.work_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def prepare_store(env: dict[str, str], path: Path, scale: str, seed: int) -> dict[str, Any]:
    """The manifest of the mesh in ``path``: the one already there, or a new build."""
    manifest_path = path / MANIFEST
    if manifest_path.exists():
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        if (manifest["format"], manifest["scale"], manifest["seed"]) != (MESH_FORMAT, scale, seed):
            raise SystemExit(
                f"{path} holds another mesh (scale {manifest['scale']}, seed "
                f"{manifest['seed']}, format {manifest['format']}): remove it or keep elsewhere"
            )
        # The schema may have moved on since the store was built.
        _manage(env, "migrate", "--noinput", "--verbosity", "0")
        return {**manifest, "reused": True}
    if any(path.iterdir()):
        raise SystemExit(f"{path} holds no complete mesh (an interrupted build?): remove it")
    argv = [sys.executable, "-m", "benchmarks.lineage_synth", "--scale", scale]
    argv += ["--seed", str(seed), "--manifest", str(manifest_path)]
    # Progress goes to stderr as it comes; the summary on stdout is in the manifest too.
    proc = subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"building the {scale} mesh failed (exit {proc.returncode})")
    return {**json.loads(manifest_path.read_text()), "reused": False}


def _manage(env: dict[str, str], *argv: str) -> str:
    proc = subprocess.run(
        [sys.executable, "manage.py", *argv],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"manage.py {argv[0]} failed (exit {proc.returncode})")
    return proc.stdout


def issue_token(env: dict[str, str]) -> str:
    out = _manage(env, "create_token", "--name", "bench-lineage", "--scope", "lineage:write")
    return out.strip().splitlines()[-1]


def gunicorn_settings(args: argparse.Namespace) -> Settings:
    """``benchmarks.ingest.Server`` reads only the gunicorn fields of its settings."""
    return Settings(
        events=0,
        histories=[],
        modes=set(),
        jobs=0,
        datasets=0,
        workers=args.workers,
        threads=args.threads,
        worker_class="gthread",
        clients=1,
        batch_clients=0,
        max_seconds=args.max_seconds,
        database_url="",
        keep=bool(args.keep),
        work_dir=args.work_dir,
    )


# --- the client -----------------------------------------------------------------------------


class Client:
    """One keep-alive connection; every call returns (status or error name, body, ms).

    Only posts carry the token: the read endpoints are open, as the portal's pictures
    use them.
    """

    def __init__(self, server: Server) -> None:
        self.port = server.port
        self.post_headers = server.headers
        self.conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[str, bytes, float]:
        started = time.perf_counter()
        try:
            headers = self.post_headers if method == "POST" else {"Accept": "application/json"}
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = self._connect()
            return type(exc).__name__, b"", 1000 * (time.perf_counter() - started)
        return str(response.status), data, 1000 * (time.perf_counter() - started)

    def close(self) -> None:
        self.conn.close()


def _count(errors: dict[str, int], label: str) -> None:
    errors[label] = errors.get(label, 0) + 1


def _ok(status: str) -> bool:
    return status.isdigit() and 200 <= int(status) < 300


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def node_path(template: str, node: str) -> str:
    return template.format(node=quote(node, safe=""))


# --- the measurements -----------------------------------------------------------------------


def warm_up(client: Client, manifest: dict[str, Any], count: int) -> None:
    """A few queries of each kind from the end of the samples, never measured."""
    for query in QUERIES:
        for node in manifest["samples"][query.sample][-count:]:
            client.call("GET", node_path(query.path, node))


def run_query(
    client: Client,
    server: Server,
    scale: str,
    query: Query,
    starts: list[str],
    max_seconds: float,
) -> QueryResult:
    """Each start node twice in a row: the first answer is cold, the second cached."""
    result = QueryResult(scale, query.name)
    cpu = server.cpu_seconds()
    deadline = time.perf_counter() + max_seconds
    for node in starts:
        if time.perf_counter() > deadline:
            break
        path = node_path(query.path, node)
        for answers in (result.cold, result.cached):
            status, data, ms = client.call("GET", path)
            result.sent += 1
            answer = _answer(query, status, data, ms)
            if isinstance(answer, str):
                _count(result.errors, answer)
            else:
                answers.append(answer)
    result.cpu_seconds = server.cpu_seconds() - cpu
    return result


def _answer(query: Query, status: str, data: bytes, ms: float) -> Answer | str:
    """The measured answer, or why the request failed."""
    if not _ok(status):
        return status
    body = _json(data)
    if not isinstance(body, dict) or not isinstance(body.get(query.answer), list):
        return f"{status} without {query.answer!r}"
    truncated = body.get("truncated")
    return Answer(
        ms,
        nodes=len(body[query.answer]),
        truncated=[str(t) for t in truncated] if isinstance(truncated, list) else None,
    )


def freshness(client: Client, manifest: dict[str, Any], trials: int, wait: float) -> Freshness:
    result = Freshness()
    for input_id in manifest["samples"]["quiet_datasets"][:trials]:
        result.trials += 1
        _fresh_trial(client, input_id, wait, result)
    return result


def _fresh_trial(client: Client, input_id: str, wait: float, result: Freshness) -> None:
    # Generated dataset names hold no ":", so the namespace is everything before the last.
    namespace, name = input_id.removeprefix("dataset:").rsplit(":", 1)
    tag = uuid.uuid4().hex[:12]
    job_id = f"job:{FRESHNESS_JOB_NAMESPACE}:freshness_{tag}"
    output_id = f"dataset:{namespace}:freshness.output_{tag}"
    downstream = node_path(
        "/api/v1/graph/lineage?nodeId={node}&direction=downstream&depth=1", input_id
    )
    upstream = node_path(
        "/api/v1/graph/lineage?nodeId={node}&direction=upstream&depth=1", output_id
    )
    _get_graph(client, downstream, result)  # so that a stale cache would show
    status, _, _ = client.call("POST", "/api/v1/lineage", _event(namespace, name, tag))
    if not _ok(status):
        _count(result.errors, f"POST {status}")
        return
    result.posted += 1
    posted_at = time.perf_counter()
    first = True
    while True:
        graph = _get_graph(client, upstream, result)
        if graph is not None and _has_edge(graph, job_id, output_id):
            result.ms_to_visible.append(1000 * (time.perf_counter() - posted_at))
            result.visible_first += first
            break
        first = False
        if time.perf_counter() - posted_at > wait:
            break
        time.sleep(0.01)
    graph = _get_graph(client, downstream, result)
    if graph is not None and _has_edge(graph, input_id, job_id):
        result.refreshed += 1


def _get_graph(client: Client, path: str, result: Freshness) -> dict[str, Any] | None:
    status, data, _ = client.call("GET", path)
    body = _json(data) if _ok(status) else None
    if not isinstance(body, dict):
        _count(result.errors, f"GET {status}")
        return None
    return body


def _has_edge(graph: dict[str, Any], source: str, target: str) -> bool:
    return any(
        isinstance(e, dict) and e.get("source") == source and e.get("target") == target
        for e in graph.get("edges") or []
    )


def _event(namespace: str, name: str, tag: str) -> bytes:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    event = {
        "eventType": "COMPLETE",
        "eventTime": now,
        "producer": "https://github.com/meshport/meshport/tree/main/benchmarks",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": FRESHNESS_JOB_NAMESPACE, "name": f"freshness_{tag}"},
        "inputs": [{"namespace": namespace, "name": name}],
        "outputs": [{"namespace": namespace, "name": f"freshness.output_{tag}"}],
    }
    return json.dumps(event).encode()


def peak_memory_mb(server: Server) -> list[float]:
    """``VmHWM`` (peak resident set) of each gunicorn worker, in MB."""
    assert server.proc is not None
    peaks = []
    for pid in child_pids(server.proc.pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return peaks


# --- one scale ------------------------------------------------------------------------------


def measure(args: argparse.Namespace, scale: str) -> ScaleResult:
    print(f"{scale}: preparing the store", file=sys.stderr, flush=True)
    with store_dir(args, scale) as path:
        env = store_env(path)
        manifest = prepare_store(env, path, scale, args.seed)
        how = "reused" if manifest["reused"] else "built"
        print(f"  {how} {path}: {manifest['counts']}", file=sys.stderr, flush=True)
        secret = issue_token(env)
        with Server(env, gunicorn_settings(args), secret) as server:
            client = Client(server)
            warm_up(client, manifest, args.warmup)
            queries = []
            for query in QUERIES:
                starts = manifest["samples"][query.sample][: args.queries]
                print(f"  {query.name}: {len(starts)} start nodes", file=sys.stderr, flush=True)
                queries.append(run_query(client, server, scale, query, starts, args.max_seconds))
            print("  freshness", file=sys.stderr, flush=True)
            fresh = freshness(client, manifest, args.freshness, args.fresh_wait)
            client.close()
            peaks = peak_memory_mb(server)
        store = {k: manifest[k] for k in ("reused", "counts", "shape", "seconds")}
        store["path"] = str(path) if args.keep else ""
    return ScaleResult(scale, store, queries, fresh, peaks)


# --- report ---------------------------------------------------------------------------------


def _latencies(answers: list[Answer]) -> list[str]:
    if not answers:
        return ["—"] * 3
    ms = [a.ms for a in answers]
    return [f"{percentile(ms, 0.5):.1f}", f"{percentile(ms, 0.95):.1f}", f"{max(ms):.1f}"]


def _truncation(answers: list[Answer]) -> str:
    said = [a.truncated for a in answers if a.truncated is not None]
    if not said:
        return "n/a" if answers else "—"
    cut = [t for t in said if t]
    reasons = Counter(reason for t in cut for reason in t)
    share = f"{100 * len(cut) / len(said):.0f}%"
    return f"{share} ({', '.join(sorted(reasons))})" if reasons else share


def _targeted(name: str) -> bool:
    return next((q.targeted for q in QUERIES if q.name == name), True)


def _verdict(result: QueryResult, target: float | None) -> str:
    verdict = ""
    if target is not None and result.cold:
        p95 = percentile([a.ms for a in result.cold], 0.95)
        verdict = "ok" if p95 < target else "MISSED"
    elif target is not None:
        verdict = "no answers"
    if result.errors:
        verdict += f" (failed requests: {_failures(result.errors)})"
    return verdict.strip()


def report(args: argparse.Namespace, results: list[ScaleResult]) -> str:
    lines = [
        f"Meshport lineage-graph benchmark — {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite (WAL), gunicorn {args.workers} gthread "
        f"worker(s) × {args.threads} threads, one keep-alive client, up to {args.queries} "
        "start nodes per query, each asked twice (cold, then cached); latencies in ms",
        "",
        "| scale | query | answers | cold p50 | cold p95 | cold max | cached p50 | cached p95 "
        "| cached max | nodes (median) | truncated | server CPU ms/request | target p95 | |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for res in results:
        for q in res.queries:
            target = TARGET_P95_MS.get(res.scale) if _targeted(q.query) else None
            answers = q.cold + q.cached
            nodes = statistics.median(a.nodes for a in q.cold) if q.cold else None
            cpu = 1000 * q.cpu_seconds / q.sent if q.sent else 0.0
            cells = [
                res.scale,
                q.query,
                f"{len(answers)}/{q.sent}",
                *_latencies(q.cold),
                *_latencies(q.cached),
                f"{nodes:,.0f}" if nodes is not None else "—",
                _truncation(q.cold),
                f"{cpu:.1f}",
                f"< {target:.0f} ms" if target else "",
                _verdict(q, target),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for res in results:
        lines.extend(_scale_notes(res))
    load = os.getloadavg()
    lines.append(f"- load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return "\n".join(lines)


def _scale_notes(res: ScaleResult) -> list[str]:
    store, fresh = res.store, res.freshness
    counts = ", ".join(f"{n:,} {table}" for table, n in store["counts"].items())
    seconds = store["seconds"]["total"]
    how = (
        f"reused (built earlier in {seconds:.0f} s)"
        if store["reused"]
        else f"built in {seconds:.0f} s"
    )
    where = f" at {store['path']}" if store["path"] else ""
    notes = [
        f"- {res.scale}: store{where} {how}: {counts}; "
        f"most read datasets: {', '.join(map(str, store['shape']['most_read']))} readers",
        f"- {res.scale}: freshness — new edge visible on next query: "
        f"{_yes_no(fresh.visible_first, fresh.trials)}; post answered → edge shown: "
        f"{_ms_summary(fresh.ms_to_visible)}; the input's cached downstream shows the new "
        f"reader: {_yes_no(fresh.refreshed, fresh.trials)}"
        + (f" (failed requests: {_failures(fresh.errors)})" if fresh.errors else ""),
    ]
    peak = max(res.peak_mb, default=0.0)
    target = TARGET_PEAK_MB.get(res.scale)
    verdict = (
        f" (target < {target:.0f} MB: {'ok' if peak < target else 'MISSED'})" if target else ""
    )
    notes.append(
        f"- {res.scale}: web worker peak memory (max VmHWM over {len(res.peak_mb)} "
        f"worker(s)): {peak:.0f} MB{verdict}"
    )
    return notes


def _yes_no(count: int, trials: int) -> str:
    if not trials:
        return "not tried"
    return f"{'yes' if count == trials else 'no'} ({count}/{trials})"


def _ms_summary(values: list[float]) -> str:
    if not values:
        return "never"
    return f"median {statistics.median(values):.0f} ms, max {max(values):.0f} ms"


def _failures(errors: dict[str, int]) -> str:
    return ", ".join(f"{n} × {status}" for status, n in sorted(errors.items()))


# --- command line ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Measure lineage-graph queries over HTTP on synthetic meshes."
    )
    parser.add_argument(
        "--scale",
        action="append",
        choices=sorted(SCALES),
        help="mesh size; repeat for several (default 100k)",
    )
    parser.add_argument("--queries", type=int, default=200, help="start nodes per query")
    parser.add_argument("--warmup", type=int, default=10, help="warm-up queries per kind")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--keep",
        metavar="PREFIX",
        default=None,
        help="keep each store at PREFIX-<scale>, and reuse the one found there",
    )
    parser.add_argument("--work-dir", default=None, help="where temporary stores go")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument(
        "--max-seconds", type=float, default=300.0, help="time limit of each query kind"
    )
    parser.add_argument("--freshness", type=int, default=5, help="freshness trials")
    parser.add_argument(
        "--fresh-wait",
        type=float,
        default=3.0,
        help="seconds to keep asking for the new edge after the post",
    )
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    args.scale = args.scale or ["100k"]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = [measure(args, scale) for scale in args.scale]
    print(report(args, results))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=1))


if __name__ == "__main__":
    main()
