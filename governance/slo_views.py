"""SLO pages (the overview, one SLO) and the SLO panels of product and dataset pages."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from catalog.models import DataProduct, Dataset
from catalog.panels import Panel, Stat
from catalog.roles import is_steward
from governance import services
from governance import slo_selectors as selectors
from governance.models import Slo, SloKind, SloState
from governance.slo import watched_datasets
from governance.slo_api import SloFilter
from meshport.access import deny, stewards_only

FILTERS = ("domain", "kind", "state")

# --- panels on catalog pages (registered in GovernanceConfig.ready) --------------------


def product_panel(product: DataProduct) -> Panel:
    """The product's SLOs with their last 7 days; how to declare one when there is none."""
    rows = selectors.product_slos(product=product, now=timezone.now())
    breached = sum(1 for row in rows if row.slo.is_breached)
    stats = []
    if rows:
        label = f"of {len(rows)} SLO{'s' if len(rows) != 1 else ''} breached"
        stats.append(Stat(label, breached, f"{product.get_absolute_url()}#slos"))
    return Panel(
        "governance/_slo_panel.html",
        {"product": product, "rows": rows, "breached": breached, "days": selectors.PANEL_DAYS},
        stats=stats,
    )


def dataset_panel(dataset: Dataset) -> Panel | None:
    slos = selectors.dataset_slos(dataset=dataset)
    if not slos:
        return None
    return Panel("governance/_slo_dataset_panel.html", {"slos": slos})


# --- pages --------------------------------------------------------------------------------


def slos(request: HttpRequest) -> HttpResponse:
    """Every enabled SLO at a glance, filtered by ``domain``, ``kind`` and ``state``."""
    domains = selectors.domain_choices()
    data, errors = _filter_data(request.GET, {slug for slug, _ in domains})
    filterset = SloFilter(data, queryset=Slo.objects.enabled())
    overview = selectors.slo_overview(
        slos=filterset.qs, now=timezone.now(), page=request.GET.get("page")
    )
    return render(
        request,
        "governance/slos.html",
        {
            "overview": overview,
            "filters": {name: data.get(name, "") for name in FILTERS},
            "filtered": bool(data),
            "domains": domains,
            "kinds": SloKind.choices,
            "states": SloState.choices,
            "errors": errors,
        },
    )


def _filter_data(params: QueryDict, domains: set[str]) -> tuple[QueryDict, list[str]]:
    """The filters that make sense; the others are dropped with a word why."""
    data, errors = QueryDict(mutable=True), []
    checks = {
        "domain": (domains, "There is no domain “{}”; showing every domain."),
        "kind": (set(SloKind.values), "Unknown kind “{}”; showing every kind."),
        "state": (set(SloState.values), "Unknown state “{}”; showing every state."),
    }
    for name, (allowed, message) in checks.items():
        value = params.get(name, "").strip()[:200]
        if value in allowed:
            data[name] = value
        elif value:
            errors.append(message.format(value))
    return data, errors


@require_http_methods(["GET", "POST"])
def slo_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One SLO: its promise, figures and 28 days of history. ``POST`` evaluates it now
    (stewards)."""
    slo = selectors.slo_get(pk=pk)
    if slo is None:
        raise Http404(f"No SLO {pk}.")
    if request.method == "POST":
        return _evaluate(request, slo)
    now = timezone.now()
    history = selectors.slo_history(
        slo=slo, since=now - timedelta(days=selectors.WINDOW_DAYS), until=now
    )
    return render(
        request,
        "governance/slo_detail.html",
        {
            "slo": slo,
            "history": history,
            "stretches": history.stretches[: selectors.STRETCHES_SHOWN],
            "watched": watched_datasets(slo),
            "budget_time": slo.budget_seconds,
            "can_evaluate": is_steward(request.user),
        },
    )


def _evaluate(request: HttpRequest, slo: Slo) -> HttpResponse:
    if not is_steward(request.user):
        return deny(request, stewards_only("evaluate an SLO on demand"))
    slo = services.slo_evaluate(slo=slo)
    messages.success(request, f"Evaluated just now: {slo.state}.")
    return redirect(reverse("governance:slo-detail", args=[slo.pk]))
