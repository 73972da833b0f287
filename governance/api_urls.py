"""``/api/v1/`` routes of the governance app."""

from django.urls import path

from governance import slo_api, webhook_api

urlpatterns = [
    path("slos", slo_api.SloListView.as_view(), name="api-slos"),
    path("slos/<int:pk>", slo_api.SloView.as_view(), name="api-slo"),
    path("slos/<int:pk>/history", slo_api.SloHistoryView.as_view(), name="api-slo-history"),
    path("slos/<int:pk>/evaluate", slo_api.SloEvaluateView.as_view(), name="api-slo-evaluate"),
    path("webhooks", webhook_api.WebhookListView.as_view(), name="api-webhooks"),
    path("webhooks/<int:pk>", webhook_api.WebhookView.as_view(), name="api-webhook"),
    path(
        "webhooks/<int:pk>/deliveries",
        webhook_api.WebhookDeliveryListView.as_view(),
        name="api-webhook-deliveries",
    ),
    path("webhooks/<int:pk>/ping", webhook_api.WebhookPingView.as_view(), name="api-webhook-ping"),
]
