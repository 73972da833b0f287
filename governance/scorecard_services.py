"""Scorecard work: saving definitions, running them on schedule and on demand, previews
(dry runs), shift-left evaluation of a descriptor, and waivers.

Runs are claimed, never assumed: a scheduled run is a unique (scorecard, slot) row, so
several workers ticking at once create it once; executing a run first moves it from
pending to running in one conditional UPDATE, so one worker executes it. Results are
written in batches, each its own short transaction (ingestion is never held up behind a
run); the scorecard's ``last_run`` moves to the new run only when it is complete.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from catalog.audit import Via, audit_record
from catalog.descriptors.loading import yaml_load
from catalog.descriptors.parse import parse_bundle
from catalog.models import DataProduct
from governance.facts import HORIZON, ProductFacts, facts_for_products, facts_for_spec
from governance.models import (
    Scorecard,
    ScorecardCheck,
    ScorecardLevel,
    ScorecardResult,
    ScorecardRun,
    Waiver,
    WaiverEvent,
)
from governance.scorecards import (
    Definition,
    DefinitionError,
    Outcome,
    WaiverRef,
    cron,
    definition_from_dict,
    matches_filters,
    score_product,
    tags_match,
)
from governance.webhooks import webhook_notify
from meshport.prepared import insert_rows

log = logging.getLogger(__name__)

BATCH = 500  # products whose facts are loaded together
CATCH_UP = timedelta(minutes=5)  # scheduled slots a late tick still runs
STALE = timedelta(minutes=30)  # a run left running this long lost its worker
LONGEST_WAIVER = timedelta(days=366)  # an exemption is looked at again within a year


# --- definitions --------------------------------------------------------------------------


def scorecard_save(
    *,
    definition: Definition,
    actor: str,
    via: str,
    source: str = Scorecard.Source.API,
    source_path: str = "",
) -> Scorecard:
    """Create or replace the scorecard ``definition.slug`` with its levels and checks."""
    with transaction.atomic():
        scorecard, created = Scorecard.objects.select_for_update().get_or_create(
            slug=definition.slug, defaults={"name": definition.name}
        )
        for attr in ("name", "description", "schedule", "enabled"):
            setattr(scorecard, attr, getattr(definition, attr))
        scorecard.filters = dict(definition.filters)
        scorecard.source, scorecard.source_path = source, source_path
        scorecard.updated_at = timezone.now()
        scorecard.save()
        levels = _save_levels(scorecard, definition)
        scorecard.checks.exclude(key__in=[c.key for c in definition.checks]).delete()
        for i, check in enumerate(definition.checks):
            ScorecardCheck.objects.update_or_create(
                scorecard=scorecard,
                key=check.key,
                defaults={
                    "check_name": check.check,
                    "name": check.name,
                    "category": check.category,
                    "weight": check.weight,
                    "level": levels.get(check.level),
                    "params": dict(check.params),
                    "rule": check.rule,
                    "remediation": check.remediation,
                    "enabled_from": check.enabled_from,
                    "ordinal": i,
                },
            )
        scorecard_recorded(scorecard, "created" if created else "changed", actor, via)
    return scorecard


def scorecard_delete(*, scorecard: Scorecard, actor: str, via: str) -> None:
    """Delete a scorecard with its history and waivers bound to it."""
    with transaction.atomic():
        scorecard_recorded(scorecard, "deleted", actor, via)
        scorecard.delete()


def scorecard_recorded(scorecard: Scorecard, verb: str, actor: str, via: str) -> None:
    """One audit entry for a scorecard created, changed or deleted (with its checks)."""
    checks = [] if verb == "deleted" else list(scorecard.checks.values_list("key", flat=True))
    audit_record(
        actor=actor,
        via=via,
        action=f"scorecard.{verb}",
        target=scorecard.slug,
        label=scorecard.name,
        summary=f"{len(checks)} checks, schedule {scorecard.schedule or 'none'}" if checks else "",
        changes={"checks": checks, "source": scorecard.source_path or scorecard.source}
        if checks
        else {},
    )


def _save_levels(scorecard: Scorecard, definition: Definition) -> dict[str, ScorecardLevel]:
    scorecard.levels.exclude(slug__in=[lv.slug for lv in definition.levels]).delete()
    saved = {}
    for lv in definition.levels:
        saved[lv.slug], _ = ScorecardLevel.objects.update_or_create(
            scorecard=scorecard,
            slug=lv.slug,
            defaults={"name": lv.name, "rank": lv.rank, "color": lv.color},
        )
    return saved


def definitions_read(paths: Iterable[Path]) -> list[tuple[Path, Definition]]:
    """The scorecards in YAML files, or in every ``*.yaml``/``*.yml`` of folders; a file
    holds one scorecard or a list under ``scorecards``. Raises :class:`DefinitionError`
    naming the file and path of every problem."""
    files = [
        file
        for path in paths
        for file in (
            sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
            if path.is_dir()
            else [path]
        )
    ]
    found: list[tuple[Path, Definition]] = []
    errors: list[tuple[str, str]] = []
    for file in files:
        try:
            data = yaml_load(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            errors.append((str(file), f"cannot read: {exc}"))
            continue
        items = (
            data.get("scorecards") if isinstance(data, Mapping) and "scorecards" in data else [data]
        )
        if not isinstance(items, list):
            errors.append((f"{file}:scorecards", "a list of scorecards"))
            continue
        for i, item in enumerate(items):
            where = f"{file}:scorecards/{i}" if len(items) > 1 else str(file)
            try:
                found.append((file, definition_from_dict(item, where)))
            except DefinitionError as exc:
                errors.extend(exc.errors)
    if errors:
        raise DefinitionError(errors)
    return found


def scorecards_load(*, paths: Iterable[Path], actor: str = "load_scorecards") -> list[Scorecard]:
    """Load every scorecard under ``paths`` (all or nothing)."""
    read = definitions_read(paths)
    with transaction.atomic():
        return [
            scorecard_save(
                definition=d,
                actor=actor,
                via=Via.FILE,
                source=Scorecard.Source.FILE,
                source_path=str(f),
            )
            for f, d in read
        ]


# --- which products -----------------------------------------------------------------------


def scorecard_products(definition: Definition) -> QuerySet[DataProduct]:
    """The products the scorecard's domain and status filters select (tags are matched
    on the facts, as JSON lists cannot be searched alike on every database)."""
    products = DataProduct.objects.select_related("active_revision", "domain")
    filters = definition.filters
    if domains := filters.get("domains"):
        products = products.filter(
            Q(domain__slug__in=domains) | Q(domain__parent__slug__in=domains)
        )
    if statuses := filters.get("statuses"):
        products = products.filter(status__in=statuses)
    else:
        products = products.exclude(status="retired")
    return products.order_by("pk")


def _horizon(*definitions: Definition) -> timedelta:
    days = [
        float(c.params.get("days", 0))
        for d in definitions
        for c in d.checks
        if isinstance(c.params.get("days"), int | float)
    ]
    return max([HORIZON, *[timedelta(days=d) for d in days]])


def _waivers(
    definition_slug: str, product_ids: Sequence[int], at: datetime
) -> dict[int, dict[str, WaiverRef]]:
    rows = (
        Waiver.objects.active(at)
        .filter(product_id__in=product_ids)
        .filter(Q(scorecard__isnull=True) | Q(scorecard__slug=definition_slug))
        .values_list("product_id", "check_key", "pk", "expires_at", "decided_by")
    )
    found: dict[int, dict[str, WaiverRef]] = defaultdict(dict)
    for product_id, key, pk, expires_at, by in rows:
        found[product_id][key] = WaiverRef(pk, expires_at, by)
    return found


Scored = list[tuple[ProductFacts, list[Outcome]]]


def _scored(definitions: Sequence[Definition], at: datetime) -> Iterator[Scored]:
    """Every product the first definition selects, scored by each definition, one batch
    of products at a time (so that memory stays flat however many products there are)."""
    horizon = _horizon(*definitions)
    last = 0
    products = scorecard_products(definitions[0])
    while batch := list(products.filter(pk__gt=last)[:BATCH]):
        last = batch[-1].pk
        facts = [
            f
            for f in facts_for_products(batch, now=at, horizon=horizon)
            if tags_match(definitions[0], f.spec.tags)  # domains and statuses: in SQL
        ]
        pks = [f.pk for f in facts if f.pk is not None]
        waivers = {d.slug: _waivers(d.slug, pks, at) for d in definitions}
        yield [
            (
                one,
                [
                    score_product(d, one, at=at, waivers=waivers[d.slug].get(one.pk or 0))
                    for d in definitions
                ],
            )
            for one in facts
        ]


# --- runs -----------------------------------------------------------------------------------


def scorecard_run_here(
    *, scorecard: Scorecard, requested_by: str, now: datetime | None = None
) -> ScorecardRun:
    """A manual run executed in this process (commands, the demo, benchmarks), rather
    than queued for the worker; ``now``: the instant it scores (the demo's history)."""
    run = ScorecardRun.objects.create(
        scorecard=scorecard,
        trigger=ScorecardRun.Trigger.MANUAL,
        requested_by=requested_by,
        created_at=now or timezone.now(),
    )
    done = scorecard_run_execute(run_pk=run.pk, now=now)
    assert done is not None  # a new run is pending: nobody else can have claimed it
    return done


def scorecard_run_request(
    *, scorecard: Scorecard, requested_by: str, via: str = Via.API
) -> ScorecardRun:
    """A run now, on demand (portal, API): queued for the worker."""
    with transaction.atomic():
        run = ScorecardRun.objects.create(
            scorecard=scorecard, trigger=ScorecardRun.Trigger.MANUAL, requested_by=requested_by
        )
        audit_record(
            actor=requested_by,
            via=via,
            action="scorecard.run_requested",
            target=scorecard.slug,
            label=scorecard.name,
            changes={"run": run.pk},
        )
    transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_pk: int) -> None:
    from governance.tasks import scorecard_run  # the tasks module imports this one

    try:
        scorecard_run(run_pk)
    except Exception:
        # The run is stored as pending: the next tick queues it again.
        log.exception("could not queue scorecard run %s; the next tick will", run_pk)


