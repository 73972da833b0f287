"""What a search backend is: the documents it holds, the questions it answers.

A backend is chosen by alias from ``settings.MESHPORT_SEARCH`` (see
:func:`catalog.search.backend`). Everything above it — the outbox writer, the APIs, the
portal — speaks only this interface, so a second engine (PostgreSQL full-text when one
machine is not enough) is one more class, and ``tests/catalog/test_search_backends.py``
runs the same contract against each.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

#: Document types, in the order results of equal text score are ranked.
TYPES = ("product", "dataset", "job", "domain", "team", "person", "tag")
#: Facets a search can filter on and count; each document has zero or more values of each.
FACETS = (
    "type",
    "domain",
    "owner",
    "tag",
    "classification",
    "platform",
    "namespace",
    "status",
    "level",
)
SORTS = ("relevance", "name", "updated")
MAX_PAGE_SIZE = 100


class QueryError(ValueError):
    """A query the user must change; ``field`` names the parameter (``q``, ``type``…)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class SearchDocument:
    """One searchable thing, denormalized: everything a hit shows and a query matches.

    ``id`` is ``<type>:<key>`` (``dataset:42``). ``exact`` lists the whole names a user may
    type to mean exactly this thing (name, qualified names, aliases); ``facets`` maps a
    facet of :data:`FACETS` (other than ``type``) to its values. ``consumers`` and
    ``recent_runs`` measure popularity; ``updated_at`` is what "last update" sorts by.
    """

    id: str
    type: str
    name: str
    url: str
    subtitle: str = ""
    exact: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    description: str = ""
    text: str = ""  # further prose: column descriptions, purpose, usage
    sql: str = ""
    facets: dict[str, list[str]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # facet value → display name
    consumers: int = 0
    recent_runs: int = 0
    updated_at: datetime | None = None

    def facet_values(self, name: str) -> list[str]:
        return [self.type] if name == "type" else self.facets.get(name, [])

    def fingerprint(self) -> str:
        """A hash of the content, so that a check can tell a stale document from a fresh one."""
        # The fields as they are (strings, lists and dicts of strings): ``asdict`` would
        # deep-copy them first, a third of a rebuild's document building.
        content = {f.name: getattr(self, f.name) for f in fields(self)}
        content["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        raw = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SearchQuery:
    """A validated search: free text (see ``catalog.search.query``) plus facet filters.

    Values of one facet are alternatives (OR); facets combine with each other and with the
    text (AND).
    """

    text: str = ""
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    sort: str = "relevance"
    page: int = 1
    page_size: int = 20
    facets: bool = True
    types: Sequence[str] = ()  # restrict to these types before facets (the Marquez API)


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool = False


@dataclass(frozen=True)
class Hit:
    id: str
    type: str
    name: str
    url: str
    subtitle: str
    score: float
    snippet: str  # HTML: escaped text with matches in <mark>
    columns: list[str]  # the hit's columns that the query matched
    facets: dict[str, list[str]]
    labels: dict[str, str]
    updated_at: datetime | None
    consumers: int

    def first(self, facet: str) -> str:
        values = self.facets.get(facet) or []
        return values[0] if values else ""

    @property
    def domain_label(self) -> str:
        domain = self.first("domain")
        return self.labels.get(domain, domain)


@dataclass
class SearchResults:
    query: SearchQuery
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    relaxed: bool = False  # no hit had every word, so any word was enough
    corrected: dict[str, list[str]] = field(default_factory=dict)  # typed word → terms tried

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.page_size))


@dataclass(frozen=True)
class Suggestion:
    text: str
    type: str
    url: str
    subtitle: str


class SearchBackend:
    """The contract every search engine fulfils.

    - ``apply`` writes in one commit: after it returns, every search sees the documents;
      a document with an id already present replaces it. Only one writer may run at a time:
      callers hold :meth:`writer_lock` (the outbox writer and a rebuild do).
    - ``search`` and ``suggest`` never write and are safe from many threads and processes.
      A query they cannot answer raises :class:`QueryError`; nothing else does.
    - ``rebuild`` builds a complete new index from ``documents`` and replaces the old one
      at once: searches answer from the old index until the new one is in place.
    """

    alias: str = "default"
    name: ClassVar[str] = "abstract"

    def __init__(self, alias: str, options: Mapping[str, Any]) -> None:
        self.alias = alias
        self.options = dict(options)

    # --- writing --------------------------------------------------------------------

    def apply(self, documents: Iterable[SearchDocument], removed: Iterable[str] = ()) -> int:
        """Index ``documents`` and remove the ids in ``removed``; returns how many changed."""
        raise NotImplementedError

    def index(self, documents: Iterable[SearchDocument]) -> int:
        return self.apply(documents)

    def remove(self, ids: Iterable[str]) -> int:
        return self.apply((), removed=ids)

    def clear(self) -> None:
        raise NotImplementedError

    def rebuild(
        self,
        documents: Iterable[SearchDocument],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        raise NotImplementedError

    def warm(self) -> None:
        """Read ahead what the first search would read (servers call it as they start)."""

    def outdated(self) -> bool:
        """Whether the index was written in an older format and must be rebuilt (it keeps
        answering meanwhile)."""
        return False

    def writer_lock(self, blocking: bool = True) -> AbstractContextManager[bool]:
        """Held while writing; yields ``False`` when ``blocking`` is off and it is taken."""
        raise NotImplementedError

    # --- reading --------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResults:
        raise NotImplementedError

    def suggest(self, text: str, limit: int = 8) -> list[Suggestion]:
        raise NotImplementedError

    def existing(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` the index holds."""
        raise NotImplementedError

    def fingerprints(self) -> Iterator[tuple[str, str]]:
        """Every ``(id, fingerprint)`` in the index, for comparing it with the database."""
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        """At least ``documents`` (count) and ``by_type``; engines add what they know."""
        raise NotImplementedError
