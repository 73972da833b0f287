"""Server time of the portal's main pages on the ~100k assets of the search benchmark.

    .venv/bin/python -m benchmarks.portal --scale 100k --keep /tmp/bench-portal-100k
    .venv/bin/python -m benchmarks.portal --scale small

In a data dir with production settings (``MESHPORT_DEBUG=0``, SQLite unless
``DATABASE_URL`` names a database), the benchmark:

1. writes the assets of the search benchmark (``benchmarks/search.py``'s ``prepare_store``:
   datasets with fields, jobs with runs and edges, data products with contracts, ports and
   bindings, domains, teams, people), or reuses the store of an earlier ``--keep DIR`` run
   (of this benchmark or of ``benchmarks.search``);
2. adds what the governance pages read, through the services that write it in
   production: ownerships (each product's team owns it, datasets' OpenLineage owners),
   a run history with SLOs (``benchmarks/slo_synth.py``; most SLOs tied to a product),
   evaluated once, the demo scorecards of ``governance/demo_scorecards/`` run 14 and
   7 days ago and now (results and a trend), and a portal user who is one of the people
   of the team owning the most products; then rebuilds the search index (whoosh, in the
   data dir's ``search/``) as ``manage.py search_reindex`` does;
3. for each page, requests each of its URLs once to warm (the time is shown as "first"),
   then ``--requests`` times more, timed, in process with Django's test ``Client`` logged
   in as that user (production settings let no visitor read): from the request to the
   response with its content rendered (middleware, view, queries, templates), no network;
   then once more under ``CaptureQueriesContext`` for the queries per request. "lineage:
   dataset, cold cache" empties the lineage graph cache before each request, as a new
   graph generation (lineage that changed the graph) does. ``--by-url`` adds a row per
   URL; ``--profile``, for each page that misses its target, cProfile's top entries and
   the slowest SQL of one more request per URL (the figures stay unprofiled);
   ``gc.freeze()`` is called before measuring, as ``meshport/wsgi.py`` does in a web
   process (``--no-gc-freeze`` measures without).

Target: p95 < 150 ms for every page at the 100k scale.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from benchmarks.env import store_dir
from benchmarks.search import (
    environment,
    make_queries,
    prepare_store,
    rebuild_index,
    whoosh_on_disk,
)
from benchmarks.search_synth import SCALES, Assets, build_assets
from benchmarks.stats import percentile

MANIFEST = "portal-extras.json"
PORTAL_FORMAT = 1  # bump when the governance extras change shape
TARGET_MS = 150.0
SCORECARD_DAYS = (14, 7, 0)  # scorecard runs, in days before the store was written


@dataclass(frozen=True)
class GovernanceScale:
    slos: int  # one dataset each (benchmarks/slo_synth.py), in their own namespace
    runs: int  # of the SLOs' jobs (one per two SLOs), over 35 days


# 200 runs per job over 35 days, a run every 4.2 hours, as in the SLO benchmark: freshness
# SLOs (6 hours) then breach when a job pauses or fails, not between two healthy runs.
GOVERNANCE = {
    "small": GovernanceScale(slos=100, runs=10_000),
    "100k": GovernanceScale(slos=2_000, runs=200_000),
}


@dataclass(frozen=True)
class Page:
    name: str
    urls: list[str]
    cold_graph: bool = False  # empty the lineage graph cache before each timed request


@dataclass
class PageTiming:
    page: str
    urls: list[str]
    ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)  # per URL
    profile: str = ""


@dataclass
class Result:
    scale: str
    store: dict[str, Any]
    extras: dict[str, Any]
    requests: int
    timings: list[PageTiming]
    frozen: bool = False  # measured after gc.freeze()


# --- the store: governance extras -------------------------------------------------------------


def add_governance(
    assets: Assets, scale: GovernanceScale, *, now: datetime | None = None, seed: int = 42
) -> dict[str, Any]:
    """Ownerships, SLOs with a run history, the demo scorecards' runs and a portal user on
    top of the written ``assets``; returns the rows written and the user's name."""
    from django.utils import timezone

    now = now or timezone.now()
    counts = _ownerships(assets)
    counts |= _slos(scale, now, seed)
    counts |= _scorecards(now)
    return {"counts": counts, "user": _portal_user()}


