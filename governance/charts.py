"""Charts drawn on the server: SLO timelines, and scorecards' level distributions and trends.

Geometry is in percent of the chart's width, so one SVG scales to any column without
distorting its text; templates only draw what :func:`timeline_chart`,
:func:`stacked_bar` and :func:`trend_chart` return.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Protocol

from django.utils import timezone

from governance.models import SloState, human_duration

# A breach of a few minutes over 28 days is a sliver of a pixel: give every stretch a
# visible width, and draw breaches last so that they stay on top of what they overlap.
MIN_WIDTH = 0.4
DRAW_ORDER: dict[str, int] = {SloState.MET: 0, SloState.UNKNOWN: 1, SloState.BREACHED: 2}
LABEL_ROOM = 94.0  # a day label starting further right would be cut by the chart's edge


class Stretch(Protocol):
    """What a chart needs of a segment (:class:`~governance.models.SloSegment` has it)."""

    @property
    def state(self) -> str: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime | None: ...


@dataclass(frozen=True)
class Bar:
    state: str
    x: float  # percent of the chart's width
    width: float
    title: str  # "breached from May 3 10:00 UTC to May 3 16:00 (6 h)"


@dataclass(frozen=True)
class Tick:
    """A day boundary; ``label`` is empty for a line without text."""

    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    start: datetime
    end: datetime
    bars: list[Bar]
    ticks: list[Tick]
    title: str  # the whole chart in words, for screen readers


def length(seconds: float) -> str:
    """:func:`human_duration` to the minute: a stretch measured up to ``now`` lasts
    ``3 h``, not ``3.0 h`` for the milliseconds past."""
    return human_duration(round(seconds / 60) * 60 if seconds >= 60 else seconds)


def when(moment: datetime) -> str:
    """``May 3 10:00``, in the site's time zone."""
    local = timezone.localtime(moment)
    return f"{local:%b} {local.day} {local:%H:%M}"


def stretch_title(stretch: Stretch, now: datetime) -> str:
    end = stretch.end or now
    zone = timezone.localtime(stretch.start).tzname()
    until = when(stretch.end) if stretch.end else "now"
    lasted = length((end - stretch.start).total_seconds())
    return f"{stretch.state} from {when(stretch.start)} {zone} to {until} ({lasted})"


def timeline_chart(
    stretches: Iterable[Stretch],
    *,
    start: datetime,
    end: datetime,
    label_every: int = 1,
    name: str = "",
) -> Timeline:
    """The stretches overlapping ``[start, end]`` as bars, and a tick at each local
    midnight, labelled every ``label_every`` days (7: on Mondays). A stretch whose
    ``end`` is ``None`` lasts until ``end``."""
    span = (end - start).total_seconds()
    if span <= 0:
        raise ValueError("the chart's end must come after its start")
    bars: list[Bar] = []
    shown: dict[str, float] = {}
    for stretch in stretches:
        left, right = max(stretch.start, start), min(stretch.end or end, end)
        if right <= left:
            continue
        shown[stretch.state] = shown.get(stretch.state, 0.0) + (right - left).total_seconds()
        x = (left - start).total_seconds() / span * 100
        width = max((right - left).total_seconds() / span * 100, MIN_WIDTH)
        x = min(x, 100 - width)
        bars.append(Bar(stretch.state, round(x, 3), round(width, 3), stretch_title(stretch, end)))
    bars.sort(key=lambda bar: DRAW_ORDER.get(bar.state, 0))
    return Timeline(
        start, end, bars, day_ticks(start, end, label_every), _summary(name, shown, span, start)
    )


def day_ticks(start: datetime, end: datetime, label_every: int = 1) -> list[Tick]:
    """A tick at each local midnight: the same for every chart of one window, so computed
    once per window (the SLO overview draws 50 timelines over the same 28 days)."""
    zone = timezone.get_current_timezone_name()
    return list(_day_ticks(start, end, label_every, zone))


@lru_cache(maxsize=64)
def _day_ticks(start: datetime, end: datetime, label_every: int, zone: str) -> tuple[Tick, ...]:
    span = (end - start).total_seconds()
    local = timezone.localtime(start)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    ticks = []
    while day < end:
        x = round((day - start).total_seconds() / span * 100, 3)
        labelled = (day.toordinal() - 1) % label_every == 0 and x <= LABEL_ROOM
        text = f"{day:%a} {day.day}" if label_every == 1 else f"{day:%b} {day.day}"
        ticks.append(Tick(x, text if labelled else ""))
        day = timezone.localtime(day + timedelta(days=1)).replace(hour=0)
    return tuple(ticks)


def _summary(name: str, shown: dict[str, float], span: float, start: datetime) -> str:
    parts = [
        f"{state} {seconds / span:.0%}"
        for state in (SloState.MET.value, SloState.BREACHED.value, SloState.UNKNOWN.value)
        if (seconds := shown.get(state, 0.0))
    ]
    what = f"{name}: " if name else ""
    since = f"since {when(start)}"
    return f"{what}{', '.join(parts) or 'no record'} of the time {since}"


# --- scorecards: level distributions and their trend -------------------------------------

# Areas are drawn in a viewBox of this size, stretched to the chart's box (preserveAspectRatio
# none); dots and text sit in the outer SVG, in percent across and pixels down, so that they
# keep their shape at any width.
TREND_WIDTH = 1000.0


@dataclass(frozen=True)
class Part:
    """One level in a chart: ``key`` its slug ("" for no level), its name and colour."""

    key: str
    label: str
    color: str


