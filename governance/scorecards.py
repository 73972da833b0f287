"""Scorecards: their definition as code, and how a product is scored against one.

A definition (a YAML file loaded by ``manage.py load_scorecards``, or the admin's rows)::

    slug: readiness
    name: Data Product Readiness
    schedule: "0 6 * * *"          # cron: minute hour day month weekday; empty: on demand
    filters: {domains: [sales], tags: [gdpr], statuses: [active]}
    levels: [bronze, silver, gold]  # lowest first; or {slug, name, color} mappings
    checks:
      - check: has_owner            # a built-in check
        level: bronze
        category: ownership
        weight: 2
      - key: gdpr-tag
        rule: 'tags contains "gdpr"'   # a declarative rule
        level: gold
      - check: acme.checks.cost_center  # a decorated function in an installed module
        enabled_from: 2027-01-01        # shown from now, counted from then

**Levels are gated**: a product reaches a level when every counted check of that level
and of every level below passes (a waived check passes; a check that does not apply
does not block). **The score** is the weighted share of counted, applicable checks that
pass. A check before its ``enabled_from`` is evaluated and shown as *upcoming*, and
counts for nothing yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.text import slugify
from huey import crontab

from governance.checks import RULE, CheckType, UnknownCheck, check_type
from governance.facts import ProductFacts
from governance.models import CheckStatus, Scorecard, ScorecardCheck
from governance.rules import RuleError

PASSING = (CheckStatus.PASS, CheckStatus.WAIVED)


class DefinitionError(ValueError):
    """A definition that cannot be used; ``errors`` are ``(path, message)`` pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors))


@dataclass(frozen=True)
class LevelDef:
    slug: str
    name: str
    rank: int
    color: str = ""


@dataclass(frozen=True)
class CheckDef:
    key: str
    check: str  # built-in name, "rule", or a dotted path
    name: str = ""
    category: str = ""
    weight: float = 1.0
    level: str = ""  # the slug of the level it gates; "" counts for the score only
    params: Mapping[str, Any] = field(default_factory=dict)
    rule: str = ""
    remediation: str = ""
    enabled_from: datetime | None = None

    @cached_property
    def type(self) -> CheckType:
        return check_type(self.check, self.rule)

    @property
    def title(self) -> str:
        return self.name or self.type.title

    @property
    def fix(self) -> str:
        return self.type.remediation_for(self.params, self.remediation)

    @property
    def group(self) -> str:
        return self.category or self.type.category

    @classmethod
    def from_row(cls, row: ScorecardCheck, level: str = "") -> CheckDef:
        """The check as its admin row holds it; ``level``: the slug of its level."""
        return cls(
            key=row.key,
            check=row.check_name,
            name=row.name,
            category=row.category,
            weight=row.weight,
            level=level,
            params=row.params or {},
            rule=row.rule,
            remediation=row.remediation,
            enabled_from=row.enabled_from,
        )

    def counts_at(self, at: datetime) -> bool:
        return self.enabled_from is None or self.enabled_from <= at


@dataclass(frozen=True)
class Definition:
    slug: str
    name: str
    description: str = ""
    schedule: str = ""
    filters: Mapping[str, list[str]] = field(default_factory=dict)
    enabled: bool = True
    levels: tuple[LevelDef, ...] = ()
    checks: tuple[CheckDef, ...] = ()

    def level(self, slug: str) -> LevelDef | None:
        return next((lv for lv in self.levels if lv.slug == slug), None)

    def rank(self, slug: str) -> int:
        """0 for no level, else 1 + the level's place from the lowest."""
        for i, level in enumerate(self.levels):
            if level.slug == slug:
                return i + 1
        return 0

    def to_dict(self) -> dict[str, Any]:
        """The definition as data (what a run keeps, and what YAML holds)."""
        return {
            "slug": self.slug,
            "name": self.name,
            "description": self.description,
            "schedule": self.schedule,
            "filters": dict(self.filters),
            "enabled": self.enabled,
            "levels": [{"slug": lv.slug, "name": lv.name, "color": lv.color} for lv in self.levels],
            "checks": [_check_dict(c) for c in self.checks],
        }

    @classmethod
    def from_model(cls, scorecard: Scorecard) -> Definition:
        levels = list(scorecard.levels.all())
        slugs = {lv.pk: lv.slug for lv in levels}
        return cls(
            slug=scorecard.slug,
            name=scorecard.name,
            description=scorecard.description,
            schedule=scorecard.schedule,
            filters=scorecard.filters or {},
            enabled=scorecard.enabled,
            levels=tuple(LevelDef(lv.slug, lv.name, i, lv.color) for i, lv in enumerate(levels)),
            checks=tuple(
                CheckDef.from_row(c, slugs.get(c.level_id or 0, "")) for c in scorecard.checks.all()
            ),
        )


