"""Reads behind the scorecard pages, the waiver queue and the product page's scorecard
panel, each in a fixed number of queries whatever the number of products and results.

A run keeps the definition it used: what a result means (its levels, the titles and
remediation texts of its checks) is read from its run, so that history stays right after
the scorecard changes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, F, IntegerField, Max, Prefetch, Q, Sum, Value, When
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from catalog.models import DataProduct
from catalog.roles import is_steward, may_edit_product
from governance.charts import Part, Sample, StackedBar, Trend, stacked_bar, trend_chart
from governance.checks import UnknownCheck
from governance.models import (
    CheckStatus,
    Scorecard,
    ScorecardCheck,
    ScorecardResult,
    ScorecardRun,
    Waiver,
    WaiverEvent,
)
from governance.rules import RuleError
from governance.scorecards import CheckDef, Definition, DefinitionError, definition_from_dict

TREND_DAYS = 30  # of runs on a trend, one a day
IMPROVED_DAYS = 7  # "most improved": against a run about this long before the last
IMPROVED_SHOWN = 5
FAILING_SHOWN = 10  # failing checks by blast radius, per scorecard
PRODUCTS_PER_PAGE = 50
RUNS_SHOWN = 20
DIFF_SHOWN = 500  # changed products a run page lists
WAIVERS_SHOWN = 50

# Levels without a colour of their own take one by rank, lowest first.
PALETTE = ("#9a6b3f", "#6e7f8d", "#b08a1e", "#2e7d4f", "#5a4fcf", "#1b7c83")
NO_LEVEL = Part("", "no level", "#d0d7de")
_COLOR = re.compile(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,30}")


def safe_color(value: str) -> str:
    """A level's colour as CSS may take it in a style attribute: ``#hex`` or a name."""
    return value if _COLOR.fullmatch(value or "") else ""


# --- definitions as pages read them -----------------------------------------------------------


@dataclass(frozen=True)
class CheckInfo:
    """A check of a definition with its words: what a page prints of it."""

    key: str
    title: str
    fix: str
    group: str
    level: str
    weight: float
    check: str
    enabled_from: datetime | None
    rule: str = ""


def check_info(check: CheckDef) -> CheckInfo:
    try:
        title, fix, group = check.title, check.fix, check.group
    except (UnknownCheck, RuleError):  # a custom check since removed: name it by its key
        title, fix, group = check.name or check.key, check.remediation, check.category
    return CheckInfo(
        key=check.key,
        title=title,
        fix=fix,
        group=group or "other",
        level=check.level,
        weight=check.weight,
        check=check.check,
        enabled_from=check.enabled_from,
        rule=check.rule,
    )


def unknown_check(key: str) -> CheckInfo:
    return CheckInfo(key, key, "", "other", "", 1.0, key, None)


@dataclass
class Card:
    """A definition with what pages need of it: levels as chart parts and checks by key."""

    definition: Definition
    parts: list[Part]  # highest level first, "no level" last
    checks: dict[str, CheckInfo]

    def part(self, slug: str) -> Part:
        """The level ``slug`` (a level since removed keeps its slug, and a grey)."""
        return next((p for p in self.parts if p.key == slug), Part(slug, slug, NO_LEVEL.color))

    def rank(self, slug: str) -> int:
        return self.definition.rank(slug)

    def check(self, key: str) -> CheckInfo:
        return self.checks.get(key) or unknown_check(key)


def card_of(definition: Definition) -> Card:
    parts = [
        Part(lv.slug, lv.name, safe_color(lv.color) or PALETTE[i % len(PALETTE)])
        for i, lv in enumerate(definition.levels)
    ]
    checks = {c.key: check_info(c) for c in definition.checks}
    return Card(definition, [*reversed(parts), NO_LEVEL], checks)


def run_card(run: ScorecardRun) -> Card:
    """The definition ``run`` used; the scorecard's own when the run kept none (it has not
    finished) or one that no longer reads (a custom check since removed)."""
    try:
        return card_of(definition_from_dict(run.definition))
    except DefinitionError:
        return card_of(Definition.from_model(run.scorecard))


def run_url(slug: str, pk: int) -> str:
    return reverse("governance:scorecard-run", args=[slug, pk])


def product_url(external_id: str) -> str:
    return reverse("catalog:product-detail", args=[external_id])


