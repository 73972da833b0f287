"""ODCS v3.x (Open Data Contract Standard) contracts into :class:`Contract`."""

from __future__ import annotations

from typing import Any

from catalog.descriptors import normalize as n
from catalog.descriptors.formats import ODCS
from catalog.descriptors.model import Contract, Issue, Property, SchemaObject, SlaProperty

_ROOT_KEYS = (
    "apiVersion",
    "kind",
    "id",
    "name",
    "version",
    "status",
    "domain",
    "dataProduct",
    "description",
    "tags",
    "schema",
    "servers",
    "slaProperties",
    "slaDefaultElement",
    "team",
    "support",
    "customProperties",
)
_OBJECT_KEYS = (
    "name",
    "physicalName",
    "physicalType",
    "logicalType",
    "description",
    "businessName",
    "tags",
    "properties",
    "quality",
    "customProperties",
)
_PROPERTY_KEYS = (
    "name",
    "logicalType",
    "physicalType",
    "description",
    "businessName",
    "required",
    "unique",
    "primaryKey",
    "primaryKeyPosition",
    "classification",
    "pii",
    "criticalDataElement",
    "tags",
    "enum",
    "logicalTypeOptions",
    "examples",
    "quality",
    "customProperties",
    "properties",
    "items",
)


def parse_odcs(doc: dict[str, Any], *, source: str = "") -> tuple[Contract, list[Issue]]:
    """The contract in an ODCS v3 document, and warnings about it."""
    header, warnings = n.bitol_header(doc, fmt=ODCS, what="a contract", source=source)
    contract = Contract(
        **header,
        data_product=n.text(doc.get("dataProduct")),
        objects=[schema_object(o) for o in n.items(doc.get("schema"))],
        servers=[n.server(n.text(s.get("server")), s) for s in n.items(doc.get("servers"))],
        sla=sla(doc),
        raw=n.bitol_leftovers(doc, _ROOT_KEYS),
    )
    return contract, warnings


def schema_object(data: dict[str, Any]) -> SchemaObject:
    name = n.text(data.get("name"))
    return SchemaObject(
        name=name,
        physical_name=n.text(data.get("physicalName")),
        physical_type=n.text(data.get("physicalType")),
        logical_type=n.text(data.get("logicalType")) or "object",
        description=n.text(data.get("description")),
        business_name=n.text(data.get("businessName")),
        tags=n.str_list(data.get("tags")),
        properties=[prop(p, "") for p in n.items(data.get("properties"))],
        quality=n.quality_rules(data.get("quality")),
        custom_properties=n.custom_properties(data.get("customProperties")),
        raw=n.leftovers(data, _OBJECT_KEYS),
    )


def prop(data: dict[str, Any], parent_path: str, *, element: bool = False) -> Property:
    """A property and, recursively, its nested ``properties`` and ``items``.

    ``path`` is dotted from the object; an array's element is named ``items`` and has the
    array's path with ``[]`` (``lines[]``, then ``lines[].sku`` for its fields).
    """
    name = "items" if element else n.text(data.get("name"))
    path = f"{parent_path}[]" if element else f"{parent_path}.{name}".lstrip(".")
    options = dict(n.mapping(data.get("logicalTypeOptions")))
    enum = data.get("enum", options.pop("enum", None))
    custom = n.custom_properties(data.get("customProperties"))
    classification = n.text(data.get("classification"))
    position = n.integer(data.get("primaryKeyPosition"))
    items = data.get("items")
    return Property(
        name=name,
        path=path,
        logical_type=n.text(data.get("logicalType")),
        physical_type=n.text(data.get("physicalType")),
        description=n.text(data.get("description")),
        business_name=n.text(data.get("businessName")),
        required=n.flag(data.get("required")),
        unique=n.flag(data.get("unique")),
        primary_key=n.flag(data.get("primaryKey")),
        primary_key_position=position if position and position > 0 else None,  # -1: none
        classification=classification,
        pii=n.pii_flag(data.get("pii"), classification, custom),
        critical=n.flag(data.get("criticalDataElement")),
        tags=n.str_list(data.get("tags")),
        enum=enum if isinstance(enum, list) else None,
        constraints=n.constraints(options),
        examples=data["examples"] if isinstance(data.get("examples"), list) else [],
        quality=n.quality_rules(data.get("quality")),
        custom_properties=custom,
        properties=[prop(p, path) for p in n.items(data.get("properties"))],
        items=prop(items, path, element=True) if isinstance(items, dict) else None,
        raw=n.leftovers(data, _PROPERTY_KEYS),
    )


def sla(doc: dict[str, Any]) -> list[SlaProperty]:
    default_element = n.text(doc.get("slaDefaultElement"))
    return [
        n.sla_line(
            n.text(line.get("property")),
            line.get("value"),
            unit=n.text(line.get("unit")),
            element=n.text(line.get("element")) or default_element,
            driver=n.text(line.get("driver")),
        )
        for line in n.items(doc.get("slaProperties"))
    ]
