"""How each kind of SLO reads lineage: a timeline of states from the signals stored.

A kind has two halves. ``load`` fetches the signals of many watched datasets at once (a
few queries for a whole batch of SLOs: the rows since the batch's earliest start, and
for each dataset what came just before); ``walk`` turns one dataset's signals into
changes for one SLO: the state at ``start`` first (its ``at`` may be earlier: when that
state began), then every change up to ``end``. Signals older than an SLO's own start only
add changes before it, which :func:`clip` drops, so one batch serves SLOs whose starts
differ. States change exactly when the signals say so — a freshness breach begins at the
last successful write plus the threshold, not when a sweep notices — so the timeline does
not depend on when, or how often, it is computed. Every signal is a row keyed by its run
(runs are unique, assertions and statistics unique per run), so duplicate events cannot
count twice, and a late event changes the past when the timeline is computed again from
its time.

:func:`combine` merges the timelines of several datasets (a product with three output
tables): breached when any is, unknown when any is and none is breached, met when all are.
"""

from __future__ import annotations

import bisect
import heapq
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Subquery
from django.db.models.expressions import OuterRef

from catalog.models import Dataset, PortBinding, ProductRevision
from governance.models import Slo, SloKind, SloState
from lineage.models import (
    TERMINAL_STATES,
    DataQualityAssertion,
    DatasetStatistics,
    DatasetVersion,
    Direction,
    JobDataset,
    Run,
    RunDataset,
    RunState,
)

MET, BREACHED, UNKNOWN = SloState.MET.value, SloState.BREACHED.value, SloState.UNKNOWN.value
MEDIAN_OF = 10  # volume tolerance: observations the median is taken over
FAILING_SHOWN = 5  # failing assertions kept as evidence
ORED = 100  # per-dataset conditions OR-ed in one query


@dataclass(frozen=True)
class Change:
    at: datetime
    state: str
    evidence: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, order=True)
class Watched:
    """A dataset an SLO watches."""

    pk: int
    namespace: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.namespace}:{self.name}"


def watched_datasets(slo: Slo) -> list[Watched]:
    """The datasets ``slo`` is about: the one it names, or its product's bound outputs."""
    return watched_by_slo([slo])[slo.pk]


def watched_by_slo(slos: Sequence[Slo]) -> dict[int, list[Watched]]:
    """:func:`watched_datasets` of many SLOs in two queries."""
    keys: dict[int, set[tuple[str, str]]] = {slo.pk: set() for slo in slos}
    bound = [slo for slo in slos if not slo.namespace and slo.product_id]
    outputs: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    if bound:
        bindings = PortBinding.objects.filter(
            port__product_id__in={slo.product_id for slo in bound}, port__direction="output"
        ).values_list("port__product_id", "object_name", "namespace", "name")
        for product_id, object_name, namespace, name in bindings:
            outputs[product_id].append((object_name.lower(), namespace, name))
    for slo in slos:
        if slo.namespace:
            keys[slo.pk].add((slo.namespace, slo.dataset_name))
        elif slo.product_id:
            element = slo.element.split(".")[0].lower()
            keys[slo.pk].update(
                (namespace, name)
                for object_name, namespace, name in outputs[slo.product_id]
                if not element or object_name == element
            )
    found = datasets_by_key(set().union(*keys.values()))
    by_key = {(ds.namespace, ds.name): ds for ds in found}
    return {pk: sorted(by_key[k] for k in wanted if k in by_key) for pk, wanted in keys.items()}


def datasets_by_key(keys: set[tuple[str, str]]) -> list[Watched]:
    if not keys:
        return []
    rows = Dataset.objects.filter(name__in={name for _, name in keys}).values_list(
        "pk", "namespace__name", "name"
    )
    return sorted(Watched(pk, ns, name) for pk, ns, name in rows if (ns, name) in keys)


HORIZON = timedelta(days=60)  # how far ahead a change that time alone brings is looked for


@dataclass
class Timeline:
    """The changes from ``start`` to ``end``, and ``due``: when time alone will change the
    state next if no signal arrives (a freshness deadline, a failed run leaving the
    window), or ``None`` when only a new signal can."""

    changes: list[Change]
    due: datetime | None = None