def _ownerships(assets: Assets) -> dict[str, int]:
    """What descriptor uploads and OpenLineage ``ownership`` facets would have stored:
    each product owned by its team, each dataset by the owners its facet names."""
    from catalog.descriptors.model import Team as TeamSpec
    from catalog.models import DataProduct, Dataset, Ownership
    from catalog.ownership import entries_from_facet, entries_from_team, ownerships_sync

    products = DataProduct.objects.select_related("team").exclude(team=None)
    wanted: dict[Any, Any] = {
        p: entries_from_team(TeamSpec(name=p.team.name), p.team.name)
        for p in products
        if p.team is not None
    }
    ownerships_sync(wanted=wanted, source=Ownership.Source.DESCRIPTOR, actor="benchmark")
    owned = {d + 1: owners for d, owners in enumerate(assets.extras.ds_owners) if owners}
    pks = sorted(owned)
    for start in range(0, len(pks), 2_000):
        datasets = Dataset.objects.filter(pk__in=pks[start : start + 2_000])
        wanted = {d: entries_from_facet(owned[d.pk]) for d in datasets}
        ownerships_sync(wanted=wanted, source=Ownership.Source.OPENLINEAGE, actor="benchmark")
    return {
        "product ownerships": Ownership.objects.filter(product__isnull=False).count(),
        "dataset ownerships": Ownership.objects.filter(dataset__isnull=False).count(),
    }


def _slos(scale: GovernanceScale, now: datetime, seed: int) -> dict[str, int]:
    """The SLO benchmark's history and SLOs, three in four tied to a product, evaluated."""
    from benchmarks.slo_synth import Scale as SloScale
    from benchmarks.slo_synth import write_history
    from catalog.models import DataProduct
    from governance.models import Slo
    from governance.services import slos_sweep

    written = write_history(SloScale(slos=scale.slos, runs=scale.runs), now=now, seed=seed)
    products = list(DataProduct.objects.order_by("pk").values_list("pk", flat=True))
    rng = random.Random(seed + 3)
    slos = list(Slo.objects.order_by("pk"))
    for slo in slos:
        if products and rng.random() < 0.75:
            slo.product_id = rng.choice(products)
    Slo.objects.bulk_update(slos, ["product"], batch_size=2_000)
    evaluated = slos_sweep(now=now, slos=Slo.objects.enabled().iterator())
    return {
        "slo datasets": written["datasets"],
        "slo jobs": written["jobs"],
        "slo runs": written["runs"],
        "slos": len(slos),
        "slos evaluated": evaluated,
        "slos on products": sum(1 for slo in slos if slo.product_id),
    }


def _scorecards(now: datetime) -> dict[str, int]:
    """The demo scorecards, each run on the days of ``SCORECARD_DAYS``."""
    import governance
    from governance.models import ScorecardResult, ScorecardRun
    from governance.scorecard_services import scorecard_run_here, scorecards_load

    folder = Path(governance.__file__).parent / "demo_scorecards"
    scorecards = scorecards_load(paths=[folder])
    for days in SCORECARD_DAYS:
        for scorecard in scorecards:
            run = scorecard_run_here(
                scorecard=scorecard, requested_by="benchmark", now=now - timedelta(days=days)
            )
            assert run.status == ScorecardRun.Status.DONE, run.error
    return {
        "scorecards": len(scorecards),
        "scorecard runs": ScorecardRun.objects.count(),
        "scorecard results": ScorecardResult.objects.count(),
    }


def _portal_user() -> str:
    """A user who is a member of the team that owns the most products."""
    from django.contrib.auth.models import User
    from django.db.models import Count

    from catalog.models import Person, Team

    team = (
        Team.objects.annotate(owned=Count("ownerships__product"))
        .filter(members__isnull=False)
        .order_by("-owned", "pk")
        .first()
    )
    person = Person.objects.filter(memberships__team=team).order_by("pk").first()
    if person is None:
        raise RuntimeError("no team with members: the store is not the search benchmark's")
    User.objects.create_user(person.username, person.email)
    return person.username


