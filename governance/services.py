"""SLO evaluation: keeping each SLO's timeline, status and figures in step with lineage.

Three things call :func:`slo_evaluate`: the worker after an ingest transaction touched a
watched dataset (:func:`slo_changes_drain`, fed by ``lineage.ChangeOutbox``), the periodic
sweep (:func:`slos_sweep`) because a freshness breach happens when nothing arrives, and
the services that create or change an SLO. Evaluation recomputes the timeline from a
point in time (the earliest event of the change, or when it was last evaluated) up to
``now`` and rewrites the stored segments from there, so running it twice, or for a
duplicate event, gives the same result.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from catalog.audit import audit_record, audit_value
from catalog.models import DataProduct, Dataset
from catalog.polling import PollingThread
from governance import slo as kinds
from governance.models import DAY, Slo, SloKind, SloSegment, SloState
from lineage.models import ChangeOutbox, Direction, JobDataset
from meshport.prepared import insert_rows, update_rows

log = logging.getLogger(__name__)

WINDOW = timedelta(days=28)  # attainment and error budget
SHORT = timedelta(days=7)
BURN_WINDOWS = {"1d": timedelta(days=1), "7d": timedelta(days=7)}
HISTORY = timedelta(days=35)  # how far back a late event may still rewrite the timeline
OVERSPENT = -1e9  # the budget left of an SLO that allows no breach at all, once breached


# --- one SLO ----------------------------------------------------------------------------


BATCH = 200  # SLOs evaluated together: their signals loaded in a few queries


def slo_evaluate(*, slo: Slo, now: datetime | None = None, since: datetime | None = None) -> Slo:
    """Bring ``slo`` up to ``now``; ``since``: signals from then on may have changed."""
    evaluated = slos_evaluate(pks=[slo.pk], now=now or timezone.now(), since=since)
    return evaluated[0] if evaluated else Slo.objects.get(pk=slo.pk)


class SloBusy(RuntimeError):
    """SLOs that changed under every attempt to evaluate them."""


def slos_evaluate(
    *, pks: Sequence[int], now: datetime, since: datetime | None = None, attempts: int = 3
) -> list[Slo]:
    """Bring the SLOs ``pks`` up to ``now`` together. Their timelines are computed from
    signals read outside any write transaction, then stored in one short transaction
    that locks the SLO rows; one that was evaluated or edited in between is read and
    computed again."""
    done: list[Slo] = []
    pending = list(pks)
    for _ in range(attempts):
        slos = list(Slo.objects.select_related("product").filter(pk__in=pending))
        starts = [(slo, _start(slo, now, since)) for slo in slos]
        computed = kinds.timelines(starts, now)
        stored, changed = _store(starts, computed, now)
        done += stored
        pending = [slo.pk for slo in changed]
        if not pending:
            return done
    raise SloBusy(f"SLOs {pending} kept changing while being evaluated")


def slo_save(*, slo: Slo, actor: str, via: str) -> Slo:
    """Store a new or changed SLO and evaluate it at once over its whole window."""
    before = Slo.objects.filter(pk=slo.pk).values(*_DEFINITION).first() if slo.pk else None
    slo.updated_at = timezone.now()
    slo.evaluated_at = None
    with transaction.atomic():
        slo.save()
        after = {name: getattr(slo, name) for name in _DEFINITION}
        changed = {
            name: [audit_value(before[name]) if before else None, audit_value(value)]
            for name, value in after.items()
            if before is None or before[name] != value
        }
        if changed:
            _audit_slo(slo, "created" if before is None else "changed", actor, via, changed)
    return slo_evaluate(slo=slo)


def slo_delete(*, slo: Slo, actor: str, via: str) -> None:
    """Remove an SLO with its history."""
    with transaction.atomic():
        _audit_slo(slo, "deleted", actor, via, {})
        slo.delete()


# What defines an SLO (the rest is its evaluation): what the audit log compares.
_DEFINITION = [
    "product_id", "key", "name", "kind", "source", "namespace", "dataset_name", "element",
    "threshold_seconds", "min_rows", "max_rows", "tolerance", "target", "window_seconds",
    "objective", "enabled",
]  # fmt: skip


def _audit_slo(slo: Slo, verb: str, actor: str, via: str, changes: dict[str, Any]) -> None:
    audit_record(
        actor=actor,
        via=via,
        action=f"slo.{verb}",
        target=str(slo.pk),
        label=f"{slo.name} ({slo.get_kind_display().lower()})",
        changes=changes,
    )


def _start(slo: Slo, now: datetime, since: datetime | None) -> datetime:
    """From where to recompute: a new SLO looks back over the budget window."""
    start = slo.evaluated_at or (min(slo.created_at, now) - WINDOW)
    if since is not None:
        start = min(start, since)
    return min(max(start, now - HISTORY), now)


_STATUS = ["state", "state_since", "evidence", "evaluated_at", "due_at"]
_FIGURES = ["attainment_7d", "attainment_28d", "budget_remaining", "burn_rate_1d", "burn_rate_7d"]


def _store(
    starts: list[tuple[Slo, datetime]], computed: dict[int, kinds.Timeline], now: datetime
) -> tuple[list[Slo], list[Slo]]:
    """Store the computed timelines, status and figures of the SLOs that did not change
    since they were read; returns those stored and those that changed."""
    if not starts:
        return [], []
    with transaction.atomic():
        current = {
            row.pk: row
            for row in Slo.objects.select_for_update(of=("self",))
            .filter(pk__in=[slo.pk for slo, _ in starts])
            .only("pk", "state", "evaluated_at", "updated_at")
        }
        fresh: list[tuple[Slo, datetime]] = []
        changed: list[tuple[Slo, datetime]] = []
        for slo, start in starts:
            row = current.get(slo.pk)
            if row is None:
                continue  # deleted meanwhile
            same = (row.evaluated_at, row.updated_at) == (slo.evaluated_at, slo.updated_at)
            (fresh if same else changed).append((slo, start))
        lasts = _store_segments(fresh, computed)
        spans = _spans_of([slo.pk for slo, _ in fresh], now)
        for slo, _ in fresh:
            timeline, last = computed[slo.pk], lasts[slo.pk]
            slo.state, slo.state_since = last.state, last.start
            slo.evidence = timeline.changes[-1].evidence
            slo.evaluated_at, slo.due_at = now, timeline.due
            _apply_figures(slo, Figures(slo, now, spans.get(slo.pk, [])))
        stored = [slo for slo, _ in fresh]
        update_rows(Slo, stored, [*_STATUS, *_FIGURES])
        for slo in stored:
            if current[slo.pk].state != slo.state:
                _notify_transition(slo, current[slo.pk].state)
    return stored, [slo for slo, _ in changed]


def _store_segments(
    starts: list[tuple[Slo, datetime]], computed: dict[int, kinds.Timeline]
) -> dict[int, SloSegment]:
    """Replace each SLO's timeline from its start on with the changes computed (the first
    is the state at the start); the stretch that covers the start goes on when the state
    is the same. Returns each SLO's last stretch."""
    if not starts:
        return {}
    stored: dict[int, list[SloSegment]] = {}
    earliest = min(start for _, start in starts)
    overlapping = SloSegment.objects.overlapping(earliest).filter(
        slo_id__in=[slo.pk for slo, _ in starts]
    )
    for segment in overlapping.order_by("start"):
        stored.setdefault(segment.slo_id, []).append(segment)
    dropped: list[int] = []
    ended: list[SloSegment] = []
    created: list[SloSegment] = []
    lasts: dict[int, SloSegment] = {}
    for slo, start in starts:
        reaching = [s for s in stored.get(slo.pk, []) if s.end is None or s.end > start]
        dropped += [s.pk for s in reaching if s.start >= start]
        before = [s for s in reaching if s.start < start]
        head = before[-1] if before else None
        changes = computed[slo.pk].changes
        first, rest = changes[0], changes[1:]
        if head is not None and head.state == first.state:
            current = head
        else:
            if head is not None:
                head.end = start
                ended.append(head)
            began = first.at if head is None and first.at.year > 1 else start
            current = SloSegment(
                slo=slo, state=first.state, start=min(began, start), evidence=first.evidence
            )
        stretches = [current]
        for change in rest:
            stretches[-1].end = change.at
            stretches.append(
                SloSegment(slo=slo, state=change.state, start=change.at, evidence=change.evidence)
            )
        stretches[-1].end = None
        lasts[slo.pk] = stretches[-1]
        if stretches[0] is head:
            ended.append(head)
            stretches = stretches[1:]
        created += stretches
    SloSegment.objects.filter(pk__in=dropped).delete()
    update_rows(SloSegment, ended, ["end"])
    insert_rows(SloSegment, [_segment_row(segment) for segment in created])
    return lasts


