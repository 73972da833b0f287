"""Webhook API: ``/api/v1/webhooks`` — subscriptions, their deliveries, test pings.

Stewards only (:class:`~catalog.auth.CanGovern`). A subscription's secret signs what it
receives, so it is shown once, in the answer to the ``POST`` that creates it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api import product_by_id
from catalog.auth import CanGovern, actor_name
from catalog.models import DataProduct, Domain
from governance import webhook_selectors as selectors
from governance.models import WebhookDelivery, WebhookSubscription
from governance.webhooks import (
    validate_webhook_url,
    webhook_create,
    webhook_delete,
    webhook_ping,
    webhook_update,
)
from meshport.api import Pagination
from meshport.openapi import errors

# --- serializers --------------------------------------------------------------------------


class WebhookSerializer(serializers.ModelSerializer[WebhookSubscription]):
    product = serializers.CharField(source="product.external_id", allow_null=True, default=None)
    domain = serializers.CharField(source="domain.slug", allow_null=True, default=None)
    createdBy = serializers.CharField(source="created_by")
    createdAt = serializers.DateTimeField(source="created_at")
    lastDeliveryStatus = serializers.ChoiceField(
        source="last_delivery_status",
        choices=WebhookDelivery.Status.choices,
        allow_null=True,
        read_only=True,
    )
    lastDeliveryStatusCode = serializers.IntegerField(
        source="last_delivery_code", allow_null=True, read_only=True
    )
    lastDeliveryAt = serializers.DateTimeField(
        source="last_delivery_at", allow_null=True, read_only=True
    )

    class Meta:
        model = WebhookSubscription
        fields = ["id", "name", "url", "product", "domain", "events", "active", "createdBy",
                  "createdAt", "lastDeliveryStatus", "lastDeliveryStatusCode",
                  "lastDeliveryAt"]  # fmt: skip


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        help_text="Signs every request (X-Meshport-Signature); shown only in this answer."
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class WebhookInput(serializers.Serializer):
    """A subscription as a client sends it. The scope is ``product`` (its id) or ``domain``
    (its slug; sub-domains included) or neither (everything)."""

    name = serializers.CharField(max_length=200)
    url = serializers.CharField(
        max_length=2048, validators=[validate_webhook_url], help_text="An http or https URL."
    )
    product = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    domain = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookSubscription.EVENTS),
        required=False,
        help_text="Events to send; empty or absent: all of them.",
    )
    active = serializers.BooleanField(required=False)

    def validate_product(self, value: str | None) -> DataProduct | None:
        return product_by_id(value) if value else None

    def validate_domain(self, value: str | None) -> Domain | None:
        if not value:
            return None
        domain = Domain.objects.filter(slug=value).first()
        if domain is None:
            raise serializers.ValidationError(f"no domain with slug {value!r}")
        return domain

    def validate_events(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("product") is not None and attrs.get("domain") is not None:
            raise serializers.ValidationError(
                {"domain": ["give a product or a domain as the scope, not both"]}
            )
        return attrs


class DeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at")
    lastStatusCode = serializers.IntegerField(source="last_status_code", allow_null=True)
    lastError = serializers.CharField(source="last_error")
    createdAt = serializers.DateTimeField(source="created_at")
    deliveredAt = serializers.DateTimeField(source="delivered_at", allow_null=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "status", "attempts", "nextAttemptAt", "lastStatusCode",
                  "lastError", "createdAt", "deliveredAt", "payload", "log"]  # fmt: skip


# --- views --------------------------------------------------------------------------------


def _subscription_or_404(pk: int) -> WebhookSubscription:
    subscription = selectors.webhook_list().filter(pk=pk).first()
    if subscription is None:
        raise Http404(f"No webhook subscription {pk}.")
    return subscription


@extend_schema_view(
    get=extend_schema(responses={200: WebhookSerializer(many=True), **errors(400, 401, 403)})
)
class WebhookListView(ListAPIView):
    """``GET``: the subscriptions. ``POST``: subscribe a URL; the answer holds its secret."""

    permission_classes = [CanGovern]
    serializer_class = WebhookSerializer
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[WebhookSubscription]:
        return selectors.webhook_list()

    @extend_schema(
        request=WebhookInput,
        responses={201: WebhookCreatedSerializer, **errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        data = WebhookInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = webhook_create(**data.validated_data, actor=actor_name(request))
        answer = WebhookCreatedSerializer(_subscription_or_404(created.pk)).data
        return Response(answer, status=status.HTTP_201_CREATED)


class WebhookView(APIView):
    """One subscription: read it, change it (``PATCH``; naming ``product`` or ``domain``
    replaces the scope), or delete it with its deliveries."""

    permission_classes = [CanGovern]

    @extend_schema(responses={200: WebhookSerializer, **errors(401, 403, 404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(WebhookSerializer(_subscription_or_404(pk)).data)

    @extend_schema(
        request=WebhookInput(partial=True),
        responses={200: WebhookSerializer, **errors(400, 401, 403, 404)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        subscription = _subscription_or_404(pk)
        data = WebhookInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        webhook_update(
            subscription=subscription, changes=data.validated_data, actor=actor_name(request)
        )
        return Response(WebhookSerializer(_subscription_or_404(pk)).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def delete(self, request: Request, pk: int) -> Response:
        webhook_delete(subscription=_subscription_or_404(pk), actor=actor_name(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(responses={200: DeliverySerializer(many=True), **errors(400, 401, 403, 404)})
)
class WebhookDeliveryListView(ListAPIView):
    """What was sent to a subscription, newest first; filter by ``status`` and ``event``."""

    permission_classes = [CanGovern]
    serializer_class = DeliverySerializer
    pagination_class = Pagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = selectors.DeliveryFilter

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        return selectors.webhook_deliveries(subscription=_subscription_or_404(self.kwargs["pk"]))


class WebhookPingView(APIView):
    """Queue a test notification (event ``ping``), sent even when the subscription is
    paused; its outcome shows in the deliveries."""

    permission_classes = [CanGovern]

    @extend_schema(request=None, responses={202: DeliverySerializer, **errors(401, 403, 404)})
    def post(self, request: Request, pk: int) -> Response:
        delivery = webhook_ping(subscription=_subscription_or_404(pk))
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
