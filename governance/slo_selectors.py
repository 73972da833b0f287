"""Reads behind the SLO pages and panels, each in a fixed number of queries.

Every list here reads its SLOs in one query and the segments it charts in one more
(``prefetch_related`` into ``charted``), whatever the number of SLOs; the datasets that
evidence names are resolved together in one last query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    Expression,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    Prefetch,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from catalog.models import DataProduct, Dataset, Domain
from governance.charts import Timeline, timeline_chart
from governance.models import BURNING, Slo, SloSegment, SloState
from governance.slo_evidence import Line, Named, dataset_labels, datasets_named, evidence_lines

PANEL_DAYS = 7
WINDOW_DAYS = 28
LIST_LIMIT = 25  # rows per section of the overview (each breached row draws a timeline)
TOP_LIMIT = 10  # "burning fastest", "longest breaches"
STRETCHES_SHOWN = 200  # on an SLO's page; the API pages through them all
SEVERITY: dict[str, int] = {SloState.BREACHED: 0, SloState.UNKNOWN: 1, SloState.MET: 2}


@dataclass
class SloRow:
    """One SLO as a page shows it: its evidence in words and, when charted, its timeline."""

    slo: Slo
    evidence: list[Line] = field(default_factory=list)
    chart: Timeline | None = None


def segments_between(since: datetime, until: datetime) -> QuerySet[SloSegment]:
    """Segments overlapping ``[since, until]``, oldest first."""
    return SloSegment.objects.overlapping(since, until).order_by("start", "pk")


def with_segments(slos: QuerySet[Slo], since: datetime, until: datetime) -> QuerySet[Slo]:
    """``slos``, each with ``charted``: its segments overlapping the window."""
    return slos.prefetch_related(
        Prefetch("segments", queryset=segments_between(since, until), to_attr="charted")
    )


def slo_rows(
    slos: Iterable[Slo],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    named: dict[str, Named] | None = None,
) -> list[SloRow]:
    """Rows for ``slos``; charted over ``[since, until]`` when given (the SLOs then come
    from :func:`with_segments`). The datasets the evidence names are ``named``, or read
    in one query."""
    slos = list(slos)
    if named is None:
        named = _named([slo.evidence for slo in slos])
    rows = []
    for slo in slos:
        row = SloRow(slo, evidence_lines(slo.evidence, named))
        if since is not None and until is not None:
            row.chart = timeline_chart(
                getattr(slo, "charted", ()),
                start=since,
                end=until,
                label_every=1 if until - since <= timedelta(days=PANEL_DAYS) else 7,
                name=slo.name,
            )
        rows.append(row)
    return rows


def _named(evidences: Sequence[Any]) -> dict[str, Named]:
    return datasets_named(dataset_labels(e for e in evidences if isinstance(e, dict)))


# --- the product and dataset panels --------------------------------------------------


def product_slos(*, product: DataProduct, now: datetime) -> list[SloRow]:
    """The product's enabled SLOs, breached first, charted over the last 7 days:
    two queries (three when evidence names a dataset)."""
    since = now - timedelta(days=PANEL_DAYS)
    slos = with_segments(Slo.objects.enabled().filter(product=product), since, now)
    ordered = sorted(slos, key=lambda s: (SEVERITY.get(s.state, 1), s.name.lower(), s.pk))
    return slo_rows(ordered, since=since, until=now)


def dataset_slos(*, dataset: Dataset) -> list[Slo]:
    """SLOs watching ``dataset``: those naming it, and those of the products whose
    output ports are bound to it. One query."""
    keys = {(dataset.namespace.name, dataset.name)}
    slos = Slo.objects.enabled().bound_to(keys).select_related("product")
    return sorted(slos, key=lambda s: (SEVERITY.get(s.state, 1), s.name.lower(), s.pk))


# --- the overview -----------------------------------------------------------------------


@dataclass
class Overview:
    counts: dict[str, int]
    breached: list[SloRow]
    burning: list[SloRow]
    longest: list[SloSegment]
    charted: list[SloRow]
    charted_total: int
    since: datetime
    until: datetime
    everything: Page[Slo]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def slo_overview(*, slos: QuerySet[Slo], now: datetime, page: str | None = None) -> Overview:
    """What stewards look at, over ``slos`` (already filtered), and ``page`` of the list
    of them all: ten queries, and one more when evidence names datasets."""
    since = now - timedelta(days=WINDOW_DAYS)
    slos = slos.select_related("product")
    counts = dict(slos.order_by().values_list("state").annotate(n=Count("pk")))
    breached = list(slos.filter(state=SloState.BREACHED).order_by("state_since", "pk")[:LIST_LIMIT])
    burning = list(
        slos.filter(burn_rate_1d__gt=BURNING, budget_remaining__gt=0).order_by(
            "-burn_rate_1d", "pk"
        )[:TOP_LIMIT]
    )
    breaches = segments_between(since, now).filter(state=SloState.BREACHED, slo__in=slos)
    # Read once: as a subquery of both the chart and its count, the breaches were
    # scanned twice (~11 ms each over 2,000 SLOs).
    breached_ids = set(breaches.values_list("slo_id", flat=True))
    charted_slos = slos.filter(pk__in=breached_ids)
    charted = list(
        with_segments(charted_slos, since, now).order_by(
            F("budget_remaining").asc(nulls_last=True), "name", "pk"
        )[:LIST_LIMIT]
    )
    named = _named([slo.evidence for slo in [*breached, *burning]])
    rows = slo_rows([*breached, *burning], named=named)
    return Overview(
        counts={state: counts.get(state, 0) for state in SloState.values},
        breached=rows[: len(breached)],
        burning=rows[len(breached) :],
        longest=longest_breaches(breaches, now),
        charted=slo_rows(charted, since=since, until=now, named=named),
        charted_total=len(breached_ids),
        since=since,
        until=now,
        everything=Paginator(by_severity(slos), LIST_LIMIT).get_page(page),
    )


def by_severity(slos: QuerySet[Slo]) -> QuerySet[Slo]:
    """Breached first, then unknown, then met; by product and name within each."""
    rank = Case(
        *[When(state=state, then=Value(n)) for state, n in SEVERITY.items()],
        default=Value(1),
        output_field=IntegerField(),
    )
    return slos.order_by(rank, "product__name", "name", "pk")


def longest_breaches(breaches: QuerySet[SloSegment], now: datetime) -> list[SloSegment]:
    """The longest of ``breaches`` (a breach still going lasts until ``now``), each with
    its ``length``."""
    longest: list[SloSegment] = list(
        breaches.select_related("slo", "slo__product")
        .annotate(lasted=_lasted(now))
        .order_by("-lasted", "pk")[:TOP_LIMIT]
    )
    for segment in longest:
        segment.length = (segment.end or now) - segment.start  # type: ignore[attr-defined]
    return longest


def _lasted(now: datetime) -> Expression:
    """How long a segment lasted, to order by. SQLite subtracts datetimes in a Python
    function called row by row (~35 ms over the 8k breaches of 2,000 SLOs in 28 days), so
    there the difference is taken in days, by SQLite itself."""
    end = Coalesce("end", Value(now, output_field=DateTimeField()))
    if connection.vendor != "sqlite":
        return ExpressionWrapper(end - F("start"), output_field=DurationField())
    days = FloatField()
    return Func(end, function="julianday", output_field=days) - Func(
        F("start"), function="julianday", output_field=days
    )


def domain_choices() -> list[tuple[str, str]]:
    return list(Domain.objects.order_by("name", "slug").values_list("slug", "name"))


# --- one SLO ----------------------------------------------------------------------------


def slo_get(*, pk: int) -> Slo | None:
    return Slo.objects.select_related("product", "product__domain").filter(pk=pk).first()


@dataclass
class Stretch:
    segment: SloSegment
    evidence: list[Line]


@dataclass
class History:
    chart: Timeline
    stretches: list[Stretch]  # newest first
    evidence: list[Line]  # the SLO's current evidence


def slo_history(*, slo: Slo, since: datetime, until: datetime) -> History:
    """The SLO's timeline over ``[since, until]`` with its stretches: two queries."""
    segments = list(segments_between(since, until).filter(slo=slo))
    chart = timeline_chart(segments, start=since, end=until, label_every=7, name=slo.name)
    named = _named([s.evidence for s in segments] + [slo.evidence])
    stretches = [Stretch(s, evidence_lines(s.evidence, named)) for s in reversed(segments)]
    return History(chart, stretches, evidence_lines(slo.evidence, named))
