"""ODPS (Bitol Open Data Product Standard, v0.9 to v1.1) products into :class:`Product`.

Ports carry the ``contractId`` of an ODCS contract; binding them is the bundle's job.
"""

from __future__ import annotations

from typing import Any

from catalog.descriptors import normalize as n
from catalog.descriptors.errors import fail
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
_DESCRIPTION_KEYS = ("purpose", "usage", "limitations")
_TEAM_KEYS = ("name", "description", "members")
_PORT_KEYS = ("name", "version", "description", "type", "contractId", "tags", "customProperties")


def parse_odps(doc: dict[str, Any], *, source: str = "") -> tuple[Product, list[Issue]]:
    """The product in an ODPS document (ports unbound), and warnings about it."""
    product_id = n.text(doc.get("id")).strip()
    if not product_id:
        raise fail("", "'id' is required: a data product needs an identifier", source=source)
    status, warnings = n.status(doc.get("status"), "status")
    description = doc.get("description")
    about = n.mapping(description)
    product = Product(
        id=product_id,
        format=ODPS,
        format_version=n.text(doc.get("apiVersion")),
        name=n.text(doc.get("name")),
        version=n.text(doc.get("version")),
        status=status,
        status_raw=n.text(doc.get("status")),
        domain=n.text(doc.get("domain")),
        tenant=n.text(doc.get("tenant")),
        purpose=n.text(about.get("purpose")),
        usage=n.text(about.get("usage")),
        limitations=n.text(about.get("limitations")),
        description=n.text(description),
        tags=n.str_list(doc.get("tags")),
        support=n.support(doc.get("support")),
        team=n.team(doc.get("team")),
        custom_properties=n.custom_properties(doc.get("customProperties")),
        input_ports=[port(p) for p in n.items(doc.get("inputPorts"))],
        output_ports=[port(p) for p in n.items(doc.get("outputPorts"))],
        raw=_raw(doc, about),
    )
    return product, warnings


def _raw(doc: dict[str, Any], about: dict[str, Any]) -> dict[str, Any]:
    raw = n.leftovers(doc, _ROOT_KEYS)
    team = n.mapping(doc.get("team"))
    for key, data, used in (("description", about, _DESCRIPTION_KEYS), ("team", team, _TEAM_KEYS)):
        if n.leftovers(data, used):
            raw[key] = n.leftovers(data, used)
    return raw


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