def level_counts(run: ScorecardRun | None) -> dict[str, int]:
    levels = (run.summary or {}).get("levels") if run else None
    return {str(k): int(v) for k, v in levels.items()} if isinstance(levels, dict) else {}


# --- the dashboard ------------------------------------------------------------------------------


@dataclass
class DomainRow:
    name: str
    slug: str
    products: int
    score: float
    bar: StackedBar


@dataclass
class Improvement:
    name: str
    url: str
    before: Part
    after: Part
    score_before: float
    score_after: float

    @property
    def gain(self) -> float:
        return round(self.score_after - self.score_before, 1)


@dataclass
class Failure:
    name: str
    url: str
    check: CheckInfo
    message: str
    blast_radius: int
    level: Part


@dataclass
class Board:
    """One scorecard on the dashboard."""

    scorecard: Scorecard
    run: ScorecardRun | None = None
    card: Card | None = None
    bar: StackedBar | None = None
    trend: Trend | None = None
    domains: list[DomainRow] = field(default_factory=list)
    improved: list[Improvement] = field(default_factory=list)
    baseline: ScorecardRun | None = None
    failing: list[Failure] = field(default_factory=list)

    @property
    def score(self) -> Any:
        return (self.run.summary or {}).get("score") if self.run else None


@dataclass
class Dashboard:
    boards: list[Board]
    pending_waivers: int

    @property
    def products(self) -> int:
        return sum(int((b.run.summary or {}).get("products") or 0) for b in self.boards if b.run)


def scorecard_dashboard() -> Dashboard:
    """Every scorecard with its last run, trend, domains, most improved products and failing
    checks by blast radius: six queries."""
    scorecards = list(Scorecard.objects.select_related("last_run").order_by("name", "pk"))
    boards = [Board(sc) for sc in scorecards]
    ran = {}
    for board in boards:
        run = board.scorecard.last_run
        if run is not None:
            run.scorecard = board.scorecard
            board.run, board.card = run, run_card(run)
            board.bar = stacked_bar(board.card.parts, level_counts(run), name=board.scorecard.name)
            ran[run.pk] = board
    if ran:
        _trends(ran)
        _domains(ran)
        _improved(ran)
        _failing(ran)
    pending = Waiver.objects.filter(status=Waiver.Status.PENDING).count()
    return Dashboard(boards, pending)


def _trends(boards: Mapping[int, Board]) -> None:
    """One run a day (the last of the day) over the ``TREND_DAYS`` before each last run;
    the run about ``IMPROVED_DAYS`` before the last becomes the baseline."""
    since = min(b.run.created_at for b in boards.values() if b.run) - timedelta(days=TREND_DAYS)
    daily = (
        ScorecardRun.objects.filter(
            scorecard__in=[b.scorecard for b in boards.values()],
            status=ScorecardRun.Status.DONE,
            created_at__gte=since,
        )
        .annotate(day=TruncDate("created_at"))
        .values("scorecard_id", "day")
        .annotate(last=Max("pk"))
        .values("last")
    )
    runs: dict[int, list[ScorecardRun]] = defaultdict(list)
    for run in ScorecardRun.objects.filter(pk__in=daily).order_by("created_at", "pk"):
        runs[run.scorecard_id].append(run)
    for board in boards.values():
        assert board.run is not None and board.card is not None
        last = board.run
        window = last.created_at - timedelta(days=TREND_DAYS)
        points = [r for r in runs[board.scorecard.pk] if window <= r.created_at < last.created_at]
        points = [p for p in points if p.pk != last.pk] + [last]
        slug = board.scorecard.slug
        samples = [
            Sample(r.created_at, level_counts(r), _score(r), run_url(slug, r.pk)) for r in points
        ]
        board.trend = trend_chart(samples, board.card.parts, name=board.scorecard.name)
        board.baseline = _baseline(points[:-1], last.created_at - timedelta(days=IMPROVED_DAYS))


def _score(run: ScorecardRun) -> float | None:
    score = (run.summary or {}).get("score")
    return float(score) if isinstance(score, int | float) else None


def _baseline(earlier: Sequence[ScorecardRun], target: datetime) -> ScorecardRun | None:
    """The last run by ``target`` (half a day's leeway), else the oldest there is."""
    by_then = [r for r in earlier if r.created_at <= target + timedelta(hours=12)]
    if by_then:
        return by_then[-1]
    return earlier[0] if earlier else None