def scorecards_tick(*, now: datetime | None = None) -> list[ScorecardRun]:
    """The minute tick: claim the scheduled slots that have come (one run per scorecard
    and slot, whoever else ticks), give up runs whose worker died, and return the runs
    to execute: the new ones and those left pending."""
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    created = []
    for scorecard in Scorecard.objects.filter(enabled=True).exclude(schedule=""):
        for slot in _due_slots(scorecard, now):
            try:
                with transaction.atomic():
                    created.append(
                        ScorecardRun.objects.create(
                            scorecard=scorecard,
                            slot=slot,
                            trigger=ScorecardRun.Trigger.SCHEDULE,
                            created_at=slot,
                        )
                    )
            except IntegrityError:
                continue  # another worker claimed it
    ScorecardRun.objects.filter(
        status=ScorecardRun.Status.RUNNING, started_at__lt=now - STALE
    ).update(
        status=ScorecardRun.Status.FAILED, finished_at=now, error="the worker running it stopped"
    )
    waiting = ScorecardRun.objects.filter(
        status=ScorecardRun.Status.PENDING, created_at__lt=now - timedelta(minutes=1)
    ).exclude(pk__in=[r.pk for r in created])
    return created + list(waiting)


def _due_slots(scorecard: Scorecard, now: datetime) -> list[datetime]:
    try:
        matches = cron(scorecard.schedule)
    except ValueError:
        log.warning("scorecard %s has a bad schedule %r", scorecard.slug, scorecard.schedule)
        return []
    since = max(now - CATCH_UP, scorecard.created_at.replace(second=0, microsecond=0))
    slots = []
    slot = now
    while slot > since:
        if matches(slot):
            slots.append(slot)
        slot -= timedelta(minutes=1)
    return slots[::-1]


