"""DPDS 1.0 (Open Data Mesh Data Product Descriptor) into :class:`Product`.

DPDS splits a product over files: ports, API definitions and schemas are ``$ref``s,
relative to the file holding them, and are read through ``read`` (bundle paths; nothing is
fetched from the network). A remote ``$ref`` whose file name sits beside the referring
file is read from there, with a warning. Non-JSON targets (``.proto``) are kept as text.

Each output port becomes a contract, id = the port's ``fullyQualifiedName``, whose objects
are derived, best effort, from its API definition: AsyncAPI channel payloads (Avro or
JSON Schema), ``datastoreapi`` tables (protobuf, JSON Schema or column lists) and OpenAPI
schemas. A warning says when nothing could be derived.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlparse

from catalog.descriptors import derive
from catalog.descriptors import normalize as n
from catalog.descriptors.errors import DescriptorError, fail
from catalog.descriptors.formats import DPDS
from catalog.descriptors.loading import load_text
from catalog.descriptors.model import (
    Contract,
    Issue,
    Member,
    Port,
    Product,
    Property,
    SchemaObject,
    Server,
    SlaProperty,
    SupportChannel,
    Team,
)

Reader = Callable[[str], str | None]  # bundle path -> text, or None when absent

MAX_REFS = 200
_STRUCTURED = (".json", ".yaml", ".yml", ".avsc")
_INFO_KEYS = ("fullyQualifiedName", "name", "version", "domain", "description", "owner")
_PORT_KEYS = ("name", "version", "description", "tags", "fullyQualifiedName")


class _Refs:
    """Resolves ``$ref``s against the bundle, once per file, and records warnings."""

    def __init__(self, read: Reader, source: str, doc: dict[str, Any]) -> None:
        self.read, self.source = read, source
        self.documents: dict[str, Any] = {source: doc}
        self.warnings: list[Issue] = []

    def warn(self, path: str, message: str, base: str) -> None:
        self.warnings.append(Issue(path, message, "" if base == self.source else base))

    def load(
        self, holder: dict[str, Any], base: str, path: str, *, required: bool = False
    ) -> tuple[Any, str] | None:
        """What ``holder["$ref"]`` points at, and the bundle path of its file."""
        ref = n.text(holder.get("$ref"))
        location, _, fragment = ref.partition("#")
        target = self._locate(location, base, f"{path}/$ref", required) if location else base
        if target is None:
            return None
        value = self._document(target, f"{path}/$ref", base, required)
        if value is None or not fragment:
            return (value, target) if value is not None else None
        return self._fragment(value, fragment, target, f"{path}/$ref", base)

    def _locate(self, location: str, base: str, path: str, required: bool) -> str | None:
        folder = posixpath.dirname(base)
        if re.match(r"^[a-z][a-z0-9+.-]*:", location, re.I):
            local = posixpath.join(folder, posixpath.basename(urlparse(location).path))
            if self.read(local) is not None:
                self.warn(
                    path,
                    f"remote $ref {location} not fetched: used {local}, the "
                    "bundled file of the same name",
                    base,
                )
                return local
            self._missing(path, f"remote $ref {location} not fetched (no network)", base, required)
            return None
        target = posixpath.normpath(posixpath.join(folder, location))
        if location.startswith("/") or target == ".." or target.startswith("../"):
            self._missing(path, f"$ref {location} points outside the bundle", base, required)
            return None
        return target

    def _missing(self, path: str, message: str, base: str, required: bool) -> None:
        """An error when the target is ``required``, else a warning."""
        if required:
            raise fail(path, message, source=base)
        self.warn(path, message, base)

    def _document(self, target: str, path: str, base: str, required: bool) -> Any:
        if target in self.documents:
            return self.documents[target]
        if len(self.documents) > MAX_REFS:
            self._missing(path, f"more than {MAX_REFS} files referenced", base, required)
            return None
        text = self.read(target)
        if text is None:
            self._missing(path, f"$ref target {target} is not in the bundle", base, required)
            return None
        value: Any = text
        if target.lower().endswith(_STRUCTURED):
            try:
                value = load_text(text, source=target)
            except DescriptorError as error:
                if required:
                    raise
                self.warnings.extend(error.issues)
                return None
        self.documents[target] = value
        return value

    def _fragment(
        self, value: Any, fragment: str, target: str, path: str, base: str
    ) -> tuple[Any, str] | None:
        if not fragment.startswith("/"):
            self.warn(path, f"$ref fragment #{fragment} is not a JSON pointer: not resolved", base)
            return None
        for part in fragment[1:].split("/"):
            value = n.mapping(value).get(part.replace("~1", "/").replace("~0", "~"))
        if value is None:
            self.warn(path, f"$ref fragment #{fragment} not found in {target}", base)
            return None
        return value, target


def referenced_files(doc: dict[str, Any], *, source: str, read: Reader) -> set[str]:
    """Every bundle file reachable through ``$ref``s from ``doc``: its components."""
    refs = _Refs(read, source, doc)
    done: set[str] = set()
    pending = [source]
    while pending:
        base = pending.pop()
        if base in done:
            continue
        done.add(base)
        for holder in _ref_holders(refs.documents.get(base)):
            loaded = refs.load(holder, base, "")
            if loaded:
                pending.append(loaded[1])
    return set(refs.documents) - {source}


def _ref_holders(value: Any) -> Iterator[dict[str, Any]]:
    """The objects with a ``$ref`` string anywhere in ``value``."""
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, dict):
            if isinstance(current.get("$ref"), str):
                yield current
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)


def parse_dpds(
    doc: dict[str, Any], *, source: str = "", read: Reader = lambda path: None
) -> tuple[Product, list[Issue]]:
    """The product in a DPDS document, its output ports bound to derived contracts."""
    info = n.mapping(doc.get("info"))
    product_id = n.text(info.get("fullyQualifiedName")).strip()
    if not product_id:
        message = "'fullyQualifiedName' is required: a data product needs an identifier"
        raise fail("info", message, source=source)
    refs = _Refs(read, source, doc)
    interface = n.mapping(doc.get("interfaceComponents"))
    product = _product(doc, info, product_id, interface)
    for index, data in enumerate(n.items(interface.get("inputPorts"))):
        port_data, _ = _port_data(refs, data, "inputPorts", index)
        product.input_ports.append(_input_port(port_data))
    for index, data in enumerate(n.items(interface.get("outputPorts"))):
        port_data, base = _port_data(refs, data, "outputPorts", index)
        path = f"interfaceComponents/outputPorts/{index}"
        contract = _contract(product, port_data, base, refs, path)
        product.output_ports.append(_output_port(port_data, contract.id))
        product.contracts.append(contract)
    return product, refs.warnings


def _product(
    doc: dict[str, Any], info: dict[str, Any], product_id: str, interface: dict[str, Any]
) -> Product:
    owner = n.mapping(info.get("owner"))
    members = [
        Member(
            username=n.text(owner.get("id")),
            name=n.text(owner.get("name")),
            role="owner",
            role_raw="owner",
        )
    ]
    raw = n.leftovers(doc, ("dataProductDescriptor", "info", "interfaceComponents", "tags"))
    for key, data, used in (
        ("info", info, (*_INFO_KEYS, "contactPoints")),
        ("interfaceComponents", interface, ("inputPorts", "outputPorts")),
    ):
        if n.leftovers(data, used):
            raw[key] = n.leftovers(data, used)
    return Product(
        id=product_id,
        format=DPDS,
        format_version=n.text(doc.get("dataProductDescriptor")),
        name=n.text(info.get("name")),
        version=n.text(info.get("version")),
        domain=n.text(info.get("domain")),
        description=n.text(info.get("description")),
        tags=n.str_list(doc.get("tags")),
        team=Team(members=members if owner else []),
        support=[
            SupportChannel(
                channel=n.text(c.get("name")),
                tool=n.text(c.get("channel")),
                url=n.text(c.get("address")),
                description=n.text(c.get("description")),
            )
            for c in n.items(info.get("contactPoints"))
        ],
        raw=raw,
    )


def _port_data(
    refs: _Refs, data: dict[str, Any], kind: str, index: int
) -> tuple[dict[str, Any], str]:
    """A port as written inline or in the file its ``$ref`` names, and that file."""
    path = f"interfaceComponents/{kind}/{index}"
    port, base = data, refs.source
    if "$ref" in data:
        loaded = refs.load(data, refs.source, path, required=True)
        value, base = loaded if loaded else (None, refs.source)
        if isinstance(value, dict) and "dataProductDescriptor" in value:
            value = _only_port(refs, value, kind, path, base)
        if not isinstance(value, dict):
            raise fail(path, "$ref does not point at a port object", source=refs.source)
        port = {**n.leftovers(data, ("$ref",)), **value}
    if not n.text(port.get("name")).strip():
        raise fail(path, "'name' is required: a port needs a name", source=refs.source)
    return port, base


def _only_port(refs: _Refs, descriptor: dict[str, Any], kind: str, path: str, base: str) -> Any:
    ports = n.items(n.mapping(descriptor.get("interfaceComponents")).get(kind))
    if len(ports) != 1:
        message = f"$ref points at a whole descriptor with {len(ports)} {kind}, not at one port"
        raise fail(path, message, source=refs.source)
    refs.warn(path, f"$ref points at a whole descriptor ({base}): used its only port", refs.source)
    return ports[0]


def _input_port(data: dict[str, Any]) -> Port:
    depends_on = n.text(data.get("dependsOn"))
    product, _, port = depends_on.partition(":outputports:")
    return Port(
        name=n.text(data.get("name")).strip(),
        version=n.text(data.get("version")),
        description=n.text(data.get("description")),
        tags=n.str_list(data.get("tags")),
        source_product=product if port else "",
        source_port=port,
        raw=n.leftovers(data, (*_PORT_KEYS, "dependsOn")),
    )


def _output_port(data: dict[str, Any], contract_id: str) -> Port:
    return Port(
        name=n.text(data.get("name")).strip(),
        version=n.text(data.get("version")),
        description=n.text(data.get("description")),
        type=n.text(n.mapping(data.get("promises")).get("serviceType")),
        contract_id=contract_id,
        tags=n.str_list(data.get("tags")),
        raw={k: data[k] for k in ("fullyQualifiedName", "displayName") if k in data},
    )


def _contract(
    product: Product, port: dict[str, Any], base: str, refs: _Refs, path: str
) -> Contract:
    name = n.text(port.get("name")).strip()
    api = n.mapping(n.mapping(port.get("promises")).get("api"))
    objects, servers = _api(api, base, refs, f"{path}/promises/api")
    usage = n.mapping(n.mapping(port.get("expectations")).get("usage"))
    return Contract(
        id=n.text(port.get("fullyQualifiedName")) or f"{product.id}:outputports:{name}",
        format=DPDS,
        format_version=product.format_version,
        name=name,
        version=n.text(port.get("version")),
        domain=product.domain,
        data_product=product.name,
        usage=n.text(usage.get("description")),
        description=n.text(port.get("description")),
        tags=n.str_list(port.get("tags")),
        objects=objects,
        servers=servers,
        sla=_sla(port),
        raw=n.leftovers(port, _PORT_KEYS),
    )


def _api(
    api: dict[str, Any], base: str, refs: _Refs, path: str
) -> tuple[list[SchemaObject], list[Server]]:
    spec = n.text(api.get("specification")).lower()
    definition = api.get("definition")
    if not isinstance(definition, dict):
        refs.warn(path, "no API definition: the contract has no schema", base)
        return [], []
    loaded = refs.load(definition, base, f"{path}/definition") if "$ref" in definition else None
    value, where = loaded if loaded else (definition, base)
    if "$ref" in definition and not loaded:
        return [], []
    if spec == "asyncapi":
        objects, servers = _asyncapi(n.mapping(value), where, refs), _asyncapi_servers(value)
    elif spec == "datastoreapi":
        objects, servers = _datastore(n.mapping(value), where, refs), _datastore_servers(value)
    elif spec in ("openapi", "swagger"):
        objects, servers = _openapi(n.mapping(value)), []
    else:
        refs.warn(path, f"no schema derived from a {spec or 'unnamed'!r} API definition", base)
        return [], []
    if not any(o.properties for o in objects):
        refs.warn(path, f"no schema could be derived from the {spec} definition", base)
    return objects, servers


def _payload_properties(
    message: dict[str, Any], base: str, refs: _Refs, path: str
) -> list[Property]:
    payload = message.get("payload")
    if not isinstance(payload, dict):
        return []
    where = base
    if "$ref" in payload:
        loaded = refs.load(payload, base, f"{path}/payload")
        payload, where = loaded if loaded else (None, base)
    schema_format = n.text(message.get("schemaFormat")).lower()
    if "avro" in schema_format or where.endswith(".avsc"):
        return derive.from_avro(payload)
    return derive.from_json_schema(payload)


def _messages(channel: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(json path, message) of an AsyncAPI 2 channel's operations or AsyncAPI 3 channel."""
    for operation in ("subscribe", "publish"):
        message = n.mapping(n.mapping(channel.get(operation)).get("message"))
        alternatives = n.items(message.get("oneOf")) if "oneOf" in message else [message]
        for index, alternative in enumerate(alternatives):
            suffix = f"/oneOf/{index}" if "oneOf" in message else ""
            yield f"{operation}/message{suffix}", alternative
    for key, message in n.mapping(channel.get("messages")).items():
        yield f"messages/{key}", n.mapping(message)


