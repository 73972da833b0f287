"""Data Product Specification (datamesh-architecture.com) products into :class:`Product`.

A port's technical ``id`` becomes its name (its display ``name`` stays in ``raw``), and its
``dataContractId`` (``dataContract`` in older examples) the contract it is bound to.
"""

from __future__ import annotations

from typing import Any

from catalog.descriptors import normalize as n
from catalog.descriptors.errors import fail
from catalog.descriptors.formats import DPS
from catalog.descriptors.model import Issue, Port, Product, Team

_ROOT_KEYS = (
    "dataProductSpecification",
    "id",
    "info",
    "inputPorts",
    "outputPorts",
    "custom",
    "tags",
)
_INFO_KEYS = ("title", "description", "status", "owner", "domain")
_PORT_KEYS = ("id", "description", "type", "dataContractId", "dataContract", "tags", "custom")


def parse_dps(doc: dict[str, Any], *, source: str = "") -> tuple[Product, list[Issue]]:
    """The product in a Data Product Specification document, and warnings about it."""
    product_id = n.text(doc.get("id")).strip()
    if not product_id:
        raise fail("", "'id' is required: a data product needs an identifier", source=source)
    info = n.mapping(doc.get("info"))
    status, warnings = n.status(info.get("status"), "info/status")
    product = Product(
        id=product_id,
        format=DPS,
        format_version=n.text(doc.get("dataProductSpecification")),
        name=n.text(info.get("title")),
        status=status,
        status_raw=n.text(info.get("status")),
        domain=n.text(info.get("domain")),
        description=n.text(info.get("description")),
        tags=n.str_list(doc.get("tags")),
        team=Team(name=n.text(info.get("owner"))),
        custom_properties=n.custom_properties(doc.get("custom")),
        input_ports=[_port(p) for p in n.items(doc.get("inputPorts"))],
        output_ports=[_port(p) for p in n.items(doc.get("outputPorts"))],
        raw=_raw(doc, info),
    )
    return product, warnings


def _raw(doc: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    raw = n.leftovers(doc, _ROOT_KEYS)
    if n.leftovers(info, _INFO_KEYS):
        raw["info"] = n.leftovers(info, _INFO_KEYS)
    return raw


def _port(data: dict[str, Any]) -> Port:
    return Port(
        name=n.text(data.get("id")).strip() or n.text(data.get("name")).strip(),
        description=n.text(data.get("description")),
        type=n.text(data.get("type")),
        contract_id=n.text(data.get("dataContractId", data.get("dataContract"))).strip(),
        tags=n.str_list(data.get("tags")),
        custom_properties=n.custom_properties(data.get("custom")),
        raw=n.leftovers(data, _PORT_KEYS),
    )
