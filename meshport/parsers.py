"""The API's default JSON parser: DRF's, with the limits of :mod:`meshport.jsonlimits` and
a bounded read of the body.

It is not a subclass of DRF's ``JSONParser``: for those DRF reads ``request.body`` first,
and past ``DATA_UPLOAD_MAX_MEMORY_SIZE`` Django then answers with its HTML 400 page. Read
here, the same limit is the API's JSON 413.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import parsers, renderers
from rest_framework.exceptions import ParseError

from meshport.jsonlimits import loads


def read_capped(stream: Any, limit: int) -> bytes:
    """At most ``limit`` bytes of ``stream``; :class:`PayloadTooLarge` past them."""
    # Imported here: meshport.api imports DRF's APIView, whose class body reads this
    # module's parser from the settings.
    from meshport.api import PayloadTooLarge

    body = stream.read(limit + 1) if stream is not None else b""
    if len(body) > limit:
        raise PayloadTooLarge(f"Request body exceeds {limit} bytes.")
    return bytes(body)


class JSONParser(parsers.BaseParser):
    """JSON bodies, read up to ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes and parsed with the
    depth, number and text limits."""

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer  # the browsable API's raw-data form

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        body = read_capped(stream, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        # DRF's, which refuses bytes-to-bytes codecs (a bz2 "charset" is a bomb of its own).
        encoding = parsers.get_encoding(parser_context or {})  # type: ignore[attr-defined]
        try:
            return loads(body.decode(encoding))
        except ValueError as exc:  # malformed, too deep, not a number, not in its encoding
            raise ParseError(f"JSON parse error - {exc}") from None