def _segment_row(segment: SloSegment) -> dict[str, Any]:
    return {
        "slo_id": segment.slo_id,
        "state": segment.state,
        "start": segment.start,
        "end": segment.end,
        "evidence": segment.evidence,
    }


@dataclass
class Figures:
    """Seconds spent in each state over the last 28 days, and what follows from them."""

    slo: Slo
    now: datetime
    spans: list[tuple[str, datetime, datetime]]

    def seconds(self, state: str, window: timedelta) -> float:
        since = self.now - window
        return sum(
            (min(end, self.now) - max(start, since)).total_seconds()
            for s, start, end in self.spans
            if s == state and end > since
        )

    def attainment(self, window: timedelta) -> float | None:
        """Share of the known time (met or breached) that was met; ``None`` if none was."""
        met = self.seconds(SloState.MET, window)
        known = met + self.seconds(SloState.BREACHED, window)
        return met / known if known else None

    @property
    def budget_remaining(self) -> float:
        """Share of the 28-day error budget left: 1 untouched, 0 spent, below 0 overspent."""
        allowed = self.slo.budget_seconds
        if allowed <= 0:
            return 1.0 if not self.seconds(SloState.BREACHED, WINDOW) else OVERSPENT
        return 1.0 - self.seconds(SloState.BREACHED, WINDOW) / allowed

    def burn_rate(self, window: timedelta) -> float:
        """How fast the budget went over ``window``: 1 spends exactly the budget over 28
        days, 14.4 over the last day spends a 28-day budget in under two."""
        allowed_share = 1.0 - self.slo.objective
        share = self.seconds(SloState.BREACHED, window) / window.total_seconds()
        return share / allowed_share if allowed_share > 0 else (0.0 if not share else 1e9)


