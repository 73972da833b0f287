"""Lineage pages (runs, a run, a job) and the lineage panels shown on catalog pages."""

from __future__ import annotations

import uuid

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from catalog import selectors as catalog_selectors
from catalog.models import DataProduct, Dataset
from catalog.panels import Panel, Stat
from catalog.views import PAGE_SIZE, pretty_json, query_param
from lineage import graph_views
from lineage import portal_selectors as selectors
from lineage.models import RunState


def runs(request: HttpRequest) -> HttpResponse:
    errors = []
    state = query_param(request, "state").upper()
    if state and state not in RunState.values:
        errors.append(f"Unknown run state “{state}”; showing every state.")
        state = ""
    namespace = None
    if namespace_name := query_param(request, "namespace"):
        namespace = catalog_selectors.namespace_get(name=namespace_name)
        if namespace is None:
            errors.append(f"There is no namespace named “{namespace_name}”; showing all.")
    page = Paginator(selectors.run_list(state=state, namespace=namespace), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "lineage/runs.html",
        {
            "page": page,
            "rows": selectors.run_rows(page.object_list),
            "state": state,
            "states": RunState.values,
            "namespace": namespace,
            "namespaces": selectors.namespaces_with_jobs(),
            "errors": errors,
        },
    )


def run_detail(request: HttpRequest, run_uuid: uuid.UUID) -> HttpResponse:
    run = selectors.run_get(run_uuid=run_uuid)
    if run is None:
        raise Http404("No such run.")
    inputs, outputs = selectors.run_io(run=run)
    events = selectors.run_events(run=run)
    return render(
        request,
        "lineage/run_detail.html",
        {
            "run": run,
            "duration": selectors.format_duration(run.duration_ms),
            "children": selectors.run_children(run=run),
            "inputs": inputs,
            "outputs": outputs,
            "assertions": selectors.run_assertions(run=run),
            "events": events,
            "purged": selectors.run_events_purged(run=run, shown=events),
            "facets_json": pretty_json(run.facets) if run.facets else "",
        },
    )


def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.job_get(pk=pk)
    if job is None:
        raise Http404("No such job.")
    inputs, outputs = selectors.job_datasets(job=job)
    return render(
        request,
        "lineage/job_detail.html",
        {
            "job": job,
            "source_lines": selectors.source_code_lines(job.source_code_location),
            "inputs": inputs,
            "outputs": outputs,
            "runs": selectors.job_runs(job=job),
            "children": selectors.job_children(job=job),
            "facets_json": pretty_json(job.facets) if job.facets else "",
        },
    )


# --- panels on catalog pages (registered in LineageConfig.ready) ----------------------


def home_panel(_: None) -> Panel:
    counts = selectors.lineage_counts()
    return Panel(
        "lineage/panels/home.html",
        {
            "failed_runs": selectors.runs_failed_recently(limit=5),
            "recent_runs": selectors.runs_recent(limit=8),
        },
        stats=[
            Stat("jobs", counts["jobs"]),
            Stat("runs", counts["runs"], reverse("lineage:runs")),
            Stat("events", counts["events"]),
        ],
    )


def dataset_panel(dataset: Dataset) -> Panel:
    producers, consumers = selectors.dataset_jobs(dataset=dataset)
    statistics = selectors.dataset_statistics(dataset=dataset)
    return Panel(
        "lineage/panels/dataset.html",
        {
            "dataset": dataset,
            "producers": producers,
            "consumers": consumers,
            "runs": selectors.dataset_runs(dataset=dataset),
            "statistics": statistics,
            "latest_statistics": statistics[0] if statistics else None,
            "assertions": selectors.dataset_assertions(dataset=dataset),
            "preview": graph_views.preview(dataset.node_id),
        },
    )


def product_panel(product: DataProduct) -> Panel | None:
    datasets = selectors.product_datasets(product=product)
    node = f"product:{product.external_id}"
    preview = graph_views.preview(node, level="product") or graph_views.preview(node)
    if not datasets and preview is None:
        return None
    return Panel("lineage/panels/product.html", {"datasets": datasets, "preview": preview})
