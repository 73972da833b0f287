"""Governance pages, built for now from what the catalog and lineage already know."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from catalog import selectors as catalog_selectors
from lineage import portal_selectors as lineage_selectors


def index(request: HttpRequest) -> HttpResponse:
    unowned, unowned_total = catalog_selectors.datasets_without_owners(limit=100)
    failing_jobs, failing_jobs_total = lineage_selectors.jobs_latest_run_failed(limit=100)
    failing_quality, failing_quality_total = lineage_selectors.datasets_failing_quality(limit=100)
    return render(
        request,
        "governance/index.html",
        {
            "is_empty": catalog_selectors.catalog_counts()["datasets"] == 0,
            "unowned": unowned,
            "unowned_total": unowned_total,
            "failing_jobs": failing_jobs,
            "failing_jobs_total": failing_jobs_total,
            "failing_quality": failing_quality,
            "failing_quality_total": failing_quality_total,
        },
    )
