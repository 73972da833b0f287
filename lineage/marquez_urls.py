"""Marquez-compatible read API under ``/api/v1/``.

Namespaces and names may hold ``/`` (``s3://bucket``, ``warehouse/orders``). Clients send
it as ``%2F``, but Django decodes the path before routing, so the routes cannot rely on
slashes: a namespace runs up to the first ``/datasets/`` or ``/jobs/``, a name takes the
rest, and the ``/versions`` and ``/runs`` routes come before the plain detail routes. Their
views fall back to the detail of a name that itself ends in that suffix.
"""

from django.urls import path, re_path

from lineage import marquez

_NS = r"(?P<namespace>(?:(?!/datasets/|/jobs/).)+)"

urlpatterns = [
    path("events/lineage", marquez.LineageEventListView.as_view(), name="marquez-events"),
    re_path(
        r"^jobs/runs/(?P<id>[^/]+)/facets$",
        marquez.RunFacetsView.as_view(),
        name="marquez-run-facets",
    ),
    re_path(r"^jobs/runs/(?P<id>[^/]+)$", marquez.RunDetailView.as_view(), name="marquez-run"),
    path("namespaces", marquez.NamespaceListView.as_view(), name="marquez-namespaces"),
    re_path(
        rf"^namespaces/{_NS}/datasets/(?P<dataset>.+)/versions$",
        marquez.DatasetVersionListView.as_view(),
        name="marquez-dataset-versions",
    ),
    re_path(
        rf"^namespaces/{_NS}/datasets/(?P<dataset>.+)$",
        marquez.DatasetDetailView.as_view(),
        name="marquez-dataset",
    ),
    re_path(
        rf"^namespaces/{_NS}/datasets$",
        marquez.DatasetListView.as_view(),
        name="marquez-datasets",
    ),
    re_path(
        rf"^namespaces/{_NS}/jobs/(?P<job>.+)/runs$",
        marquez.JobRunListView.as_view(),
        name="marquez-job-runs",
    ),
    re_path(
        rf"^namespaces/{_NS}/jobs/(?P<job>.+)$", marquez.JobDetailView.as_view(), name="marquez-job"
    ),
    re_path(rf"^namespaces/{_NS}/jobs$", marquez.JobListView.as_view(), name="marquez-jobs"),
    re_path(
        r"^namespaces/(?P<namespace>.+)$",
        marquez.NamespaceDetailView.as_view(),
        name="marquez-namespace",
    ),
]