def _asyncapi(doc: dict[str, Any], base: str, refs: _Refs) -> list[SchemaObject]:
    objects = []
    for name, channel in n.mapping(doc.get("channels")).items():
        for path, message in _messages(n.mapping(channel)):
            if "payload" not in message:
                continue
            properties = _payload_properties(message, base, refs, f"channels/{name}/{path}")
            message_id = n.text(message.get("messageId") or message.get("name"))
            objects.append(
                SchemaObject(
                    name=name,
                    physical_name=name,
                    physical_type="topic",
                    description=n.text(n.mapping(channel).get("description")),
                    properties=properties,
                    raw={"message": message_id} if message_id else {},
                )
            )
    return objects


def _asyncapi_servers(doc: Any) -> list[Server]:
    return [
        Server(
            name=name,
            type=n.text(data.get("protocol")),
            environment=name,
            description=n.text(data.get("description")),
            attributes=n.leftovers(data, ("protocol", "description")),
        )
        for name, data in n.mapping(n.mapping(doc).get("servers")).items()
        if isinstance(data, dict)
    ]


def _datastore(doc: dict[str, Any], base: str, refs: _Refs) -> list[SchemaObject]:
    schema = n.mapping(doc.get("schema"))
    objects = []
    for index, table in enumerate(n.items(schema.get("tables"))):
        name = n.text(table.get("name"))
        definition, where = table.get("definition"), base
        media_type = n.text(n.mapping(definition).get("mediaType")).lower()
        if isinstance(definition, dict) and "$ref" in definition:
            loaded = refs.load(definition, base, f"schema/tables/{index}/definition")
            definition, where = loaded if loaded else (None, base)
        qualified = [n.text(schema.get(k)) for k in ("databaseName", "schemaName")] + [name]
        objects.append(
            SchemaObject(
                name=name,
                physical_name=".".join(part for part in qualified if part),
                physical_type="table",
                properties=_table_properties(definition, where, name, media_type),
                raw=n.leftovers(table, ("name", "definition")),
            )
        )
    return objects


