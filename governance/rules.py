"""Declarative rules on a product's fields, for checks that need no code.

A rule is one or more conditions joined by ``and`` / ``or`` (``and`` binds tighter), each
optionally preceded by ``not``::

    tags contains "gdpr"
    status in ["active", "deprecated"] and custom_properties.cost_center exists
    not purpose missing or usage matches "^See "
    output_ports >= 2

A condition is ``path operator [value]``. ``path`` is dotted into the product's fields
(:attr:`governance.facts.ProductFacts.fields`): ``name``, ``status``, ``domain``,
``tags``, ``purpose``, ``custom_properties.<key>``, ``output_ports.name``... A step into a
list applies to each item. Values are JSON: ``"text"``, ``3``, ``true``, ``["a", "b"]``.

Operators: ``exists`` / ``missing`` (empty counts as missing), ``==``, ``!=``,
``contains`` (an item of a list, or a substring), ``in`` (for a list field: any of its
items), ``matches`` (a regular expression), and ``>``, ``>=``, ``<``, ``<=`` (a list or
mapping compares by its length). Text is compared ignoring case, except by ``matches``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meshport import jsonlimits

UNARY = ("exists", "missing")
_WORDS = ("and", "or", "not")
BINARY = ("==", "!=", "contains", "in", "matches", ">=", "<=", ">", "<")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<list>\[[^\[\]]*\])
      | (?P<op>==|!=|>=|<=|>|<)
      | (?P<word>[A-Za-z0-9_.\-:/@$]+)
    )""",
    re.VERBOSE,
)


class RuleError(ValueError):
    """A rule that cannot be read; the message says where."""


@dataclass(frozen=True)
class Condition:
    path: str
    op: str
    value: Any = None
    negated: bool = False

    def holds(self, fields: Mapping[str, Any]) -> tuple[bool, Any]:
        found = resolve(fields, self.path)
        return _apply(self.op, found, self.value) != self.negated, found


@dataclass(frozen=True)
class Rule:
    """Conditions in disjunctive form: any group whose conditions all hold."""

    groups: tuple[tuple[Condition, ...], ...]

    def holds(self, fields: Mapping[str, Any]) -> tuple[bool, dict[str, Any]]:
        seen: dict[str, Any] = {}
        result = False
        for group in self.groups:
            group_holds = True
            for condition in group:
                ok, value = condition.holds(fields)
                seen[condition.path] = value
                group_holds = group_holds and ok
            result = result or group_holds
        return result, seen


def compile_rule(text: str) -> Rule:
    tokens = _tokens(text)
    groups: list[list[Condition]] = [[]]
    i = 0
    while True:
        condition, i = _condition(tokens, i, text)
        groups[-1].append(condition)
        if i == len(tokens):
            return Rule(tuple(tuple(g) for g in groups))
        joiner = tokens[i][1]
        if joiner == "or":
            groups.append([])
        elif joiner != "and":
            raise RuleError(f"expected 'and' or 'or' at {tokens[i][2]!r} in {text!r}")
        i += 1
        if i == len(tokens):
            raise RuleError(f"{text!r} ends with {joiner!r}")


def _tokens(text: str) -> list[tuple[str, str, str]]:
    """(kind, value, raw) triples."""
    tokens = []
    pos = 0
    text = text.strip()
    if not text:
        raise RuleError("the rule is empty")
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise RuleError(f"cannot read {text[pos:].strip()!r} in {text!r}")
        kind = match.lastgroup or ""
        raw = match.group(kind)
        tokens.append((kind, raw.lower() if kind == "word" else raw, raw))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


def _condition(tokens: list[tuple[str, str, str]], i: int, text: str) -> tuple[Condition, int]:
    negated = False
    if i < len(tokens) and tokens[i][1] == "not":
        negated, i = True, i + 1
    if i >= len(tokens) or tokens[i][0] != "word" or tokens[i][1] in _WORDS:
        found = repr(tokens[i][2]) if i < len(tokens) else "the end"
        raise RuleError(f"expected a field name, found {found} in {text!r}")
    path = tokens[i][2]
    if i + 1 >= len(tokens):
        raise RuleError(f"{path!r} needs an operator in {text!r}")
    op = tokens[i + 1][1]
    if op in UNARY:
        return Condition(path, op, negated=negated), i + 2
    if op not in BINARY:
        raise RuleError(f"unknown operator {tokens[i + 1][2]!r} in {text!r}")
    if i + 2 >= len(tokens):
        raise RuleError(f"{path} {op} needs a value in {text!r}")
    value = _value(tokens[i + 2], text)
    if op == "in" and not isinstance(value, list):
        raise RuleError(f'\'in\' needs a list such as ["a", "b"] in {text!r}')
    if op == "matches":
        try:
            re.compile(str(value))
        except re.error as exc:
            raise RuleError(f"bad regular expression {value!r}: {exc}") from None
    if op in (">", ">=", "<", "<=") and not isinstance(value, int | float):
        raise RuleError(f"{op} needs a number in {text!r}")
    return Condition(path, op, value, negated), i + 3


def _value(token: tuple[str, str, str], text: str) -> Any:
    kind, _, raw = token
    if kind in ("string", "list") or kind == "word":
        try:
            return jsonlimits.loads(raw)
        except ValueError:  # not JSON, or NaN / a number out of range
            if kind == "word":
                raise RuleError(f'{raw!r} is not a value: quote text, as in "{raw}"') from None
            raise RuleError(f"cannot read {raw!r} in {text!r}") from None
    raise RuleError(f"expected a value, found {raw!r} in {text!r}")


def resolve(fields: Any, path: str) -> Any:
    """The value at a dotted ``path``; a step into a list maps over its items."""
    value = fields
    for step in path.split("."):
        if isinstance(value, list):
            value = [resolve(item, step) for item in value]
            value = [v for v in value if v not in (None, "")]
            value = [x for v in value for x in (v if isinstance(v, list) else [v])]
        elif isinstance(value, Mapping):
            value = value.get(step)
        else:
            return None
    return value


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, list | dict) and not value)


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _apply(op: str, found: Any, value: Any) -> bool:
    if op == "exists":
        return not _empty(found)
    if op == "missing":
        return _empty(found)
    if op == "==":
        return bool(_fold(found) == _fold(value))
    if op == "!=":
        return bool(_fold(found) != _fold(value))
    if op == "contains":
        if isinstance(found, list):
            return _fold(value) in [_fold(v) for v in found]
        return isinstance(found, str) and str(value).casefold() in found.casefold()
    if op == "in":  # a list field: any of its items
        items = found if isinstance(found, list) else [found]
        return any(_fold(item) in [_fold(v) for v in value] for item in items)
    if op == "matches":
        items = found if isinstance(found, list) else [found]
        return any(isinstance(v, str) and re.search(str(value), v) for v in items)
    return _compare(op, found, value)


def _compare(op: str, found: Any, value: float) -> bool:
    if isinstance(found, list | dict):
        found = len(found)
    if isinstance(found, bool) or not isinstance(found, int | float):
        return False
    return {
        ">": found > value,
        ">=": found >= value,
        "<": found < value,
        "<=": found <= value,
    }[op]
