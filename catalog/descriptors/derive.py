"""Properties derived from the schemas a DPDS port points at: Avro, JSON Schema, protobuf
and Open Data Mesh table schemas (``columns``). Best effort: what cannot be read is left
out, and the caller warns about it.
"""

from __future__ import annotations

import re
from typing import Any

from catalog.descriptors import normalize as n
from catalog.descriptors.model import Property

_MAX_DEPTH = 16

_AVRO_TYPES = {
    "string": "string",
    "int": "integer",
    "long": "integer",
    "float": "number",
    "double": "number",
    "boolean": "boolean",
    "record": "object",
    "map": "object",
    "array": "array",
    "enum": "string",
}
_AVRO_LOGICAL_TYPES = {
    "date": "date",
    "time-millis": "time",
    "time-micros": "time",
    "timestamp-millis": "timestamp",
    "timestamp-micros": "timestamp",
    "local-timestamp-millis": "timestamp",
    "local-timestamp-micros": "timestamp",
    "decimal": "number",
    "uuid": "string",
}
_JSON_FORMATS = {"date-time": "timestamp", "date": "date", "time": "time"}
_PROTO_TYPES = {
    "double": "number",
    "float": "number",
    "bool": "boolean",
    "string": "string",
    "google.protobuf.Timestamp": "timestamp",
    **{
        name: "integer"
        for name in (
            "int32",
            "int64",
            "uint32",
            "uint64",
            "sint32",
            "sint64",
            "fixed32",
            "fixed64",
            "sfixed32",
            "sfixed64",
        )
    },
}
_SQL_TYPES = (
    (r"char|text|string|clob|uuid", "string"),
    (r"timestamp|datetime", "timestamp"),
    (r"date", "date"),
    (r"time", "time"),
    (r"bool", "boolean"),
    (r"int|serial", "integer"),
    (r"dec|num|float|double|real|money", "number"),
)


def _path(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


# Avro


def from_avro(schema: Any) -> list[Property]:
    """The fields of an Avro record schema."""
    return _avro_fields(schema, "", 0) if isinstance(schema, dict) else []


def _avro_fields(record: dict[str, Any], parent: str, depth: int) -> list[Property]:
    fields = []
    for data in n.items(record.get("fields")) if depth <= _MAX_DEPTH else []:
        name = n.text(data.get("name"))
        prop = _avro(name, data.get("type"), _path(parent, name), depth)
        prop.description = n.text(data.get("doc"))
        fields.append(prop)
    return fields


def _avro(name: str, avro_type: Any, path: str, depth: int) -> Property:
    prop = Property(name=name, path=path, required=True)
    if isinstance(avro_type, list):  # a union: ["null", X] is an optional X
        others = [t for t in avro_type if t != "null"]
        prop.required = "null" not in avro_type
        if len(others) != 1:
            prop.physical_type = "union"
            return prop
        avro_type = others[0]
    if isinstance(avro_type, str):  # a primitive, or the name of a type defined before
        prop.physical_type, prop.logical_type = avro_type, _AVRO_TYPES.get(avro_type, "")
        return prop
    data = n.mapping(avro_type)
    written = n.text(data.get("type"))
    prop.physical_type = written
    logical = _AVRO_LOGICAL_TYPES.get(n.text(data.get("logicalType")))
    prop.logical_type = logical or _AVRO_TYPES.get(written, "")
    prop.constraints = n.constraints(data, ("precision", "scale"))
    if written == "record":
        prop.properties = _avro_fields(data, path, depth + 1)
    elif written == "enum":
        prop.enum = list(data.get("symbols") or [])
    elif written == "array" and depth < _MAX_DEPTH:
        prop.items = _avro("items", data.get("items"), f"{path}[]", depth + 1)
    return prop


# JSON Schema


def from_json_schema(schema: Any, *, root: dict[str, Any] | None = None) -> list[Property]:
    """The properties of an object JSON Schema; its ``#/...`` refs are read in ``root``."""
    if not isinstance(schema, dict):
        return []
    return _json_properties(_json_ref(schema, root or schema, 0), "", root or schema, 0)


def _json_properties(
    schema: dict[str, Any], parent: str, root: dict[str, Any], depth: int
) -> list[Property]:
    required = set(n.str_list(schema.get("required")))
    properties = []
    for name, data in n.mapping(schema.get("properties")).items():
        if isinstance(data, dict):
            prop = _json(name, data, _path(parent, name), root, depth)
            prop.required = name in required
            properties.append(prop)
    return properties


def _json(
    name: str, schema: dict[str, Any], path: str, root: dict[str, Any], depth: int
) -> Property:
    schema = _json_ref(schema, root, depth)
    types = [t for t in n.str_list(schema.get("type")) if t != "null"]
    written = types[0] if len(types) == 1 else ""
    examples = schema.get("examples")
    prop = Property(
        name=name,
        path=path,
        physical_type=written,
        logical_type=_JSON_FORMATS.get(n.text(schema.get("format")), written),
        description=n.text(schema.get("description")),
        business_name=n.text(schema.get("title")),
        enum=schema["enum"] if isinstance(schema.get("enum"), list) else None,
        constraints=n.constraints(schema, n.CONSTRAINT_KEYS),
        examples=list(examples) if isinstance(examples, list) else [],
    )
    if depth < _MAX_DEPTH and "properties" in schema:
        prop.properties = _json_properties(schema, path, root, depth + 1)
    if depth < _MAX_DEPTH and isinstance(schema.get("items"), dict):
        prop.items = _json("items", schema["items"], f"{path}[]", root, depth + 1)
    return prop


def _json_ref(schema: dict[str, Any], root: dict[str, Any], depth: int) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/") or depth > _MAX_DEPTH:
        return schema
    target: Any = root
    for part in ref[2:].split("/"):
        target = n.mapping(target).get(part.replace("~1", "/").replace("~0", "~"))
    merged = {**n.mapping(target), **{k: v for k, v in schema.items() if k != "$ref"}}
    return _json_ref(merged, root, depth + 1)


# Protobuf


_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_MESSAGE = re.compile(r"\bmessage\s+(\w+)\s*\{")
_FIELD = re.compile(
    r"(?:\b(repeated|optional|required)\s+)?(map\s*<[^>]*>|[A-Za-z_][\w.]*)\s+([A-Za-z_]\w*)"
    r"\s*=\s*\d+\s*(\[[^\]]*\])?\s*;"
)


def from_proto(text: str) -> dict[str, list[Property]]:
    """The fields of each top-level message of a ``.proto`` file, by message name."""
    text = _COMMENTS.sub("", text)
    messages: dict[str, list[Property]] = {}
    position = 0
    while match := _MESSAGE.search(text, position):
        body, position = _block(text, match.end())
        messages[match.group(1)] = [_proto(*f) for f in _FIELD.findall(_flat(body))]
    return messages


def _block(text: str, start: int) -> tuple[str, int]:
    """The text up to the brace closing the one just before ``start``, and its end."""
    depth = 1
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start:index], index + 1
    return text[start:], len(text)