def _check_dict(c: CheckDef) -> dict[str, Any]:
    out: dict[str, Any] = {"key": c.key, "check": c.check}
    if c.rule:
        out["rule"] = c.rule
    for name in ("name", "category", "level", "remediation"):
        if value := getattr(c, name):
            out[name] = value
    if c.weight != 1.0:
        out["weight"] = c.weight
    if c.params:
        out["params"] = dict(c.params)
    if c.enabled_from:
        out["enabled_from"] = c.enabled_from.isoformat()
    return out


# --- reading a definition -----------------------------------------------------------------

_TOP = {"slug", "name", "description", "schedule", "filters", "enabled", "levels", "checks"}
_CHECK = {
    "key", "check", "rule", "name", "category", "weight", "level", "params", "remediation",
    "enabled_from",
}  # fmt: skip
_FILTERS = {"domains", "tags", "statuses"}


def definition_from_dict(data: Any, where: str = "") -> Definition:
    """Read and validate a definition; every problem is reported with its path."""
    errors: list[tuple[str, str]] = []
    at = f"{where}/" if where else ""
    if not isinstance(data, Mapping):
        raise DefinitionError([(where or "/", "a scorecard is a mapping")])
    for key in sorted(set(data) - _TOP):
        errors.append((f"{at}{key}", f"unknown key; expected one of {', '.join(sorted(_TOP))}"))
    name = _text(data.get("name"), f"{at}name", errors, required=True)
    slug = slugify(_text(data.get("slug"), f"{at}slug", errors) or name)[:100]
    if not slug:
        errors.append((f"{at}slug", "required (or a name to make it from)"))
    schedule = _text(data.get("schedule"), f"{at}schedule", errors)
    if schedule:
        try:
            cron(schedule)
        except ValueError as exc:
            errors.append((f"{at}schedule", str(exc)))
    levels = _levels(data.get("levels") or [], f"{at}levels", errors)
    checks = _checks(data.get("checks"), f"{at}checks", {lv.slug for lv in levels}, errors)
    definition = Definition(
        slug=slug,
        name=name,
        description=_text(data.get("description"), f"{at}description", errors),
        schedule=schedule,
        filters=filters_from(data.get("filters") or {}, f"{at}filters", errors),
        enabled=_flag(data.get("enabled", True), f"{at}enabled", errors),
        levels=tuple(levels),
        checks=tuple(checks),
    )
    errors += [] if errors else _too_long(definition, at)
    if errors:
        raise DefinitionError(errors)
    return definition


def cron(schedule: str) -> Any:
    """huey's test function for a five-field crontab; ``ValueError`` when it is not one."""
    fields = schedule.split()
    if len(fields) != 5:
        raise ValueError(f"{schedule!r} is not five fields: minute hour day month weekday")
    return crontab(*fields, strict=True)


