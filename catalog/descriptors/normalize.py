"""Small normalizations every format parser shares.

PII rule (:func:`pii_flag`): a property is PII when the descriptor says so explicitly: a
``pii`` flag (DCS, or a ``pii`` key or custom property in ODCS), or a classification that
names it ("pii", "personal", "personal-data", ...). "restricted", "confidential" or
"sensitive" say how data is protected, not what it is, so on their own they leave ``pii``
undeclared (``None``). An explicit flag wins over the classification.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from catalog.descriptors.errors import fail
from catalog.descriptors.model import (
    Issue,
    Member,
    QualityRule,
    Server,
    SlaProperty,
    SupportChannel,
    Team,
)

_STATUS_SYNONYMS = {
    "proposed": ("proposed", "proposal", "requested", "planned", "idea"),
    "draft": (
        "draft",
        "development",
        "in development",
        "dev",
        "design",
        "in design",
        "wip",
        "work in progress",
        "experimental",
        "alpha",
        "beta",
        "preview",
    ),
    "active": (
        "active",
        "production",
        "prod",
        "released",
        "release",
        "live",
        "published",
        "ga",
        "generally available",
        "stable",
    ),
    "deprecated": ("deprecated", "sunset", "sunsetting", "retiring", "phasing out"),
    "retired": (
        "retired",
        "archived",
        "decommissioned",
        "obsolete",
        "end of life",
        "eol",
        "removed",
        "deleted",
        "inactive",
    ),
}
_STATUS = {word: status for status, words in _STATUS_SYNONYMS.items() for word in words}

_ROLE_SYNONYMS = {
    "owner": ("owner", "data owner", "product owner", "data product owner", "dp owner"),
    "technical_owner": ("technical owner", "tech owner", "technical data owner"),
    "business_owner": ("business owner", "business data owner", "business product owner"),
    "steward": ("steward", "data steward"),
}
_ROLE = {word: role for role, words in _ROLE_SYNONYMS.items() for word in words}

# Constraint names as the model spells them, and the other spellings seen for them.
CONSTRAINT_KEYS = (
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "precision",
    "scale",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
)
_CONSTRAINTS = {name.lower(): name for name in CONSTRAINT_KEYS} | {
    "min": "minimum",
    "max": "maximum",
    "length": "maxLength",
    "regex": "pattern",
}

_SECONDS = {
    "ms": 0.001,
    "millisecond": 0.001,
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "w": 7 * 86400,
    "wk": 7 * 86400,
    "week": 7 * 86400,
    "mo": 30 * 86400,
    "month": 30 * 86400,
    "y": 365 * 86400,
    "yr": 365 * 86400,
    "year": 365 * 86400,
}
_WORD_PERIODS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
    "annually": 365 * 86400,
}
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)$")
_ISO_DURATION = re.compile(
    r"^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
_ISO_UNITS = (365 * 86400, 30 * 86400, 7 * 86400, 86400, 3600, 60, 1)
_PERCENT = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*%$")


def text(value: Any) -> str:
    """A scalar as text; ``""`` for absent values and for lists or objects."""
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flag(value: Any) -> bool | None:
    """A yes/no value; ``None`` when absent or not a recognizable boolean."""
    if isinstance(value, bool):
        return value
    lowered = text(value).strip().lower()
    if lowered in ("true", "yes", "y", "1"):
        return True
    if lowered in ("false", "no", "n", "0"):
        return False
    return None


def integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(text(value).strip())
    except ValueError:
        return None


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[dict[str, Any]]:
    """The objects of a list, skipping anything else."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def str_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [text(v) for v in value if text(v)]
    return [text(value)] if text(value) else []


def leftovers(data: Mapping[str, Any], used: Iterable[str]) -> dict[str, Any]:
    """The keys of ``data`` a parser did not map: what goes into ``raw``."""
    used = set(used)
    return {k: v for k, v in data.items() if k not in used}


def custom_properties(value: Any) -> dict[str, Any]:
    """``[{property, value}, ...]`` (ODCS/ODPS) or a plain mapping (DPS ``custom``)."""
    if isinstance(value, dict):
        return dict(value)
    return {
        text(p.get("property")): p.get("value") for p in items(value) if text(p.get("property"))
    }


def _words(value: str) -> str:
    return " ".join(re.sub(r"[-_]", " ", value).lower().split())


