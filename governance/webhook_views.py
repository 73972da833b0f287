"""Stewards' webhook pages: the subscriptions, and what was sent to each."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods

from catalog.ownership_selectors import can_govern
from governance import webhook_selectors as selectors
from governance.models import WebhookDelivery, WebhookSubscription
from governance.webhooks import webhook_ping

DELIVERIES_PER_PAGE = 25

View = Callable[..., HttpResponse]


def steward_required(view: View) -> View:
    """Staff only: the pages show endpoints whose URLs may hold credentials."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not can_govern(request.user):
            message = "Webhooks are managed by stewards: this page needs staff status."
            return render(request, "catalog/forbidden.html", {"message": message}, status=403)
        return view(request, *args, **kwargs)

    return wrapper


@steward_required
def webhooks(request: HttpRequest) -> HttpResponse:
    return render(request, "governance/webhooks.html", {"subscriptions": selectors.webhook_list()})


@require_http_methods(["GET", "POST"])
@steward_required
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