def _text(value: Any, path: str, errors: list[tuple[str, str]], *, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            errors.append((path, "required"))
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        errors.append((path, "must be text"))
        return ""
    return str(value).strip()


def _flag(value: Any, path: str, errors: list[tuple[str, str]]) -> bool:
    # bool("false") is True: a quoted flag must not silently mean the opposite.
    if not isinstance(value, bool):
        errors.append((path, "true or false"))
        return True
    return value


def _levels(raw: Any, path: str, errors: list[tuple[str, str]]) -> list[LevelDef]:
    if not isinstance(raw, list):
        errors.append((path, "a list of levels, lowest first"))
        return []
    levels: list[LevelDef] = []
    for i, item in enumerate(raw):
        here = f"{path}/{i}"
        if isinstance(item, str):
            item = {"slug": item}
        if not isinstance(item, Mapping):
            errors.append((here, "a level is a name or a mapping with slug, name, color"))
            continue
        slug = slugify(str(item.get("slug") or item.get("name") or ""))[:50]
        if not slug:
            errors.append((f"{here}/slug", "required"))
            continue
        if any(lv.slug == slug for lv in levels):
            errors.append((f"{here}/slug", f"{slug!r} appears twice"))
            continue
        name = str(item.get("name") or slug.replace("-", " ").title())
        levels.append(LevelDef(slug, name, i, str(item.get("color") or "")))
    return levels


def filters_from(raw: Any, path: str, errors: list[tuple[str, str]]) -> dict[str, list[str]]:
    if not isinstance(raw, Mapping):
        errors.append((path, "a mapping with domains, tags and/or statuses"))
        return {}
    out: dict[str, list[str]] = {}
    for key, value in raw.items():
        if key not in _FILTERS:
            errors.append((f"{path}/{key}", "expected domains, tags or statuses"))
            continue
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            errors.append((f"{path}/{key}", "a list of names"))
            continue
        if values:
            out[key] = values
    return out


def _checks(raw: Any, path: str, levels: set[str], errors: list[tuple[str, str]]) -> list[CheckDef]:
    if not isinstance(raw, list) or not raw:
        errors.append((path, "at least one check"))
        return []
    checks: list[CheckDef] = []
    for i, item in enumerate(raw):
        here = f"{path}/{i}"
        if isinstance(item, str):
            item = {"check": item}
        if not isinstance(item, Mapping):
            errors.append((here, "a check is a name or a mapping"))
            continue
        found = _check(item, here, levels, errors)
        if found is None:
            continue
        if any(c.key == found.key for c in checks):
            errors.append((f"{here}/key", f"{found.key!r} appears twice; give each a key"))
            continue
        checks.append(found)
    return checks


def _check(
    item: Mapping[str, Any], here: str, levels: set[str], errors: list[tuple[str, str]]
) -> CheckDef | None:
    before = len(errors)
    for key in sorted(set(item) - _CHECK):
        errors.append(
            (f"{here}/{key}", f"unknown key; expected one of {', '.join(sorted(_CHECK))}")
        )
    rule = _text(item.get("rule"), f"{here}/rule", errors)
    name = _text(item.get("check"), f"{here}/check", errors) or (RULE if rule else "")
    if not name:
        errors.append((f"{here}/check", "required: a built-in check, a dotted path, or a rule"))
        return None
    key = slugify(_text(item.get("key"), f"{here}/key", errors) or name.split(".")[-1])[:100]
    level = slugify(_text(item.get("level"), f"{here}/level", errors))
    if level and level not in levels:
        errors.append((f"{here}/level", f"no level {level!r}; levels: {', '.join(sorted(levels))}"))
    params = item.get("params") or {}
    if not isinstance(params, Mapping):
        errors.append((f"{here}/params", "a mapping"))
        params = {}
    weight = item.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
        errors.append((f"{here}/weight", "a number, 0 or more"))
        weight = 1.0
    definition = CheckDef(
        key=key,
        check=name,
        name=_text(item.get("name"), f"{here}/name", errors),
        category=_text(item.get("category"), f"{here}/category", errors),
        weight=float(weight),
        level=level,
        params=dict(params),
        rule=rule,
        remediation=_text(item.get("remediation"), f"{here}/remediation", errors),
        enabled_from=_when(item.get("enabled_from"), f"{here}/enabled_from", errors),
    )
    try:
        definition.type  # noqa: B018  (resolves the check now, to report it here)
    except (UnknownCheck, RuleError) as exc:
        errors.append((f"{here}/rule" if name == RULE else f"{here}/check", str(exc)))
    return definition if len(errors) == before else None


def _when(value: Any, path: str, errors: list[tuple[str, str]]) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well formed, but no such time (hour 25)
        parsed = None
    if parsed is None and isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            day = None
        parsed = datetime(day.year, day.month, day.day) if day else None
    if parsed is None:
        errors.append((path, "a date (2027-01-31) or a date and time"))
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# What the columns a definition is stored in can hold.
_LONGEST = {"name": 200, "schedule": 100}
_LONGEST_LEVEL = {"name": 100, "color": 20}
_LONGEST_CHECK = {"check": 255, "name": 255, "category": 100, "rule": 1000}


def _too_long(definition: Definition, at: str) -> list[tuple[str, str]]:
    """What would not fit its column, by its path in the document (a definition that
    reads cleanly has every level and check at the index it was given)."""
    parts: list[tuple[str, object, dict[str, int]]] = [(at, definition, _LONGEST)]
    parts += [(f"{at}levels/{i}/", lv, _LONGEST_LEVEL) for i, lv in enumerate(definition.levels)]
    parts += [(f"{at}checks/{i}/", c, _LONGEST_CHECK) for i, c in enumerate(definition.checks)]
    return [
        (f"{at}{attr}", f"at most {longest} characters")
        for at, part, limits in parts
        for attr, longest in limits.items()
        if len(getattr(part, attr)) > longest
    ]


# --- scoring a product ----------------------------------------------------------------------


@dataclass(frozen=True)
class CheckOutcome:
    status: str
    message: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message, "evidence": dict(self.evidence)}