def slo_figures(*, slo: Slo, now: datetime) -> Figures:
    return Figures(slo, now, _spans_of([slo.pk], now).get(slo.pk, []))


def _notify_transition(slo: Slo, previous: str) -> None:
    if slo.state == SloState.BREACHED:
        event = "slo.breached"
    elif previous == SloState.BREACHED and slo.state == SloState.MET:
        event = "slo.recovered"
    else:
        return
    from governance.webhooks import webhook_notify

    webhook_notify(event=event, data=slo_payload(slo, previous), product=slo.product)


def slo_payload(slo: Slo, previous: str = "") -> dict[str, Any]:
    """An SLO as webhooks and the API describe it."""
    product = slo.product
    return {
        "slo": {"id": slo.pk, "name": slo.name, "kind": slo.kind, "promise": slo.describe()},
        "product": {"id": product.external_id, "name": product.name} if product else None,
        "dataset": f"{slo.namespace}:{slo.dataset_name}" if slo.namespace else None,
        "state": slo.state,
        "previous_state": previous or None,
        "since": slo.state_since.isoformat() if slo.state_since else None,
        "evidence": slo.evidence,
        "budget_remaining": slo.budget_remaining,
        "burn_rate_1d": slo.burn_rate_1d,
    }


# --- what ingestion touched, and the sweep -----------------------------------------------


@dataclass
class DrainReport:
    rows: int = 0
    slos: int = 0


