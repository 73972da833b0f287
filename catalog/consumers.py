"""Who reads a dataset: the bridge from a breaking change to the consumers it breaks.

Catalog knows which datasets a product publishes (port bindings) but not who reads them:
that is lineage, which catalog must not import. Lineage registers a *finder* here in its
``AppConfig.ready()``; catalog asks through :func:`find_consumers` and gets plain data back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DatasetRef:
    """A dataset, and optionally the top-level field of it that changed."""

    namespace: str
    name: str
    field: str = ""


@dataclass
class Consumer:
    """A job that reads ``reads`` (``namespace:name``), and what it writes.

    ``via`` says how we know it is affected: ``column`` when column lineage shows it reads
    the changed field, ``dataset`` when it reads the dataset and no column lineage says
    which fields.
    """

    job: str  # namespace:name
    job_url: str
    reads: str
    via: str
    fields: list[str] = field(default_factory=list)
    writes: list[tuple[str, str]] = field(default_factory=list)  # (namespace, name)


Finder = Callable[[Sequence[DatasetRef]], dict[DatasetRef, list[Consumer]]]
_finders: list[Finder] = []


def register_consumer_finder(finder: Finder) -> Finder:
    if finder not in _finders:
        _finders.append(finder)
    return finder


def find_consumers(refs: Sequence[DatasetRef]) -> dict[DatasetRef, list[Consumer]]:
    """The consumers of each ref, from every registered finder."""
    found: dict[DatasetRef, list[Consumer]] = {ref: [] for ref in refs}
    for finder in _finders:
        for ref, consumers in finder(refs).items():
            found.setdefault(ref, []).extend(consumers)
    return found
