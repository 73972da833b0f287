"""What JSON input may hold, checked in one place for every input: how deep it nests,
numbers and text that JSON (and the database's JSON columns) can hold.

Python's parser recurses once per level, and so do the walks that follow it (canonical
JSON for the dedupe hash, JSON Schema validation, diffs): ``[[[[...]]]]`` 100k levels
deep is a ``RecursionError`` in the parser, and a few hundred levels is one in a walk that
spends several frames per level. :data:`MAX_DEPTH` is far more than any event or
descriptor needs (the deepest of the OpenLineage and descriptor fixtures nest 16 levels)
and little enough for every walk.

Python also reads ``NaN``, ``Infinity`` and ``1e999`` (an infinite float), which are not
JSON: SQLite's ``JSON_VALID`` check and PostgreSQL's ``jsonb`` refuse them when the row is
written, far from the input that held them. Strings holding ``\\u0000`` are refused by
PostgreSQL's text and ``jsonb`` alike, and ``"\\ud800"`` reads as half of a UTF-16
surrogate pair, which no UTF-8 encoder takes (hashing one was a 500). :func:`loads`
refuses all of these up front.

:func:`loads` is ``json.loads`` with these limits, :func:`check_depth` the depth limit
alone (for what YAML built); :class:`meshport.parsers.JSONParser` gives them to every DRF
view.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from functools import partial
from typing import Any

MAX_DEPTH = 64


class TooDeep(ValueError):
    """A document nested deeper than :data:`MAX_DEPTH`."""

    def __init__(self, limit: int = MAX_DEPTH) -> None:
        super().__init__(f"the document is nested too deeply (more than {limit} levels)")


class NotANumber(ValueError):
    """``NaN``, ``Infinity``, or a number past the range of a float or of Python's ints."""


class NotText(ValueError):
    """A string holding a NUL or an unpaired surrogate (U+D800 to U+DFFF)."""


def loads(text: str | bytes) -> Any:
    """``json.loads(text)``, refusing what JSON input may not hold: nesting past
    :data:`MAX_DEPTH` (:class:`TooDeep`), numbers that are not finite
    (:class:`NotANumber`), strings with a NUL or half a surrogate pair (:class:`NotText`).
    All are ``ValueError``, as ``json.JSONDecodeError`` is."""
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite, parse_int=_whole)
    except RecursionError:
        raise TooDeep() from None
    check_depth(value)
    check_text(text, value)
    return value


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Raise :class:`TooDeep` when the lists and dicts of ``value`` (parsed JSON or YAML)
    nest past ``limit`` levels (``[]`` is one level, ``[[]]`` two). Level by level, not
    recursive, so any depth can be measured."""
    level = [value] if type(value) in _CONTAINERS else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            raise TooDeep(limit)
        level = [
            child
            for item in level
            for child in (item.values() if type(item) is dict else item)
            if type(child) in _CONTAINERS
        ]


# Where a NUL or a lone surrogate can come from: an escape in the text (JSON's \u0000 and
# \uD800, YAML's \0, \x00, \u0000, \uD800 and \U0000D800), the character itself in a
# str, or its UTF-8 form in bytes. Only then is the parsed value walked.
_SUSPECT = re.compile(
    r"[\x00\ud800-\udfff]|\\(?:0|x00|u0000|U00000000|u[dD][89a-fA-F]|U0000[dD][89a-fA-F])"
)
_SUSPECT_BYTES = re.compile(rb"\x00|\\u0000|\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_PROBLEMS = (
    (re.compile("\x00"), "a NUL character (\\u0000), which the database cannot store"),
    (re.compile("[\ud800-\udfff]"), "half of a surrogate pair (\\ud800 to \\udfff): no text"),
)


def check_text(source: str | bytes, value: Any) -> None:
    """Raise :class:`NotText`, naming where, when a string of ``value`` (parsed from
    ``source``) holds a NUL, which PostgreSQL's text and ``jsonb`` refuse, or an unpaired
    surrogate, which no UTF-8 encoder takes. Walks ``value`` only when ``source`` could
    have made one."""
    pattern = _SUSPECT_BYTES if isinstance(source, bytes) else _SUSPECT
    if pattern.search(source) is None:  # type: ignore[arg-type]
        return
    for problem, what in _PROBLEMS:
        where = path_of(value, partial(_holds, problem))
        if where is not None:
            raise NotText(f"{where} holds {what}")


def _holds(pattern: re.Pattern[str], item: Any) -> bool:
    return isinstance(item, str) and pattern.search(item) is not None


def path_of(value: Any, bad: Callable[[Any], bool]) -> str | None:
    """The JSON path (``$.a[0].b``) of the first scalar or key of ``value`` that is
    ``bad``, to name it in an error; ``None`` when none is."""
    stack = [(value, "$")]
    while stack:
        item, path = stack.pop()
        if type(item) is dict:
            for key, child in item.items():
                if bad(key):
                    return f"{path} (a key)"
                stack.append((child, f"{path}.{_printable(key)}"))
        elif type(item) is list:
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))
        elif bad(item):
            return path
    return None


def _printable(key: Any) -> str:
    """A key as it can go into a message: its own bad characters escaped, or the message
    could not be sent either."""
    text = str(key)
    if _SUSPECT.search(text) is None:
        return text
    return text.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\u0000")


# Exact types, not isinstance: what json and YAML build, and several times faster to test.
_CONTAINERS = (dict, list)


def _no_constant(name: str) -> Any:
    raise NotANumber(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise NotANumber(f"the number {_short(text)} is out of range")
    return number


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # past sys.get_int_max_str_digits()
        raise NotANumber(f"the number {_short(text)} has too many digits") from None


def _short(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:12]}…{text[-8:]}"