def _table_properties(definition: Any, where: str, name: str, media_type: str) -> list[Property]:
    if isinstance(definition, str):
        if where.endswith(".proto") or "protobuf" in media_type:
            messages = derive.from_proto(definition)
            if name in messages:
                return messages[name]
            return next(iter(messages.values())) if len(messages) == 1 else []
        return []
    data = n.mapping(definition)
    if "columns" in data:
        return derive.from_columns(data["columns"])
    if data.get("type") == "record":
        return derive.from_avro(data)
    return derive.from_json_schema(data)


def _datastore_servers(doc: Any) -> list[Server]:
    return [
        Server(name=name, environment=name, attributes=n.mapping(data.get("serverVariables")))
        for name, data in n.mapping(n.mapping(doc).get("services")).items()
        if isinstance(data, dict)
    ]


def _openapi(doc: dict[str, Any]) -> list[SchemaObject]:
    schemas = n.mapping(n.mapping(doc.get("components")).get("schemas")) or n.mapping(
        doc.get("definitions")
    )
    return [
        SchemaObject(name=name, properties=derive.from_json_schema(schema, root=doc))
        for name, schema in schemas.items()
        if isinstance(schema, dict)
    ]


def _sla(port: dict[str, Any]) -> list[SlaProperty]:
    """SLO promises and SLA obligations: their ``definition`` leaves, one line each."""
    holders = (
        ("slo", n.mapping(port.get("promises")).get("slo")),
        ("sla", n.mapping(port.get("obligations")).get("sla")),
    )
    return [
        n.sla_line(f"{prefix}.{key}", value, kind_of=key.rpartition(".")[2])
        for prefix, holder in holders
        for key, value in _leaves(n.mapping(n.mapping(holder).get("definition")))
    ]


def _leaves(data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        elif not isinstance(value, list):
            yield f"{prefix}{key}", value
