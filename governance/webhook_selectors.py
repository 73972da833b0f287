"""Reads of webhook subscriptions and their deliveries, shared by the API and the portal."""

from __future__ import annotations

import django_filters
from django.db.models import OuterRef, QuerySet, Subquery

from governance.models import WebhookDelivery, WebhookSubscription


def webhook_list() -> QuerySet[WebhookSubscription]:
    """Subscriptions with their scope and the state of their latest delivery
    (``last_delivery_status``, ``last_delivery_code``, ``last_delivery_at``), in one query."""
    latest = WebhookDelivery.objects.filter(subscription=OuterRef("pk")).order_by(
        "-created_at", "-pk"
    )
    return (
        WebhookSubscription.objects.select_related("product", "domain")
        .annotate(
            last_delivery_status=Subquery(latest.values("status")[:1]),
            last_delivery_code=Subquery(latest.values("last_status_code")[:1]),
            last_delivery_at=Subquery(latest.values("created_at")[:1]),
        )
        .order_by("name", "pk")
    )


def webhook_get(*, pk: int) -> WebhookSubscription | None:
    return WebhookSubscription.objects.select_related("product", "domain").filter(pk=pk).first()


def webhook_deliveries(*, subscription: WebhookSubscription) -> QuerySet[WebhookDelivery]:
    """Newest first."""
    return subscription.deliveries.order_by("-created_at", "-pk")


class DeliveryFilter(django_filters.FilterSet):
    """``status`` (pending, delivered, failed) and ``event``."""

    status = django_filters.ChoiceFilter(choices=WebhookDelivery.Status.choices)
    event = django_filters.CharFilter()

    class Meta:
        model = WebhookDelivery
        fields: list[str] = []