def slo_changes_drain(*, now: datetime | None = None, limit: int = 200) -> DrainReport:
    """Re-evaluate the SLOs watching what the oldest queued ingest transactions touched,
    then drop those rows. A crash in between leaves them for the next drain, which
    evaluates again to the same result."""
    rows = list(ChangeOutbox.objects.order_by("id")[:limit])
    if not rows:
        return DrainReport()
    since = min(row.since for row in rows)
    keys = _touched_keys(
        {pk for row in rows for pk in row.dataset_ids}, {pk for row in rows for pk in row.job_ids}
    )
    slos = list(Slo.objects.enabled().bound_to(keys).values_list("pk", flat=True))
    for pks in kinds.chunks(slos, BATCH):
        slos_evaluate(pks=pks, now=now or timezone.now(), since=since)
    ChangeOutbox.objects.filter(pk__in=[row.pk for row in rows]).delete()
    return DrainReport(rows=len(rows), slos=len(slos))


def _touched_keys(dataset_ids: set[int], job_ids: set[int]) -> set[tuple[str, str]]:
    """The datasets touched, and those the touched jobs write (a failed run may name no
    output, but it still counts against its job's outputs)."""
    written = JobDataset.objects.filter(job_id__in=job_ids, direction=Direction.OUTPUT).values(
        "dataset_id"
    )
    return set(
        Dataset.objects.filter(Q(pk__in=dataset_ids) | Q(pk__in=written)).values_list(
            "namespace__name", "name"
        )
    )


def slos_sweep(*, now: datetime | None = None, slos: Iterable[Slo] | None = None) -> int:
    """The minute tick: evaluate the SLOs that time alone may have changed (their
    ``due_at`` has come) or that never were, then refresh every other SLO's rolling
    figures in bulk: their state holds until a signal comes, which the drain handles.
    With ``slos``, evaluate exactly those. Returns how many were evaluated."""
    now = now or timezone.now()
    if slos is not None:
        return _evaluate_each(slos, now)
    due = Slo.objects.enabled().filter(Q(evaluated_at__isnull=True) | Q(due_at__lte=now))
    count = _evaluate_each(due.iterator(), now)
    slos_refresh_figures(now=now)
    return count


def _evaluate_each(slos: Iterable[Slo], now: datetime) -> int:
    pks = [slo.pk for slo in slos]
    return sum(len(_evaluate_batch(chunk, now)) for chunk in kinds.chunks(pks, BATCH))


def _evaluate_batch(pks: Sequence[int], now: datetime) -> list[Slo]:
    try:
        return slos_evaluate(pks=pks, now=now)
    except Exception:
        if len(pks) == 1:
            # One SLO that cannot be evaluated must not stop the others; it is logged
            # with its id and tried again by the next sweep.
            log.exception("evaluating SLO %s failed", pks[0])
            return []
        return [slo for pk in pks for slo in _evaluate_batch([pk], now)]


def slos_refresh_figures(*, now: datetime, chunk: int = 2000) -> int:
    """Attainment, budget and burn rates of every enabled SLO that is not due, from its
    stored timeline, in a few queries per ``chunk`` SLOs; their timelines are known up to
    ``now``, so they count as evaluated then."""
    quiet = Slo.objects.enabled().filter(evaluated_at__isnull=False)
    quiet = quiet.filter(Q(due_at__isnull=True) | Q(due_at__gt=now)).order_by("pk")
    done, last = 0, 0
    while batch := list(quiet.filter(pk__gt=last).only("pk", "objective")[:chunk]):
        last = batch[-1].pk
        spans = _spans_of([slo.pk for slo in batch], now)
        for slo in batch:
            _apply_figures(slo, Figures(slo, now, spans.get(slo.pk, [])))
            slo.evaluated_at = now
        update_rows(Slo, batch, [*_FIGURES, "evaluated_at"])
        done += len(batch)
    return done


