"""API tokens in the portal (administrators): issue one and see its secret once, list
them with their last use, revoke one."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from catalog.audit import Via
from catalog.forms import TokenForm
from catalog.models import ApiToken
from catalog.services import api_token_issue, api_token_revoke
from meshport.access import admin_required


def _list_page(request: HttpRequest, form: TokenForm, status: int = 200) -> HttpResponse:
    tokens = ApiToken.objects.select_related("created_by").order_by("-created_at")
    active = [t for t in tokens if t.is_active]
    inactive = [t for t in tokens if not t.is_active]
    context = {"form": form, "active": active, "inactive": inactive}
    return render(request, "catalog/tokens.html", context, status=status)


@never_cache
@admin_required("manage API tokens")
def tokens(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _list_page(request, TokenForm())
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _list_page(request, form, status=400)
    data = form.cleaned_data
    days = data["expires_in_days"]
    token, secret = api_token_issue(
        name=data["name"],
        scopes=data["scopes"],
        actor=request.user.get_username(),
        via=Via.PORTAL,
        domains=sorted(data["domains"]),
        expires_at=timezone.now() + timedelta(days=days) if days else None,
        created_by=request.user,
    )
    # The secret is in this response only: never stored, never put in a message or a URL.
    context = {"token": token, "secret": secret, "server": request.build_absolute_uri("/")}
    return render(request, "catalog/token_created.html", context, status=201)


@require_POST
@admin_required("revoke API tokens")
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = ApiToken.objects.filter(pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    api_token_revoke(token=token, actor=request.user.get_username(), via=Via.PORTAL)
    messages.success(request, f"Revoked {token.name} ({token.prefix}): it is refused from now on.")
    return redirect("catalog:tokens")