@dataclass
class _Tally:
    products: int = 0
    scores: float = 0.0
    levels: Counter[str] = field(default_factory=Counter)
    raised: int = 0
    dropped: int = 0
    drops: list[tuple[int, str, str]] = field(default_factory=list)  # product, from, to

    def summary(self) -> dict[str, Any]:
        return {
            "products": self.products,
            "score": round(self.scores / self.products, 1) if self.products else None,
            "levels": dict(self.levels),
            "raised": self.raised,
            "dropped": self.dropped,
        }


def scorecard_run_execute(*, run_pk: int, now: datetime | None = None) -> ScorecardRun | None:
    """Execute a pending run; ``None`` when another worker has it (or had it)."""
    now = now or timezone.now()
    claimed = ScorecardRun.objects.filter(pk=run_pk, status=ScorecardRun.Status.PENDING).update(
        status=ScorecardRun.Status.RUNNING, started_at=now
    )
    if not claimed:
        return None
    run = ScorecardRun.objects.select_related("scorecard").get(pk=run_pk)
    try:
        return _execute(run, now)
    except Exception as exc:
        log.exception("scorecard run %s failed", run.pk)
        ScorecardRun.objects.filter(pk=run.pk).update(
            status=ScorecardRun.Status.FAILED, finished_at=timezone.now(), error=repr(exc)[:2000]
        )
        run.refresh_from_db()
        return run


