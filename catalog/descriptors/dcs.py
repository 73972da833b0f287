"""Data Contract Specification (datacontract.com, 0.9.x and 1.x) into :class:`Contract`.

``models``/``fields`` become objects/properties; a field's ``$ref`` to ``#/definitions/x`` is
replaced by that definition, the field's own keys winning. DCS has no custom properties:
its extension keys (``config``, ``lineage``, ``references``, any ``x-...``) go to ``raw``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalog.descriptors import normalize as n
from catalog.descriptors.errors import fail
from catalog.descriptors.formats import DCS
from catalog.descriptors.model import (
    Contract,
    Issue,
    Property,
    QualityRule,
    SchemaObject,
    SlaProperty,
    SupportChannel,
    Team,
)

_ROOT_KEYS = (
    "dataContractSpecification",
    "id",
    "info",
    "servers",
    "terms",
    "models",
    "definitions",
    "servicelevels",
    "quality",
    "tags",
)
_INFO_KEYS = ("title", "version", "status", "description", "owner", "contact")
_TERMS_KEYS = ("usage", "limitations")
_MODEL_KEYS = ("type", "description", "title", "tags", "fields", "quality", "primaryKey")
_FIELD_KEYS = (
    "type",
    "description",
    "title",
    "required",
    "unique",
    "primaryKey",
    "primary",
    "classification",
    "pii",
    "tags",
    "enum",
    "example",
    "examples",
    "quality",
    "fields",
    "items",
    *n.CONSTRAINT_KEYS,
)
_LOGICAL_TYPES = {
    "string": "string",
    "text": "string",
    "varchar": "string",
    "number": "number",
    "decimal": "number",
    "numeric": "number",
    "float": "number",
    "double": "number",
    "int": "integer",
    "integer": "integer",
    "long": "integer",
    "bigint": "integer",
    "boolean": "boolean",
    "timestamp": "timestamp",
    "timestamp_tz": "timestamp",
    "timestamp_ntz": "timestamp",
    "date": "date",
    "time": "time",
    "array": "array",
    "object": "object",
    "record": "object",
    "struct": "object",
    "map": "object",
}
# Per service level: the keys holding its value (first present wins), and its element.
_SERVICE_LEVELS = {
    "availability": (("percentage",), ""),
    "retention": (("period",), "timestampField"),
    "latency": (("threshold",), "sourceTimestampField"),
    "freshness": (("threshold",), "timestampField"),
    "frequency": (("interval", "cron"), ""),
    "support": (("responseTime", "time"), ""),
    "backup": (("interval", "cron"), ""),
}
_MAX_DEPTH = 16


def parse_dcs(doc: dict[str, Any], *, source: str = "") -> tuple[Contract, list[Issue]]:
    """The contract in a Data Contract Specification document, and warnings about it."""
    contract_id = n.text(doc.get("id")).strip()
    if not contract_id:
        raise fail("", "'id' is required: a contract needs an identifier", source=source)
    info, terms = n.mapping(doc.get("info")), n.mapping(doc.get("terms"))
    status, warnings = n.status(info.get("status"), "info/status")
    fields = _Fields(n.mapping(doc.get("definitions")), warnings)
    objects = [
        _model(name, model, fields)
        for name, model in n.mapping(doc.get("models")).items()
        if isinstance(model, dict)
    ]
    contract = Contract(
        id=contract_id,
        format=DCS,
        format_version=n.text(doc.get("dataContractSpecification")),
        name=n.text(info.get("title")),
        version=n.text(info.get("version")),
        status=status,
        status_raw=n.text(info.get("status")),
        usage=n.text(terms.get("usage")),
        limitations=n.text(terms.get("limitations")),
        description=n.text(info.get("description")),
        tags=n.str_list(doc.get("tags")),
        objects=objects,
        servers=_servers(doc.get("servers")),
        sla=[line for line, _ in _service_levels(doc.get("servicelevels")).values()],
        quality=_quality(doc.get("quality")),
        team=Team(name=n.text(info.get("owner"))),
        support=_contact(n.mapping(info.get("contact"))),
        raw=_raw(doc, info, terms),
    )
    return contract, warnings


def _raw(doc: dict[str, Any], info: dict[str, Any], terms: dict[str, Any]) -> dict[str, Any]:
    raw = n.leftovers(doc, _ROOT_KEYS)
    for key, data, used in (("info", info, _INFO_KEYS), ("terms", terms, _TERMS_KEYS)):
        if n.leftovers(data, used):
            raw[key] = n.leftovers(data, used)
    levels = {k: v for k, (_, v) in _service_levels(doc.get("servicelevels")).items() if v}
    if levels:
        raw["servicelevels"] = levels
    return raw


def _model(name: str, model: dict[str, Any], fields: _Fields) -> SchemaObject:
    properties = fields.many(model.get("fields"), "", f"models/{name}")
    _mark_primary_key(properties, n.str_list(model.get("primaryKey")))
    return SchemaObject(
        name=name,
        physical_type=n.text(model.get("type")),
        description=n.text(model.get("description")),
        business_name=n.text(model.get("title")),
        tags=n.str_list(model.get("tags")),
        properties=properties,
        quality=n.quality_rules(model.get("quality")),
        raw=n.leftovers(model, _MODEL_KEYS),
    )


def _mark_primary_key(properties: list[Property], columns: list[str]) -> None:
    """A model-level ``primaryKey: [a, b]`` marks those fields, in that order."""
    for position, column in enumerate(columns, start=1):
        for p in properties:
            if p.name == column:
                p.primary_key, p.primary_key_position = True, position


@dataclass
class _Fields:
    """Reads fields, resolving ``$ref``s against ``definitions``; collects warnings."""

    definitions: dict[str, Any]
    warnings: list[Issue]

    def many(self, fields: Any, parent: str, json_path: str, depth: int = 0) -> list[Property]:
        return [
            self.one(
                name, data, f"{parent}.{name}".lstrip("."), f"{json_path}/fields/{name}", depth
            )
            for name, data in n.mapping(fields).items()
            if isinstance(data, dict)
        ]

    def one(
        self, name: str, data: dict[str, Any], path: str, json_path: str, depth: int
    ) -> Property:
        """A field (or an array's ``items``) at dotted ``path``."""
        data = self.resolved(data, json_path)
        if depth > _MAX_DEPTH:
            self.warnings.append(Issue(json_path, "nested too deeply: the rest is not imported"))
            data = {}
        written_type = n.text(data.get("type"))
        classification = n.text(data.get("classification"))
        items = data.get("items")
        return Property(
            name=name,
            path=path,
            logical_type=_LOGICAL_TYPES.get(written_type.lower(), "")
            or ("object" if isinstance(data.get("fields"), dict) else ""),
            physical_type=written_type,
            description=n.text(data.get("description")),
            business_name=n.text(data.get("title")),
            required=n.flag(data.get("required")),
            unique=n.flag(data.get("unique")),
            primary_key=n.flag(data.get("primaryKey", data.get("primary"))),
            classification=classification,
            pii=n.pii_flag(data.get("pii"), classification, {}),
            tags=n.str_list(data.get("tags")),
            enum=data["enum"] if isinstance(data.get("enum"), list) else None,
            constraints=n.constraints(data, n.CONSTRAINT_KEYS),
            examples=_examples(data),
            quality=n.quality_rules(data.get("quality")),
            properties=self.many(data.get("fields"), path, json_path, depth + 1),
            items=(
                self.one("items", items, f"{path}[]", f"{json_path}/items", depth + 1)
                if isinstance(items, dict)
                else None
            ),
            raw=n.leftovers(data, _FIELD_KEYS),
        )

    def resolved(self, data: dict[str, Any], json_path: str) -> dict[str, Any]:
        """``data`` with its ``$ref`` to ``#/definitions/x`` replaced by that definition."""
        ref = data.get("$ref")
        if not isinstance(ref, str):
            return data
        name = ref.removeprefix("#/definitions/")
        definition = self.definitions.get(name) if name != ref else None
        if not isinstance(definition, dict):
            reason = "no such definition" if name != ref else "only #/definitions/x is resolved"
            self.warnings.append(Issue(f"{json_path}/$ref", f"$ref {ref!r} not resolved: {reason}"))
            return data
        # The definition's own name and domain describe the definition, not the field.
        return {**n.leftovers(definition, ("name", "domain")), **n.leftovers(data, ("$ref",))}


def _examples(data: dict[str, Any]) -> list[Any]:
    if isinstance(data.get("examples"), list):
        return list(data["examples"])
    return [data["example"]] if "example" in data else []


def _servers(value: Any) -> list[Any]:
    if isinstance(value, list):  # some documents use the ODCS list shape
        return [n.server(n.text(s.get("server")), s) for s in n.items(value)]
    return [n.server(name, s) for name, s in n.mapping(value).items() if isinstance(s, dict)]


def _service_levels(value: Any) -> dict[str, tuple[SlaProperty, dict[str, Any]]]:
    """Each service level as an SLA line, and what that line leaves out (for ``raw``)."""
    lines = {}
    for key, level in n.mapping(value).items():
        if not isinstance(level, dict):
            continue
        value_keys, element_key = _SERVICE_LEVELS.get(key, ((), ""))
        chosen = next((k for k in value_keys if k in level), "")
        line = n.sla_line(key, level.get(chosen), element=n.text(level.get(element_key)))
        lines[key] = line, n.leftovers(level, (chosen, element_key))
    return lines


def _quality(value: Any) -> list[QualityRule]:
    """Top-level ``quality``: a list of rules, or DCS 0.9's ``{type, specification}``."""
    if isinstance(value, list):
        return n.quality_rules(value)
    data = n.mapping(value)
    if not data:
        return []
    definition = {"engine": n.text(data.get("type")), **n.leftovers(data, ("type",))}
    return [QualityRule(type="custom", definition=definition)]


def _contact(contact: dict[str, Any]) -> list[SupportChannel]:
    if not contact:
        return []
    email = n.text(contact.get("email"))
    return [
        SupportChannel(
            channel=n.text(contact.get("name")) or "contact",
            url=n.text(contact.get("url")) or (f"mailto:{email}" if email else ""),
            tool="email" if email and not contact.get("url") else "",
        )
    ]
