"""API-wide error shape: every 4xx is JSON naming what was wrong and where, and a locked
or overloaded database is a 503 with ``Retry-After`` naming its cause."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from catalog.auth import CanGovern
from meshport.db import busy_cause, retry_after_seconds


class Pagination(LimitOffsetPagination):
    """``?limit=&offset=`` on every list of the API: 100 by default, 1,000 at most."""

    default_limit = 100
    max_limit = 1000


class GovernedWrites(APIView):
    """A view whose reads are for everyone and whose writes are for stewards."""

    def get_permissions(self) -> list[Any]:
        if self.request.method in permissions.SAFE_METHODS:
            return [permissions.AllowAny()]
        return [CanGovern()]


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body is too large."
    default_code = "payload_too_large"


class ServiceBusy(APIException):
    """503 + ``Retry-After``: the database cannot take the request now; nothing was
    written, and the same request sent again later will be taken."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is busy; retry shortly."
    default_code = "busy"

    def __init__(self, cause: str = "busy", detail: str | None = None) -> None:
        super().__init__(detail)
        self.cause = cause


def _flatten(detail: Any, path: str = "") -> list[dict[str, str]]:
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            sub = f"{path}.{key}" if path else str(key)
            out.extend(_flatten(value, sub))
        return out
    if isinstance(detail, list):
        if all(not isinstance(d, dict | list) for d in detail):
            return [{"path": path or "$", "message": str(d)} for d in detail]
        out = []
        for i, value in enumerate(detail):
            out.extend(_flatten(value, f"{path}[{i}]"))
        return out
    return [{"path": path or "$", "message": str(detail)}]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if cause := busy_cause(exc):
        # A lock or overload met anywhere in a view (a token's last-use stamp, any write
        # API): the statement that met it wrote nothing and an atomic block around it
        # rolls back, so the client is told to retry rather than shown a 500.
        exc = ServiceBusy(cause)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        response.data = {"error": "invalid request", "errors": _flatten(exc.detail)}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"error": str(response.data["detail"])}
    if isinstance(exc, ServiceBusy):
        # openlineage-python's HttpTransport (urllib3 Retry: status_forcelist 500, 502,
        # 503, 504 on POST, 5 tries) waits for Retry-After before it posts again.
        seconds = retry_after_seconds()
        response["Retry-After"] = str(seconds)
        response.data = {**response.data, "cause": exc.cause, "retry_after": seconds}
    return response