def _execute(run: ScorecardRun, now: datetime) -> ScorecardRun:
    scorecard = run.scorecard
    definition = Definition.from_model(scorecard)
    tally = _Tally()
    for batch in _scored([definition], now):
        previous = _previous_results(scorecard.last_run_id, [f.pk for f, _ in batch])
        _write(
            [
                _result_row(run, definition, facts, outcome, previous.get(facts.pk or 0), tally)
                for facts, (outcome,) in batch
            ]
        )
    run.definition = definition.to_dict()
    run.summary = tally.summary()
    run.status, run.finished_at = ScorecardRun.Status.DONE, timezone.now()
    with transaction.atomic():
        run.save(update_fields=["definition", "summary", "status", "finished_at"])
        Scorecard.objects.filter(pk=scorecard.pk).update(last_run=run)
        _notify_drops(run, definition, tally.drops)
    return run


def _write(rows: list[dict[str, Any]]) -> None:
    if rows:
        with transaction.atomic():
            insert_rows(ScorecardResult, rows)


def _previous_results(
    run_id: int | None, product_ids: Sequence[int | None]
) -> dict[int, tuple[str, float, dict[str, str]]]:
    """Level, score and each check's status of the products in the run before."""
    if run_id is None:
        return {}
    rows = ScorecardResult.objects.filter(run_id=run_id, product_id__in=product_ids)
    return {
        pk: (level, score, {key: c.get("status") for key, c in checks.items()})
        for pk, level, score, checks in rows.values_list("product_id", "level", "score", "checks")
    }


def _result_row(
    run: ScorecardRun,
    definition: Definition,
    facts: ProductFacts,
    outcome: Outcome,
    previous: tuple[str, float, dict[str, str]] | None,
    tally: _Tally,
) -> dict[str, Any]:
    before_level, before_score, before_checks = previous or ("", None, {})
    changes = [
        {"check": key, "from": before_checks.get(key), "to": c.status}
        for key, c in outcome.checks.items()
        if previous is not None and before_checks.get(key) != c.status
    ]
    tally.products += 1
    tally.scores += outcome.score
    tally.levels[outcome.level] += 1
    if previous is not None:
        moved = definition.rank(outcome.level) - definition.rank(before_level)
        tally.raised += moved > 0
        tally.dropped += moved < 0
        if moved < 0:
            assert facts.pk is not None
            tally.drops.append((facts.pk, before_level, outcome.level))
    return {
        "run_id": run.pk,
        "product_id": facts.pk,
        "score": outcome.score,
        "level": outcome.level,
        "previous_level": before_level if previous is not None else "",
        "previous_score": before_score,
        "checks": {k: c.as_dict() for k, c in outcome.checks.items()},
        "changes": changes,
        "blast_radius": facts.blast_radius,
    }