def _domains(boards: Mapping[int, Board]) -> None:
    """Products of each domain by level, and their mean score, in the last runs."""
    rows = (
        ScorecardResult.objects.filter(run_id__in=list(boards))
        .values("run_id", "product__domain__slug", "product__domain__name", "level")
        .annotate(n=Count("pk"), total=Sum("score"))
        .order_by()
    )
    found: dict[tuple[int, str], dict[str, Any]] = {}
    for row in rows:
        slug = row["product__domain__slug"] or ""
        entry = found.setdefault(
            (row["run_id"], slug),
            {"name": row["product__domain__name"] or "No domain", "counts": {}, "n": 0, "sum": 0.0},
        )
        entry["counts"][row["level"]] = row["n"]
        entry["n"] += row["n"]
        entry["sum"] += row["total"] or 0.0
    for (run_id, slug), entry in sorted(found.items(), key=lambda kv: kv[1]["name"].lower()):
        board = boards[run_id]
        assert board.card is not None
        board.domains.append(
            DomainRow(
                name=entry["name"],
                slug=slug,
                products=entry["n"],
                score=round(entry["sum"] / entry["n"], 1),
                bar=stacked_bar(board.card.parts, entry["counts"], name=entry["name"]),
            )
        )


def _improved(boards: Mapping[int, Board]) -> None:
    """Products whose level, then score, rose most from the baseline to the last run."""
    baselines = {b.baseline.pk: b for b in boards.values() if b.baseline}
    if not baselines:
        return
    rows = ScorecardResult.objects.filter(run_id__in=[*boards, *baselines]).values_list(
        "run_id", "product_id", "level", "score", "product__name", "product__external_id"
    )
    before: dict[tuple[int, int], tuple[str, float]] = {}
    after: dict[int, list[tuple[int, str, float, str, str]]] = defaultdict(list)
    for run_id, product_id, level, score, name, external_id in rows:
        if run_id in baselines:
            before[(baselines[run_id].scorecard.pk, product_id)] = (level, score)
        if run_id in boards:
            after[run_id].append((product_id, level, score, name, external_id))
    for run_id, results in after.items():
        board = boards[run_id]
        card = board.card
        assert card is not None
        gains = []
        for product_id, level, score, name, external_id in results:
            was = before.get((board.scorecard.pk, product_id))
            if was is None:
                continue
            moved = (card.rank(level) - card.rank(was[0]), round(score - was[1], 1))
            if moved > (0, 0):
                gains.append((moved, name.lower(), name, external_id, was, level, score))
        gains.sort(key=lambda g: (-g[0][0], -g[0][1], g[1]))
        board.improved = [
            Improvement(name, product_url(ext), card.part(was[0]), card.part(level), was[1], score)
            for _, _, name, ext, was, level, score in gains[:IMPROVED_SHOWN]
        ]


def _failing(boards: Mapping[int, Board]) -> None:
    """Each failing product × check of the last runs, widest blast radius first: read in
    one streamed query, which stops once every scorecard has its share."""
    rows = (
        ScorecardResult.objects.filter(run_id__in=list(boards))
        .order_by("-blast_radius", "product__name", "pk")
        .values_list(
            "run_id", "blast_radius", "level", "checks", "product__name", "product__external_id"
        )
    )
    full: set[int] = set()
    for run_id, radius, level, checks, name, external_id in rows.iterator(chunk_size=200):
        board = boards[run_id]
        if run_id in full:
            continue
        assert board.card is not None
        for key, result in (checks or {}).items():
            if (result or {}).get("status") != CheckStatus.FAIL:
                continue
            board.failing.append(
                Failure(
                    name=name,
                    url=product_url(external_id),
                    check=board.card.check(key),
                    message=str(result.get("message") or ""),
                    blast_radius=radius,
                    level=board.card.part(level),
                )
            )
        if len(board.failing) >= FAILING_SHOWN:
            del board.failing[FAILING_SHOWN:]
            full.add(run_id)
            if len(full) == len(boards):
                break


# --- one scorecard ------------------------------------------------------------------------------


def scorecard_get(*, slug: str) -> Scorecard | None:
    return Scorecard.objects.select_related("last_run").filter(slug=slug).first()