def prepare_portal(path: Path, assets: Assets, seed: int, *, procs: int | None = None) -> Result:
    """The search store in ``path`` with the governance extras and a search index: as an
    earlier ``--keep`` run left them, or written now. The result holds no timings yet."""
    store = prepare_store(path, assets, seed)
    manifest_path = path / MANIFEST
    identity = {"format": PORTAL_FORMAT, "scale": assets.scale.name, "seed": seed}
    extras: dict[str, Any] = {}
    if manifest_path.exists():
        extras = json.loads(manifest_path.read_text())
        if {k: extras.get(k) for k in identity} != identity:
            raise SystemExit(f"{path} holds other extras ({manifest_path}): remove it")
        extras["reused"] = True
    else:
        started = time.perf_counter()
        extras = {**identity, **add_governance(assets, GOVERNANCE[assets.scale.name], seed=seed)}
        extras["seconds"] = round(time.perf_counter() - started, 1)
    if not extras.get("indexed"):
        with whoosh_on_disk(path / "search", procs):
            rebuild = rebuild_index()
        extras["indexed"] = rebuild.documents
        extras["index seconds"] = round(rebuild.seconds, 1)
        manifest_path.write_text(json.dumps({k: v for k, v in extras.items() if k != "reused"}))
    return Result(assets.scale.name, store, extras, 0, [])


# --- the pages --------------------------------------------------------------------------------


def plan_pages(assets: Assets, seed: int = 42) -> list[Page]:
    """The pages measured and the URLs of each, picked deterministically from the store."""
    return [
        Page("home", ["/"]),
        Page("search", _search_urls(assets, seed)),
        Page("product page", [f"/products/{p}/" for p in _products(seed)]),
        Page("lineage start page", ["/lineage/graph/"]),
        Page("lineage: dataset", [_graph_url(n) for n in _datasets()]),
        Page("lineage: dataset, cold cache", [_graph_url(n) for n in _datasets()], cold_graph=True),
        Page("lineage: job", [_graph_url(n) for n in _jobs()]),
        Page("runs", ["/lineage/runs/", "/lineage/runs/?state=FAILED"]),
        Page("governance", ["/governance/"]),
        Page("scorecards", ["/governance/scorecards/"]),
        Page("scorecard detail", _scorecard_urls()),
        Page("SLOs", ["/governance/slos/"]),
        Page("my data", ["/governance/my/"]),
    ]


def _search_urls(assets: Assets, seed: int) -> list[str]:
    """A common word, several words, two facet filters, a typo and a qualified name."""
    queries = make_queries(assets, 2, seed)
    picked = [
        queries["term, common word"][0],
        queries["multi-word"][0],
        *queries["faceted"][:2],
        queries["typo"][0],
        queries["exact name"][0],
    ]
    urls = []
    for query in picked:
        params = [("q", query.text), *((k, v) for k, vs in query.filters.items() for v in vs)]
        urls.append(f"/search/?{urlencode(params)}")
    return urls


def _products(seed: int) -> list[str]:
    """The product with the most bound datasets, one reading another product, two more."""
    from django.db.models import Count

    from catalog.models import DataProduct, Port

    products = DataProduct.objects.order_by("pk")
    widest = products.annotate(n=Count("ports__bindings")).order_by("-n", "pk").first()
    reading = products.filter(ports__direction=Port.Direction.INPUT).first()
    chosen = [p.external_id for p in (widest, reading) if p is not None]
    rest = list(products.exclude(external_id__in=chosen).values_list("external_id", flat=True))
    chosen += random.Random(seed).sample(rest, min(2, len(rest)))
    return chosen