def _notify_drops(
    run: ScorecardRun, definition: Definition, drops: list[tuple[int, str, str]]
) -> None:
    products = DataProduct.objects.in_bulk([pk for pk, _, _ in drops])
    names = {lv.slug: lv.name for lv in definition.levels}
    for pk, before, after in drops:
        product = products.get(pk)
        if product is None:
            continue
        webhook_notify(
            event="scorecard.level_dropped",
            product=product,
            data={
                "scorecard": {"slug": definition.slug, "name": definition.name},
                "run": run.pk,
                "product": {"id": product.external_id, "name": product.name},
                "from": {"level": before, "name": names.get(before, "none")},
                "to": {"level": after, "name": names.get(after, "none")},
            },
        )


# --- dry run ----------------------------------------------------------------------------------


@dataclass
class DryRun:
    """What a changed definition would do: products by (level now, level then)."""

    products: int = 0
    moves: Counter[tuple[str, str]] = field(default_factory=Counter)
    changed: list[dict[str, Any]] = field(default_factory=list)  # products whose level moves
    newly_failing: Counter[str] = field(default_factory=Counter)  # check key → products
    score_before: float = 0.0
    score_after: float = 0.0

    def sentences(self, before: Definition, after: Definition) -> list[str]:
        """``37 products would drop Silver → Bronze``, biggest moves first."""
        out = []
        for (was, will), count in self.moves.most_common():
            if was == will:
                continue
            verb = "rise" if after.rank(will) > before.rank(was) else "drop"
            noun = "product" if count == 1 else "products"
            was_name = (before.level(was) or _NONE).name
            will_name = (after.level(will) or _NONE).name
            out.append(f"{count} {noun} would {verb} {was_name} → {will_name}")
        return out


class _NoLevel:
    name = "no level"


_NONE = _NoLevel()


def scorecard_dry_run(
    *, scorecard: Scorecard, definition: Definition, now: datetime | None = None
) -> DryRun:
    """Score every product with the saved definition and with ``definition``, over the
    same facts at the same instant, and tell what would move. Nothing is written."""
    now = now or timezone.now()
    current = Definition.from_model(scorecard)
    preview = DryRun()
    before_total = after_total = 0.0
    for facts, (after, before) in (
        one for batch in _scored([definition, current], now) for one in batch
    ):
        preview.products += 1
        before_total += before.score
        after_total += after.score
        preview.moves[(before.level, after.level)] += 1
        if before.level != after.level:
            preview.changed.append(
                {
                    "product": facts.external_id,
                    "name": facts.spec.name or facts.external_id,
                    "from": before.level,
                    "to": after.level,
                }
            )
        for key in set(after.failing()) - set(before.failing()):
            preview.newly_failing[key] += 1
    if preview.products:
        preview.score_before = round(before_total / preview.products, 1)
        preview.score_after = round(after_total / preview.products, 1)
    return preview


# --- shift-left -------------------------------------------------------------------------------


@dataclass
class Lint:
    """A descriptor scored before it is registered."""

    product: str
    facts: ProductFacts
    outcome: Outcome
    in_scope: bool


def scorecard_lint(
    *, definition: Definition, files: Mapping[str, str], now: datetime | None = None
) -> Lint:
    """The level a descriptor bundle would earn, as if it were registered now. Raises
    ``DescriptorError`` for a descriptor that cannot be read."""
    now = now or timezone.now()
    spec = parse_bundle(files)
    facts = facts_for_spec(
        spec, now=now, warnings=[vars(w) for w in spec.warnings], horizon=_horizon(definition)
    )
    waivers = _waivers(definition.slug, [facts.pk], now).get(facts.pk or 0) if facts.pk else None
    outcome = score_product(definition, facts, at=now, waivers=waivers)
    domains = [d for d in (spec.domain, spec.subdomain) if d]
    in_scope = matches_filters(definition, domains=domains, tags=spec.tags, status=facts.status)
    return Lint(spec.id, facts, outcome, in_scope)


