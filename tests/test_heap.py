"""Freezing what a process loaded out of the cyclic collector's full passes."""

from __future__ import annotations

import gc

from meshport.heap import loaded_frozen


def test_a_block_runs_frozen_and_the_process_is_left_as_it_was() -> None:
    assert gc.get_freeze_count() == 0  # nothing in the test run froze its heap

    with loaded_frozen():
        assert gc.get_freeze_count() > 0

    assert gc.get_freeze_count() == 0


def test_a_process_frozen_already_stays_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with loaded_frozen():
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