def timeline(slo: Slo, start: datetime, end: datetime) -> Timeline:
    """The SLO's state at ``start`` and its changes until ``end``, over every dataset."""
    return timelines([(slo, start)], end)[slo.pk]


def timelines(starts: Sequence[tuple[Slo, datetime]], end: datetime) -> dict[int, Timeline]:
    """:func:`timeline` of many SLOs, each from its own start: the signals of SLOs of one
    kind whose starts fall in the same hour are loaded together."""
    watched = watched_by_slo([slo for slo, _ in starts])
    groups: dict[tuple[str, datetime], list[tuple[Slo, datetime]]] = defaultdict(list)
    for slo, start in starts:
        hour = start.replace(minute=0, second=0, microsecond=0)
        groups[(slo.kind, hour)].append((slo, start))
    out: dict[int, Timeline] = {}
    for (kind_name, _), group in groups.items():
        kind = KINDS[SloKind(kind_name)]
        datasets = {ds.pk for slo, _ in group for ds in watched[slo.pk]}
        since = min(start - kind.lead(slo) for slo, start in group)
        slos = [slo for slo, _ in group]
        signals = kind.load(slos, datasets, since, end + HORIZON) if datasets else {}
        for slo, start in group:
            out[slo.pk] = _timeline(slo, kind, watched[slo.pk], signals, start, end)
    runs = _runs_named([c.evidence for timeline in out.values() for c in timeline.changes])
    for timeline in out.values():
        timeline.changes = [
            Change(c.at, c.state, jsonable(c.evidence, runs)) for c in timeline.changes
        ]
    return out


def _timeline(
    slo: Slo,
    kind: Kind,
    watched: list[Watched],
    signals: Mapping[Any, Any],
    start: datetime,
    end: datetime,
) -> Timeline:
    if not watched:
        reason = {"reason": "no output dataset bound to this SLO"}
        return Timeline([Change(start, UNKNOWN, reason)])
    parts, dues = [], []
    for ds in watched:
        ahead = kind.walk(slo, signals, ds.pk, start, end + HORIZON)
        parts.append(_labelled(clip(ahead, start, end), ds))
        dues.extend(_next_change(ahead, parts[-1][-1].state, end))
    return Timeline(combine(parts), min(dues, default=None))


def _next_change(changes: Sequence[Change], state: str, end: datetime) -> list[datetime]:
    later = [c.at for c in changes if c.at > end and c.state != state]
    return [min(later)] if later else []


def _labelled(changes: list[Change], ds: Watched) -> list[Change]:
    return [Change(c.at, c.state, {"dataset": ds.label, **c.evidence}) for c in changes]


def clip(changes: Sequence[Change], start: datetime, end: datetime) -> list[Change]:
    """The state at ``start`` (the last change at or before it) and the changes after it,
    up to ``end``; consecutive changes to the same state are one, which keeps the evidence
    that began it and shows the latest too."""
    ordered = sorted(changes, key=lambda c: c.at)
    first = bisect.bisect_right(ordered, start, key=lambda c: c.at)
    out = [ordered[first - 1] if first else Change(start, UNKNOWN, {"reason": "no signal yet"})]
    latest: list[Change | None] = [None]
    for change in ordered[first:]:
        if change.at > end:
            break
        if change.state != out[-1].state:
            out.append(change)
            latest.append(None)
        else:
            latest[-1] = change
    return [
        began if last is None else Change(began.at, began.state, _with_latest(began, last))
        for began, last in zip(out, latest, strict=True)
    ]


def _with_latest(began: Change, last: Change) -> dict[str, Any]:
    kept = {k: v for k, v in began.evidence.items() if k != "latest"}
    return {**kept, "latest": last.evidence}


def _refs(value: Any) -> Iterable[RunRef]:
    if isinstance(value, RunRef):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from _refs(inner)


def _runs_named(evidence: list[dict[str, Any]]) -> dict[int, tuple[str, str]]:
    """The id and job of every run the evidence names."""
    pks = sorted({ref for found in evidence for ref in _refs(found)})
    named = {}
    for chunk in chunks(pks, 2000):
        rows = Run.objects.filter(pk__in=chunk).values_list(
            "pk", "uuid", "job__namespace__name", "job__name"
        )
        named.update({pk: (str(run_uuid), f"{ns}:{job}") for pk, run_uuid, ns, job in rows})
    return named


