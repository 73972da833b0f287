"""Work other apps do when the catalog changes, so that catalog never imports them.

An app registers a function in its ``AppConfig.ready()``; the catalog service calls it
inside the transaction that made the change, so what it writes commits or rolls back
with it (a dry run leaves nothing behind). A hook must be quick and must not do network
I/O: anything slow is queued for the worker.
"""

from __future__ import annotations

from collections.abc import Callable

from catalog.models import DataProduct

ProductHook = Callable[[DataProduct], object]
_product_saved: list[ProductHook] = []


def register_product_saved(func: ProductHook) -> ProductHook:
    """``func(product)`` runs after a product's new revision and parts are stored."""
    if func not in _product_saved:
        _product_saved.append(func)
    return func


def product_saved(product: DataProduct) -> None:
    for func in _product_saved:
        func(product)
