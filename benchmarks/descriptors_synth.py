"""Synthetic, deterministic descriptors for benchmarks: wide contracts and their next revision.

    from benchmarks.descriptors_synth import make_wide_contract, make_wide_product, revise

Same ``columns`` and ``seed`` give the same contract, so runs can be compared.
:func:`bundle_files` writes a product as descriptor text (ODPS v1.0.0 + ODCS v3.1.0 YAML),
what ``data_product_register`` takes.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import yaml

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

_TYPES = (
    ("string", "VARCHAR(255)"),
    ("integer", "INTEGER"),
    ("number", "NUMERIC(18,2)"),
    ("boolean", "BOOLEAN"),
    ("date", "DATE"),
    ("timestamp", "TIMESTAMP"),
)
_CLASSIFICATIONS = ("public", "internal", "restricted", "confidential")


def _column(rng: random.Random, index: int) -> Property:
    logical, physical = rng.choice(_TYPES)
    column = Property(
        name=f"col_{index:04d}",
        path=f"col_{index:04d}",
        logical_type=logical,
        physical_type=physical,
        description=f"Synthetic column {index}",
        required=rng.random() < 0.3,
        unique=index == 0 or None,
        primary_key=index == 0 or None,
        classification=rng.choice(_CLASSIFICATIONS),
        pii=rng.random() < 0.05,
        tags=rng.sample(["finance", "core", "derived", "raw", "kpi"], k=2),
    )
    if logical == "string":
        column.constraints = {"maxLength": rng.choice((20, 64, 255))}
        if rng.random() < 0.1:
            column.enum = [f"v{n}" for n in range(rng.randint(2, 6))]
    elif logical in ("integer", "number"):
        column.constraints = {"minimum": 0, "maximum": rng.choice((100, 10_000, 1_000_000))}
    if rng.random() < 0.05:
        column.quality = [QualityRule(name=f"not_null_{index}", type="library")]
    if rng.random() < 0.02:
        # A struct: string/number options would make the contract invalid.
        column.logical_type, column.constraints, column.enum = "object", {}, None
        column.properties = [
            Property(name=f"part_{n}", path=f"col_{index:04d}.part_{n}", logical_type="string")
            for n in range(3)
        ]
    return column


def make_wide_contract(columns: int, *, seed: int) -> Contract:
    """One contract, one table of ``columns`` columns, two servers and three SLA lines."""
    rng = random.Random(seed)
    return Contract(
        id=f"wide-{columns}",
        format="odcs",
        format_version="3.1.0",
        name=f"Wide contract ({columns} columns)",
        version="1.0.0",
        status="active",
        objects=[
            SchemaObject(
                name="wide_table",
                physical_name="analytics.wide_table",
                physical_type="table",
                properties=[_column(rng, i) for i in range(columns)],
            )
        ],
        servers=[
            Server(
                name="prod",
                type="postgres",
                environment="prod",
                attributes={"host": "db.example.com", "port": 5432, "database": "dwh"},
            ),
            Server(name="dev", type="postgres", environment="dev", attributes={"host": "dev"}),
        ],
        sla=[
            SlaProperty("latency", "latency", 4, "h", duration_seconds=4 * 3600),
            SlaProperty("availability", "generalAvailability", "99.9%", percent=99.9),
            SlaProperty("retention", "retention", 1, "y", duration_seconds=365 * 86400),
        ],
    )


def make_wide_product(columns: int, *, seed: int) -> Product:
    """A product with one output port serving :func:`make_wide_contract`."""
    contract = make_wide_contract(columns, seed=seed)
    return Product(
        id=f"wide-product-{columns}",
        format="odps",
        name="Wide product",
        version="1.0.0",
        status="active",
        output_ports=[Port(name="wide", version="1.0.0", contract_id=contract.id)],
        contracts=[contract],
    )


def revise(product: Product, *, seed: int, changes: int = 5) -> Product:
    """A copy of ``product`` with a few realistic edits to its first table: removed,
    retyped, tightened, added and reordered columns, and a loosened SLA."""
    rng = random.Random(seed)
    new = copy.deepcopy(product)
    contract = new.contracts[0]
    columns = contract.objects[0].properties
    for _ in range(changes):
        victim = rng.randrange(1, len(columns))
        edit = rng.choice(("remove", "retype", "tighten", "describe"))
        if edit == "remove":
            columns.pop(victim)
        elif edit == "retype":
            columns[victim].logical_type = (
                "string" if columns[victim].logical_type != "string" else "integer"
            )
        elif edit == "tighten":
            columns[victim].constraints = {**columns[victim].constraints, "maxLength": 10}
        else:
            columns[victim].description += " (revised)"
    columns.append(Property(name="added_column", logical_type="string"))
    rng.shuffle(columns)  # reordering must cost nothing in the diff
    contract.sla[0].duration_seconds = 8 * 3600
    contract.sla[0].value = 8
    return new


# --- as descriptor text ---------------------------------------------------------------------


def make_numbered_product(index: int, *, columns: int, seed: int) -> Product:
    """:func:`make_wide_product` with ids, names and a table of its own, so that many
    products can live in one catalog."""
    product = make_wide_product(columns, seed=seed)
    contract = product.contracts[0]
    contract.id = f"synth-{index:05d}-orders"
    contract.name = f"Synthetic orders {index}"
    contract.objects[0].physical_name = f"orders_{index:05d}"
    contract.servers[0].attributes["schema"] = "analytics"
    contract.servers[1].attributes.update(port=5432, database="dwh", schema="analytics")
    product.id = f"synth-{index:05d}"
    product.name = f"Synthetic product {index}"
    product.domain = ("customer", "sales", "finance", "logistics")[index % 4]
    product.output_ports[0].contract_id = contract.id
    return product


def revise_compatible(product: Product, *, seed: int) -> Product:
    """A non-breaking next revision: a minor version bump, an optional column added and a
    description reworded."""
    rng = random.Random(seed)
    new = copy.deepcopy(product)
    new.version = new.contracts[0].version = "1.1.0"
    columns = new.contracts[0].objects[0].properties
    columns[rng.randrange(len(columns))].description += " (clarified)"
    columns.append(Property(name="added_note", logical_type="string", physical_type="VARCHAR(255)"))
    return new


def bundle_files(product: Product) -> dict[str, str]:
    """``product`` as the files of a bundle: an ODPS v1.0.0 product and ODCS v3.1.0 contracts,
    YAML text."""
    files = {"product.odps.yaml": _yaml(product_document(product))}
    for contract in product.contracts:
        files[f"{contract.id}.odcs.yaml"] = _yaml(contract_document(contract))
    return files


def product_document(product: Product) -> dict[str, Any]:
    return {
        "apiVersion": "v1.0.0",
        "kind": "DataProduct",
        "id": product.id,
        "name": product.name,
        "version": product.version,
        "status": product.status,
        "domain": product.domain,
        "description": {"purpose": f"Synthetic product {product.id} for benchmarks."},
        "tags": ["synthetic"],
        "team": {
            "name": f"{product.domain} team",
            "members": [{"username": f"owner@{product.domain}.example", "role": "owner"}],
        },
        "outputPorts": [
            {"name": p.name, "version": p.version, "contractId": p.contract_id}
            for p in product.output_ports
        ],
    }


def contract_document(contract: Contract) -> dict[str, Any]:
    return {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": contract.id,
        "name": contract.name,
        "version": contract.version,
        "status": contract.status,
        "servers": [
            {"server": s.name, "type": s.type, "environment": s.environment, **s.attributes}
            for s in contract.servers
        ],
        "schema": [
            {
                "name": obj.name,
                "physicalName": obj.physical_name,
                "physicalType": obj.physical_type,
                "properties": [_property_document(p) for p in obj.properties],
            }
            for obj in contract.objects
        ],
        "slaProperties": [
            {"property": s.property, "value": s.value, **({"unit": s.unit} if s.unit else {})}
            for s in contract.sla
        ],
    }


def _property_document(prop: Property) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": prop.name, "logicalType": prop.logical_type}
    optional = {
        "physicalType": prop.physical_type,
        "description": prop.description,
        "required": prop.required,
        "unique": prop.unique,
        "primaryKey": prop.primary_key,
        "classification": prop.classification,
        "tags": prop.tags,
        "logicalTypeOptions": prop.constraints,
    }
    doc.update({k: v for k, v in optional.items() if v not in (None, "", [], {})})
    if prop.pii:
        doc["customProperties"] = [{"property": "pii", "value": True}]
    if prop.quality:
        doc["quality"] = [
            {"name": q.name, "type": "library", "metric": "nullValues", "mustBe": 0}
            for q in prop.quality
        ]
    if prop.properties:
        doc["properties"] = [_property_document(p) for p in prop.properties]
    return doc


def _yaml(document: dict[str, Any]) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(document, Dumper=dumper, sort_keys=False, allow_unicode=True)