def jsonable(value: Any, runs: Mapping[int, tuple[str, str]]) -> Any:
    """Evidence as stored. Kinds keep times and runs as they come; only what is kept is
    turned into JSON values, a run into its id with its job beside it."""
    if isinstance(value, dict):
        out = {k: jsonable(v, runs) for k, v in value.items()}
        if isinstance(run := value.get("run"), RunRef) and run in runs:
            out.setdefault("job", runs[run][1])
        return out
    if isinstance(value, RunRef):
        return runs[value][0] if value in runs else None
    if isinstance(value, list | tuple):
        return [jsonable(v, runs) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


_WORST = {BREACHED: 2, UNKNOWN: 1, MET: 0}


def combine(timelines: Sequence[list[Change]]) -> list[Change]:
    """One timeline from several: at each instant the worst state of all of them."""
    if len(timelines) == 1:
        return timelines[0]
    current: list[Change] = [t[0] for t in timelines]
    merged = [max(current, key=lambda c: _WORST[c.state])]
    steps = heapq.merge(
        *[[(c.at, i, c) for c in t[1:]] for i, t in enumerate(timelines)], key=lambda s: s[0]
    )
    for _, i, change in steps:
        current[i] = change
        worst = max(current, key=lambda c: _WORST[c.state])
        if worst.state != merged[-1].state:
            merged.append(Change(change.at, worst.state, worst.evidence))
    return merged


# --- the kinds ------------------------------------------------------------------------

Signals = Mapping[Any, Any]  # what a kind's load found, by dataset pk (and more keys)


def _no_lead(slo: Slo) -> timedelta:
    return timedelta(0)


@dataclass(frozen=True)
class Kind:
    """``load(slos, dataset pks, since, until)`` fetches signals for a batch; ``walk(slo,
    signals, dataset pk, start, end)`` makes one SLO's changes on one dataset; ``lead``:
    how long before its start the walk needs signals (a run that ended before the start
    still counts in a success window)."""

    load: Callable[[Sequence[Slo], set[int], datetime, datetime], Signals]
    walk: Callable[[Slo, Signals, int, datetime, datetime], list[Change]]
    lead: Callable[[Slo], timedelta] = _no_lead


class RunRef(int):
    """A run named in evidence by its pk; :func:`timelines` tells its id and job once it
    knows which evidence is kept."""


def _run_evidence(run: RunRef, at: datetime | None) -> dict[str, Any]:
    evidence: dict[str, Any] = {"run": run}
    if at is not None:
        evidence["at"] = at
    return evidence


def _latest_before(datasets: set[int], found: QuerySet[Any]) -> dict[int, Any]:
    """Per dataset, the one value that ``found`` (a query on ``OuterRef("pk")`` returning
    one column, one row) gives; datasets without one are left out."""
    rows = (
        Dataset.objects.filter(pk__in=datasets)
        .annotate(found=Subquery(found))
        .values_list("pk", "found")
    )
    return {pk: value for pk, value in rows if value is not None}


def _by_dataset(
    rows: Iterable[Sequence[Any]], key: Callable[[Any], Any] | None = None
) -> dict[int, list[tuple[Any, ...]]]:
    """Rows whose first column is a dataset pk, as sorted lists by dataset (the first
    column dropped); ``key`` sorts them, by default on their time (the next column)."""
    grouped: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for dataset_id, *rest in rows:
        grouped[dataset_id].append(tuple(rest))
    for found in grouped.values():
        found.sort(key=key or (lambda row: row[0]))
    return grouped


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    """``items`` in consecutive slices of at most ``size``."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


# freshness


_WRITE_FIELDS = ("dataset_id", "run__ended_at", "run_id")


def load_writes(
    slos: Sequence[Slo], datasets: set[int], since: datetime, until: datetime
) -> Signals:
    """Successful runs that wrote each dataset from ``since``, and the last one before."""
    writes = RunDataset.objects.filter(
        direction=Direction.OUTPUT, run__state=RunState.COMPLETED
    ).order_by()
    last = _latest_before(
        datasets,
        writes.filter(dataset_id=OuterRef("pk"), run__ended_at__lt=since)
        .order_by("-run__ended_at")
        .values("pk")[:1],
    )
    rows = list(RunDataset.objects.filter(pk__in=last.values()).values_list(*_WRITE_FIELDS))
    # Runs by dataset and time, their state checked here: a filter on state would lead
    # SQLite to the state index and a scan of every finished run.
    recent = RunDataset.objects.filter(
        dataset_id__in=datasets,
        direction=Direction.OUTPUT,
        run__ended_at__gte=since,
        run__ended_at__lte=until,
    ).order_by()
    completed = RunState.COMPLETED
    rows += [
        row[:-1] for row in recent.values_list(*_WRITE_FIELDS, "run__state") if row[-1] == completed
    ]
    return _by_dataset(rows, key=lambda row: (row[0], row[1]))


def _freshness_lead(slo: Slo) -> timedelta:
    return timedelta(seconds=slo.threshold_seconds or 0)


def freshness(slo: Slo, signals: Signals, ds: int, start: datetime, end: datetime) -> list[Change]:
    """Met for ``threshold`` after each successful run that wrote the dataset."""
    limit = _freshness_lead(slo)
    loaded = signals.get(ds, [])
    # Only the last success before the SLO's own window tells the state at its start.
    successes = loaded[max(bisect.bisect_left(loaded, start - limit, key=lambda r: r[0]) - 1, 0) :]
    changes = [_never_written(slo, limit, successes[0][0] if successes else None)]
    for i, (at, run_id) in enumerate(successes):
        evidence = _run_evidence(RunRef(run_id), at)
        changes.append(Change(at, MET, {"last_success": evidence}))
        due = at + limit
        following = successes[i + 1][0] if i + 1 < len(successes) else None
        if (following is None or following > due) and due <= end:
            changes.append(Change(due, BREACHED, {"last_success": evidence}))
    return sorted(changes, key=lambda c: c.at)


def _never_written(slo: Slo, limit: timedelta, first: datetime | None) -> Change:
    """Before any successful write: unknown, and breached once the SLO has waited its
    threshold since it was declared."""
    due = slo.created_at + limit
    if first is None or first > due:
        return Change(due, BREACHED, {"reason": "no successful write since the SLO was declared"})
    return Change(datetime.min.replace(tzinfo=due.tzinfo), UNKNOWN, {})


# volume

_STATISTICS_FIELDS = ("dataset_id", "observed_at", "run_id", "row_count", "direction")
_COUNTS_BEFORE = 2 * (MEDIAN_OF + 1)  # a run's count may be measured on both sides


def load_counts(
    slos: Sequence[Slo], datasets: set[int], since: datetime, until: datetime
) -> Signals:
    """Row counts observed on each dataset from ``since``, and enough before it for the
    medians: one count per run (:func:`_one_per_run`)."""
    observed = DatasetStatistics.objects.filter(row_count__isnull=False).order_by()
    # Where the last counts before ``since`` begin, per dataset; none: fewer than that.
    begins = _latest_before(
        datasets,
        observed.filter(dataset_id=OuterRef("pk"), observed_at__lt=since)
        .order_by("-observed_at")
        .values("observed_at")[_COUNTS_BEFORE - 1 : _COUNTS_BEFORE],
    )
    rows = list(
        observed.filter(
            dataset_id__in=datasets, observed_at__gte=since, observed_at__lte=until
        ).values_list(*_STATISTICS_FIELDS)
    )
    rows += observed.filter(
        dataset_id__in=datasets - begins.keys(), observed_at__lt=since
    ).values_list(*_STATISTICS_FIELDS)
    for chunk in chunks(sorted(begins.items()), ORED):
        before = Q()
        for pk, begin in chunk:
            before |= Q(dataset_id=pk, observed_at__gte=begin)
        rows += observed.filter(before, observed_at__lt=since).values_list(*_STATISTICS_FIELDS)
    return {pk: _one_per_run(found) for pk, found in _by_dataset(rows).items()}


def volume(slo: Slo, signals: Signals, ds: int, start: datetime, end: datetime) -> list[Change]:
    """Each row count observed holds until the next: within bounds, and within
    ``tolerance`` of the median of the counts before it."""
    counts: list[tuple[datetime, Any, int]] = signals.get(ds, [])
    changes = []
    for i, (at, run_id, rows) in enumerate(counts):
        history = [c for _, _, c in counts[max(0, i - MEDIAN_OF) : i]]
        changes.append(_volume_change(slo, at, RunRef(run_id), rows, history))
    return changes


def _one_per_run(
    rows: Iterable[tuple[datetime, Any, int, str]],
) -> list[tuple[datetime, Any, int]]:
    """A run's output statistics win over what its readers measured (input side)."""
    chosen: dict[Any, tuple[datetime, Any, int, str]] = {}
    for row in rows:
        kept = chosen.get(row[1])
        if kept is None or (kept[3] != Direction.OUTPUT and row[3] == Direction.OUTPUT):
            chosen[row[1]] = row
    return sorted((at, run, count) for at, run, count, _ in chosen.values())


def _volume_change(slo: Slo, at: datetime, run: RunRef, rows: int, history: list[int]) -> Change:
    evidence = {**_run_evidence(run, at), "rows": rows}
    problems = []
    if slo.min_rows is not None and rows < slo.min_rows:
        problems.append(f"{rows:,} rows is below {slo.min_rows:,}")
    if slo.max_rows is not None and rows > slo.max_rows:
        problems.append(f"{rows:,} rows is above {slo.max_rows:,}")
    if slo.tolerance is not None and history:
        median = statistics.median(history)
        evidence["median"] = median
        if abs(rows - median) > slo.tolerance * median:
            problems.append(f"{rows:,} rows is not within {slo.tolerance:.0%} of {median:,.0f}")
    if problems:
        evidence["problems"] = problems
    return Change(at, BREACHED if problems else MET, evidence)


# quality


def load_assertions(
    slos: Sequence[Slo], datasets: set[int], since: datetime, until: datetime
) -> Signals:
    """Error-severity assertion results on each dataset, counted by run, from ``since``,
    and those of the last run checked before it; failing ones named."""
    checked = DataQualityAssertion.objects.exclude(severity__iexact="warn").order_by()
    previous = _latest_before(
        datasets,
        checked.filter(dataset_id=OuterRef("pk"), observed_at__lt=since)
        .order_by("-observed_at")
        .values("run_id")[:1],
    )
    on = checked.filter(dataset_id__in=datasets)
    recent = on.filter(observed_at__gte=since, observed_at__lte=until)
    before = on.filter(observed_at__lt=since, run_id__in=set(previous.values()))

    def wanted(pk: int, run_id: int, at: datetime) -> bool:
        return at >= since or previous.get(pk) == run_id

    runs: dict[int, dict[Any, dict[str, Any]]] = defaultdict(dict)
    for rows in (recent, before):
        counted = rows.values_list("dataset_id", "run_id").annotate(
            at=Max("observed_at"), total=Count("pk"), passed=Count("pk", filter=Q(success=True))
        )
        for pk, run_id, at, total, passed in counted:
            if not wanted(pk, run_id, at):
                continue  # an earlier run of a dataset whose previous run is another one
            run = runs[pk].setdefault(run_id, {"at": at, "total": 0, "passed": 0, "failing": []})
            run["at"] = max(run["at"], at)
            run["total"] += total
            run["passed"] += passed
    failing = (recent | before).filter(success=False)
    fields = ("dataset_id", "run_id", "observed_at", "assertion", "column")
    for pk, run_id, at, assertion, column in failing.values_list(*fields):
        if wanted(pk, run_id, at) and run_id in runs[pk]:
            runs[pk][run_id]["failing"].append({"assertion": assertion, "column": column})
    return runs


def quality(slo: Slo, signals: Signals, ds: int, start: datetime, end: datetime) -> list[Change]:
    """Each run's assertions on the dataset hold until the next run's: the share of
    error-severity assertions passing against ``target``."""
    return [_quality_change(slo, RunRef(pk), run) for pk, run in signals.get(ds, {}).items()]


def _quality_change(slo: Slo, run_ref: RunRef, run: dict[str, Any]) -> Change:
    failing = sorted(run["failing"], key=lambda f: (f["assertion"], f["column"]))
    evidence = {
        **_run_evidence(run_ref, run["at"]),
        "passed": run["passed"],
        "total": run["total"],
        "failing": failing[:FAILING_SHOWN],
    }
    met = run["passed"] / run["total"] >= (slo.target or 1.0)
    return Change(run["at"], MET if met else BREACHED, evidence)


# pipeline success


def load_runs(slos: Sequence[Slo], datasets: set[int], since: datetime, until: datetime) -> Signals:
    """The finished runs of the jobs that write each dataset, ended after ``since``."""
    writers: dict[int, list[int]] = defaultdict(list)
    for pk, job_id in JobDataset.objects.filter(
        dataset_id__in=datasets, direction=Direction.OUTPUT
    ).values_list("dataset_id", "job_id"):
        writers[pk].append(job_id)
    # By job and time only: a filter on state would lead SQLite to the state index and a
    # scan of every finished run.
    ended = Run.objects.filter(
        job_id__in={job for jobs in writers.values() for job in jobs},
        ended_at__gt=since,
        ended_at__lte=until,
    ).order_by()
    by_job: dict[int, list[tuple[datetime, str, RunRef]]] = defaultdict(list)
    for job_id, at, state, run_id in ended.values_list("job_id", "ended_at", "state", "pk"):
        if state in TERMINAL_STATES and at is not None:
            by_job[job_id].append((at, state, RunRef(run_id)))
    return {
        pk: sorted((run for job in jobs for run in by_job[job]), key=lambda run: run[0])
        for pk, jobs in writers.items()
    }


def _success_window(slo: Slo) -> timedelta:
    return timedelta(seconds=slo.window_seconds)


def pipeline_success(
    slo: Slo, signals: Signals, ds: int, start: datetime, end: datetime
) -> list[Change]:
    """At every instant, the share of the producing jobs' runs that ended in the last
    ``window`` and completed, against ``target``; unknown when none ended."""
    window = _success_window(slo)
    runs: list[tuple[datetime, str, RunRef]] = signals.get(ds, [])
    ends = [at for at, _, _ in runs]
    leaving = {at + window for at in ends if start < at + window <= end}
    instants = sorted({start} | {at for at in ends if at > start} | leaving)
    tally = _Tally(runs)
    target = slo.target or 1.0
    changes = []
    for at in instants:
        first, last = bisect.bisect_right(ends, at - window), bisect.bisect_right(ends, at)
        changes.append(tally.change(at, first, last, target))
    return changes


class _Tally:
    """Runs in order of their end, with running counts: any window of them is told in
    constant time."""

    def __init__(self, runs: list[tuple[datetime, str, RunRef]]) -> None:
        self.runs = runs
        self.completed = [0]  # completed runs among the first i
        self.failed = []  # index of the last run up to i that did not complete, or -1
        last = -1
        for i, (_, state, _) in enumerate(runs):
            done = state == RunState.COMPLETED
            self.completed.append(self.completed[-1] + done)
            last = last if done else i
            self.failed.append(last)

    def change(self, at: datetime, first: int, last: int, target: float) -> Change:
        """The state at ``at`` from the runs ``first`` to ``last`` (excluded)."""
        if first == last:
            reason = "no run of the producing jobs ended in the window"
            return Change(at, UNKNOWN, {"reason": reason})
        completed = self.completed[last] - self.completed[first]
        evidence: dict[str, Any] = {"runs": last - first, "completed": completed}
        failed = self.failed[last - 1]
        if failed >= first:
            ended, _, run = self.runs[failed]
            evidence["last_failed"] = _run_evidence(run, ended)
        met = completed / (last - first) >= target
        return Change(at, MET if met else BREACHED, evidence)


# schema stability


def load_schemas(
    slos: Sequence[Slo], datasets: set[int], since: datetime, until: datetime
) -> Signals:
    """Every schema version of each dataset, and every revision of the SLOs' products
    (under ``("revisions", product pk)``): a break is judged against all that came before."""
    versions = DatasetVersion.objects.filter(dataset_id__in=datasets, created_at__lte=until)
    found: dict[Any, Any] = _by_dataset(
        versions.values_list("dataset_id", "created_at", "version", "fields")
    )
    revisions = ProductRevision.objects.filter(
        product_id__in={slo.product_id for slo in slos if slo.product_id}, created_at__lte=until
    ).values_list("product_id", "created_at", "number", "version", "report", "breaking_accepted")
    for product_id, rows in _by_dataset(revisions).items():
        found[("revisions", product_id)] = rows
    return found


def schema_stability(
    slo: Slo, signals: Signals, ds: int, start: datetime, end: datetime
) -> list[Change]:
    """Breached from a breaking schema change (a field removed or retyped) until the
    product publishes a higher major version; a change announced by a major version
    published since the previous schema is no breach. A revision accepted with breaking
    findings but the same major version is a breach too."""
    if slo.product_id is None:
        return [Change(start, UNKNOWN, {"reason": "only a product's versions tell a major change"})]
    return _stability_walk(signals.get(ds, []), signals.get(("revisions", slo.product_id), []))


def major(version: str) -> int | None:
    head = version.strip().lstrip("vV").split(".")[0]
    return int(head) if head.isdigit() else None


def _stability_walk(versions: list[Any], revisions: list[Any]) -> list[Change]:
    steps = sorted(
        [(at, 0, ("schema", row)) for at, *row in versions]
        + [(at, 1, ("revision", row)) for at, *row in revisions],
        key=lambda s: (s[0], s[1]),
    )
    changes: list[Change] = []
    current_major: int | None = None
    major_at_schema: int | None = None
    fields: list[dict[str, Any]] | None = None
    broken_under: int | None = None  # the major version a breach happened under
    for at, _, (what, row) in steps:
        if what == "revision":
            number, version, report, accepted = row
            new_major = major(version)
            bumped = new_major is not None and (current_major is None or new_major > current_major)
            if broken_under is not None and bumped:
                # The bump answers the break; it does not announce a later one too.
                broken_under, major_at_schema = None, new_major
                changes.append(Change(at, MET, {"revision": number, "version": version}))
            elif accepted and not bumped and _breaking(report):
                broken_under = current_major
                changes.append(Change(at, BREACHED, _revision_evidence(number, version, report)))
            current_major = new_major if new_major is not None else current_major
            continue
        version_uuid, new_fields = row
        if fields is None:
            changes.append(Change(at, MET, {"version": str(version_uuid)}))
        else:
            removed, retyped = schema_breaks(fields, new_fields)
            announced = current_major is not None and current_major != major_at_schema
            if (removed or retyped) and not announced:
                broken_under = current_major
                evidence = {"version": str(version_uuid), "removed": removed, "retyped": retyped}
                changes.append(Change(at, BREACHED, evidence))
        fields, major_at_schema = new_fields, current_major
    return changes


def _breaking(report: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in report or () if f.get("severity") == "breaking"]


def _revision_evidence(number: int, version: str, report: list[dict[str, Any]]) -> dict[str, Any]:
    findings = [f.get("message", f.get("rule", "")) for f in _breaking(report)]
    return {"revision": number, "version": version, "findings": findings[:FAILING_SHOWN]}


def schema_breaks(
    old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> tuple[list[str], list[str]]:
    """Fields of ``old`` that ``new`` lacks, and those whose type changed."""
    types = {f["name"]: (f.get("type") or "").lower() for f in new}
    removed = [f["name"] for f in old if f["name"] not in types]
    retyped = [
        f["name"]
        for f in old
        if f["name"] in types and (f.get("type") or "").lower() not in ("", types[f["name"]])
    ]
    return removed, retyped


KINDS: dict[SloKind, Kind] = {
    SloKind.FRESHNESS: Kind(load_writes, freshness, _freshness_lead),
    SloKind.VOLUME: Kind(load_counts, volume),
    SloKind.QUALITY: Kind(load_assertions, quality),
    SloKind.PIPELINE_SUCCESS: Kind(load_runs, pipeline_success, _success_window),
    SloKind.SCHEMA_STABILITY: Kind(load_schemas, schema_stability),
}
