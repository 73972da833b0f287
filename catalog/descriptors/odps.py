"""ODPS (Bitol Open Data Product Standard, v0.9 to v1.1) products into :class:`Product`.

Ports carry the ``contractId`` of an ODCS contract; binding them is the bundle's job.
"""

from __future__ import annotations

from typing import Any

from catalog.descriptors import normalize as n
from catalog.descriptors.formats import ODPS
from catalog.descriptors.model import Issue, Port, Product

_ROOT_KEYS = (
    "apiVersion",
    "kind",
    "id",
    "name",
    "version",
    "status",
    "domain",
    "tenant",
    "description",
    "tags",
    "support",
    "team",
    "customProperties",
    "inputPorts",
    "outputPorts",
)
_PORT_KEYS = ("name", "version", "description", "type", "contractId", "tags", "customProperties")


def parse_odps(doc: dict[str, Any], *, source: str = "") -> tuple[Product, list[Issue]]:
    """The product in an ODPS document (ports unbound), and warnings about it."""
    header, warnings = n.bitol_header(doc, fmt=ODPS, what="a data product", source=source)
    product = Product(
        **header,
        tenant=n.text(doc.get("tenant")),
        input_ports=[port(p) for p in n.items(doc.get("inputPorts"))],
        output_ports=[port(p) for p in n.items(doc.get("outputPorts"))],
        raw=n.bitol_leftovers(doc, _ROOT_KEYS),
    )
    return product, warnings


def port(data: dict[str, Any]) -> Port:
    return Port(
        name=n.text(data.get("name")).strip(),
        version=n.text(data.get("version")),
        description=n.text(data.get("description")),
        type=n.text(data.get("type")),
        contract_id=n.text(data.get("contractId")).strip(),
        tags=n.str_list(data.get("tags")),
        custom_properties=n.custom_properties(data.get("customProperties")),
        raw=n.leftovers(data, _PORT_KEYS),
    )
