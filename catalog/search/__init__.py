"""Search: one interface over a pluggable engine, fed by an outbox.

- :mod:`catalog.search.base` — the backend contract and its data (documents, queries, hits);
- :mod:`catalog.search.whoosh_backend` — the default engine, on disk or in RAM;
- :mod:`catalog.search.documents` — what is searchable, built from the database by sources
  that apps register (lineage adds jobs);
- :mod:`catalog.search.outbox` — changes queued in the writing transaction, and the one
  writer that drains them into the index.

``backend()`` returns the engine configured for an alias in ``settings.MESHPORT_SEARCH``::

    MESHPORT_SEARCH = {"default": {"BACKEND": "catalog.search.whoosh_backend.WhooshBackend",
                                   "PATH": "/var/lib/meshport/search"}}
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.utils.module_loading import import_string

from catalog.search.base import (
    FACETS,
    SORTS,
    TYPES,
    FacetValue,
    Hit,
    QueryError,
    SearchBackend,
    SearchDocument,
    SearchQuery,
    SearchResults,
    Suggestion,
)

__all__ = [
    "FACETS",
    "SORTS",
    "TYPES",
    "FacetValue",
    "Hit",
    "QueryError",
    "SearchBackend",
    "SearchDocument",
    "SearchQuery",
    "SearchResults",
    "Suggestion",
    "backend",
    "reset_backends",
]

_backends: dict[tuple[str, str], SearchBackend] = {}
_lock = threading.Lock()


def backend(alias: str = "default") -> SearchBackend:
    """The engine configured under ``alias``, created once per process (and per setting)."""
    config = settings.MESHPORT_SEARCH[alias]
    key = (alias, repr(sorted(config.items())))
    with _lock:
        if key not in _backends:
            cls = import_string(config["BACKEND"])
            options = {k: v for k, v in config.items() if k != "BACKEND"}
            _backends[key] = cls(alias, options)
        return _backends[key]


def reset_backends() -> None:
    """Forget the engines made so far (tests that change settings, forked workers)."""
    with _lock:
        _backends.clear()
