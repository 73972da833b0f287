"""The portal's side of :mod:`catalog.roles`: who may read at all, and how a refusal looks.

With ``MESHPORT_ANONYMOUS_READ`` off, :class:`ReadAccessMiddleware` sends visitors to the
login page and answers API reads without credentials with a 401. Writes are left to each
view's own checks (a pipeline token posting lineage is not a visitor).

:class:`PortalLoginView` is the one door for passwords, and it throttles guessing:
``MESHPORT_LOGIN_THROTTLE`` failures for one user name (any case) or from one address
within the window lock further attempts until the window has passed. Failures are rows
(:class:`catalog.models.LoginFailure`), so that every web process counts the same ones.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.contrib.auth.views import LoginView, redirect_to_login
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from catalog.models import LoginFailure
from catalog.roles import anonymous_read, is_admin, is_steward, role_name

log = logging.getLogger("meshport.security")

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


# --- failed logins ------------------------------------------------------------------------


@dataclass(frozen=True)
class Throttle:
    user_failures: int
    ip_failures: int
    window: timedelta

    @classmethod
    def from_settings(cls) -> Throttle:
        conf = settings.MESHPORT_LOGIN_THROTTLE
        return cls(
            conf["USER_FAILURES"], conf["IP_FAILURES"], timedelta(seconds=conf["WINDOW_SECONDS"])
        )


def client_ip(request: HttpRequest) -> str:
    """The address a request came from; behind a proxy (``MESHPORT_BEHIND_PROXY``) the last
    address of ``X-Forwarded-For``, the one that proxy appended (those before it are the
    client's word). ``""`` when it is not an IP address."""
    raw = request.META.get("REMOTE_ADDR", "")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.MESHPORT_BEHIND_PROXY and forwarded:
        raw = forwarded.split(",")[-1]
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return ""
    return str(address)[:45]  # an IPv6 zone ("%eth0") could make it longer than the column


def login_name(username: str) -> str:
    """Failures count per user name whatever its case: ``Nina`` and ``nina`` are one. NUL
    characters are dropped: PostgreSQL cannot store them in text."""
    return username.replace("\x00", "").strip().lower()[:150]


def login_locked_until(*, username: str, ip: str, now: datetime | None = None) -> datetime | None:
    """When attempts for ``username`` or from ``ip`` may resume, if too many failed within
    the window; else ``None``. A locked attempt is refused without a check of the password,
    for names that exist and names that don't alike."""
    throttle = Throttle.from_settings()
    now = now or timezone.now()
    recent = LoginFailure.objects.filter(at__gt=now - throttle.window)
    limits = [(recent.filter(ip=ip), throttle.ip_failures)] if ip else []
    if username:
        limits.append((recent.filter(username=username), throttle.user_failures))
    until = [_free_at(failures, limit, throttle.window) for failures, limit in limits]
    return max((at for at in until if at is not None), default=None)


def _free_at(failures: QuerySet[LoginFailure], limit: int, window: timedelta) -> datetime | None:
    """Once ``limit`` failures are in the window, attempts resume when the oldest of the
    last ``limit`` of them leaves it."""
    times = list(failures.order_by("-at").values_list("at", flat=True)[:limit])
    return times[-1] + window if len(times) >= limit else None


def login_failure_record(*, username: str, ip: str) -> datetime | None:
    """Count a failed login, forget those too old to count, and say until when attempts
    are now refused (``None`` while they are not)."""
    throttle = Throttle.from_settings()
    now = timezone.now()
    LoginFailure.objects.filter(at__lte=now - throttle.window).delete()
    LoginFailure.objects.create(username=username, ip=ip, at=now)
    log.warning("login failed: username=%r ip=%s", username, ip or "?")
    until = login_locked_until(username=username, ip=ip, now=now)
    if until is not None:
        log.warning("login locked until %s: username=%r ip=%s", until, username, ip or "?")
    return until


def login_failures_clear(*, username: str) -> None:
    """A successful login wipes the slate of its user name (not of its address)."""
    LoginFailure.objects.filter(username=username).delete()


class PortalLoginView(LoginView):
    """Django's login, in the portal's look, refusing attempts with a 429 after too many
    failures (:func:`login_locked_until`); the demo's users are named while debugging."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        typed = str(request.POST.get("username", ""))
        username, ip = login_name(typed), client_ip(request)
        until = login_locked_until(username=username, ip=ip)
        if until is not None:
            log.warning("login refused while locked: username=%r ip=%s", username, ip or "?")
            return self.locked(typed, until)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        login_failures_clear(username=login_name(str(form.cleaned_data.get("username", ""))))
        return super().form_valid(form)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        typed = str(form.data.get("username", ""))
        until = login_failure_record(username=login_name(typed), ip=client_ip(self.request))
        if until is not None:
            return self.locked(typed, until)
        return super().form_invalid(form)

    def locked(self, typed: str, until: datetime) -> HttpResponse:
        # An unbound form: a bound one would check the password again as it renders.
        form = self.get_form_class()(self.request, initial={"username": typed[:150]})
        context = self.get_context_data(form=form, locked_until=until)
        response = self.render_to_response(context, status=429)
        seconds = max(1, int((until - timezone.now()).total_seconds()) + 1)
        response["Retry-After"] = str(seconds)
        return response

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