@dataclass(frozen=True)
class Segment:
    part: Part
    count: int
    x: float  # percent of the bar's width
    width: float
    title: str  # "Silver: 4 of 11 products (36%)"


@dataclass(frozen=True)
class StackedBar:
    segments: list[Segment]
    total: int
    title: str


def share(count: float, total: float) -> str:
    """``4, 11`` → ``36%``; shares under 1% that are not nothing read ``<1%``."""
    if not total:
        return "0%"
    value = count / total * 100
    return "<1%" if 0 < value < 1 else f"{value:.0f}%"


def stacked_bar(parts: Sequence[Part], counts: Mapping[str, int], *, name: str = "") -> StackedBar:
    """How ``counts`` (products by level key) split, in the order of ``parts``; the levels
    that no product holds take no room but still read in the title."""
    total = sum(counts.get(part.key, 0) for part in parts)
    segments, x = [], 0.0
    for part in parts:
        count = counts.get(part.key, 0)
        if not count:
            continue
        width = count / total * 100
        noun = "product" if total == 1 else "products"
        title = f"{part.label}: {count} of {total} {noun} ({share(count, total)})"
        segments.append(Segment(part, count, round(x, 3), round(width, 3), title))
        x += width
    words = ", ".join(f"{part.label} {counts.get(part.key, 0)}" for part in parts)
    what = f"{name}: " if name else ""
    return StackedBar(segments, total, f"{what}{words} of {total} product{'s' * (total != 1)}")


@dataclass(frozen=True)
class Sample:
    """One run on a trend: when, how many products at each level, the mean score."""

    at: datetime
    counts: Mapping[str, int]
    score: float | None
    url: str = ""


@dataclass(frozen=True)
class Band:
    part: Part
    points: str  # a polygon in the viewBox ``0 0 TREND_WIDTH 100``


@dataclass(frozen=True)
class Dot:
    x: float  # percent of the width
    y: float  # pixels from the top of the plot
    title: str
    url: str


@dataclass(frozen=True)
class Trend:
    bands: list[Band]
    line: str  # the mean score as a polyline in the viewBox
    dots: list[Dot]
    ticks: list[Tick]
    height: int  # of the plot, in pixels
    title: str

    @property
    def middle(self) -> int:
        return self.height // 2


def trend_chart(
    samples: Sequence[Sample], parts: Sequence[Part], *, name: str = "", height: int = 120
) -> Trend | None:
    """Shares of products at each level over time, stacked in the order of ``parts`` from
    the bottom, and the mean score (0–100, the same scale) as a line. ``None`` below two
    samples: a single run has no trend."""
    samples = sorted(samples, key=lambda s: s.at)
    if len(samples) < 2:
        return None
    start, end = samples[0].at, samples[-1].at
    span = (end - start).total_seconds() or 1.0
    xs = [(s.at - start).total_seconds() / span * TREND_WIDTH for s in samples]
    bands = []
    below = [0.0] * len(samples)
    for part in parts:
        above = [b + _share_of(s, part, parts) for b, s in zip(below, samples, strict=True)]
        if above != below:
            edge = [*zip(xs, above, strict=True), *reversed(list(zip(xs, below, strict=True)))]
            bands.append(Band(part, " ".join(f"{x:.1f},{100 - y:.2f}" for x, y in edge)))
        below = above
    scored = [(x, s, s.score) for x, s in zip(xs, samples, strict=True) if s.score is not None]
    dots = [
        Dot(round(x / TREND_WIDTH * 100, 3), round(height * (100 - score) / 100, 1),
            _sample_title(s, parts), s.url)
        for x, s, score in scored
    ]  # fmt: skip
    return Trend(
        bands,
        " ".join(f"{x:.1f},{100 - score:.2f}" for x, _, score in scored),
        dots,
        _edge_ticks(start, end),
        height,
        _trend_title(samples, parts, name),
    )


def _share_of(sample: Sample, part: Part, parts: Sequence[Part]) -> float:
    total = sum(sample.counts.get(p.key, 0) for p in parts)
    return sample.counts.get(part.key, 0) / total * 100 if total else 0.0


def _sample_title(sample: Sample, parts: Sequence[Part]) -> str:
    levels = ", ".join(f"{p.label} {sample.counts.get(p.key, 0)}" for p in parts)
    return f"{when(sample.at)}: mean score {sample.score:g}; {levels}"


def _trend_title(samples: Sequence[Sample], parts: Sequence[Part], name: str) -> str:
    first, last = samples[0], samples[-1]
    moves = ", ".join(
        f"{p.label} {first.counts.get(p.key, 0)} → {last.counts.get(p.key, 0)}" for p in parts
    )
    score = ""
    if first.score is not None and last.score is not None:
        score = f"; mean score {first.score:g} → {last.score:g}"
    what = f"{name}, " if name else ""
    return f"{what}{len(samples)} runs from {when(first.at)} to {when(last.at)}: {moves}{score}"


def _edge_ticks(start: datetime, end: datetime) -> list[Tick]:
    """Midnights under a trend, labelled ``Nov 16``: about six at most."""
    ticks = day_ticks(start, end)
    every = max(1, -(-len(ticks) // 6))
    span = end - start
    return [
        Tick(t.x, _day(start + span * (t.x / 100))) for i, t in enumerate(ticks) if i % every == 0
    ]


def _day(moment: datetime) -> str:
    local = timezone.localtime(moment + timedelta(minutes=1))  # a midnight rounded down
    return f"{local:%b} {local.day}"