def _datasets() -> list[str]:
    """A dataset of median degree (jobs reading or writing it) and the busiest one."""
    from django.db.models import Count

    from catalog.models import Dataset
    from lineage.graph.ids import dataset_id

    ranked = list(
        Dataset.objects.annotate(n=Count("job_edges"))
        .filter(n__gt=1)
        .order_by("n", "pk")
        .values_list("namespace__name", "name")
    )
    picked = [ranked[len(ranked) // 2], ranked[-1]] if ranked else []
    return [dataset_id(ns, name) for ns, name in picked]


def _jobs() -> list[str]:
    """A job of median degree (datasets in and out) and the busiest one."""
    from django.db.models import Count

    from lineage.graph.ids import job_id
    from lineage.models import Job

    ranked = list(
        Job.objects.annotate(n=Count("dataset_edges"))
        .order_by("n", "pk")
        .values_list("namespace__name", "name")
    )
    picked = [ranked[len(ranked) // 2], ranked[-1]] if ranked else []
    return [job_id(ns, name) for ns, name in picked]


def _graph_url(node: str) -> str:
    return f"/lineage/graph/?{urlencode({'node': node})}"


def _scorecard_urls() -> list[str]:
    from governance.models import Scorecard

    slugs = Scorecard.objects.order_by("slug").values_list("slug", flat=True)
    return [f"/governance/scorecards/{slug}/" for slug in slugs]


# --- measuring --------------------------------------------------------------------------------


def measure(
    pages: list[Page],
    *,
    requests: int = 20,
    user: str,
    host: str = "127.0.0.1",
    profile: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> list[PageTiming]:
    """Each page's URLs warmed, timed ``requests`` times each, then counted once, as
    ``user`` (logged in: production settings let no visitor read)."""
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client(HTTP_HOST=host)
    client.force_login(User.objects.get(username=user))
    timings = []
    for page in pages:
        progress(f"  {page.name}")
        timing = measure_page(page, client, requests)
        if profile and _verdict(timing) != "ok":
            timing.profile = profile_page(page, client)
        timings.append(timing)
    return timings


def measure_page(page: Page, client: Any, requests: int) -> PageTiming:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timing = PageTiming(page.name, page.urls)
    for url in page.urls:
        timing.first_ms.append(_request(client, url, page.cold_graph))
        timing.ms += [_request(client, url, page.cold_graph) for _ in range(requests)]
        with CaptureQueriesContext(connection) as captured:
            _request(client, url, page.cold_graph)
        timing.queries.append(len(captured.captured_queries))
    return timing


def _request(client: Any, url: str, cold_graph: bool) -> float:
    """Milliseconds from the request to the response's rendered content."""
    from django.core.cache import caches

    if cold_graph:
        caches["graph"].clear()
    started = time.perf_counter()
    response = client.get(url)
    ms = 1000 * (time.perf_counter() - started)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code}")
    return ms


@contextmanager
def _slow_sql(log: list[tuple[float, str]]) -> Iterator[None]:
    """Each statement's duration and SQL, without DEBUG's query log."""
    from django.db import connection

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            log.append((1000 * (time.perf_counter() - started), sql))

    with connection.execute_wrapper(timed):
        yield


def profile_page(page: Page, client: Any, count: int = 25) -> str:
    """cProfile of one more request per URL, and its ten slowest statements."""
    profiler = cProfile.Profile()
    statements: list[tuple[float, str]] = []
    with _slow_sql(statements):
        profiler.runcall(lambda: [_request(client, url, page.cold_graph) for url in page.urls])
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(count)
    stats.sort_stats("cumulative").print_stats(count * 2)
    total = sum(ms for ms, _ in statements)
    out.write(f"SQL: {len(statements)} statements, {total:.1f} ms; the slowest:\n")
    for ms, sql in sorted(statements, reverse=True)[:10]:
        out.write(f"  {ms:8.1f} ms  {sql[:400]}\n")
    return out.getvalue()


# --- report -----------------------------------------------------------------------------------


def _verdict(timing: PageTiming) -> str:
    return "met" if timing.ms and percentile(timing.ms, 0.95) < TARGET_MS else "MISSED"


def _queries(timing: PageTiming) -> str:
    low, high = min(timing.queries, default=0), max(timing.queries, default=0)
    return str(low) if low == high else f"{low}–{high}"


def table_rows(timings: list[PageTiming]) -> list[list[str]]:
    return [
        [
            t.page,
            str(len(t.ms)),
            f"{percentile(t.ms, 0.5):.1f}",
            f"{percentile(t.ms, 0.95):.1f}",
            f"{max(t.first_ms):.0f}",
            _queries(t),
            f"< {TARGET_MS:.0f}",
            _verdict(t),
        ]
        for t in timings
        if t.ms
    ]


def url_rows(timings: list[PageTiming], requests: int) -> list[list[str]]:
    rows = []
    for t in timings:
        for i, url in enumerate(t.urls):
            ms = t.ms[i * requests : (i + 1) * requests]
            if ms:
                p50, p95 = percentile(ms, 0.5), percentile(ms, 0.95)
                rows.append([t.page, url, f"{p50:.1f}", f"{p95:.1f}", str(t.queries[i])])
    return rows


def report(result: Result, *, by_url: bool = False) -> str:
    lines = [
        f"Meshport portal pages — scale {result.scale}{', gc.freeze()' if result.frozen else ''}, "
        f"{os.cpu_count()} cores, Python "
        f"{platform.python_version()}, in process (Django test Client, production settings); "
        f"server time in ms, {result.requests} timed requests per URL after one to warm",
        "",
        "| page | n | p50 ms | p95 ms | first ms | queries/request | target p95 | |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(result.timings)]
    lines.append("")
    if by_url:
        lines += ["| page | URL | p50 ms | p95 ms | queries |", "|---|---|---:|---:|---:|"]
        lines += ["| " + " | ".join(r) + " |" for r in url_rows(result.timings, result.requests)]
        lines.append("")
    else:
        lines += [f"- {t.page}: {', '.join(t.urls)}" for t in result.timings]
    for label, data in (("store", result.store), ("governance extras", result.extras)):
        if data:
            counts = ", ".join(f"{n:,} {k}" for k, n in data.get("counts", {}).items())
            how = "reused" if data.get("reused") else f"written in {data.get('seconds', 0)} s"
            lines.append(f"- {label} {how}: {counts}")
    if result.extras.get("indexed"):
        lines.append(f"- search index: {result.extras['indexed']:,} documents")
    return "\n".join(lines)


def profiles(result: Result) -> str:
    return "\n".join(f"## {t.page}\n{t.profile}" for t in result.timings if t.profile)


# --- command line -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(GOVERNANCE), default="100k")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per URL")
    parser.add_argument(
        "--pages", default="", help="only these pages (';'-separated names, or the start of names)"
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep (and reuse) the store")
    parser.add_argument("--work-dir", default=None, help="where a temporary store goes")
    parser.add_argument("--by-url", action="store_true", help="also a row per URL")
    parser.add_argument(
        "--no-gc-freeze",
        dest="gc_freeze",
        action="store_false",
        help="leave the collector as it is (meshport/wsgi.py calls gc.freeze() at start-up)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile of pages that miss")
    parser.add_argument("--json", type=Path, default=None, help="also write the results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    prefix = f"meshport-portal-{args.scale}-"
    with store_dir(args.keep, prefix=prefix, work_dir=args.work_dir) as path:
        result = _run(args, path)
    print(report(result, by_url=args.by_url))
    if args.profile and (text := profiles(result)):
        print("\n" + text)
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=1))


def _run(args: argparse.Namespace, path: Path) -> Result:
    environment(path)
    import django

    django.setup()

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    result, pages = _prepare(args, path, say)
    gc.collect()  # the plan is gone: a web process does not hold it while serving
    if args.gc_freeze:
        gc.freeze()  # as meshport/wsgi.py does: what is loaded is never scanned again
    if args.pages:
        wanted = [name.strip().lower() for name in args.pages.split(";") if name.strip()]
        pages = [page for page in pages if page.name.lower().startswith(tuple(wanted))]
    say("measuring")
    with whoosh_on_disk(path / "search"):
        result.timings = measure(
            pages,
            requests=args.requests,
            user=result.extras["user"],
            profile=args.profile,
            progress=say,
        )
    result.requests = args.requests
    result.frozen = args.gc_freeze
    return result


def _prepare(
    args: argparse.Namespace, path: Path, say: Callable[[str], None]
) -> tuple[Result, list[Page]]:
    assets = build_assets(SCALES[args.scale], args.seed)
    say(f"{args.scale}: store in {path}")
    return prepare_portal(path, assets, args.seed), plan_pages(assets, args.seed)


if __name__ == "__main__":
    main()
