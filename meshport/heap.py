"""Keeping what a process loaded once out of the cyclic garbage collector's way.

The collector's full passes walk every container object it tracks. A Django process
holds ~145k of them once its apps, URLs and models are loaded, and they live as long as
the process, yet every full pass walked them again: work that allocates a lot (a lineage
answer of thousands of small containers, a batch of 100 events) triggers a full pass
every batch or two. :func:`freeze_loaded` moves them to the permanent generation, which
no pass visits (measured: ingestion 0.73 → 0.60 ms of CPU per event; a 300-node lineage
answer's p95 118 → 41 ms).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_loaded() -> None:
    """Collect what is garbage now, then leave everything left out of future passes: for
    a process at the end of its start-up."""
    gc.collect()
    gc.freeze()


@contextmanager
def loaded_frozen() -> Iterator[None]:
    """:func:`freeze_loaded` for the duration of a block (a long command that may run
    inside a process that goes on, as under tests), undone after it. In a process that
    froze its heap already (a web process) the block runs as it is: unfreezing would undo
    that freeze too."""
    if gc.get_freeze_count():
        yield
        return
    freeze_loaded()
    try:
        yield
    finally:
        gc.unfreeze()
