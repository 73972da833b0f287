from django.urls import path

from governance import audit_views, my_views, scorecard_views, slo_views, views, webhook_views

app_name = "governance"

urlpatterns = [
    path("", views.index, name="index"),
    path("my/", my_views.my_data, name="my-data"),
    path("slos/", slo_views.slos, name="slos"),
    path("slos/<int:pk>/", slo_views.slo_detail, name="slo-detail"),
    path("scorecards/", scorecard_views.scorecards, name="scorecards"),
    path("scorecards/<slug:slug>/", scorecard_views.scorecard_detail, name="scorecard-detail"),
    path(
        "scorecards/<slug:slug>/run/", scorecard_views.scorecard_run_now, name="scorecard-run-now"
    ),
    path(
        "scorecards/<slug:slug>/preview/",
        scorecard_views.scorecard_preview,
        name="scorecard-preview",
    ),
    path(
        "scorecards/<slug:slug>/runs/<int:pk>/",
        scorecard_views.scorecard_run,
        name="scorecard-run",
    ),
    path("waivers/", scorecard_views.waivers, name="waivers"),
    path("waivers/request/", scorecard_views.waiver_request_view, name="waiver-request"),
    path("waivers/<int:pk>/decide/", scorecard_views.waiver_decide_view, name="waiver-decide"),
    path("waivers/<int:pk>/revoke/", scorecard_views.waiver_revoke_view, name="waiver-revoke"),
    path("webhooks/", webhook_views.webhooks, name="webhooks"),
    path("audit/", audit_views.audit_log, name="audit"),
    path("webhooks/<int:pk>/", webhook_views.webhook_detail, name="webhook-detail"),
]
