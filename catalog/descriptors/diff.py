"""What changed between two revisions of a descriptor, and what it breaks for consumers.

Two views, both pure (no database):

- :func:`diff_documents` is the portal's readable diff: a structural diff of two
  normalized JSON documents (what :func:`~catalog.descriptors.model.to_dict` returns).
- :func:`breaking_changes` classifies the changes between two :class:`Product` revisions
  from a consumer's point of view, one :data:`RULES` entry per kind of change.

List items are matched by their natural key, never by position, so reordering columns,
servers or SLA lines is not a change. A path names every step by that key::

    contracts[orders-v1].objects[orders].properties[customer_id].logical_type
    output_ports[orders@1.0.0].contract_id
    contracts[orders-v1].sla[latency@orders.updated_at].duration_seconds

Keys: ``id`` for contracts; ``name`` for objects, properties, servers and quality rules;
``name@version`` for ports; ``kind@element`` for SLA lines (``other:<property>`` for SLA
lines of kind "other", which are only told apart by their property). Lists of scalars
(tags, enum values) are keyed by the value itself; other lists of objects match equal
items first and name the rest by position (``support[#1]``).

The breaking-change rules follow datacontract-cli's changelog rules (``rules.py`` since
v0.11): the contract is a promise about what valid data looks like, so anything that makes
data valid under the old revision invalid under the new one is breaking (a removed column,
a changed type, a tightened constraint, a new ``required``/``unique`` flag, a narrowed
enum), and nothing inside a newly added element can break anyone. Meshport departs from
upstream where a consumer's guarantees get weaker, which upstream treats as metadata:
SLA loosening is breaking, dropped ``required``/``unique``/quality rules and widened enums
are warnings, and a new PII flag is breaking (consumers may not be allowed to hold PII).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import date
from typing import Any, Literal, TypeVar

from catalog.descriptors.model import (
    Contract,
    Port,
    Product,
    Property,
    QualityRule,
    SchemaObject,
    Server,
    SlaProperty,
)

Severity = Literal["breaking", "warning", "info"]
ChangeKind = Literal["added", "removed", "changed"]
SEVERITIES: tuple[Severity, ...] = ("breaking", "warning", "info")

T = TypeVar("T")


# --- natural keys and paths, shared with binding.py --------------------------------------


def port_key(name: str, version: str) -> str:
    return f"{name}@{version}" if version else name


def sla_key(kind: str, prop: str, element: str) -> str:
    key = f"other:{prop}" if kind == "other" else kind
    return f"{key}@{element}" if element else key


def join_path(path: str, step: str) -> str:
    if not path:
        return step
    return f"{path}{step}" if step.startswith("[") else f"{path}.{step}"


def index_by(items: Iterable[T], key: Callable[[T], str]) -> dict[str, T]:
    """Items by natural key; a repeated key gets ``#2``, ``#3``... so nothing is dropped."""
    out: dict[str, T] = {}
    for item in items:
        k = base = key(item)
        n = 1
        while k in out:
            n += 1
            k = f"{base}#{n}"
        out[k] = item
    return out


# --- structural diff ----------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One difference: ``added``/``removed`` when one side is absent or empty."""

    path: str
    kind: ChangeKind
    old: Any = None
    new: Any = None


def _name_key(d: Mapping[str, Any]) -> str:
    return str(d.get("name") or "")


# Which field of a dict names it, by the name of the list that holds it.
_LIST_KEYS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "contracts": lambda d: str(d.get("id") or ""),
    "objects": _name_key,
    "properties": _name_key,
    "servers": _name_key,
    "quality": _name_key,
    "input_ports": lambda d: port_key(str(d.get("name") or ""), str(d.get("version") or "")),
    "output_ports": lambda d: port_key(str(d.get("name") or ""), str(d.get("version") or "")),
    "sla": lambda d: sla_key(
        str(d.get("kind") or ""), str(d.get("property") or ""), str(d.get("element") or "")
    ),
    "members": lambda d: str(d.get("username") or d.get("email") or d.get("name") or ""),
}


