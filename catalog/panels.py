"""Sections that other apps add to catalog pages, so that catalog never imports them.

Catalog owns the home, dataset and data product pages, but part of what they show
(jobs, runs, quality) belongs to lineage, which catalog must not import. An app fills a
*slot* on a catalog page instead: in its ``AppConfig.ready()`` it registers a function that
takes the page's subject and returns a :class:`Panel` (or ``None`` to show nothing)::

    register_dataset_panel(dataset_lineage_panel)

Contract of a panel function: it runs once per page view, reads what it needs in a fixed
number of queries (list pages pin their query count), and must not write. The catalog
view renders each panel's template with the panel's context alone (plus the request
context processors) and places it on the page; :attr:`Panel.stats` add counters to the
page's summary line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from catalog.models import DataProduct, Dataset

S = TypeVar("S")


@dataclass(frozen=True)
class Stat:
    """A counter shown in a page's summary (``12 jobs``), linking where it is detailed."""

    label: str
    value: int
    url: str = ""


@dataclass(frozen=True)
class Panel:
    template_name: str
    context: Mapping[str, Any] = field(default_factory=dict)
    stats: Sequence[Stat] = ()

    def render(self, request: HttpRequest) -> SafeString:
        return render_to_string(self.template_name, dict(self.context), request=request)


class PanelSlot(Generic[S]):
    """The panel functions registered for one place, called in registration order."""

    def __init__(self) -> None:
        self._funcs: list[Callable[[S], Panel | None]] = []

    def register(self, func: Callable[[S], Panel | None]) -> Callable[[S], Panel | None]:
        # ready() may run more than once (tests, reloads); a function is registered once.
        if func not in self._funcs:
            self._funcs.append(func)
        return func

    def panels(self, subject: S) -> list[Panel]:
        return [panel for func in self._funcs if (panel := func(subject)) is not None]


home_slot: PanelSlot[None] = PanelSlot()
dataset_slot: PanelSlot[Dataset] = PanelSlot()
product_slot: PanelSlot[DataProduct] = PanelSlot()


def register_home_panel(func: Callable[[None], Panel | None]) -> Callable[[None], Panel | None]:
    return home_slot.register(func)


def register_dataset_panel(
    func: Callable[[Dataset], Panel | None],
) -> Callable[[Dataset], Panel | None]:
    return dataset_slot.register(func)


def register_product_panel(
    func: Callable[[DataProduct], Panel | None],
) -> Callable[[DataProduct], Panel | None]:
    """``func`` gets the product of a product page (its ports and bindings are in the
    database: read them in a fixed number of queries)."""
    return product_slot.register(func)
