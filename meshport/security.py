"""Headers that keep the portal's pages from being turned against their readers.

Django's own middleware already sends ``X-Content-Type-Options: nosniff``,
``Referrer-Policy`` (``SECURE_REFERRER_POLICY``), ``Cross-Origin-Opener-Policy`` and
``X-Frame-Options: DENY``. :class:`SecurityHeadersMiddleware` adds a
``Permissions-Policy`` to every response and a ``Content-Security-Policy`` to every HTML
page: scripts and styles only from the portal's own static files, so that text which slips
past :mod:`catalog.markdown` still cannot run a script, load a tracker or restyle the page.
The portal's templates hold no inline script, style attribute or event handler for that
reason; a dynamic colour or size is drawn with SVG presentation attributes instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from django.conf import settings
from django.http import HttpRequest, HttpResponse

Policy = Mapping[str, str]

POLICY: Policy = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

# Pages that the portal does not write itself, by path prefix (first match wins). Their
# scripts still come only from the portal's static files; only what they need beyond that
# is allowed, and only on their own paths.
RELAXED: tuple[tuple[str, Policy], ...] = (
    # Redoc styles itself with inline <style> elements and parses the schema in a worker
    # that it starts from a blob: URL.
    ("/api/redoc/", {"style-src": "'self' 'unsafe-inline'", "worker-src": "'self' blob:"}),
    # Swagger UI (served by drf-spectacular's split view, so without inline script), the
    # browsable API and DRF's pages use style attributes and inline <style> elements.
    ("/api/", {"style-src": "'self' 'unsafe-inline'"}),
    ("/api-auth/", {"style-src": "'self' 'unsafe-inline'"}),
)

# Browser features no page of the portal uses: a script injected anyway gets none of them.
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
    "accelerometer=(), gyroscope=(), magnetometer=(), midi=(), display-capture=()"
)


def header_value(policy: Policy) -> str:
    return "; ".join(f"{directive} {sources}" for directive, sources in policy.items())


_DEFAULT_HEADER = header_value(POLICY)
_RELAXED_HEADERS = tuple((prefix, header_value({**POLICY, **extra})) for prefix, extra in RELAXED)


def content_security_policy(path: str) -> str:
    """The ``Content-Security-Policy`` header value for a page at ``path``."""
    for prefix, header in _RELAXED_HEADERS:
        if path.startswith(prefix):
            return header
    return _DEFAULT_HEADER


def _is_html(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("text/html")


def _is_debug_page(response: HttpResponse) -> bool:
    """Django's technical 404 and 500 pages (DEBUG only) carry inline CSS and script."""
    return settings.DEBUG and response.status_code in (404, 500)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if _is_html(response) and not _is_debug_page(response):
            response.setdefault("Content-Security-Policy", content_security_policy(request.path))
        return response