@dataclass(frozen=True)
class WaiverRef:
    pk: int
    expires_at: datetime
    by: str = ""


@dataclass
class Outcome:
    """A product scored: its level (slug, "" for none), score 0–100, each check's result,
    and what the next level still needs."""

    score: float
    level: str
    checks: dict[str, CheckOutcome]
    next_level: str = ""
    missing: list[str] = field(default_factory=list)  # check keys the next level needs

    def failing(self) -> list[str]:
        return [k for k, c in self.checks.items() if c.status == CheckStatus.FAIL]


def score_product(
    definition: Definition,
    facts: ProductFacts,
    *,
    at: datetime,
    waivers: Mapping[str, WaiverRef] | None = None,
) -> Outcome:
    """Run every check of ``definition`` on ``facts`` and work out score and level."""
    waivers = waivers or {}
    checks = {c.key: _outcome(c, facts, at, waivers.get(c.key)) for c in definition.checks}
    return _tally(definition, checks)


def _outcome(
    check: CheckDef, facts: ProductFacts, at: datetime, waiver: WaiverRef | None
) -> CheckOutcome:
    try:
        result = check.type.run(facts, check.params)
    except Exception as exc:  # a custom check that breaks must not stop the run
        return CheckOutcome(
            CheckStatus.FAIL, f"the check failed to run: {exc}", {"error": repr(exc)}
        )
    status, evidence = result.status, dict(result.evidence)
    if not check.counts_at(at):
        evidence["result"] = status
        assert check.enabled_from is not None
        evidence["counts_from"] = check.enabled_from.isoformat()
        return CheckOutcome(CheckStatus.UPCOMING, result.message, evidence)
    if status == CheckStatus.FAIL and waiver is not None:
        evidence["waiver"] = {
            "id": waiver.pk,
            "expires_at": waiver.expires_at.isoformat(),
            "by": waiver.by,
        }
        return CheckOutcome(CheckStatus.WAIVED, result.message, evidence)
    return CheckOutcome(status, result.message, evidence)


def _tally(definition: Definition, checks: dict[str, CheckOutcome]) -> Outcome:
    weights = {c.key: c.weight for c in definition.checks}
    judged = [k for k, c in checks.items() if c.status in (*PASSING, CheckStatus.FAIL)]
    total = sum(weights[k] for k in judged)
    won = sum(weights[k] for k in judged if checks[k].status in PASSING)
    score = round(100.0 * won / total, 1) if total else 100.0
    level = ""
    for lv in definition.levels:
        blocking = [
            c.key
            for c in definition.checks
            if c.level == lv.slug and checks[c.key].status == CheckStatus.FAIL
        ]
        if blocking:
            return Outcome(score, level, checks, next_level=lv.slug, missing=blocking)
        level = lv.slug
    return Outcome(score, level, checks)


def matches_filters(
    definition: Definition, *, domains: Iterable[str], tags: Iterable[str], status: str
) -> bool:
    """Whether a product (its domain with the domains above it, tags, status) falls under
    the scorecard's filters."""
    filters = definition.filters
    if "domains" in filters and not set(filters["domains"]) & set(domains):
        return False
    if not tags_match(definition, tags):
        return False
    if "statuses" in filters:
        return status in filters["statuses"]
    return status != "retired"


def tags_match(definition: Definition, tags: Iterable[str]) -> bool:
    """The tag filter: any of its tags, ignoring case (none: every product)."""
    wanted = {t.casefold() for t in definition.filters.get("tags", [])}
    return not wanted or bool(wanted & {t.casefold() for t in tags})
