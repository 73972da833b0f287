"""``/api/v1/`` routes of the governance app."""

from django.urls import path

from governance import scorecard_api, slo_api, webhook_api

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
    path("scorecards", scorecard_api.ScorecardListView.as_view(), name="api-scorecards"),
    path("scorecards/<slug:slug>", scorecard_api.ScorecardView.as_view(), name="api-scorecard"),
    path(
        "scorecards/<slug:slug>/dry-run",
        scorecard_api.ScorecardDryRunView.as_view(),
        name="api-scorecard-dry-run",
    ),
    path(
        "scorecards/<slug:slug>/evaluate",
        scorecard_api.ScorecardEvaluateView.as_view(),
        name="api-scorecard-evaluate",
    ),
    path(
        "scorecards/<slug:slug>/results",
        scorecard_api.ScorecardProductResultView.as_view(),
        name="api-scorecard-product-result",
    ),
    path(
        "scorecards/<slug:slug>/runs",
        scorecard_api.ScorecardRunListView.as_view(),
        name="api-scorecard-runs",
    ),
    path(
        "scorecards/<slug:slug>/runs/<int:pk>",
        scorecard_api.ScorecardRunView.as_view(),
        name="api-scorecard-run",
    ),
    path(
        "scorecards/<slug:slug>/runs/<int:pk>/results",
        scorecard_api.ScorecardResultListView.as_view(),
        name="api-scorecard-run-results",
    ),
    path("waivers", scorecard_api.WaiverListView.as_view(), name="api-waivers"),
    path("waivers/<int:pk>", scorecard_api.WaiverView.as_view(), name="api-waiver"),
    path(
        "waivers/<int:pk>/approve",
        scorecard_api.WaiverApproveView.as_view(),
        name="api-waiver-approve",
    ),
    path("waivers/<int:pk>/deny", scorecard_api.WaiverDenyView.as_view(), name="api-waiver-deny"),
    path(
        "waivers/<int:pk>/revoke",
        scorecard_api.WaiverRevokeView.as_view(),
        name="api-waiver-revoke",
    ),
]
