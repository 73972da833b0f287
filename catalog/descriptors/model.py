"""The normalized shape every descriptor format is imported into.

Parsers (one module per format) turn a loaded descriptor into a :class:`ProductSpec`
holding its :class:`ContractSpec` objects; everything downstream — registration,
bindings, diffs, breaking-change reports, search, governance — reads only these
dataclasses, never a format's raw keys. ``to_dict`` gives the normalized JSON that a
stored revision keeps; ``product_from_dict`` reads it back.

Field conventions:
- strings are ``""`` when absent, never ``None``; optional numbers and flags are ``None``
  when the descriptor does not say (so a diff can tell "not declared" from ``False``);
- ``custom_properties`` is a flat ``{property: value}`` dict whatever the source shape;
- ``raw`` keeps keys the model has no field for, so nothing a team wrote is lost.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# Product and contract status, normalized. Formats use many words for these
# ("development", "in development", "production", "sunset", ...).
STATUSES = ("proposed", "draft", "active", "deprecated", "retired")

# Roles a team member can hold, normalized; anything else is kept verbatim in ``role_raw``.
ROLES = ("owner", "technical_owner", "business_owner", "steward", "member")


@dataclass
class Issue:
    """A problem found in a descriptor: ``path`` is a JSON path such as ``schema/0/name``."""

    path: str
    message: str
    source: str = ""  # the file it was found in, when known (a bundle has several)


@dataclass
class Member:
    username: str = ""
    name: str = ""
    email: str = ""
    role: str = "member"  # one of ROLES
    role_raw: str = ""
    description: str = ""
    date_in: str = ""
    date_out: str = ""


@dataclass
class Team:
    name: str = ""
    description: str = ""
    members: list[Member] = field(default_factory=list)


@dataclass
class SupportChannel:
    channel: str = ""
    url: str = ""
    tool: str = ""
    scope: str = ""
    description: str = ""


@dataclass
class Server:
    name: str = ""
    type: str = ""  # postgres, snowflake, bigquery, s3, kafka, duckdb, local, ...
    environment: str = ""
    description: str = ""
    # Connection attributes as written: host, port, database, schema, project, dataset,
    # account, location, path, format, topic, catalog, ...
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class QualityRule:
    name: str = ""
    type: str = ""  # library / sql / custom / text
    dimension: str = ""  # completeness, accuracy, validity, ...
    description: str = ""
    severity: str = ""
    # The rule itself: ODCS ``rule``/``metric`` with ``mustBe``/``mustBeGreaterThan``...,
    # or a query, kept as written.
    definition: dict[str, Any] = field(default_factory=dict)


@dataclass
class Property:
    """A column or field. ``path`` is dotted from the object (``address.city``)."""

    name: str
    path: str = ""
    logical_type: str = ""  # string, integer, number, boolean, date, timestamp, object, array
    physical_type: str = ""  # as written: VARCHAR(20), bigint, ...
    description: str = ""
    business_name: str = ""
    required: bool | None = None
    unique: bool | None = None
    primary_key: bool | None = None
    primary_key_position: int | None = None
    classification: str = ""  # public / internal / restricted / confidential / ...
    pii: bool | None = None
    critical: bool | None = None  # critical data element
    tags: list[str] = field(default_factory=list)
    enum: list[Any] | None = None
    # Constraints, normalized names: minLength, maxLength, pattern, format, minimum,
    # maximum, exclusiveMinimum, exclusiveMaximum, precision, scale, minItems, maxItems.
    constraints: dict[str, Any] = field(default_factory=dict)
    examples: list[Any] = field(default_factory=list)
    quality: list[QualityRule] = field(default_factory=list)
    custom_properties: dict[str, Any] = field(default_factory=dict)
    properties: list[Property] = field(default_factory=list)  # nested object fields
    items: Property | None = None  # array element
    raw: dict[str, Any] = field(default_factory=dict)  # e.g. physicalName, partitioned


@dataclass
class SchemaObject:
    """A table, view, topic or file: one element of ODCS ``schema`` / DCS ``models``."""

    name: str
    physical_name: str = ""
    physical_type: str = ""  # table, view, topic, file, ...
    logical_type: str = "object"
    description: str = ""
    business_name: str = ""
    tags: list[str] = field(default_factory=list)
    properties: list[Property] = field(default_factory=list)
    quality: list[QualityRule] = field(default_factory=list)
    custom_properties: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class SlaProperty:
    """An SLA line. ``kind`` is normalized; ``raw`` is the text as written."""

    kind: str  # latency (= freshness), frequency, availability, retention, other
    property: str = ""  # as written: latency, freshness, generalAvailability, ...
    value: Any = None
    unit: str = ""
    element: str = ""  # what it applies to, e.g. "tbl.txn_ref_dt"
    driver: str = ""  # regulatory / analytics / operational
    duration_seconds: float | None = None  # parsed when the value is a duration
    percent: float | None = None  # parsed when the value is a share (availability)
    raw: str = ""


@dataclass
class Contract:
    id: str
    format: str  # odcs, dcs, dpds, dps
    format_version: str = ""
    name: str = ""
    version: str = ""
    status: str = ""  # one of STATUSES, or "" when not declared
    status_raw: str = ""
    domain: str = ""
    data_product: str = ""
    purpose: str = ""
    usage: str = ""
    limitations: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    objects: list[SchemaObject] = field(default_factory=list)
    servers: list[Server] = field(default_factory=list)
    sla: list[SlaProperty] = field(default_factory=list)
    quality: list[QualityRule] = field(default_factory=list)
    team: Team = field(default_factory=Team)
    support: list[SupportChannel] = field(default_factory=list)
    custom_properties: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class Port:
    name: str
    version: str = ""
    description: str = ""
    type: str = ""
    contract_id: str = ""
    tags: list[str] = field(default_factory=list)
    custom_properties: dict[str, Any] = field(default_factory=dict)
    # Input ports: the output port they read, when the descriptor says (product id / port).
    source_product: str = ""
    source_port: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class Product:
    id: str
    format: str  # odps, dcs, dpds, dps
    format_version: str = ""
    name: str = ""
    version: str = ""
    status: str = ""  # one of STATUSES
    status_raw: str = ""
    domain: str = ""
    subdomain: str = ""
    tenant: str = ""
    purpose: str = ""
    usage: str = ""
    limitations: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    support: list[SupportChannel] = field(default_factory=list)
    team: Team = field(default_factory=Team)
    custom_properties: dict[str, Any] = field(default_factory=dict)
    input_ports: list[Port] = field(default_factory=list)
    output_ports: list[Port] = field(default_factory=list)
    contracts: list[Contract] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def contract(self, contract_id: str) -> Contract | None:
        return next((c for c in self.contracts if c.id == contract_id), None)


def to_dict(obj: Any) -> dict[str, Any]:
    """The normalized JSON of a product or contract (what a revision stores)."""
    return dataclasses.asdict(obj)


def _property_from_dict(d: dict[str, Any]) -> Property:
    d = dict(d)
    d["quality"] = [QualityRule(**q) for q in d.get("quality", [])]
    d["properties"] = [_property_from_dict(p) for p in d.get("properties", [])]
    d["items"] = _property_from_dict(d["items"]) if d.get("items") else None
    return Property(**d)


def contract_from_dict(d: dict[str, Any]) -> Contract:
    d = dict(d)
    d["objects"] = [
        SchemaObject(
            **{
                **o,
                "properties": [_property_from_dict(p) for p in o.get("properties", [])],
                "quality": [QualityRule(**q) for q in o.get("quality", [])],
            }
        )
        for o in d.get("objects", [])
    ]
    d["servers"] = [Server(**s) for s in d.get("servers", [])]
    d["sla"] = [SlaProperty(**s) for s in d.get("sla", [])]
    d["quality"] = [QualityRule(**q) for q in d.get("quality", [])]
    d["team"] = _team_from_dict(d.get("team") or {})
    d["support"] = [SupportChannel(**s) for s in d.get("support", [])]
    return Contract(**d)


def _team_from_dict(d: dict[str, Any]) -> Team:
    return Team(
        name=d.get("name", ""),
        description=d.get("description", ""),
        members=[Member(**m) for m in d.get("members", [])],
    )


def product_from_dict(d: dict[str, Any]) -> Product:
    d = dict(d)
    d["support"] = [SupportChannel(**s) for s in d.get("support", [])]
    d["team"] = _team_from_dict(d.get("team") or {})
    d["input_ports"] = [Port(**p) for p in d.get("input_ports", [])]
    d["output_ports"] = [Port(**p) for p in d.get("output_ports", [])]
    d["contracts"] = [contract_from_dict(c) for c in d.get("contracts", [])]
    d["warnings"] = [Issue(**i) for i in d.get("warnings", [])]
    return Product(**d)
