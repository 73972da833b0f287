"""``/api/v1/`` routes of the lineage app."""

from django.urls import path

from lineage import api, graph_api

urlpatterns = [
    path("lineage", api.LineageIngestView.as_view(), name="lineage-ingest"),
    path("lineage/batch", api.LineageBatchView.as_view(), name="lineage-ingest-batch"),
    path("column-lineage", graph_api.ColumnLineageView.as_view(), name="column-lineage"),
    path("graph/lineage", graph_api.GraphLineageView.as_view(), name="graph-lineage"),
    path("graph/impact", graph_api.GraphImpactView.as_view(), name="graph-impact"),
    path("graph/root-cause", graph_api.GraphRootCauseView.as_view(), name="graph-root-cause"),
    path("graph/path", graph_api.GraphPathView.as_view(), name="graph-path"),
]
