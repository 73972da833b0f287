"""The search pages: results with facets (``/search/``) and the tags to browse by.

Hits, facet counts and snippets come from the engine (:mod:`catalog.search`), not the
database: these pages make no query of their own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from catalog.search import TYPES, FacetValue, QueryError, SearchQuery, SearchResults, backend
from catalog.search_api import SearchInput, search_filters
from catalog.views import query_param

#: The sidebar's facets in order, with their headings. ``namespace`` filters (links from
#: other pages use it) but has too many values to list.
FACET_HEADINGS = {
    "type": "Type",
    "domain": "Domain",
    "owner": "Owner",
    "tag": "Tag",
    "classification": "Classification (PII)",
    "platform": "Platform",
    "status": "Status",
    "level": "Level",
}
TYPE_LABELS = {
    "product": "Data product",
    "dataset": "Dataset",
    "job": "Job",
    "domain": "Domain",
    "team": "Team",
    "person": "Person",
    "tag": "Tag",
}
FACET_TOP = 8  # values a group shows before its "more" toggle
PARAM_NAMES = {"q": "Query", "sort": "Sort", "page": "Page", "page_size": "Page size"}


@dataclass(frozen=True)
class FacetGroup:
    name: str
    heading: str
    shown: list[FacetValue]
    more: list[FacetValue]


def facet_groups(facets: Mapping[str, Sequence[FacetValue]]) -> list[FacetGroup]:
    """The non-empty facets, each with its top values; chosen values always show."""
    groups = []
    for name, heading in FACET_HEADINGS.items():
        values = list(facets.get(name) or [])
        if name == "type":
            values = [replace(v, label=TYPE_LABELS.get(v.value, v.label)) for v in values]
        if values:
            rest = values[FACET_TOP:]
            shown = values[:FACET_TOP] + [v for v in rest if v.selected]
            groups.append(FacetGroup(name, heading, shown, [v for v in rest if not v.selected]))
    return groups


def corrected_text(text: str, corrected: Mapping[str, Sequence[str]]) -> str:
    """``text`` with each word the engine corrected replaced by its first correction."""
    for typed, terms in corrected.items():
        if terms:
            text = re.sub(rf"(?<!\w){re.escape(typed)}(?!\w)", terms[0], text, flags=re.I)
    return text


def results_page(query: SearchQuery) -> tuple[SearchResults, Page[int]]:
    """The results of ``query`` (of its last page when it asks past the end), with a
    :class:`Page` for ``_pagination.html``."""
    results = backend().search(query)
    if query.page > results.pages:
        results = backend().search(replace(query, page=results.pages))
    pages = Paginator(range(results.total), query.page_size)
    return results, pages.page(results.query.page)


def search(request: HttpRequest) -> HttpResponse:
    form = SearchInput(data=request.GET)
    filters = search_filters(request.GET)
    if not form.is_valid():
        errors = [f"{PARAM_NAMES.get(k, k)}: {m}" for k, ms in form.errors.items() for m in ms]
        return search_error(request, filters, errors)
    q, sort = form.validated_data["q"].strip(), form.validated_data["sort"]
    query = SearchQuery(text=q, filters=filters, sort=sort, page=form.validated_data["page"])
    try:
        results, page = results_page(query)
    except QueryError as exc:
        return search_error(request, filters, [exc.message])
    shown = FACET_HEADINGS.keys()
    return render(
        request,
        "catalog/search.html",
        {
            "q": q,
            "sort": sort,
            "filters": filters,
            "results": results,
            "page": page,
            "groups": facet_groups(results.facets),
            "hidden_filters": [(k, v) for k, vs in filters.items() if k not in shown for v in vs],
            "corrected_q": corrected_text(q, results.corrected) if results.corrected else "",
            "browsing": not q and not filters,
        },
    )


def search_error(
    request: HttpRequest, filters: dict[str, list[str]], errors: list[str]
) -> HttpResponse:
    """The form as it was sent, with what is wrong with it (the filters kept, hidden)."""
    context = {
        "q": query_param(request, "q"),
        "filters": filters,
        "hidden_filters": [(k, v) for k, vs in filters.items() for v in vs],
        "errors": errors,
    }
    return render(request, "catalog/search.html", context, status=400)


def tags(request: HttpRequest) -> HttpResponse:
    # Tag documents carry their own word: leave them out so that a count is of the things
    # (products, datasets, jobs) that carry the tag.
    carriers = [t for t in TYPES if t != "tag"]
    results = backend().search(SearchQuery(page_size=1, types=carriers))
    return render(
        request,
        "catalog/tags.html",
        {
            "tags": results.facets.get("tag", []),
            "classifications": results.facets.get("classification", []),
        },
    )