@dataclass
class LevelSection:
    """A level of the definition with its checks by category (``level`` ``None``: the
    checks that count for the score only)."""

    part: Part | None
    groups: list[tuple[str, list[CheckInfo]]]


def definition_sections(card: Card) -> list[LevelSection]:
    """Lowest level first, as they are reached; then the checks that gate no level."""
    sections = []
    for lv in card.definition.levels:
        checks = [c for c in card.checks.values() if c.level == lv.slug]
        sections.append(LevelSection(card.part(lv.slug), by_group(checks)))
    loose = [c for c in card.checks.values() if not card.definition.level(c.level)]
    if loose:
        sections.append(LevelSection(None, by_group(loose)))
    return sections


def by_group(items: Iterable[Any], group: Any = lambda item: item.group) -> list[tuple[str, Any]]:
    """``items`` by category, categories in the order they first appear."""
    found: dict[str, list[Any]] = {}
    for item in items:
        found.setdefault(group(item), []).append(item)
    return list(found.items())


@dataclass
class ProductRow:
    result: ScorecardResult
    level: Part
    failing: int
    waived: int


@dataclass
class ScorecardPage:
    card: Card  # the saved definition
    run_card: Card | None  # the definition of the last run, which its results follow
    sections: list[LevelSection]
    counts: dict[str, int]  # products by level in the last run
    rows: list[ProductRow]
    page: Page[ScorecardResult] | None
    runs: list[ScorecardRun]
    pending_waivers: int


def scorecard_page(*, scorecard: Scorecard, level: str | None, page: str | None) -> ScorecardPage:
    """The definition, the products of the last run (``level``: those at that level, ""
    for none) worst first, and the latest runs: seven queries."""
    card = card_of(Definition.from_model(scorecard))
    run = scorecard.last_run
    last_card = rows_page = None
    rows: list[ProductRow] = []
    if run is not None:
        run.scorecard = scorecard
        last_card = run_card(run)
        results = ScorecardResult.objects.filter(run=run).select_related("product__domain")
        if level is not None:
            results = results.filter(level=level)
        rank = Case(
            *[When(level=p.key, then=Value(last_card.rank(p.key))) for p in last_card.parts],
            default=Value(0),
            output_field=IntegerField(),
        )
        ordered = results.order_by(rank, "score", "product__name", "pk")
        rows_page = Paginator(ordered, PRODUCTS_PER_PAGE).get_page(page)
        rows = [_product_row(result, last_card) for result in rows_page]
    runs = list(scorecard.runs.order_by("-created_at", "-pk")[:RUNS_SHOWN])
    pending = Waiver.objects.filter(
        Q(scorecard=scorecard) | Q(scorecard__isnull=True, check_key__in=list(card.checks)),
        status=Waiver.Status.PENDING,
    ).count()
    return ScorecardPage(
        card=card,
        run_card=last_card,
        sections=definition_sections(card),
        counts=level_counts(run),
        rows=rows,
        page=rows_page,
        runs=runs,
        pending_waivers=pending,
    )


def _product_row(result: ScorecardResult, card: Card) -> ProductRow:
    statuses = [(c or {}).get("status") for c in (result.checks or {}).values()]
    return ProductRow(
        result=result,
        level=card.part(result.level),
        failing=statuses.count(CheckStatus.FAIL),
        waived=statuses.count(CheckStatus.WAIVED),
    )


# --- one run ------------------------------------------------------------------------------------


def run_get(*, slug: str, pk: int) -> ScorecardRun | None:
    return (
        ScorecardRun.objects.select_related("scorecard").filter(pk=pk, scorecard__slug=slug).first()
    )


@dataclass
class CheckMove:
    check: CheckInfo
    was: str  # a CheckStatus, "" when the check is new
    now: str


@dataclass
class ProductChange:
    result: ScorecardResult
    before: Part
    after: Part
    moves: list[CheckMove]


@dataclass
class RunDiff:
    card: Card
    counts: dict[str, int]
    bar: StackedBar
    rose: list[ProductChange]
    dropped: list[ProductChange]
    checks_only: list[ProductChange]
    previous: ScorecardRun | None
    truncated: bool


