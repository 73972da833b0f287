"""Figures of SLOs as pages print them: ``99.2%``, ``3.4×``, the error budget bar."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from governance.charts import Tick, length
from governance.models import Slo, human_duration

register = template.Library()

OVERSPENT_BELOW = -1e6  # services.OVERSPENT: a budget of zero, breached


@register.filter
def percent(value: float | None) -> str:
    """``0.99123`` → ``99.1%``; ``1.0`` → ``100%``; ``None`` → ``—``."""
    if value is None:
        return "—"
    shown = f"{value * 100:.1f}"
    if shown.endswith(".0"):
        shown = shown[:-2]
    if shown == "100" and value < 1:
        shown = "99.9"  # a sliver of a breach is not "100%"
    return f"{shown}%"


@register.filter
def burn(value: float | None) -> str:
    """``2.345`` → ``2.3×``: how many times the sustainable rate the budget goes."""
    if value is None:
        return "—"
    if value >= 1e6:
        return "∞"
    return f"{value:.1f}×" if value < 10 else f"{value:.0f}×"


@register.inclusion_tag("governance/_slo_budget.html")
def slo_budget(slo: Slo, wide: bool = False) -> dict[str, Any]:
    """The error budget left as a bar: green while half of it is left, amber below, red
    under a fifth; ``wide`` puts the words above a bar as wide as its box."""
    remaining = slo.budget_remaining
    allowed = slo.budget_seconds
    context: dict[str, Any] = {"known": remaining is not None, "wide": wide}
    if remaining is None:
        return context
    share = min(max(remaining, 0.0), 1.0)
    context.update(
        fill=round(share * 100, 1),
        level="ok" if share >= 0.5 else "low" if share >= 0.2 else "spent",
        overspent=remaining < 0,
        label="overspent" if remaining < 0 else f"{percent(remaining)} left",
        short="overspent" if remaining < 0 else percent(remaining),
        title=_budget_title(remaining, allowed),
    )
    return context


def _budget_title(remaining: float, allowed: float) -> str:
    if allowed <= 0:
        return "The objective allows no breach at all"
    budget = f"a budget of {human_duration(allowed)} breached over 28 days"
    if remaining < 0:
        over = f"{human_duration(-remaining * allowed)} " if remaining > OVERSPENT_BELOW else ""
        return f"Overspent {over}beyond {budget}"
    return f"{human_duration(remaining * allowed)} left of {budget}"


@register.filter
def duration(value: timedelta | float | None) -> str:
    """A length of time in the largest unit that fits: ``6 h``, ``2.5 d``."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return length(max(seconds, 0.0))


@register.simple_tag
def timeline_ticks(ticks: Sequence[Tick], height: int, labels: bool = False) -> SafeString:
    """The day ticks of a timeline (``_slo_timeline.svg.html``) as SVG lines, and their
    labels with ``labels``. Every timeline of a page shares its window and so its ticks:
    drawn once, not once per timeline (the SLO overview's 50 timelines of 28 ticks were a
    third of its rendering)."""
    return _ticks(tuple(ticks), int(height), bool(labels))


@lru_cache(maxsize=64)
def _ticks(ticks: tuple[Tick, ...], height: int, labels: bool) -> SafeString:
    parts = []
    for tick in ticks:
        x = f"{tick.x:.3f}"
        labelled = labels and bool(tick.label)
        y2 = height + 4 if labelled else height
        parts.append(format_html('<line x1="{}%" x2="{}%" y1="0" y2="{}"></line>', x, x, y2))
        if labelled:
            parts.append(
                format_html('<text x="{}%" dx="3" y="{}">{}</text>', x, height + 14, tick.label)
            )
    return SafeString("".join(parts))
