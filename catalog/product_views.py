"""Data product pages: the list, a product, its revisions and diffs, domains, and the
upload form that publishes a descriptor bundle."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render

from catalog import product_selectors as pages
from catalog import selectors
from catalog.descriptors import DescriptorError
from catalog.filters import ProductFilter
from catalog.forms import MAX_UPLOAD_BYTES, ProductUploadForm
from catalog.models import DataProduct, ProductRevision
from catalog.ownership_selectors import owners_block
from catalog.panels import product_slot
from catalog.roles import grant_of, may_edit_product
from catalog.services import (
    BreakingChangeRefused,
    DomainForbidden,
    Registration,
    data_product_register,
)
from catalog.views import MAX_PARAM_LENGTH, PAGE_SIZE, panel_context
from meshport.access import deny

FILTER_PARAMS = ("domain", "status", "tag", "owner", "q")


def _filter_data(request: HttpRequest) -> QueryDict:
    """The filter parameters of the query string, trimmed, bounded and without NUL bytes."""
    data = QueryDict(mutable=True)
    for name in FILTER_PARAMS:
        values = [
            v.replace("\x00", "").strip()[:MAX_PARAM_LENGTH] for v in request.GET.getlist(name)
        ]
        if values := [v for v in values if v]:
            data.setlist(name, values)
    return data


def _filter_errors(filterset: ProductFilter) -> list[str]:
    errors = []
    if "status" in filterset.form.errors:
        errors.append("Unknown status; showing every status.")
    return errors


def products(request: HttpRequest) -> HttpResponse:
    data = _filter_data(request)
    filterset = ProductFilter(data, queryset=selectors.product_list())
    rows = pages.products_with_owners(filterset.qs)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    unfiltered_status = data.copy()
    unfiltered_status.pop("status", None)
    by_status = ProductFilter(unfiltered_status, queryset=selectors.product_list()).qs
    status_counts = pages.product_status_counts(by_status)
    return render(
        request,
        "catalog/products.html",
        {
            "page": page,
            "rows": pages.product_rows(page.object_list),
            "filters": {name: data.get(name, "") for name in FILTER_PARAMS},
            "filtered": any(data.values()),
            "status_counts": status_counts,
            "status_total": sum(s.count for s in status_counts),
            "domains": pages.domain_choices(),
            "can_publish": can_publish(request.user),
            "errors": _filter_errors(filterset),
        },
    )


def _product_or_404(external_id: str) -> DataProduct:
    product = selectors.product_get(external_id=external_id)
    if product is None:
        raise Http404("No such data product.")
    return product


def product_detail(request: HttpRequest, external_id: str) -> HttpResponse:
    product = _product_or_404(external_id)
    page = pages.product_page(product=product)
    return render(
        request,
        "catalog/product_detail.html",
        {
            "product": product,
            "page": page,
            "owners": owners_block(
                target=product,
                user=request.user,
                ownerships=page.ownerships,
                history=page.history,
            ),
            "can_publish": may_edit_product(request.user, product),
            **panel_context(request, product_slot.panels(product)),
        },
    )


def product_revisions(request: HttpRequest, external_id: str) -> HttpResponse:
    product = _product_or_404(external_id)
    revisions = selectors.product_revisions(product=product)
    page = Paginator(revisions, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "catalog/product_revisions.html", {"product": product, "page": page})


def _revision_or_404(product: DataProduct, number: int) -> ProductRevision:
    revision = selectors.product_revision_get(product=product, number=number)
    if revision is None:
        raise Http404(f"No revision {number} of this data product.")
    return revision


def product_revision(request: HttpRequest, external_id: str, number: int) -> HttpResponse:
    product = _product_or_404(external_id)
    revision = _revision_or_404(product, number)
    previous = pages.revision_previous(revision=revision)
    diff = pages.diff_sections(previous.normalized, revision.normalized) if previous else []
    return render(
        request,
        "catalog/product_revision.html",
        {
            "product": product,
            "revision": revision,
            "previous": previous,
            "groups": pages.report_groups(revision.report),
            "files": pages.revision_files(revision),
            "sections": diff,
        },
    )


def _revision_number(request: HttpRequest, name: str) -> int | None:
    """``?name=N``: None when absent; ValueError when not a revision number."""
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else 0
    if number < 1:
        raise ValueError(f"“{raw[:40]}” is not a revision number")
    return number


def product_diff(request: HttpRequest, external_id: str) -> HttpResponse:
    product = _product_or_404(external_id)
    numbers = pages.revision_numbers(product=product)
    context: dict[str, Any] = {"product": product, "numbers": numbers}
    try:
        new, old = _revision_number(request, "to"), _revision_number(request, "from")
    except ValueError as error:
        context["errors"] = [f"{error}: “from” and “to” take revision numbers such as 1 or 2."]
        return render(request, "catalog/product_diff.html", context, status=400)
    # Defaults: the active revision against the one before it.
    older, newer = selectors.revision_pair(product=product, old=old, new=new)
    context.update(
        older=older, newer=newer, sections=pages.diff_sections(older.normalized, newer.normalized)
    )
    return render(request, "catalog/product_diff.html", context)


# --- domains ------------------------------------------------------------------------------


def domains(request: HttpRequest) -> HttpResponse:
    return render(request, "catalog/domains.html", {"tree": pages.domain_tree()})


def domain_detail(request: HttpRequest, slug: str) -> HttpResponse:
    domain = pages.domain_get(slug=slug)
    if domain is None:
        raise Http404("No such domain.")
    page = pages.domain_page(domain=domain)
    owners = owners_block(target=domain, user=request.user, ownerships=page.ownerships, history=[])
    return render(
        request, "catalog/domain_detail.html", {"domain": domain, "page": page, "owners": owners}
    )


# --- upload -------------------------------------------------------------------------------


def can_publish(user: Any) -> bool:
    """The user may publish into some domain (which one is checked on registering)."""
    return grant_of(user).anywhere


def _upload_page(
    request: HttpRequest, form: ProductUploadForm, status: int = 200, **context: Any
) -> HttpResponse:
    context.update(form=form, max_mb=MAX_UPLOAD_BYTES // 1024 // 1024)
    if revising := request.GET.get("product", "")[:MAX_PARAM_LENGTH]:
        context["revising"] = selectors.product_get(external_id=revising)
    if "report" in context:
        context["groups"] = pages.report_groups(context.pop("report"))
    return render(request, "catalog/product_upload.html", context, status=status)


def product_upload(request: HttpRequest) -> HttpResponse:
    if not can_publish(request.user):
        return deny(
            request,
            "You may publish the data products of your domains: the domains you own, and "
            "those of the teams you are in. You are in none yet; ask your domain's owner or "
            "a Meshport administrator to add you to its team.",
        )
    if request.method != "POST":
        return _upload_page(request, ProductUploadForm())
    form = ProductUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _upload_page(request, form, status=400)
    return _register(request, form)


def _register(request: HttpRequest, form: ProductUploadForm) -> HttpResponse:
    preview = form.cleaned_data["action"] == "preview"
    try:
        result = data_product_register(
            files=form.cleaned_data["files"],
            actor=request.user.get_username(),
            user=request.user,
            source="portal",
            accept_breaking=form.cleaned_data["accept_breaking"],
            dry_run=preview,
        )
    except DescriptorError as error:
        return _upload_page(request, form, status=400, issues=error.issues)
    except BreakingChangeRefused as refused:
        return _upload_page(request, form, status=409, refused=str(refused), report=refused.report)
    except DomainForbidden as error:
        return deny(request, str(error))
    if preview:
        return _upload_page(request, form, preview=result, report=result.report)
    messages.success(request, _registered_message(result))
    assert result.product is not None
    return redirect(result.product)


def _registered_message(result: Registration) -> str:
    number = result.revision.number if result.revision else "?"
    if result.action == "unchanged":
        return f"No change: the descriptor is the same as revision {number}."
    return f"Registered revision {number} of {result.product_id}."