def run_diff(*, run: ScorecardRun) -> RunDiff:
    """What the run changed, product by product, with the checks that moved: three queries
    (the run before it, the products whose level or checks changed)."""
    card = run_card(run)
    counts = level_counts(run)
    moved_level = Q(previous_score__isnull=False) & ~Q(level=F("previous_level"))
    changed = list(
        ScorecardResult.objects.filter(run=run)
        .filter(~Q(changes=[]) | moved_level)
        .select_related("product")
        .order_by("product__name", "pk")[: DIFF_SHOWN + 1]
    )
    previous = (
        ScorecardRun.objects.filter(
            scorecard_id=run.scorecard_id,
            status=ScorecardRun.Status.DONE,
            created_at__lt=run.created_at,
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    diff = RunDiff(
        card=card,
        counts=counts,
        bar=stacked_bar(card.parts, counts, name=run.scorecard.name),
        rose=[],
        dropped=[],
        checks_only=[],
        previous=previous,
        truncated=len(changed) > DIFF_SHOWN,
    )
    for result in changed[:DIFF_SHOWN]:
        change = ProductChange(
            result,
            card.part(result.previous_level),
            card.part(result.level),
            [
                CheckMove(card.check(m.get("check", "")), m.get("from") or "", m.get("to") or "")
                for m in (result.changes or [])
                if isinstance(m, dict)
            ],
        )
        moved = card.rank(result.level) - card.rank(result.previous_level)
        if result.previous_score is None or moved == 0:
            diff.checks_only.append(change)
        else:
            (diff.rose if moved > 0 else diff.dropped).append(change)
    return diff


# --- the product panel --------------------------------------------------------------------------


@dataclass
class CheckRow:
    check: CheckInfo
    status: str
    message: str
    waived_until: datetime | None = None  # a waived check: its waiver's expiry
    counts_from: datetime | None = None  # an upcoming check: when it starts to count
    would: str = ""  # an upcoming check: its result today
    waiver: Waiver | None = None  # pending or approved for this check


@dataclass
class ProductCard:
    scorecard: Scorecard
    run: ScorecardRun
    result: ScorecardResult
    level: Part
    next_level: Part | None
    missing: list[CheckRow]
    groups: list[tuple[str, list[CheckRow]]]
    failing: int
    upcoming: list[CheckRow]


@dataclass
class ProductScores:
    cards: list[ProductCard]
    waivers: list[tuple[Waiver, str]]  # with the title of its check, when a card has it


def product_scores(*, product: DataProduct, now: datetime) -> ProductScores:
    """The product's results in the last run of each enabled scorecard, and its pending and
    live waivers: two queries, whatever the number of scorecards and checks."""
    last_runs = Scorecard.objects.filter(enabled=True, last_run__isnull=False).values("last_run_id")
    results = (
        ScorecardResult.objects.filter(product=product, run_id__in=last_runs)
        .select_related("run__scorecard")
        .order_by("run__scorecard__name", "run__scorecard_id")
    )
    waivers = list(
        Waiver.objects.filter(product=product)
        .filter(
            Q(status=Waiver.Status.PENDING) | Q(status=Waiver.Status.APPROVED, expires_at__gt=now)
        )
        .select_related("scorecard")
        .order_by("status", "expires_at", "pk")
    )
    cards = [_product_card(result, waivers) for result in results]
    return ProductScores(cards, _waiver_titles(waivers, cards))


def _waiver_titles(
    waivers: Sequence[Waiver], cards: Sequence[ProductCard]
) -> list[tuple[Waiver, str]]:
    """Each waiver with its check's title in its scorecard (any scorecard, for a waiver of
    them all); "" when no card has the check."""
    titles: dict[str, dict[int, str]] = defaultdict(dict)
    for card in cards:
        for _, rows in card.groups:
            for row in rows:
                titles[row.check.key][card.scorecard.pk] = row.check.title
    named = []
    for waiver in waivers:
        found = titles.get(waiver.check_key, {})
        title = found.get(waiver.scorecard_id or 0) or next(iter(found.values()), "")
        named.append((waiver, title))
    return named


def _product_card(result: ScorecardResult, waivers: Sequence[Waiver]) -> ProductCard:
    run = result.run
    card = run_card(run)
    scorecard = run.scorecard
    mine = {
        w.check_key: w
        for w in reversed(waivers)  # the first listed wins: an approved one, then a pending
        if w.scorecard_id in (None, scorecard.pk)
    }
    rows = [
        _check_row(card.check(key), value or {}, mine.get(key))
        for key, value in (result.checks or {}).items()
    ]
    levels = card.definition.levels
    reached = card.rank(result.level)
    following = levels[reached] if reached < len(levels) else None
    missing = [
        r
        for r in rows
        if following and r.check.level == following.slug and r.status == CheckStatus.FAIL
    ]
    return ProductCard(
        scorecard=scorecard,
        run=run,
        result=result,
        level=card.part(result.level),
        next_level=card.part(following.slug) if following else None,
        missing=missing,
        groups=by_group(rows, lambda row: row.check.group),
        failing=sum(1 for r in rows if r.status == CheckStatus.FAIL),
        upcoming=[r for r in rows if r.status == CheckStatus.UPCOMING],
    )


def _check_row(info: CheckInfo, value: Mapping[str, Any], waiver: Waiver | None) -> CheckRow:
    evidence = value.get("evidence") or {}
    row = CheckRow(
        info, str(value.get("status") or ""), str(value.get("message") or ""), waiver=waiver
    )
    if row.status == CheckStatus.WAIVED and isinstance(evidence.get("waiver"), dict):
        row.waived_until = parse_datetime(str(evidence["waiver"].get("expires_at") or ""))
    if row.status == CheckStatus.UPCOMING:
        row.counts_from = info.enabled_from or parse_datetime(
            str(evidence.get("counts_from") or "")
        )
        row.would = str(evidence.get("result") or "")
    return row


def may_request_waiver(user: Any, product: DataProduct) -> bool:
    """Stewards, and those who may edit the product (:func:`catalog.roles.may_edit_product`)."""
    return is_steward(user) or may_edit_product(user, product)


# --- waivers ------------------------------------------------------------------------------------


@dataclass
class WaiverRow:
    waiver: Waiver
    check: str  # the check's title
    scorecard: str  # the scorecard's name, or the scorecards that have the check
    expired: bool


@dataclass
class WaiverQueue:
    pending: list[WaiverRow]
    decided: list[WaiverRow]


def waiver_queue(*, now: datetime) -> WaiverQueue:
    """Pending waivers, oldest first, then the latest decided with their audit trail:
    four queries."""
    base = Waiver.objects.select_related("product", "scorecard")
    pending = list(
        base.filter(status=Waiver.Status.PENDING).order_by("requested_at", "pk")[:WAIVERS_SHOWN]
    )
    decided = list(
        base.exclude(status=Waiver.Status.PENDING)
        .prefetch_related(Prefetch("events", queryset=WaiverEvent.objects.order_by("at", "pk")))
        .order_by(F("decided_at").desc(nulls_last=True), "-requested_at", "-pk")[:WAIVERS_SHOWN]
    )
    titles = check_titles(w.check_key for w in [*pending, *decided])
    return WaiverQueue(
        pending=[_waiver_row(w, titles, now) for w in pending],
        decided=[_waiver_row(w, titles, now) for w in decided],
    )


def check_titles(keys: Iterable[str]) -> dict[str, list[tuple[int, str, str]]]:
    """Check key → (scorecard id, scorecard name, title) for each scorecard that has it."""
    found: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    rows = ScorecardCheck.objects.filter(key__in=set(keys)).select_related("scorecard")
    for row in rows.order_by("scorecard__name", "pk"):
        definition = CheckDef.from_row(row)
        found[row.key].append((row.scorecard_id, row.scorecard.name, check_info(definition).title))
    return found


def _waiver_row(
    waiver: Waiver, titles: Mapping[str, list[tuple[int, str, str]]], now: datetime
) -> WaiverRow:
    having = titles.get(waiver.check_key, [])
    if waiver.scorecard_id is not None:
        having = [t for t in having if t[0] == waiver.scorecard_id] or having
    title = having[0][2] if having else waiver.check_key
    if waiver.scorecard is not None:
        where = waiver.scorecard.name
    else:
        where = "every scorecard with it" + (
            f" ({', '.join(t[1] for t in having)})" if having else ""
        )
    expired = waiver.status == Waiver.Status.APPROVED and waiver.expires_at <= now
    return WaiverRow(waiver, title, where, expired)
