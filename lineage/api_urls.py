"""``/api/v1/`` routes of the lineage app."""

from django.urls import path

from lineage import api

urlpatterns = [
    path("lineage", api.LineageIngestView.as_view(), name="lineage-ingest"),
    path("lineage/batch", api.LineageBatchView.as_view(), name="lineage-ingest-batch"),
]