def status(raw: Any, path: str) -> tuple[str, list[Issue]]:
    """A status normalized to one of ``STATUSES``, with a warning for unknown words."""
    written = text(raw).strip()
    if not written:
        return "", []
    normalized = _STATUS.get(_words(written))
    if normalized:
        return normalized, []
    return "", [Issue(path, f"unknown status {written!r}: kept as written in status_raw")]


def role(raw: str) -> str:
    return _ROLE.get(_words(raw), "member")


def member(data: dict[str, Any]) -> Member:
    """An ODPS/ODCS team member."""
    written_role = text(data.get("role"))
    return Member(
        username=text(data.get("username")),
        name=text(data.get("name")),
        email=text(data.get("email")),
        role=role(written_role),
        role_raw=written_role,
        description=text(data.get("description")),
        date_in=text(data.get("dateIn")),
        date_out=text(data.get("dateOut")),
    )


def team(value: Any) -> Team:
    """ODPS/ODCS v3.1 ``team`` object, or the member list ODCS v3.0 has instead."""
    if isinstance(value, list):
        return Team(members=[member(m) for m in items(value)])
    data = mapping(value)
    return Team(
        name=text(data.get("name")),
        description=text(data.get("description")),
        members=[member(m) for m in items(data.get("members"))],
    )


def support(value: Any) -> list[SupportChannel]:
    return [
        SupportChannel(
            channel=text(s.get("channel")),
            url=text(s.get("url")),
            tool=text(s.get("tool")),
            scope=text(s.get("scope")),
            description=text(s.get("description")),
        )
        for s in items(value)
    ]


def server(name: str, data: dict[str, Any]) -> Server:
    return Server(
        name=name,
        type=text(data.get("type")),
        environment=text(data.get("environment")),
        description=text(data.get("description")),
        attributes=leftovers(data, ("server", "type", "environment", "description")),
    )


_RULE_KEYS = ("name", "type", "dimension", "description", "severity")


def quality_rules(value: Any) -> list[QualityRule]:
    """ODCS / DCS quality rules; everything but the descriptive keys is the definition."""
    return [
        QualityRule(
            name=text(q.get("name")),
            type=_rule_type(q),
            dimension=text(q.get("dimension")),
            description=text(q.get("description")),
            severity=text(q.get("severity")),
            definition=leftovers(q, _RULE_KEYS),
        )
        for q in items(value)
    ]


def _rule_type(rule: dict[str, Any]) -> str:
    written = text(rule.get("type")).strip().lower()
    if written:
        return written
    if "metric" in rule or "rule" in rule:
        return "library"  # ODCS's default type
    if "query" in rule:
        return "sql"
    if "engine" in rule or "implementation" in rule:
        return "custom"
    return "text"


def constraints(data: dict[str, Any], keys: Iterable[str] | None = None) -> dict[str, Any]:
    """Constraint keys of ``data`` under the model's names (``minlength`` → ``minLength``).

    With ``keys=None`` every key of ``data`` is a constraint (ODCS ``logicalTypeOptions``);
    otherwise only those of ``keys`` that are present (DCS fields mix them with the rest).
    """
    chosen = data if keys is None else {k: data[k] for k in keys if k in data}
    return {_constraint_name(k): v for k, v in chosen.items()}


def _constraint_name(key: str) -> str:
    return _CONSTRAINTS.get(re.sub(r"[-_]", "", key).lower(), key)


def pii_flag(explicit: Any, classification: str, custom: Mapping[str, Any]) -> bool | None:
    """See the module docstring for the rule."""
    for declared in (explicit, custom.get("pii"), custom.get("PII")):
        if flag(declared) is not None:
            return flag(declared)
    words = set(re.split(r"[^a-z]+", classification.lower()))
    if "pii" in words or any(word.startswith("personal") for word in words):
        return not words & {"non", "not", "no"}  # "non-pii" says it is not
    return None