def _flat(body: str) -> str:
    """A message body without its nested message/enum/oneof blocks' braces."""
    return re.sub(r"\b(?:message|enum)\s+\w+\s*\{[^{}]*\}", "", body)


def _proto(label: str, written: str, name: str, options: str) -> Property:
    description = re.search(r'description\s*=\s*"((?:[^"\\]|\\.)*)"', options)
    element = Property(
        name="items",
        path=f"{name}[]",
        physical_type=written,
        logical_type="object" if written.startswith("map") else _PROTO_TYPES.get(written, "object"),
    )
    prop = Property(
        name=name,
        path=name,
        physical_type=written,
        logical_type=element.logical_type,
        description=description.group(1) if description else "",
        required=True if label == "required" else None,
        primary_key=True if re.search(r"is_primary_key\)?\s*=\s*true", options) else None,
    )
    if label == "repeated":
        prop.physical_type, prop.logical_type, prop.items = f"repeated {written}", "array", element
    return prop


# Open Data Mesh table schema


def from_columns(columns: Any) -> list[Property]:
    """The ``columns`` of an Open Data Mesh (DSAS) table schema."""
    return [_column(c) for c in n.items(columns)]


def _column(column: dict[str, Any]) -> Property:
    written = n.text(column.get("dataType"))
    constraint = n.text(column.get("columnConstraint")).upper()
    length = n.integer(column.get("dataLength"))
    return Property(
        name=n.text(column.get("name")),
        path=n.text(column.get("name")),
        physical_type=written,
        logical_type=sql_type(written),
        description=n.text(column.get("description")),
        business_name=n.text(column.get("displayName")),
        required=True if constraint in ("NOT_NULL", "PRIMARY_KEY") else None,
        primary_key=True if constraint == "PRIMARY_KEY" else None,
        constraints={"maxLength": length} if length else {},
    )


def sql_type(written: str) -> str:
    """The logical type of an SQL type name; ``""`` when it is not one."""
    lowered = written.lower()
    return next((logical for pattern, logical in _SQL_TYPES if re.search(pattern, lowered)), "")
