"""How each kind of SLO reads lineage: a timeline of states from the signals stored.

A kind is a function ``(slo, dataset, start, end) -> list[Change]`` over one watched
dataset: the state at ``start`` first (its ``at`` may be earlier: when that state began),
then every change up to ``end``. States change exactly when the signals say so — a
freshness breach begins at the last successful write plus the threshold, not when a sweep
notices — so the timeline does not depend on when, or how often, it is computed. Every
signal is a row keyed by its run (runs are unique, assertions and statistics unique per
run), so duplicate events cannot count twice, and a late event changes the past when the
timeline is computed again from its time.

:func:`combine` merges the timelines of several datasets (a product with three output
tables): breached when any is, unknown when any is and none is breached, met when all are.
"""

from __future__ import annotations

import bisect
import heapq
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q

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
    if slo.namespace:
        keys = {(slo.namespace, slo.dataset_name)}
    elif slo.product_id:
        bindings = PortBinding.objects.filter(
            port__product_id=slo.product_id, port__direction="output"
        )
        if slo.element:
            bindings = bindings.filter(object_name__iexact=slo.element.split(".")[0])
        keys = set(bindings.values_list("namespace", "name"))
    else:
        keys = set()
    return datasets_by_key(keys)


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
    watched = watched_datasets(slo)
    if not watched:
        reason = {"reason": "no output dataset bound to this SLO"}
        return Timeline([Change(start, UNKNOWN, reason)])
    kind = KINDS[SloKind(slo.kind)]
    parts, dues = [], []
    for ds in watched:
        ahead = kind(slo, ds, start, end + HORIZON)
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
    up to ``end``; consecutive changes to the same state are one."""
    ordered = sorted(changes, key=lambda c: c.at)
    before = [c for c in ordered if c.at <= start]
    out = [before[-1] if before else Change(start, UNKNOWN, {"reason": "no signal yet"})]
    for change in ordered:
        if not start < change.at <= end:
            continue
        if change.state != out[-1].state:
            out.append(change)
        else:  # the stretch keeps the evidence that began it, and shows the latest too
            began = {k: v for k, v in out[-1].evidence.items() if k != "latest"}
            out[-1] = Change(out[-1].at, out[-1].state, {**began, "latest": change.evidence})
    return out


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


def _run_evidence(run_uuid: Any, at: datetime | None, job: str = "") -> dict[str, Any]:
    evidence: dict[str, Any] = {"run": str(run_uuid)}
    if at is not None:
        evidence["at"] = at.isoformat()
    if job:
        evidence["job"] = job
    return evidence


def freshness(slo: Slo, ds: Watched, start: datetime, end: datetime) -> list[Change]:
    """Met for ``threshold`` after each successful run that wrote the dataset."""
    limit = timedelta(seconds=slo.threshold_seconds or 0)
    writes = RunDataset.objects.filter(
        dataset_id=ds.pk, direction=Direction.OUTPUT, run__state=RunState.COMPLETED
    ).order_by()
    fields = ("run__ended_at", "run__uuid", "run__job__namespace__name", "run__job__name")
    recent = sorted(
        writes.filter(run__ended_at__gte=start - limit, run__ended_at__lte=end).values_list(*fields)
    )
    last_before = (
        writes.filter(run__ended_at__lt=start - limit).order_by("-run__ended_at")
    ).values_list(*fields)[:1]
    successes = list(last_before) + recent
    changes = [_never_written(slo, limit, successes[0][0] if successes else None)]
    for i, (at, run_uuid, job_ns, job_name) in enumerate(successes):
        evidence = _run_evidence(run_uuid, at, f"{job_ns}:{job_name}")
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


def volume(slo: Slo, ds: Watched, start: datetime, end: datetime) -> list[Change]:
    """Each row count observed holds until the next: within bounds, and within
    ``tolerance`` of the median of the counts before it."""
    observed = DatasetStatistics.objects.filter(dataset_id=ds.pk, row_count__isnull=False)
    fields = ("observed_at", "run__uuid", "row_count", "direction")
    recent = list(
        observed.filter(observed_at__gte=start, observed_at__lte=end)
        .order_by("observed_at")
        .values_list(*fields)
    )
    before = list(
        observed.filter(observed_at__lt=start)
        .order_by("-observed_at")
        .values_list(*fields)[: 2 * (MEDIAN_OF + 1)]
    )
    counts: list[tuple[datetime, Any, int]] = _one_per_run(before[::-1] + recent)
    changes = []
    for i, (at, run_uuid, rows) in enumerate(counts):
        history = [c for _, _, c in counts[max(0, i - MEDIAN_OF) : i]]
        changes.append(_volume_change(slo, at, run_uuid, rows, history))
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


def _volume_change(slo: Slo, at: datetime, run_uuid: Any, rows: int, history: list[int]) -> Change:
    evidence = {**_run_evidence(run_uuid, at), "rows": rows}
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


def quality(slo: Slo, ds: Watched, start: datetime, end: datetime) -> list[Change]:
    """Each run's assertions on the dataset hold until the next run's: the share of
    error-severity assertions passing against ``target``."""
    checked = DataQualityAssertion.objects.filter(dataset_id=ds.pk).exclude(severity__iexact="warn")
    previous = list(
        checked.filter(observed_at__lt=start)
        .order_by("-observed_at")
        .values_list("run_id", flat=True)[:1]
    )
    rows = checked.filter(observed_at__lte=end).filter(
        Q(observed_at__gte=start) | Q(run_id__in=previous)
    )
    runs: dict[Any, dict[str, Any]] = {}
    fields = ("run__uuid", "observed_at", "assertion", "column", "success")
    for run_uuid, at, assertion, column, success in rows.order_by().values_list(*fields):
        run = runs.setdefault(run_uuid, {"at": at, "results": {}})
        run["at"] = max(run["at"], at)
        run["results"][(assertion, column)] = success
    return [_quality_change(slo, uuid, run) for uuid, run in runs.items()]


def _quality_change(slo: Slo, run_uuid: Any, run: dict[str, Any]) -> Change:
    results: dict[tuple[str, str], bool] = run["results"]
    passed = sum(results.values())
    share = passed / len(results)
    failing = [{"assertion": a, "column": c} for (a, c), ok in sorted(results.items()) if not ok]
    evidence = {
        **_run_evidence(run_uuid, run["at"]),
        "passed": passed,
        "total": len(results),
        "failing": failing[:FAILING_SHOWN],
    }
    return Change(run["at"], MET if share >= (slo.target or 1.0) else BREACHED, evidence)


def pipeline_success(slo: Slo, ds: Watched, start: datetime, end: datetime) -> list[Change]:
    """At every instant, the share of the producing jobs' runs that ended in the last
    ``window`` and completed, against ``target``; unknown when none ended."""
    window = timedelta(seconds=slo.window_seconds)
    jobs = list(
        JobDataset.objects.filter(dataset_id=ds.pk, direction=Direction.OUTPUT).values_list(
            "job_id", flat=True
        )
    )
    # By job and time only: a filter on state would lead SQLite to the state index and a
    # scan of every finished run.
    ended = (
        Run.objects.filter(job_id__in=jobs, ended_at__gt=start - window, ended_at__lte=end)
        .order_by("ended_at")
        .values_list("ended_at", "state", "uuid")
    )
    runs: list[tuple[datetime, str, Any]] = [r for r in ended if r[1] in TERMINAL_STATES]  # type: ignore[misc]
    ends = [at for at, _, _ in runs]
    instants = sorted({start} | {at for at in ends if at > start} | _leaving(ends, window, end))
    return [_success_at(slo, runs, ends, at, window) for at in instants]


def _leaving(ends: list[datetime], window: timedelta, end: datetime) -> set[datetime]:
    return {at + window for at in ends if at + window <= end}


def _success_at(
    slo: Slo,
    runs: list[tuple[datetime, str, Any]],
    ends: list[datetime],
    at: datetime,
    window: timedelta,
) -> Change:
    inside = runs[bisect.bisect_right(ends, at - window) : bisect.bisect_right(ends, at)]
    if not inside:
        return Change(at, UNKNOWN, {"reason": "no run of the producing jobs ended in the window"})
    completed = sum(1 for _, state, _ in inside if state == RunState.COMPLETED)
    evidence: dict[str, Any] = {"runs": len(inside), "completed": completed}
    failed = [(t, u) for t, state, u in inside if state != RunState.COMPLETED]
    if failed:
        evidence["last_failed"] = _run_evidence(failed[-1][1], failed[-1][0])
    met = completed / len(inside) >= (slo.target or 1.0)
    return Change(at, MET if met else BREACHED, evidence)


def schema_stability(slo: Slo, ds: Watched, start: datetime, end: datetime) -> list[Change]:
    """Breached from a breaking schema change (a field removed or retyped) until the
    product publishes a higher major version; a change announced by a major version
    published since the previous schema is no breach. A revision accepted with breaking
    findings but the same major version is a breach too."""
    if slo.product_id is None:
        return [Change(start, UNKNOWN, {"reason": "only a product's versions tell a major change"})]
    versions = list(
        DatasetVersion.objects.filter(dataset_id=ds.pk, created_at__lte=end)
        .order_by("created_at")
        .values_list("created_at", "version", "fields")
    )
    revisions = list(
        ProductRevision.objects.filter(product_id=slo.product_id, created_at__lte=end)
        .order_by("created_at")
        .values_list("created_at", "number", "version", "report", "breaking_accepted")
    )
    return _stability_walk(versions, revisions)


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


KINDS: dict[SloKind, Callable[[Slo, Watched, datetime, datetime], list[Change]]] = {
    SloKind.FRESHNESS: freshness,
    SloKind.VOLUME: volume,
    SloKind.QUALITY: quality,
    SloKind.PIPELINE_SUCCESS: pipeline_success,
    SloKind.SCHEMA_STABILITY: schema_stability,
}