# --- waivers ------------------------------------------------------------------------------------


class WaiverError(ValueError):
    """A waiver request or decision that cannot be made; ``field`` names the input."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(message)


def waiver_request(
    *,
    product: DataProduct,
    check_key: str,
    justification: str,
    expires_at: datetime,
    actor: str,
    scorecard: Scorecard | None = None,
    via: str = Via.API,
) -> Waiver:
    now = timezone.now()
    if not justification.strip():
        raise WaiverError("justification", "say why the product should be exempt")
    _check_expiry(expires_at, now)
    keys = ScorecardCheck.objects.filter(key=check_key)
    if scorecard is not None:
        keys = keys.filter(scorecard=scorecard)
    if not keys.exists():
        raise WaiverError("check", f"no scorecard has a check {check_key!r}")
    with transaction.atomic():
        waiver = Waiver.objects.create(
            product=product,
            scorecard=scorecard,
            check_key=check_key,
            justification=justification.strip(),
            expires_at=expires_at,
            requested_by=actor,
            requested_at=now,
        )
        _waiver_event(waiver, "requested", actor, waiver.justification, now, via)
    return waiver


def _waiver_event(
    waiver: Waiver, action: str, actor: str, note: str, at: datetime, via: str
) -> None:
    """The waiver's own history and the audit log, in the caller's transaction."""
    WaiverEvent.objects.create(waiver=waiver, action=action, actor=actor, note=note, at=at)
    audit_record(
        actor=actor,
        via=via,
        action=f"waiver.{action}",
        target=str(waiver.pk),
        label=f"{waiver.check_key} for {waiver.product.external_id}",
        summary=note,
        changes={
            "status": waiver.status,
            "expires_at": waiver.expires_at.isoformat() if waiver.expires_at else None,
        },
        at=at,
    )


def _check_expiry(expires_at: datetime, now: datetime) -> None:
    if expires_at <= now:
        raise WaiverError("expires_at", "the expiry must be in the future")
    if expires_at > now + LONGEST_WAIVER:
        raise WaiverError("expires_at", "a waiver lasts a year at most; ask again then")


def waiver_decide(
    *,
    waiver: Waiver,
    approve: bool,
    actor: str,
    note: str = "",
    expires_at: datetime | None = None,
    via: str = Via.API,
) -> Waiver:
    """A steward approves (optionally with another expiry) or denies a pending waiver."""
    now = timezone.now()
    with transaction.atomic():
        locked = (
            Waiver.objects.select_for_update(of=("self",))
            .select_related("product")
            .get(pk=waiver.pk)
        )
        if locked.status != Waiver.Status.PENDING:
            raise WaiverError("status", f"the waiver is already {locked.status}")
        if approve and expires_at is not None:
            _check_expiry(expires_at, now)
            locked.expires_at = expires_at
        locked.status = Waiver.Status.APPROVED if approve else Waiver.Status.DENIED
        locked.decided_by, locked.decided_at, locked.decision_note = actor, now, note
        locked.save()
        action = "approved" if approve else "denied"
        detail = f"{note} (until {locked.expires_at:%Y-%m-%d})" if approve else note
        _waiver_event(locked, action, actor, detail.strip(), now, via)
    return locked


def waiver_revoke(*, waiver: Waiver, actor: str, note: str = "", via: str = Via.API) -> Waiver:
    now = timezone.now()
    with transaction.atomic():
        locked = (
            Waiver.objects.select_for_update(of=("self",))
            .select_related("product")
            .get(pk=waiver.pk)
        )
        if locked.status not in (Waiver.Status.PENDING, Waiver.Status.APPROVED):
            raise WaiverError("status", f"the waiver is already {locked.status}")
        locked.status = Waiver.Status.REVOKED
        locked.save(update_fields=["status"])
        _waiver_event(locked, "revoked", actor, note, now, via)
    return locked