def _spans_of(pks: list[int], now: datetime) -> dict[int, list[tuple[str, datetime, datetime]]]:
    rows = (
        SloSegment.objects.overlapping(now - WINDOW, now)
        .filter(slo_id__in=pks)
        .order_by()
        .values_list("slo_id", "state", "start", "end")
    )
    spans: dict[int, list[tuple[str, datetime, datetime]]] = {}
    for pk, state, start, end in rows:
        spans.setdefault(pk, []).append((state, start, end or now))
    return spans


def _apply_figures(slo: Slo, figures: Figures) -> None:
    slo.attainment_7d = figures.attainment(SHORT)
    slo.attainment_28d = figures.attainment(WINDOW)
    slo.budget_remaining = figures.budget_remaining
    slo.burn_rate_1d = figures.burn_rate(BURN_WINDOWS["1d"])
    slo.burn_rate_7d = figures.burn_rate(BURN_WINDOWS["7d"])


class SloWatcher(PollingThread):
    """In the worker, one thread per process: drains ``lineage.ChangeOutbox`` and
    evaluates SLOs that were just declared or changed."""

    thread_name = "slo-watcher"

    def step(self) -> bool:
        return bool(slo_changes_drain().rows) | bool(slos_evaluate_new())


def slo_changes_pending() -> dict[str, Any]:
    agg = ChangeOutbox.objects.aggregate(oldest=Min("created_at"))
    return {"rows": ChangeOutbox.objects.count(), "oldest": agg["oldest"]}


# --- SLOs from contracts ----------------------------------------------------------------

_VOLUME_BOUNDS = {
    "mustBeGreaterThan": ("min_rows", 1),
    "mustBeGreaterOrEqualTo": ("min_rows", 0),
    "mustBeGreaterThanOrEqualTo": ("min_rows", 0),
    "mustBeLessThan": ("max_rows", -1),
    "mustBeLessOrEqualTo": ("max_rows", 0),
    "mustBeLessThanOrEqualTo": ("max_rows", 0),
}


@dataclass
class Declared:
    """An SLO as a contract declares it: ``key`` says which line made it."""

    key: str
    name: str
    kind: str
    element: str = ""
    values: dict[str, Any] | None = None


def declared_slos(normalized: dict[str, Any]) -> list[Declared]:
    """The SLOs a product's contracts promise, from its normalized descriptor."""
    out: list[Declared] = []
    for contract in normalized.get("contracts", []):
        cid = contract.get("id", "")
        lines = contract.get("sla", [])
        fresh = _freshness(cid, lines)
        out.extend([fresh] if fresh else [])
        for line in lines:
            if (found := _from_sla(cid, line)) is not None:
                out.append(found)
        out.extend(_from_quality(cid, contract))
        if contract.get("objects"):
            out.append(
                Declared(f"{cid}:schema", "Schema stability", SloKind.SCHEMA_STABILITY, "", {})
            )
    return out


def _freshness(cid: str, lines: list[dict[str, Any]]) -> Declared | None:
    """One freshness SLO from ``frequency`` and ``latency``: data updated every
    ``frequency`` and available within ``latency`` of it is never older than their sum
    (a daily table due within 6 h: 30 h). Either alone is the bound by itself."""
    timed = {
        line["kind"]: line
        for line in lines
        if line.get("kind") in ("frequency", "latency") and line.get("duration_seconds")
    }
    if not timed:
        return None
    threshold = sum(float(line["duration_seconds"]) for line in timed.values())
    words = {"frequency": "every {}", "latency": "within {}"}
    said = ", ".join(words[k].format(line.get("raw", "")) for k, line in sorted(timed.items()))
    element = next((line.get("element", "") for line in timed.values() if line.get("element")), "")
    values = {"threshold_seconds": threshold}
    return Declared(f"{cid}:freshness", f"Freshness ({said})", SloKind.FRESHNESS, element, values)


def _from_sla(cid: str, line: dict[str, Any]) -> Declared | None:
    kind, element = line.get("kind"), line.get("element", "")
    key = f"{cid}:sla:{line.get('property') or kind}@{element}"
    raw = line.get("raw") or ""
    if kind == "availability" and line.get("percent") is not None:
        values = {"target": float(line["percent"]) / 100.0, "window_seconds": 7 * DAY}
        return Declared(key, f"Availability ({raw})", SloKind.PIPELINE_SUCCESS, element, values)
    return None  # retention and the like: nothing in lineage shows them


