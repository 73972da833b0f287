"""The error answers of the API, for the OpenAPI schema: one shape (``meshport.api``'s
exception handler) documented once, and named by status code in each view's
``@extend_schema(responses=...)``.

Every DRF view may answer 401: a wrong, revoked or expired token is refused on any request,
and so is a read without credentials when ``MESHPORT_ANONYMOUS_READ`` is off.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class ProblemOutput(serializers.Serializer[dict[str, str]]):
    path = serializers.CharField(help_text="Where: a field, a JSON path, or `$` for the whole.")
    message = serializers.CharField()


# Inline: a serializer class cannot declare a field named "errors" (Serializer.errors).
ErrorOutput = inline_serializer(
    "ErrorOutput",
    fields={
        "error": serializers.CharField(help_text="What went wrong, in a sentence."),
        "errors": ProblemOutput(
            many=True, required=False, help_text="Each problem of a refused input, by path."
        ),
    },
)

_MEANINGS = {
    400: "The input is invalid: `errors` names each problem by path.",
    401: "No credentials where some are needed, or a wrong, revoked or expired token.",
    403: "The token or user may not do this.",
    404: "Nothing by that name or id.",
    409: "In conflict with the current state.",
    413: "The request body is too large.",
    503: "The database is busy: retry after `Retry-After` seconds.",
}


def errors(*codes: int, media_type: str | None = None) -> dict[Any, OpenApiResponse]:
    """``{code: the error answer}`` for ``responses={200: ..., **errors(400, 401)}``.

    ``media_type`` pins the errors to that one type, for a view whose renderers would
    otherwise list every type they render (errors are JSON whatever was asked)."""
    answer = {code: OpenApiResponse(ErrorOutput, description=_MEANINGS[code]) for code in codes}
    if media_type is None:
        return answer
    return {(code, media_type): response for code, response in answer.items()}