def parse_duration(value: Any, unit: str = "") -> float | None:
    """Seconds in ``4`` + ``d``, ``"25h"``, ``"500ms"``, ``"1 year"``, ``"P1Y"``, ``"daily"``.

    Months count 30 days and years 365. ``None`` when the value is no duration.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and unit:
        factor = _unit_seconds(unit)
        return float(value) * factor if factor is not None else None
    written = text(value).strip()
    iso = _ISO_DURATION.match(written.upper())
    if written.upper().startswith("P") and iso and any(iso.groups()):
        return sum(float(n) * s for n, s in zip(iso.groups(), _ISO_UNITS, strict=True) if n)
    if written.lower() in _WORD_PERIODS:
        return float(_WORD_PERIODS[written.lower()])
    match = _DURATION.match(f"{written} {unit}".strip().lower())
    if match and match.group(2):
        factor = _unit_seconds(match.group(2))
        return float(match.group(1)) * factor if factor is not None else None
    return None


def _unit_seconds(unit: str) -> float | None:
    unit = unit.strip().lower()
    if unit in _SECONDS:
        return _SECONDS[unit]
    if unit.endswith("s") and unit[:-1] in _SECONDS:  # days, hours, mins, yrs
        return _SECONDS[unit[:-1]]
    return None


def parse_percent(value: Any) -> float | None:
    """A share as a percentage: ``"99.9%"`` → 99.9, ``0.999`` → 99.9, ``99.9`` → 99.9."""
    if isinstance(value, bool):
        return None
    written = text(value).strip()
    match = _PERCENT.match(written)
    if match:
        return float(match.group(1))
    try:
        number = float(written)
    except ValueError:
        return None
    if 0 < number <= 1:
        return round(number * 100, 6)
    return number if 1 < number <= 100 else None


def sla_kind(written: str) -> str:
    """``latency`` (= freshness), ``frequency``, ``availability``, ``retention`` or ``other``."""
    lowered = written.strip().lower()
    if lowered in ("latency", "freshness"):
        return "latency"
    if lowered in ("availability", "generalavailability"):
        return "availability"
    return lowered if lowered in ("frequency", "retention") else "other"


def sla_line(
    written: str,
    value: Any,
    *,
    unit: str = "",
    element: str = "",
    driver: str = "",
    kind_of: str = "",
) -> SlaProperty:
    """One SLA line, with its duration or percentage parsed when it has one.

    The kind is told from ``kind_of`` when given (the last key of a dotted ``written``).
    """
    kind = sla_kind(kind_of or written)
    availability = kind == "availability"
    return SlaProperty(
        kind=kind,
        property=written,
        value=value,
        unit=unit,
        element=element,
        driver=driver,
        duration_seconds=None if availability else parse_duration(value, unit),
        percent=parse_percent(value) if availability else None,
        raw=f"{text(value)} {unit}".strip(),
    )


# --- the header ODPS and ODCS share (Bitol standards) ---------------------------------

_DESCRIPTION_KEYS = ("purpose", "usage", "limitations")
_TEAM_KEYS = ("name", "description", "members")


def bitol_header(
    doc: dict[str, Any], *, fmt: str, what: str, source: str
) -> tuple[dict[str, Any], list[Issue]]:
    """The fields ODPS products and ODCS contracts share, as keyword arguments of
    :class:`Product`/:class:`Contract`, and the warnings about them. ``what`` names the
    document in the error when it has no id ("a data product")."""
    identifier = text(doc.get("id")).strip()
    if not identifier:
        raise fail("", f"'id' is required: {what} needs an identifier", source=source)
    state, warnings = status(doc.get("status"), "status")
    description = doc.get("description")
    about = mapping(description)
    fields = {
        "id": identifier,
        "format": fmt,
        "format_version": text(doc.get("apiVersion")),
        "name": text(doc.get("name")),
        "version": text(doc.get("version")),
        "status": state,
        "status_raw": text(doc.get("status")),
        "domain": text(doc.get("domain")),
        "purpose": text(about.get("purpose")),
        "usage": text(about.get("usage")),
        "limitations": text(about.get("limitations")),
        "description": text(description),
        "tags": str_list(doc.get("tags")),
        "support": support(doc.get("support")),
        "team": team(doc.get("team")),
        "custom_properties": custom_properties(doc.get("customProperties")),
    }
    return fields, warnings


def bitol_leftovers(doc: dict[str, Any], root_keys: Iterable[str]) -> dict[str, Any]:
    """What a Bitol document holds beyond the model, including inside description/team."""
    raw = leftovers(doc, root_keys)
    about, crew = mapping(doc.get("description")), mapping(doc.get("team"))
    for key, data, used in (("description", about, _DESCRIPTION_KEYS), ("team", crew, _TEAM_KEYS)):
        if leftovers(data, used):
            raw[key] = leftovers(data, used)
    return raw
