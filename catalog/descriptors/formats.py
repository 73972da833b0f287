"""Which standard a loaded descriptor follows, told from its root keys alone.

Never from words such as "ODPS" in the text: the opendataproducts.org "Open Data Product
Specification" (root keys ``schema``/``version``/``product``) shares the acronym with
Bitol's Open Data Product Standard but not the shape, and is refused with a message that
says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from catalog.descriptors.errors import fail

ODPS, ODCS, DCS, DPDS, DPS = "odps", "odcs", "dcs", "dpds", "dps"
PRODUCT_FORMATS = (ODPS, DPDS, DPS)
CONTRACT_FORMATS = (ODCS, DCS)

TITLES = {
    ODPS: "ODPS (Bitol Open Data Product Standard)",
    ODCS: "ODCS (Open Data Contract Standard)",
    DCS: "Data Contract Specification",
    DPDS: "DPDS (Open Data Mesh Data Product Descriptor)",
    DPS: "Data Product Specification",
}

# The root key holding the version each format declares.
VERSION_KEYS = {
    ODPS: "apiVersion",
    ODCS: "apiVersion",
    DCS: "dataContractSpecification",
    DPDS: "dataProductDescriptor",
    DPS: "dataProductSpecification",
}

_EXPECTED = (
    "`apiVersion` with `kind: DataProduct` (ODPS) or `kind: DataContract` (ODCS v3), "
    "`dataContractSpecification` (Data Contract Specification), "
    "`dataProductDescriptor` (DPDS) or `dataProductSpecification` (Data Product Specification)"
)

# Root keys of an opendataproducts.org document, or of one of its fragment files.
_OPENDATAPRODUCTS_KEYS = {
    "product",
    "SLA",
    "dataQuality",
    "pricingPlans",
    "paymentGateways",
    "dataAccess",
    "dataHolder",
    "Components",
}


@dataclass(frozen=True)
class Detected:
    format: str  # one of ODPS, ODCS, DCS, DPDS, DPS
    version: str  # as declared: "v3.1.0", "1.2.1", or "" when missing

    @property
    def is_product(self) -> bool:
        return self.format in PRODUCT_FORMATS


def detect(doc: Any, *, source: str = "") -> Detected:
    """The format and declared version of ``doc``, or a :class:`DescriptorError`."""
    if not isinstance(doc, dict):
        kind = "empty" if doc is None else f"a {type(doc).__name__}"
        message = f"the document is {kind}; a descriptor is a mapping with root keys {_EXPECTED}"
        raise fail("", message, source=source)
    for fmt in (DCS, DPDS, DPS):
        if VERSION_KEYS[fmt] in doc:
            return Detected(fmt, _version(doc[VERSION_KEYS[fmt]]))
    kind = str(doc.get("kind", "")).strip().lower()
    if kind in ("dataproduct", "datacontract"):
        return _bitol(doc, ODPS if kind == "dataproduct" else ODCS, source)
    raise _unrecognized(doc, source)


def _bitol(doc: dict[str, Any], fmt: str, source: str) -> Detected:
    version = _version(doc.get("apiVersion"))
    major = re.match(r"^v?(\d+)\.", version)
    if fmt == ODCS and major and int(major.group(1)) < 3:
        message = f"ODCS {version} is not supported: import ODCS v3.x (v2 has another shape)"
        raise fail("apiVersion", message, source=source)
    return Detected(fmt, version)


def _unrecognized(doc: dict[str, Any], source: str) -> Exception:
    keys = ", ".join(sorted(doc)[:12]) or "none"
    if "product" in doc and ("schema" in doc or "version" in doc):
        message = (
            "this is an opendataproducts.org ODPS document (root keys schema/version/product), "
            "not a Bitol ODPS data product (apiVersion + kind: DataProduct); "
            "the opendataproducts.org ODPS is not supported"
        )
        return fail("", message, source=source)
    if set(doc) & _OPENDATAPRODUCTS_KEYS:
        message = (
            f"this looks like a fragment of an opendataproducts.org ODPS document (root keys: "
            f"{keys}), not a Bitol ODPS data product (apiVersion + kind: DataProduct); "
            "the opendataproducts.org ODPS is not supported"
        )
        return fail("", message, source=source)
    return fail(
        "", f"unrecognized descriptor (root keys: {keys}); expected {_EXPECTED}", source=source
    )


def _version(value: Any) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value).strip()
