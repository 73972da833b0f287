"""Catalog pages: home, datasets, a dataset (data products: ``product_views``; search:
``search_views``)."""

from __future__ import annotations

import json
from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from catalog import product_selectors, selectors
from catalog.ownership_selectors import owners_block, ownership_history, ownerships_of
from catalog.panels import Panel, Stat, dataset_slot, home_slot
from catalog.search import Hit, SearchQuery, backend

PAGE_SIZE = 50
MAX_PARAM_LENGTH = 200


def query_param(request: HttpRequest, name: str) -> str:
    """A GET parameter, trimmed and bounded, without the NUL bytes PostgreSQL refuses."""
    return request.GET.get(name, "").replace("\x00", "").strip()[:MAX_PARAM_LENGTH]


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def panel_context(request: HttpRequest, panels: list[Panel]) -> dict[str, Any]:
    return {
        "panel_html": [panel.render(request) for panel in panels],
        "panel_stats": [stat for panel in panels for stat in panel.stats],
    }


def popular_products(*, limit: int) -> list[Hit]:
    """The top products by the engine's rank (how much they are read), from the index."""
    query = SearchQuery(filters={"type": ["product"]}, page_size=limit, facets=False)
    return backend().search(query).hits


def home(request: HttpRequest) -> HttpResponse:
    counts = selectors.catalog_counts()
    panels = panel_context(request, home_slot.panels(None))
    product_counts = product_selectors.product_status_counts(selectors.product_list())
    stats = [
        Stat("data products", sum(c.count for c in product_counts), reverse("catalog:products")),
        Stat("namespaces", counts["namespaces"], reverse("catalog:datasets")),
        Stat("datasets", counts["datasets"], reverse("catalog:datasets")),
        *panels.pop("panel_stats"),
    ]
    return render(
        request,
        "catalog/home.html",
        {
            "stats": stats,
            "is_empty": not any(stat.value for stat in stats),
            "recent_datasets": selectors.datasets_recently_updated(limit=10),
            "product_counts": [c for c in product_counts if c.count],
            "recent_products": product_selectors.products_recently_updated(limit=5),
            "popular_products": popular_products(limit=5),
            "my_products": (
                selectors.products_of_user(user=request.user)
                if request.user.is_authenticated
                else []
            ),
            "ingest_url": request.build_absolute_uri("/api/v1/lineage"),
            "base_url": request.build_absolute_uri("/").rstrip("/"),
            **panels,
        },
    )


def datasets(request: HttpRequest) -> HttpResponse:
    errors = []
    namespace = None
    if namespace_name := query_param(request, "namespace"):
        namespace = selectors.namespace_get(name=namespace_name)
        if namespace is None:
            errors.append(f"There is no namespace named “{namespace_name}”; showing all.")
    name = query_param(request, "q")
    rows = selectors.dataset_list(namespace=namespace, name=name)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "catalog/datasets.html",
        {
            "page": page,
            "namespace": namespace,
            "q": name,
            "namespaces": selectors.namespaces_with_dataset_counts(),
            "errors": errors,
        },
    )


def dataset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = selectors.dataset_get(pk=pk)
    if dataset is None:
        raise Http404("No such dataset.")
    return render(
        request,
        "catalog/dataset_detail.html",
        {
            "dataset": dataset,
            "schema": selectors.dataset_schema(dataset=dataset),
            "versions": selectors.dataset_versions(dataset=dataset),
            "lifecycle": selectors.dataset_lifecycle(dataset=dataset),
            "symlinks": selectors.dataset_symlinks(dataset=dataset),
            "facets_json": pretty_json(dataset.facets) if dataset.facets else "",
            "owners": owners_block(
                target=dataset,
                user=request.user,
                ownerships=ownerships_of(dataset),
                history=ownership_history(dataset),
            ),
            **panel_context(request, dataset_slot.panels(dataset)),
        },
    )
