"""Scorecards as pages print them: scores, schedules in words, who may ask for a waiver."""

from __future__ import annotations

from typing import Any

from django import template

from catalog.models import DataProduct
from governance.scorecard_selectors import may_request_waiver

register = template.Library()

DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


@register.filter
def score(value: float | None) -> str:
    """``92.3`` → ``92.3``, ``100.0`` → ``100``, ``None`` → ``—``."""
    if value is None:
        return "—"
    return f"{float(value):.1f}".removesuffix(".0")


@register.filter
def signed(value: float | None) -> str:
    """A change of score: ``+1.5``, ``−2``, ``±0``."""
    if value is None:
        return ""
    if abs(value) < 0.05:
        return "±0"
    return ("+" if value > 0 else "−") + score(abs(value))


@register.filter
def cron_words(schedule: str) -> str:
    """A crontab in words for the usual shapes (``0 6 * * *`` → ``every day at 06:00``);
    "" for the others, which pages show as written. Schedules run in UTC."""
    fields = (schedule or "").split()
    if len(fields) != 5:
        return ""
    minute, hour, day, month, weekday = fields
    if minute.startswith("*/") and hour == day == month == weekday == "*":
        return f"every {minute[2:]} minutes"
    if not minute.isdigit() or month != "*":
        return ""
    if hour == "*" and day == weekday == "*":
        return f"every hour at minute {int(minute)}"
    if hour.startswith("*/") and day == weekday == "*":
        return f"every {hour[2:]} hours at minute {int(minute)}"
    if not all(h.isdigit() for h in hour.split(",")):
        return ""
    times = " and ".join(f"{int(h):02d}:{int(minute):02d}" for h in hour.split(","))
    days = _days(day, weekday)
    return f"{days} at {times} UTC" if days else ""


def _days(day: str, weekday: str) -> str:
    if day == "*" and weekday == "*":
        return "every day"
    if day.isdigit() and weekday == "*":
        return f"on day {int(day)} of every month"
    if day != "*":
        return ""
    if weekday in ("1-5", "mon-fri"):
        return "Monday to Friday"
    if weekday in ("0,6", "6,0"):
        return "on weekends"
    names = [DAYS[int(d) % 7] for d in weekday.split(",") if d.isdigit()]
    if len(names) != len(weekday.split(",")):
        return ""
    return "every " + " and ".join(names)


@register.simple_tag(takes_context=True)
def waiver_rights(context: Any, product: DataProduct) -> bool:
    """Whether the page's user may ask for a waiver on ``product``."""
    request = context.get("request")
    return request is not None and may_request_waiver(request.user, product)


@register.filter
def get(mapping: Any, key: str) -> Any:
    """``counts|get:part.key``: a value of a dict by a key the template holds."""
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def sub(value: float | None, other: float | None) -> float | None:
    """``score|sub:previous``: the change between two scores."""
    if value is None or other is None:
        return None
    return float(value) - float(other)
