"""SLO timelines drawn on the server: where each stretch goes on the chart.

Geometry is in percent of the chart's width, so one SVG scales to any column without
distorting its text; templates only draw what :func:`timeline_chart` returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    return ticks


def _summary(name: str, shown: dict[str, float], span: float, start: datetime) -> str:
    parts = [
        f"{state} {seconds / span:.0%}"
        for state in (SloState.MET.value, SloState.BREACHED.value, SloState.UNKNOWN.value)
        if (seconds := shown.get(state, 0.0))
    ]
    what = f"{name}: " if name else ""
    since = f"since {when(start)}"
    return f"{what}{', '.join(parts) or 'no record'} of the time {since}"
