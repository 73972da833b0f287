"""The portal's side of :mod:`catalog.roles`: who may read at all, and how a refusal looks.

With ``MESHPORT_ANONYMOUS_READ`` off, :class:`ReadAccessMiddleware` sends visitors to the
login page and answers API reads without credentials with a 401. Writes are left to each
view's own checks (a pipeline token posting lineage is not a visitor).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.views import LoginView, redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.functional import SimpleLazyObject

from catalog.roles import anonymous_read, is_admin, is_steward, role_name

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Reachable without logging in whatever the setting: logging in, static files, and the
# description of the API (which holds no data).
OPEN_PATHS = ("/login/", "/logout/", "/admin/", "/static/", "/api/schema/", "/api/docs/")

View = Callable[..., HttpResponse]


class ReadAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if anonymous_read() or request.user.is_authenticated or request.path.startswith(OPEN_PATHS):
            return self.get_response(request)
        if request.path.startswith("/api/"):
            if request.method not in SAFE_METHODS or "Authorization" in request.headers:
                return self.get_response(request)  # the view authenticates and decides
            response = JsonResponse(
                {"error": "Authentication required: log in, or send 'Authorization: Bearer …'."},
                status=401,
            )
            response["WWW-Authenticate"] = 'Bearer realm="meshport"'
            return response
        return redirect_to_login(request.get_full_path())


class PortalLoginView(LoginView):
    """Django's login, in the portal's look; the demo's users are named while debugging."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if settings.DEBUG:
            from catalog.management.commands.ensure_demo_users import DEMO_USERS

            names = [row[0] for row in DEMO_USERS]
            present = set(
                User.objects.filter(username__in=names).values_list("username", flat=True)
            )
            context["demo_users"] = [(n, what) for n, _, _, what in DEMO_USERS if n in present]
        return context


def roles(request: HttpRequest) -> dict[str, Any]:
    """Templates' ``role``: "admin", "steward" or "member" for a user (asked only when used)."""
    return {
        "role": SimpleLazyObject(
            lambda: role_name(request.user) if request.user.is_authenticated else ""
        )
    }


def deny(request: HttpRequest, message: str) -> HttpResponse:
    """A visitor's page view goes to the login page; anyone else gets a 403 saying why."""
    if not request.user.is_authenticated and request.method in SAFE_METHODS:
        return redirect_to_login(request.get_full_path())
    return render(request, "403.html", {"exception": message}, status=403)


def stewards_only(what: str) -> str:
    return (
        f"Only stewards may {what}. Stewards are the members of the “Stewards” group; a "
        "Meshport administrator adds people to it."
    )


def _required(allowed: Callable[[Any], bool], message: str) -> Callable[[View], View]:
    """The view is for users whom ``allowed`` lets through; others are refused with
    ``message`` (:func:`deny`)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not allowed(request.user):
                return deny(request, message)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def steward_required(what: str) -> Callable[[View], View]:
    """The view is for stewards (and admins) only."""
    return _required(is_steward, stewards_only(what))


def admin_required(what: str) -> Callable[[View], View]:
    """The view is for Meshport administrators (superusers) only."""
    return _required(is_admin, f"Only Meshport administrators may {what}.")