def diff_documents(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every difference between two normalized documents, in document order."""
    out: list[Change] = []
    _diff_value("", "", old, new, out)
    return out


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _scalar_kind(old: Any, new: Any) -> ChangeKind:
    if _is_empty(old):
        return "added"
    return "removed" if _is_empty(new) else "changed"


def _diff_value(path: str, field: str, old: Any, new: Any, out: list[Change]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        _diff_mapping(path, old, new, out)
    elif isinstance(old, list) and isinstance(new, list):
        _diff_list(path, field, old, new, out)
    # 1 == True in Python, but a flag turning into a number is a change.
    elif old != new or isinstance(old, bool) != isinstance(new, bool):
        out.append(Change(path, _scalar_kind(old, new), old, new))


def _diff_mapping(
    path: str, old: Mapping[str, Any], new: Mapping[str, Any], out: list[Change]
) -> None:
    for key, value in old.items():
        sub = join_path(path, str(key))
        if key in new:
            _diff_value(sub, str(key), value, new[key], out)
        else:
            out.append(Change(sub, "removed", value, None))
    for key, value in new.items():
        if key not in old:
            out.append(Change(join_path(path, str(key)), "added", None, value))


def _diff_list(path: str, field: str, old: list[Any], new: list[Any], out: list[Change]) -> None:
    old_items = _index_list(field, old)
    new_items = _index_list(field, new)
    for key, (label, value) in old_items.items():
        sub = join_path(path, f"[{label}]")
        if key in new_items:
            _diff_value(sub, "", value, new_items[key][1], out)
        else:
            out.append(Change(sub, "removed", value, None))
    for key, (label, value) in new_items.items():
        if key not in old_items:
            out.append(Change(join_path(path, f"[{label}]"), "added", None, value))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _index_list(field: str, items: list[Any]) -> dict[str, tuple[str, Any]]:
    """``{match key: (label shown in the path, item)}`` for one list."""
    key_of = _LIST_KEYS.get(field)
    out: dict[str, tuple[str, Any]] = {}
    for position, item in enumerate(items):
        if isinstance(item, Mapping):
            natural = key_of(item) if key_of else _name_key(item)
            # Unkeyed objects match on content: equal items pair up whatever their order.
            key, label = (natural, natural) if natural else (_canonical(item), f"#{position}")
        elif isinstance(item, list):
            key, label = _canonical(item), f"#{position}"
        else:
            key, label = _canonical(item), str(item)
        base_key, n = key, 1
        while key in out:
            n += 1
            key = f"{base_key}#{n}"
        out[key] = (label if n == 1 else f"{label}#{n}", item)
    return out


# --- breaking changes: findings and the rule table ----------------------------------------


@dataclass(frozen=True)
class Finding:
    """A classified change. ``contract_id``/``object_name``/``property_path`` locate it
    for the consumer lookup; ``property_path`` is dotted from the object (``address.city``,
    ``lines[].sku`` for array items)."""

    severity: Severity
    rule: str
    path: str
    message: str
    contract_id: str = ""
    object_name: str = ""
    property_path: str = ""


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    doc: str


# One line per rule. A rule id always has the same severity; where a change can go either
# way (narrowed/widened, tightened/loosened) there are two rules.
RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("output-port-removed", "breaking", "an output port (name@version) is gone"),
        Rule("output-port-added", "info", "a new output port"),
        Rule(
            "output-port-contract-changed", "warning", "an output port points at another contract"
        ),
        Rule("contract-removed", "breaking", "a contract is gone"),
        Rule("contract-added", "info", "a new contract"),
        Rule("status-deprecated", "warning", "product or contract became deprecated or retired"),
        Rule("server-removed", "warning", "a server consumers may read from is gone"),
        Rule("server-changed", "warning", "a server moved: type or location attributes changed"),
        Rule("server-added", "info", "a new server"),
        Rule("sla-latency-loosened", "breaking", "freshness/latency allows older data"),
        Rule("sla-frequency-lowered", "breaking", "data is updated less often"),
        Rule("sla-availability-lowered", "breaking", "availability percentage is lower"),
        Rule("sla-retention-shortened", "breaking", "data is kept for less time"),
        Rule("sla-tightened", "info", "an SLA got stricter"),
        Rule("sla-changed", "warning", "an SLA value changed in a way that cannot be ordered"),
        Rule("sla-removed", "warning", "an SLA line is gone: the guarantee is no longer made"),
        Rule("sla-added", "info", "a new SLA line"),
        Rule("object-removed", "breaking", "a table/view/topic is gone"),
        Rule("object-added", "info", "a new table/view/topic"),
        Rule("object-physical-name-changed", "warning", "the object's physical name changed"),
        Rule("property-removed", "breaking", "a column (or nested field) is gone"),
        Rule("property-added", "info", "a new column, required or not: it did not exist before"),
        Rule("logical-type-changed", "breaking", "the logical type changed"),
        Rule("logical-type-widened", "warning", "the logical type widened (integer → number)"),
        Rule("logical-type-removed", "warning", "the logical type is no longer declared"),
        Rule("physical-type-changed", "warning", "the physical type changed (VARCHAR(20) → TEXT)"),
        Rule("required-added", "breaking", "a field became required (as datacontract-cli)"),
        Rule("required-dropped", "warning", "a required field may now be null"),
        Rule("unique-added", "breaking", "a field became unique"),
        Rule("unique-dropped", "warning", "a unique field may now repeat (joins may fan out)"),
        Rule("primary-key-added", "breaking", "a field joined the primary key"),
        Rule("primary-key-dropped", "warning", "a field left the primary key"),
        Rule("enum-narrowed", "breaking", "allowed values removed, or a value list introduced"),
        Rule("enum-widened", "warning", "new allowed values consumers may not handle"),
        Rule("constraint-tightened", "breaking", "a constraint now rejects values it accepted"),
        Rule("constraint-loosened", "info", "a constraint now accepts more values"),
        Rule(
            "constraint-changed", "warning", "a constraint changed in a way that cannot be ordered"
        ),
        Rule("classification-changed", "warning", "the data classification changed"),
        Rule(
            "pii-added", "breaking", "a field is now PII: consumers may not be allowed to hold it"
        ),
        Rule("pii-removed", "warning", "a field is no longer marked PII"),
        Rule("quality-rule-removed", "warning", "a quality rule is gone: a guarantee is lost"),
        Rule("quality-rule-changed", "warning", "a quality rule's definition changed"),
        Rule("quality-rule-added", "info", "a new quality rule"),
        Rule("description-changed", "info", "a description changed"),
        Rule("metadata-changed", "info", "other documentation changed (names, tags, team...)"),
    )
}


@dataclass(frozen=True)
class _Site:
    """Where the pair being compared sits: its path and the consumer-lookup keys."""

    path: str = ""
    contract_id: str = ""
    object_name: str = ""
    property_path: str = ""

    def step(self, step: str, **keys: str) -> _Site:
        return replace(self, path=join_path(self.path, step), **keys)

    def finding(self, rule_id: str, message: str, field: str = "") -> Finding:
        return Finding(
            severity=RULES[rule_id].severity,
            rule=rule_id,
            path=join_path(self.path, field) if field else self.path,
            message=message,
            contract_id=self.contract_id,
            object_name=self.object_name,
            property_path=self.property_path,
        )

    @property
    def label(self) -> str:
        """How messages name the element: ``orders.customer_id``, ``orders``, ``c1``."""
        if self.property_path:
            return f"{self.object_name}.{self.property_path}"
        return self.object_name or self.contract_id or "product"


def breaking_changes(old: Product, new: Product) -> list[Finding]:
    """Classified changes from ``old`` to ``new``, in document order (see :data:`RULES`)."""
    site = _Site()
    findings = [f for check in PRODUCT_CHECKS for f in check(site, old, new)]
    findings += _compare_contracts(site, old.contracts, new.contracts)
    return findings


def _matched(
    old: Sequence[T], new: Sequence[T], key: Callable[[T], str]
) -> Iterator[tuple[str, T | None, T | None, T]]:
    """``(key, old item, new item, whichever exists)`` for every key on either side:
    old items first, in order, then the new ones. Dict lookups keep it linear."""
    old_by, new_by = index_by(old, key), index_by(new, key)
    for k, item in old_by.items():
        yield k, item, new_by.get(k), item
    for k, item in new_by.items():
        if k not in old_by:
            yield k, None, item, item


# --- product level --------------------------------------------------------------------------


def _output_ports(site: _Site, old: Product, new: Product) -> Iterator[Finding]:
    """Ports are what consumers subscribe to: removal breaks them, a new contract may."""
    for key, o, n, port in _matched(old.output_ports, new.output_ports, _port_of):
        port_site = site.step(f"output_ports[{key}]", contract_id=port.contract_id)
        if n is None:
            yield port_site.finding("output-port-removed", f"Output port {key} was removed")
        elif o is None:
            yield port_site.finding("output-port-added", f"Output port {key} was added")
        elif o.contract_id != n.contract_id:
            yield port_site.finding(
                "output-port-contract-changed",
                f"Output port {key} now serves contract {n.contract_id!r}"
                f" instead of {o.contract_id!r}",
                "contract_id",
            )


def _port_of(port: Port) -> str:
    return port_key(port.name, port.version)


def _status(site: _Site, old: Product | Contract, new: Product | Contract) -> Iterator[Finding]:
    if new.status in ("deprecated", "retired") and old.status != new.status:
        what = f"Contract {site.contract_id}" if site.contract_id else "The product"
        yield site.finding(
            "status-deprecated",
            f"{what} is now {new.status} (was {old.status or 'unset'})",
            "status",
        )


_Described = Product | Contract | SchemaObject | Property


def _description(site: _Site, old: _Described, new: _Described) -> Iterator[Finding]:
    if old.description.strip() != new.description.strip():
        yield site.finding(
            "description-changed", f"Description of {site.label} changed", "description"
        )


# Documentation fields reported as ``metadata-changed``, per level.
_METADATA_FIELDS: dict[type, tuple[str, ...]] = {
    Product: (
        "name", "domain", "subdomain", "tenant", "purpose", "usage", "limitations", "tags",
        "support", "team", "custom_properties",
    ),
    Contract: (
        "name", "domain", "data_product", "purpose", "usage", "limitations", "tags", "team",
        "support", "custom_properties",
    ),
    SchemaObject: ("business_name", "physical_type", "tags", "custom_properties"),
    Property: (
        "business_name", "tags", "examples", "critical", "primary_key_position",
        "custom_properties",
    ),
}  # fmt: skip


def _metadata(site: _Site, old: _Described, new: _Described) -> Iterator[Finding]:
    for field in _METADATA_FIELDS[type(old)]:
        if _unordered(getattr(old, field)) != _unordered(getattr(new, field)):
            yield site.finding("metadata-changed", f"{field} of {site.label} changed", field)


def _unordered(value: Any) -> Any:
    """``value`` with every list turned into a sorted tuple: tags, members and support
    channels in another order are the same documentation."""
    if isinstance(value, list):
        return tuple(sorted((_unordered(v) for v in value), key=repr))
    if is_dataclass(value) and not isinstance(value, type):
        return tuple((f.name, _unordered(getattr(value, f.name))) for f in fields(value))
    return value


ProductCheck = Callable[[_Site, Product, Product], Iterable[Finding]]
PRODUCT_CHECKS: tuple[ProductCheck, ...] = (_output_ports, _status, _description, _metadata)


# --- contract level -------------------------------------------------------------------------


def _compare_contracts(site: _Site, old: list[Contract], new: list[Contract]) -> Iterator[Finding]:
    for key, o, n, _ in _matched(old, new, lambda c: c.id):
        contract_site = site.step(f"contracts[{key}]", contract_id=key)
        if n is None:
            yield contract_site.finding("contract-removed", f"Contract {key} was removed")
        elif o is None:
            yield contract_site.finding("contract-added", f"Contract {key} was added")
        else:
            for check in CONTRACT_CHECKS:
                yield from check(contract_site, o, n)
            yield from _compare_objects(contract_site, o.objects, n.objects)


def _servers(site: _Site, old: Contract, new: Contract) -> Iterator[Finding]:
    """A server is where consumers connect: moving or dropping it strands them."""
    for key, o, n, _ in _matched(old.servers, new.servers, lambda s: s.name):
        server_site = site.step(f"servers[{key}]")
        if n is None:
            yield server_site.finding("server-removed", f"Server {key} was removed")
        elif o is None:
            yield server_site.finding("server-added", f"Server {key} was added")
        elif _server_location(o) != _server_location(n):
            yield server_site.finding("server-changed", f"Connection of server {key} changed")
        elif (o.environment, o.description, o.attributes) != (
            n.environment,
            n.description,
            n.attributes,
        ):
            yield server_site.finding(
                "metadata-changed", f"Server {key} changed (not its location)"
            )


# Server attributes that say who may read, not where the data is.
_NOT_LOCATION = frozenset({"roles", "customProperties", "custom_properties", "description"})


def _server_location(server: Server) -> tuple[str, str]:
    where = {k: v for k, v in server.attributes.items() if k not in _NOT_LOCATION}
    return server.type.lower(), _canonical(where)


# For each SLA kind: the number that measures it and the direction that is worse for
# consumers (+1: a larger value is worse).
_SLA_WORSE: dict[str, tuple[str, int, str]] = {
    "latency": ("duration_seconds", +1, "sla-latency-loosened"),
    "frequency": ("duration_seconds", +1, "sla-frequency-lowered"),
    "retention": ("duration_seconds", -1, "sla-retention-shortened"),
    "availability": ("percent", -1, "sla-availability-lowered"),
}


def _sla(site: _Site, old: Contract, new: Contract) -> Iterator[Finding]:
    for key, o, n, _ in _matched(old.sla, new.sla, _sla_of):
        sla_site = site.step(f"sla[{key}]")
        if n is None:
            yield sla_site.finding("sla-removed", f"SLA {key} was removed")
        elif o is None:
            yield sla_site.finding("sla-added", f"SLA {key} was added")
        else:
            yield from _sla_pair(sla_site, key, o, n)


def _sla_of(sla: SlaProperty) -> str:
    return sla_key(sla.kind, sla.property, sla.element)


def _sla_pair(site: _Site, key: str, old: SlaProperty, new: SlaProperty) -> Iterator[Finding]:
    measure = _SLA_WORSE.get(old.kind)
    before = getattr(old, measure[0]) if measure else None
    after = getattr(new, measure[0]) if measure else None
    text = f"SLA {key} changed from {_sla_text(old)} to {_sla_text(new)}"
    if measure and before is not None and after is not None:
        field, worse, rule_id = measure
        if (after - before) * worse > 0:
            yield site.finding(rule_id, text, field)
        elif after != before:
            yield site.finding("sla-tightened", text, field)
    elif (old.value, old.unit) != (new.value, new.unit):
        yield site.finding("sla-changed", text, "value")


def _sla_text(sla: SlaProperty) -> str:
    return sla.raw or f"{sla.value}{' ' + sla.unit if sla.unit else ''}"


def _quality(
    site: _Site, old: Contract | SchemaObject | Property, new: Contract | SchemaObject | Property
) -> Iterator[Finding]:
    for key, o, n, rule in _matched(old.quality, new.quality, _quality_of):
        label = key if rule.name else "(unnamed)"
        rule_site = site.step(f"quality[{key}]")
        if n is None:
            yield rule_site.finding(
                "quality-rule-removed", f"Quality rule {label} on {site.label} was removed"
            )
        elif o is None:
            yield rule_site.finding(
                "quality-rule-added", f"Quality rule {label} on {site.label} was added"
            )
        elif (o.type, o.definition) != (n.type, n.definition):
            yield rule_site.finding(
                "quality-rule-changed", f"Quality rule {label} on {site.label} changed"
            )


def _quality_of(rule: QualityRule) -> str:
    # Unnamed rules match on what they check, so a changed one reads as removed + added.
    return rule.name or _canonical([rule.type, rule.definition])


ContractCheck = Callable[[_Site, Contract, Contract], Iterable[Finding]]
CONTRACT_CHECKS: tuple[ContractCheck, ...] = (
    _status,
    _servers,
    _sla,
    _quality,
    _description,
    _metadata,
)


# --- object level ---------------------------------------------------------------------------


def _compare_objects(
    site: _Site, old: list[SchemaObject], new: list[SchemaObject]
) -> Iterator[Finding]:
    for key, o, n, _ in _matched(old, new, lambda obj: obj.name):
        obj_site = site.step(f"objects[{key}]", object_name=key)
        if n is None:
            yield obj_site.finding("object-removed", f"Object {key} was removed")
        elif o is None:
            yield obj_site.finding("object-added", f"Object {key} was added")
        else:
            for check in OBJECT_CHECKS:
                yield from check(obj_site, o, n)
            yield from _compare_properties(obj_site, o.properties, n.properties, "")


def _physical_name(site: _Site, old: SchemaObject, new: SchemaObject) -> Iterator[Finding]:
    if (old.physical_name or old.name) != (new.physical_name or new.name):
        yield site.finding(
            "object-physical-name-changed",
            f"Object {site.label} is now stored as {new.physical_name or new.name!r}"
            f" (was {old.physical_name or old.name!r})",
            "physical_name",
        )


ObjectCheck = Callable[[_Site, SchemaObject, SchemaObject], Iterable[Finding]]
OBJECT_CHECKS: tuple[ObjectCheck, ...] = (_physical_name, _quality, _description, _metadata)


# --- property level -------------------------------------------------------------------------


def _compare_properties(
    site: _Site, old: list[Property], new: list[Property], prefix: str
) -> Iterator[Finding]:
    for key, o, n, _ in _matched(old, new, lambda p: p.name):
        prop_site = site.step(f"properties[{key}]", property_path=f"{prefix}{key}")
        if n is None:
            yield prop_site.finding("property-removed", f"Property {prop_site.label} was removed")
        elif o is None:
            required = "required" if n.required else "optional"
            yield prop_site.finding(
                "property-added", f"{required.capitalize()} property {prop_site.label} was added"
            )
        else:
            yield from _compare_property(prop_site, o, n)


def _compare_property(site: _Site, old: Property, new: Property) -> Iterator[Finding]:
    for check in PROPERTY_CHECKS:
        yield from check(site, old, new)
    yield from _compare_properties(site, old.properties, new.properties, f"{site.property_path}.")
    if old.items is not None and new.items is not None:
        items_site = site.step("items", property_path=f"{site.property_path}[]")
        yield from _compare_property(items_site, old.items, new.items)


# Changes of logical type that lose nothing. Normalized names first, then the raw names
# some formats keep (DCS/Avro), in case a parser passes them through.
_WIDENINGS = frozenset(
    {
        ("integer", "number"),
        ("int", "long"),
        ("int", "bigint"),
        ("integer", "long"),
        ("float", "double"),
        ("int", "number"),
        ("long", "number"),
        ("float", "number"),
    }
)


def _logical_type(site: _Site, old: Property, new: Property) -> Iterator[Finding]:
    before, after = old.logical_type.strip().lower(), new.logical_type.strip().lower()
    if before == after or not before:
        return
    text = f"Logical type of {site.label} changed from {before!r} to {after!r}"
    if not after:
        rule_id = "logical-type-removed"
        text = f"Logical type of {site.label} ({before!r}) is no longer declared"
    elif (before, after) in _WIDENINGS:
        rule_id = "logical-type-widened"
    else:
        rule_id = "logical-type-changed"
    yield site.finding(rule_id, text, "logical_type")


def _physical_type(site: _Site, old: Property, new: Property) -> Iterator[Finding]:
    before, after = _squash(old.physical_type), _squash(new.physical_type)
    if before and after and before != after:
        yield site.finding(
            "physical-type-changed",
            f"Physical type of {site.label} changed from {old.physical_type!r}"
            f" to {new.physical_type!r}",
            "physical_type",
        )


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


# Flags that restrict (or mark) data when they turn on: (field, rule when set, rule when
# cleared, words for the message). ``None`` counts as "not set", as the formats default.
_FLAGS: tuple[tuple[str, str, str, str], ...] = (
    ("required", "required-added", "required-dropped", "required"),
    ("unique", "unique-added", "unique-dropped", "unique"),
    ("primary_key", "primary-key-added", "primary-key-dropped", "part of the primary key"),
    ("pii", "pii-added", "pii-removed", "marked as PII"),
)


def _flags(site: _Site, old: Property, new: Property) -> Iterator[Finding]:
    for field, set_rule, cleared_rule, words in _FLAGS:
        before, after = bool(getattr(old, field)), bool(getattr(new, field))
        if after and not before:
            yield site.finding(set_rule, f"{site.label} is now {words}", field)
        elif before and not after:
            yield site.finding(cleared_rule, f"{site.label} is no longer {words}", field)


def _enum(site: _Site, old: Property, new: Property) -> Iterator[Finding]:
    """An enum is a restriction: introducing one narrows, dropping one widens."""
    before = {_canonical(v): v for v in old.enum or []}
    after = {_canonical(v): v for v in new.enum or []}
    if before == after:
        return
    if not before:
        yield site.finding("enum-narrowed", f"{site.label} is now limited to {new.enum}", "enum")
        return
    if not after:
        yield site.finding("enum-widened", f"{site.label} no longer lists allowed values", "enum")
        return
    if removed := [v for k, v in before.items() if k not in after]:
        yield site.finding("enum-narrowed", f"{site.label} no longer allows {removed}", "enum")
    if added := [v for k, v in after.items() if k not in before]:
        yield site.finding("enum-widened", f"{site.label} now also allows {added}", "enum")


# Constraint direction: a lower bound tightens when it rises, an upper bound when it falls;
# for the others any new or different value tightens and only removal loosens (a changed
# pattern or format accepts different values; a changed scale loses digits either way).
_LOWER_BOUNDS = frozenset({"minLength", "minimum", "exclusiveMinimum", "minItems"})
_UPPER_BOUNDS = frozenset({"maxLength", "maximum", "exclusiveMaximum", "maxItems", "precision"})
_EXACT = frozenset({"pattern", "format", "scale"})


def _constraints(site: _Site, old: Property, new: Property) -> Iterator[Finding]:
    for name in sorted(old.constraints.keys() | new.constraints.keys()):
        before, after = old.constraints.get(name), new.constraints.get(name)
        if before == after:
            continue
        rule_id = _constraint_rule(name, before, after)
        yield site.finding(
            rule_id,
            f"Constraint {name} of {site.label} changed from {before!r} to {after!r}",
            f"constraints.{name}",
        )


def _constraint_rule(name: str, before: Any, after: Any) -> str:
    if after is None:
        return "constraint-loosened"
    if before is None:
        # Any new constraint rejects something; unknown ones we cannot judge.
        return "constraint-tightened" if _is_known_constraint(name) else "constraint-changed"
    if name in _EXACT:
        return "constraint-tightened"
    lo, hi = _as_number(before), _as_number(after)
    if name not in (_LOWER_BOUNDS | _UPPER_BOUNDS) or lo is None or hi is None:
        return "constraint-changed"
    tightened = hi > lo if name in _LOWER_BOUNDS else hi < lo
    return "constraint-tightened" if tightened else "constraint-loosened"


def _is_known_constraint(name: str) -> bool:
    return name in _LOWER_BOUNDS or name in _UPPER_BOUNDS or name in _EXACT


def _as_number(value: Any) -> float | None:
    """Bounds are numbers, or ISO dates on date columns (ordered by day)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        pass
    try:
        return float(date.fromisoformat(str(value).strip()).toordinal())
    except ValueError:
        return None


def _classification(site: _Site, old: Property, new: Property) -> Iterator[Finding]:
    before, after = old.classification.strip().lower(), new.classification.strip().lower()
    if before != after:
        yield site.finding(
            "classification-changed",
            f"Classification of {site.label} changed from {before or 'unset'!r}"
            f" to {after or 'unset'!r}",
            "classification",
        )


PropertyCheck = Callable[[_Site, Property, Property], Iterable[Finding]]
PROPERTY_CHECKS: tuple[PropertyCheck, ...] = (
    _logical_type,
    _physical_type,
    _flags,
    _enum,
    _constraints,
    _classification,
    _quality,
    _description,
    _metadata,
)


# --- versions -------------------------------------------------------------------------------

_SEMVER = re.compile(
    r"^[vV]?(?P<major>0|[1-9]\d*)"
    r"(?:\.(?P<minor>0|[1-9]\d*)(?:\.(?P<patch>0|[1-9]\d*)(?P<suffix>[-+][0-9A-Za-z.+-]+)?)?)?$"
)


def semver_major(old_version: str, new_version: str) -> bool:
    """Is ``new_version`` a major bump over ``old_version``?

    Tolerates a ``v`` prefix and short forms ("1", "2.0"); a pre-release or build suffix
    only after a full ``x.y.z``. Anything else is not semver and gives False, so a
    breaking change under a non-semver version is never waved through. ``0.x`` bumps are
    not major: callers that follow semver's "anything may change before 1.0" check that.
    """
    old, new = _SEMVER.match(old_version.strip()), _SEMVER.match(new_version.strip())
    if old is None or new is None:
        return False
    return int(new["major"]) > int(old["major"])
