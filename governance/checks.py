"""The check registry: small functions that judge one product from its facts.

A check takes a product's :class:`~governance.facts.ProductFacts` and its parameters and
returns a :class:`Result`: pass, fail or not applicable, a message that says what was
found, and evidence. Each registered check carries a title and a remediation text that
says how to fix a failure (``{param}`` placeholders are filled from the parameters).

Three kinds of checks can appear in a scorecard:

- a built-in check by name (``has_owner``; see ``governance/builtin_checks.py``);
- ``rule``: a declarative rule on the product's fields (``tags contains "gdpr"``,
  see :mod:`governance.rules`), for policies that need no code;
- a dotted path to a function decorated with :func:`check` in an installed module
  (``acme.governance.has_cost_center``), for anything more. Only decorated functions can
  be named, so a scorecard cannot call arbitrary code.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import import_string

from governance import rules
from governance.models import CheckStatus

if TYPE_CHECKING:
    from governance.facts import ProductFacts


@dataclass(frozen=True)
class Result:
    status: str  # CheckStatus: pass / fail / na
    message: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


def passed(message: str = "", **evidence: Any) -> Result:
    return Result(CheckStatus.PASS, message, evidence)


def failed(message: str, **evidence: Any) -> Result:
    return Result(CheckStatus.FAIL, message, evidence)


def not_applicable(message: str, **evidence: Any) -> Result:
    return Result(CheckStatus.NOT_APPLICABLE, message, evidence)


CheckFunction = Callable[["ProductFacts", Mapping[str, Any]], Result]


@dataclass(frozen=True)
class CheckType:
    """What a check is: its function, and the words around it."""

    name: str
    title: str
    function: CheckFunction
    remediation: str = ""
    category: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def params(self, given: Mapping[str, Any]) -> dict[str, Any]:
        return {**self.defaults, **given}

    def run(self, facts: ProductFacts, params: Mapping[str, Any]) -> Result:
        return self.function(facts, self.params(params))

    def remediation_for(self, params: Mapping[str, Any], override: str = "") -> str:
        """The remediation text with the parameters filled in."""
        text = override or self.remediation
        values = self.params(params)
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
            if not names <= values.keys():
                return text
            return text.format(**values)
        except (ValueError, IndexError):  # stray braces in a steward's text: keep it as written
            return text


REGISTRY: dict[str, CheckType] = {}
RULE = "rule"  # the check name of a declarative rule


def check(
    name: str, *, title: str, remediation: str, category: str = "", **defaults: Any
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function. Built-in checks are registered by name; a function of
    another module is named in a scorecard by its dotted path, and must be decorated too.
    """

    def register(function: CheckFunction) -> CheckFunction:
        found = CheckType(
            name=name,
            title=title,
            function=function,
            remediation=remediation,
            category=category,
            defaults=defaults,
            description=(function.__doc__ or "").strip(),
        )
        if function.__module__ == "governance.builtin_checks":
            REGISTRY[name] = found
        function.__meshport_check__ = found  # type: ignore[attr-defined]
        return function

    return register


class UnknownCheck(ValueError):
    pass


def check_type(name: str, rule: str = "") -> CheckType:
    """The check a scorecard names: built-in, a rule, or a decorated function by path.
    Raises :class:`UnknownCheck` (with a message for the steward) otherwise."""
    import governance.builtin_checks  # noqa: F401  (registers the built-in checks)

    if name in REGISTRY:
        return REGISTRY[name]
    if name == RULE:
        return rule_check(rule)
    if "." not in name:
        known = ", ".join(sorted(REGISTRY))
        raise UnknownCheck(f"no built-in check {name!r}; known: {known}")
    try:
        function = import_string(name)
    except (ImportError, ValueError, TypeError) as exc:  # ".x", "..x": relative, empty
        raise UnknownCheck(f"cannot import {name!r}: {exc}") from None
    found = getattr(function, "__meshport_check__", None)
    if not isinstance(found, CheckType):
        raise UnknownCheck(f"{name!r} is not a check: decorate it with governance.checks.check")
    return found


def rule_check(text: str) -> CheckType:
    """A check from a declarative rule: passes when the rule holds."""
    compiled = rules.compile_rule(text)  # raises rules.RuleError

    def judge(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
        holds, seen = compiled.holds(facts.fields)
        evidence = {"rule": text, "values": seen}
        if holds:
            return passed(f"{text} holds", **evidence)
        return failed(f"{text} does not hold", **evidence)

    return CheckType(
        name=RULE,
        title=text,
        function=judge,
        remediation=f"Change the product's descriptor so that {text}.",
        category="policy",
    )
