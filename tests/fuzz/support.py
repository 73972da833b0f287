"""What the fuzz tests share: how many examples, hostile JSON values, mutations of a valid
document, and the row counts that prove a refused input wrote nothing.

``MESHPORT_FUZZ_EXAMPLES`` (15 by default) scales every test: the schema test generates
that many inputs per API operation, the property tests :data:`PROPERTY_FACTOR` times as
many per property. Runs are derandomized, so CI sees the same inputs every time.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import DatabaseError, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.generation.hypothesis import setup as schemathesis_hypothesis_setup

from meshport.jsonlimits import MAX_DEPTH

# Schemathesis sets Hypothesis' buffer size process-wide when it builds its first test;
# set up front, every fuzz test draws the same inputs whether the schema test ran first
# or not (a 500 was found only after it).
schemathesis_hypothesis_setup()

EXAMPLES = int(os.environ.get("MESHPORT_FUZZ_EXAMPLES", "15"))
PROPERTY_FACTOR = 5
MAX_DEPTH_PAST = MAX_DEPTH + 6  # levels of nesting the limit must refuse


def property_settings(factor: int = PROPERTY_FACTOR) -> settings:
    return settings(
        max_examples=EXAMPLES * factor,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,  # one database per test, on purpose
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


def row_counts(*app_labels: str) -> dict[str, int]:
    """Rows in every table of the apps, by model."""
    return {
        model._meta.label: model._default_manager.count()
        for label in app_labels
        for model in apps.get_app_config(label).get_models()
    }


@contextmanager
def own_transaction() -> Iterator[None]:
    """A request of a test as in production, in a transaction of its own (a savepoint of
    the test's): when it breaks the transaction (after an error PostgreSQL refuses every
    later statement), that request alone is rolled back and the next examples still run.
    The broken request itself still fails its test."""
    savepoint = transaction.savepoint()
    try:
        yield
    finally:
        try:
            transaction.savepoint_commit(savepoint)
        except DatabaseError:
            transaction.savepoint_rollback(savepoint)


# --- hostile values -------------------------------------------------------------------------

HOSTILE_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: not encodable as UTF-8
    "\U0001f600 \u202e\u0645\u0634 \ufeff",
    "'; DROP TABLE catalog_dataproduct; --",
    "%s %(x)s {0} {x}",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "\n\t\r",
]
HUGE_NUMBERS = [2**63, -(2**63) - 1, 10**30, 1e308, -1e308, 5e-324, -0.0]
BAD_DATES = [
    "2024-13-45T99:99:99Z",
    "not a date",
    "0000-00-00T00:00:00Z",
    "9999-12-31T23:59:59.999999-23:59",
    "2024-02-30T10:00:00Z",
    "1970-01-01",
    "2024-05-01T10:00:00+25:00",
]
BAD_UUIDS = ["", "0", "not-a-uuid", "0190f2c4-7d1a-7c9e-9a44-7e1f3c2b8a0", "{" + "f" * 32 + "}"]


def json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=40),
        st.sampled_from(HOSTILE_TEXT + HUGE_NUMBERS + BAD_DATES + BAD_UUIDS),
    )


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value, small: what a field of the wrong type holds."""
    return st.recursive(
        json_scalars(),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=12,
    )


def nested(depth: int, leaf: Any = 1) -> Any:
    """``leaf`` inside ``depth`` levels of lists and objects, alternating."""
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


# --- mutations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One key or index on the way into a document."""

    key: str | int

    def __str__(self) -> str:
        return f"[{self.key}]" if isinstance(self.key, int) else f".{self.key}"


Path = tuple[Step, ...]


def paths(document: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every path into ``document`` that holds a value (the root excluded)."""
    children: list[tuple[str | int, Any]] = []
    if isinstance(document, dict):
        children = list(document.items())
    elif isinstance(document, list):
        children = list(enumerate(document))
    for key, value in children:
        here = (*prefix, Step(key))
        yield here
        yield from paths(value, here)


def dotted(path: Path) -> str:
    return "".join(str(step) for step in path).removeprefix(".")


def parent_of(document: Any, path: Path) -> Any:
    for step in path[:-1]:
        document = document[step.key]
    return document


MUTATIONS: dict[str, Callable[[st.DrawFn, Any], Any]] = {
    "wrong type": lambda draw, old: draw(json_values()),
    "huge text": lambda draw, old: (
        draw(st.sampled_from(["x", "é", "\x00"])) * draw(st.sampled_from([10_000, 300_000]))
    ),
    "hostile text": lambda draw, old: draw(st.sampled_from(HOSTILE_TEXT)),
    "huge number": lambda draw, old: draw(st.sampled_from(HUGE_NUMBERS)),
    "bad date": lambda draw, old: draw(st.sampled_from(BAD_DATES)),
    "bad uuid": lambda draw, old: draw(st.sampled_from(BAD_UUIDS)),
    "deep nesting": lambda draw, old: nested(MAX_DEPTH_PAST),
    "long list": lambda draw, old: [draw(json_scalars())] * 5_000,
}


@st.composite
def mutated(draw: st.DrawFn, document: Any, *, max_steps: int = 3) -> tuple[Any, list[str]]:
    """``document`` (not changed) with 1 to ``max_steps`` mutations at random paths: a
    value replaced (wrong type, huge, hostile, deep) or a key removed. Returns the new
    document and what was done, for the failure message."""
    document = copy.deepcopy(document)
    done = []
    for _ in range(draw(st.integers(1, max_steps))):
        where = list(paths(document))
        if not where:
            break
        path = draw(st.sampled_from(where))
        parent, key = parent_of(document, path), path[-1].key
        kind = draw(st.sampled_from(["remove", *MUTATIONS]))
        if kind == "remove":
            del parent[key]
        else:
            parent[key] = MUTATIONS[kind](draw, parent[key])
        done.append(f"{kind} at {dotted(path)}")
    return document, done
