"""OpenLineage ingestion endpoints: ``POST /api/v1/lineage`` and ``/api/v1/lineage/batch``
(and Marquez's ``GET /api/v1/lineage`` graph read on the same resource)."""

from __future__ import annotations

import json
import zlib
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.auth import CanWriteLineage, request_token
from lineage.events import EventInvalid
from lineage.graph_api import marquez_lineage
from lineage.services import IngestBusy, lineage_event_ingest, lineage_events_ingest
from meshport import jsonlimits
from meshport.api import PayloadTooLarge, ServiceBusy


def _read_json(request: Request) -> Any:
    """The request body as JSON, gunzipped when ``Content-Encoding: gzip``.

    Decompression is capped at ``MAX_BODY_BYTES`` so a small gzip bomb cannot exhaust
    memory: past the cap the answer is 413.
    """
    limit = settings.MESHPORT_LINEAGE["MAX_BODY_BYTES"]
    try:
        body = request._request.body
    except RequestDataTooBig:
        raise PayloadTooLarge(f"Request body exceeds {limit} bytes.") from None
    if len(body) > limit:
        raise PayloadTooLarge(f"Request body exceeds {limit} bytes.")
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error:
            raise ParseError("Content-Encoding is gzip but the body is not valid gzip.") from None
        if len(body) > limit or inflater.unconsumed_tail:
            raise PayloadTooLarge(f"Decompressed body exceeds {limit} bytes.")
        if not inflater.eof:
            raise ParseError("Content-Encoding is gzip but the gzip stream is truncated.")
    elif encoding not in ("", "identity"):
        raise ValidationError({"Content-Encoding": [f"unsupported encoding {encoding!r}"]})
    if not body.strip():
        raise ValidationError({"$": ["request body is empty; expected a JSON event"]})
    try:
        return jsonlimits.loads(body)
    except UnicodeDecodeError:
        raise ParseError("Body is not UTF-8 encoded JSON.") from None
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"Malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}."
        ) from None
    except ValueError as exc:  # nested too deeply, NaN, a number out of range
        raise ParseError(f"Invalid JSON: {exc}.") from None


def _token_name(request: Request) -> str:
    token = request_token(request)
    if token is not None:
        return token.name
    return request.user.get_username() if request.user.is_authenticated else "anonymous"


_EVENT_EXAMPLE = {
    "eventType": "COMPLETE",
    "eventTime": "2024-05-01T10:00:00Z",
    "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.20.0/client/python",
    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    "run": {"runId": "0190f2c4-7d1a-7c9e-9a44-7e1f3c2b8a01"},
    "job": {"namespace": "sales", "name": "daily_orders"},
    "inputs": [{"namespace": "postgres://db:5432", "name": "shop.public.orders"}],
    "outputs": [{"namespace": "postgres://db:5432", "name": "analytics.public.daily_orders"}],
}


class LineageIngestView(APIView):
    """``POST``: accept one OpenLineage RunEvent, DatasetEvent or JobEvent (told apart by
    shape). ``GET``: Marquez's lineage graph of a node, a public read.

    When the database is locked or overloaded, or too many events already wait in this
    process, the answer is 503 with ``Retry-After`` and ``{"error", "cause"}``, and
    nothing is stored: openlineage-python's HttpTransport retries 500/502/503/504 on POST
    (urllib3 ``Retry``, 5 tries, honouring ``Retry-After``), and the retry is taken.
    """

    permission_classes = [CanWriteLineage]
    parser_classes: list[Any] = []

    def _reading(self) -> bool:
        # No request while the OpenAPI schema is generated.
        return getattr(self.request, "method", None) in ("GET", "HEAD")

    def get_authenticators(self) -> list[Any]:
        # A read needs no credentials, so a stale token in a client cannot fail it.
        return [] if self._reading() else super().get_authenticators()

    def get_permissions(self) -> list[Any]:
        return [AllowAny()] if self._reading() else list(super().get_permissions())

    @extend_schema(
        tags=["marquez"],
        operation_id="getLineage",
        parameters=[
            OpenApiParameter("nodeId", str, required=True, description="dataset:… or job:…"),
            OpenApiParameter("depth", int, description="Jobs deep on each side, default 2."),
            OpenApiParameter("cap", int, description="Most nodes in the answer."),
        ],
        responses={200: dict, 400: dict, 404: dict},
    )
    def get(self, request: Request) -> Response:
        return marquez_lineage(request)

    @extend_schema(
        operation_id="lineage_post_event",
        request={"application/json": {"type": "object"}},
        responses={201: dict, 200: dict, 400: dict, 401: dict, 403: dict, 413: dict, 503: dict},
        examples=[OpenApiExample("RunEvent", value=_EVENT_EXAMPLE, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        payload = _read_json(request)
        if isinstance(payload, list):
            raise ValidationError({"$": ["expected one event object; post arrays to /batch"]})
        try:
            result = lineage_event_ingest(payload=payload, token_name=_token_name(request))
        except EventInvalid as exc:
            return Response(
                {"error": "invalid OpenLineage event", "errors": exc.errors},
                status=status.HTTP_400_BAD_REQUEST,
            )
        except IngestBusy as exc:
            raise ServiceBusy(exc.cause) from None
        code = status.HTTP_201_CREATED if result.status == "created" else status.HTTP_200_OK
        return Response(
            {"status": result.status, "id": result.event_id, "warnings": result.warnings},
            status=code,
        )


class LineageBatchView(APIView):
    """Accept a JSON array of events. Valid events are stored even when others fail:
    the answer is ``success``, ``partial_success`` (with ``failed_events`` by index) or
    ``failure`` (400, nothing stored). A locked or overloaded database is a 503 with
    ``Retry-After`` for the whole batch, rolled back as one."""

    permission_classes = [CanWriteLineage]
    parser_classes: list[Any] = []

    @extend_schema(
        operation_id="lineage_post_batch",
        request={"application/json": {"type": "array", "items": {"type": "object"}}},
        responses={200: dict, 400: dict, 401: dict, 403: dict, 413: dict, 503: dict},
    )
    def post(self, request: Request) -> Response:
        payload = _read_json(request)
        if not isinstance(payload, list):
            raise ValidationError({"$": ["expected a JSON array of events"]})
        limit = settings.MESHPORT_LINEAGE["MAX_BATCH_EVENTS"]
        if len(payload) > limit:
            raise PayloadTooLarge(f"A batch holds at most {limit} events; got {len(payload)}.")
        try:
            result = lineage_events_ingest(payloads=payload, token_name=_token_name(request))
        except IngestBusy as exc:
            raise ServiceBusy(exc.cause) from None
        code = status.HTTP_400_BAD_REQUEST if result.status == "failure" else status.HTTP_200_OK
        return Response(result.as_dict(), status=code)