def _from_quality(cid: str, contract: dict[str, Any]) -> list[Declared]:
    """``rowCount`` rules become volume SLOs; any other rule makes the product promise
    that its quality checks pass (one SLO per contract)."""
    out, others = [], False
    for obj, rule in _quality_rules(contract):
        definition = rule.get("definition", {})
        if str(definition.get("metric") or definition.get("rule") or "") == "rowCount":
            values = _row_bounds(definition)
            if values:
                name = rule.get("name") or "Row count"
                out.append(Declared(f"{cid}:volume@{obj}", name, SloKind.VOLUME, obj, values))
                continue
        others = True
    if others:
        values = {"target": 1.0}
        out.append(Declared(f"{cid}:quality", "Quality checks pass", SloKind.QUALITY, "", values))
    return out


def _quality_rules(contract: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    for rule in contract.get("quality", []):
        yield "", rule
    for obj in contract.get("objects", []):
        for rule in obj.get("quality", []):
            yield obj.get("name", ""), rule
        for prop in _properties(obj.get("properties", [])):
            for rule in prop.get("quality", []):
                yield obj.get("name", ""), rule


def _properties(props: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for prop in props:
        yield prop
        yield from _properties(prop.get("properties", []))


def _row_bounds(definition: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for word, (attr, shift) in _VOLUME_BOUNDS.items():
        if isinstance(definition.get(word), int | float):
            values[attr] = int(definition[word]) + shift
    between = definition.get("mustBeBetween")
    if isinstance(between, list) and len(between) == 2:
        values["min_rows"], values["max_rows"] = int(between[0]), int(between[1])
    return values


_DECLARED_FIELDS = ("threshold_seconds", "min_rows", "max_rows", "tolerance", "target")


def slos_sync_from_product(*, product: DataProduct) -> list[Slo]:
    """Make the product's contract SLOs what its active revision declares: new lines
    add SLOs, changed lines update them (their window is computed again), dropped lines remove them.
    SLOs added through the API or admin are left alone. Call inside the registration's
    transaction; evaluation follows on the worker."""
    revision = product.active_revision
    declared = {d.key: d for d in declared_slos(revision.normalized if revision else {})}
    existing = {s.key: s for s in product.slos.filter(source=Slo.Source.CONTRACT)}
    Slo.objects.filter(pk__in=[s.pk for k, s in existing.items() if k not in declared]).delete()
    now = timezone.now()
    kept = []
    for key, spec in declared.items():
        slo = existing.get(key) or Slo(product=product, key=key, source=Slo.Source.CONTRACT)
        changed = _apply_declared(slo, spec)
        if changed or slo.pk is None:
            slo.updated_at = now
            if slo.pk is not None:
                slo.evaluated_at = None  # a new promise: recompute its window
            slo.save()
        kept.append(slo)
    return kept


def on_product_saved(product: DataProduct) -> None:
    slos_sync_from_product(product=product)


def _apply_declared(slo: Slo, spec: Declared) -> bool:
    values = {f: None for f in _DECLARED_FIELDS}
    values.update(spec.values or {})
    wanted = {"name": spec.name[:255], "kind": spec.kind, "element": spec.element, **values}
    changed = {k: v for k, v in wanted.items() if getattr(slo, k) != v}
    for attr, value in changed.items():
        setattr(slo, attr, value)
    return bool(changed)


def slos_evaluate_new(*, now: datetime | None = None) -> int:
    """Evaluate SLOs that never were (just declared, or changed)."""
    new = Slo.objects.enabled().filter(evaluated_at__isnull=True)
    return _evaluate_each(new.iterator(), now or timezone.now())


def slo_timeline(*, slo: Slo, since: datetime, until: datetime | None = None) -> list[SloSegment]:
    """The stored segments overlapping ``[since, until]``."""
    return list(slo.segments.overlapping(since, until or timezone.now()).order_by("start"))
