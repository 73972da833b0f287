"""Stewards' webhook pages: the subscriptions, and what was sent to each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods

from governance import webhook_selectors as selectors
from governance.models import WebhookDelivery, WebhookSubscription
from governance.webhooks import webhook_ping
from meshport.access import steward_required

DELIVERIES_PER_PAGE = 25

View = Callable[..., HttpResponse]


@steward_required("manage webhooks, whose URLs may hold credentials")
def webhooks(request: HttpRequest) -> HttpResponse:
    return render(request, "governance/webhooks.html", {"subscriptions": selectors.webhook_list()})


@require_http_methods(["GET", "POST"])
@steward_required("manage webhooks, whose URLs may hold credentials")
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The delivery log; ``POST`` sends a test ping."""
    subscription = selectors.webhook_get(pk=pk)
    if subscription is None:
        raise Http404(f"No webhook subscription {pk}.")
    if request.method == "POST":
        return _ping(request, subscription)
    deliveries = selectors.DeliveryFilter(
        request.GET, queryset=selectors.webhook_deliveries(subscription=subscription)
    )
    page = Paginator(deliveries.qs, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    rows = [(delivery, _attempts(delivery)) for delivery in page]
    return render(
        request,
        "governance/webhook_detail.html",
        {
            "subscription": subscription,
            "page": page,
            "rows": rows,
            "statuses": WebhookDelivery.Status.choices,
            "events": WebhookSubscription.EVENTS,
            "status": deliveries.form.cleaned_data.get("status") if deliveries.is_valid() else "",
            "event": request.GET.get("event", ""),
        },
    )


def _ping(request: HttpRequest, subscription: WebhookSubscription) -> HttpResponse:
    webhook_ping(subscription=subscription)
    messages.success(request, "Test ping queued: it appears below once the worker sent it.")
    return redirect("governance:webhook-detail", pk=subscription.pk)


def _attempts(delivery: WebhookDelivery) -> list[dict[str, Any]]:
    """The delivery's log, latest attempt first, its times read back as datetimes."""
    return [
        {**entry, "at": parse_datetime(entry.get("at") or "")} for entry in reversed(delivery.log)
    ]
