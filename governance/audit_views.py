"""The audit log page: who changed what, for stewards."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from catalog.audit import TARGET_TYPES, audit_entries
from catalog.models import AuditEntry
from meshport.access import steward_required

PER_PAGE = 50
PERIODS = {"1": "last day", "7": "last 7 days", "30": "last 30 days", "365": "last year"}


class AuditFilter(forms.Form):
    type = forms.ChoiceField(required=False, choices=[("", "Everything"), *TARGET_TYPES.items()])
    actor = forms.CharField(required=False, max_length=255)
    q = forms.CharField(required=False, max_length=200)
    days = forms.ChoiceField(required=False, choices=[("", "Any time"), *PERIODS.items()])


@steward_required("read the audit log")
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilter(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    days = data.get("days")
    entries = audit_entries(
        target_type=data.get("type", ""),
        actor=data.get("actor", "").strip(),
        text=data.get("q", "").strip(),
        since=timezone.now() - timedelta(days=int(days)) if days else None,
    )
    page = Paginator(entries, PER_PAGE).get_page(request.GET.get("page"))
    rows = [(entry, target_url(entry), details(entry)) for entry in page]
    context = {"form": form, "page": page, "rows": rows, "filtered": any(data.values())}
    return render(request, "governance/audit.html", context, status=200 if form.is_valid() else 400)


def details(entry: AuditEntry) -> list[tuple[str, str]]:
    """The entry's changes as lines to read: lists joined, ``[before, after]`` of a
    change shown as ``before → after``."""
    lines = []
    for key, value in entry.changes.items():
        if entry.action.endswith(".changed") and isinstance(value, list) and len(value) == 2:
            text = f"{_shown(value[0])} → {_shown(value[1])}"
        else:
            text = _shown(value)
        lines.append((key, text))
    return lines


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def target_url(entry: AuditEntry) -> str:
    """Where the changed thing lives now ("" when it is gone or has no page)."""
    if entry.action.endswith(".deleted"):
        return ""
    kind, target = entry.target_type, entry.target
    if kind == "product":
        return reverse("catalog:product-detail", args=[target])
    if kind == "slo":
        return reverse("governance:slo-detail", args=[int(target)])
    if kind == "scorecard":
        return reverse("governance:scorecard-detail", args=[target])
    if kind == "webhook":
        return reverse("governance:webhook-detail", args=[int(target)])
    if kind == "waiver":
        return reverse("governance:waivers")
    if kind == "token":
        return reverse("catalog:tokens")
    if kind == "ownership":
        of, _, key = target.partition(":")
        if of == "product":
            return reverse("catalog:product-detail", args=[key])
        return reverse("catalog:dataset-detail", args=[int(key)]) if key.isdigit() else ""
    return ""
