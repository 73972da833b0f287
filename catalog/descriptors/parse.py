"""Importing descriptor files into the normalized model: :func:`parse_bundle` and
:func:`parse_path`.

A bundle is one data product descriptor (ODPS, DPDS or Data Product Specification) and the
contracts of its output ports (ODCS or Data Contract Specification), or one contract alone:
it then becomes a product with a single output port bound to it (product id = contract id).
Output ports are bound to contracts by ``contractId`` (``dataContractId`` in the Data
Product Specification); DPDS ports carry their contract inline. Input ports name contracts
of *other* products, which are not looked for.

Binding rules:
- two contracts with the same id, or two ports of one direction with the same name and
  version: error;
- an output port whose contract id is not in the bundle: an error when the bundle holds
  contracts (a typo, or a forgotten file), a warning when it holds the product alone (the
  contracts are registered separately, and the port stays unbound until they are);
- a contract no output port names: warning.

Schema-validity policy. Each descriptor is validated against the JSON Schema of the version
it declares (the newest of its format, with a warning, when that one is not bundled).
Upstream examples often fail their own schema on details (VALIDATION.tsv in the fixtures):
an unexpected property, a quality rule without ``query``, a ``logicalType`` newer than the
declared version's enum, a v3.1 ``team`` object in a v3.0 contract. Those import, with each
schema error as a warning. What is rejected, as a :class:`DescriptorError` naming the path,
is a document without a usable identity: a missing or mistyped ``id``,
``apiVersion``/``kind``, DCS ``info.title``, DPDS ``info.name``/``fullyQualifiedName``, or a
nameless port, schema object or property (``validation.IDENTITY`` lists them); and, before
any schema, text that does not parse or has an unknown shape. With ``strict=True`` every
schema error is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from catalog.descriptors import dpds, normalize
from catalog.descriptors.dcs import parse_dcs
from catalog.descriptors.dpds import Reader
from catalog.descriptors.dps import parse_dps
from catalog.descriptors.errors import DescriptorError, fail
from catalog.descriptors.formats import DCS, DPDS, DPS, ODCS, ODPS, Detected, detect
from catalog.descriptors.loading import MAX_BYTES, load_text
from catalog.descriptors.model import Contract, Issue, Port, Product
from catalog.descriptors.odcs import parse_odcs
from catalog.descriptors.odps import parse_odps
from catalog.descriptors.validation import MAX_ERRORS, validate

DESCRIPTOR_SUFFIXES = (".yaml", ".yml", ".json")

# Where a product format keeps an output port's contract id, for error paths. (DPDS
# ports carry their contract, so never name an unknown one.)
_CONTRACT_KEYS = {ODPS: "contractId", DPS: "dataContractId"}


@dataclass
class _Parsed:
    source: str
    product: Product | None = None
    contract: Contract | None = None
    warnings: list[Issue] = field(default_factory=list)


def parse_bundle(files: Mapping[str, str], *, strict: bool = False) -> Product:
    """The product described by ``files`` (name → text); see the module docstring."""
    clean = {str(PurePosixPath(name.replace("\\", "/"))): text for name, text in files.items()}
    return _parse(clean, clean.get, strict)


def parse_path(path: str | Path, *, strict: bool = False) -> Product:
    """A descriptor file, or a folder of them (its ``*.yaml``, ``*.yml`` and ``*.json``).

    DPDS ``$ref``s are read from the disk, inside the folder (or the file's folder).
    """
    path = Path(path)
    if path.is_dir():
        root, names = path, sorted(p.name for p in path.iterdir() if _is_descriptor(p))
    elif path.is_file():
        root, names = path.parent, [path.name]
    else:
        raise fail("", f"no such file or folder: {path}", source=path.name)
    files = {name: _read(root, name, required=True) or "" for name in names}
    if not files:
        raise fail("", f"no *.yaml, *.yml or *.json file in {path}", source=path.name)
    return _parse(files, lambda name: files.get(name) or _read(root, name), strict)


def _is_descriptor(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in DESCRIPTOR_SUFFIXES


def _read(root: Path, name: str, *, required: bool = False) -> str | None:
    """A file under ``root`` as text; ``None`` when absent or outside ``root``."""
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        return None
    if path.stat().st_size > MAX_BYTES:
        raise fail(name, f"file is larger than {MAX_BYTES // (1024 * 1024)} MB", source=name)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        if required:
            raise fail(name, "file is not UTF-8 text", source=name) from None
        return None


def _parse(files: dict[str, str], read: Reader, strict: bool) -> Product:
    documents, errors = _load(files)
    detected = {}
    for name, doc in documents.items():
        try:
            detected[name] = detect(doc, source=name)
        except DescriptorError as error:
            errors[name] = error.issues
    components = _components(documents, detected, read)
    ignored = _ignored(errors, components) if components else []
    _raise_all(issues for name, issues in errors.items() if name not in components)
    roots = [name for name in detected if name not in components]
    if not roots:
        raise fail("", "no data product or contract descriptor among the files")
    parsed, failures = [], []
    for name in roots:
        try:
            parsed.append(_parse_one(name, documents[name], detected[name], read, strict))
        except DescriptorError as error:
            failures.append(error.issues)
    _raise_all(failures)
    product = _assemble(parsed)
    product.warnings.extend(ignored)
    return product


def _components(documents: dict[str, Any], detected: dict[str, Detected], read: Reader) -> set[str]:
    """The files DPDS descriptors of the bundle ``$ref``: parts of them, not descriptors."""
    components: set[str] = set()
    for name, found in detected.items():
        if found.format == DPDS:
            components |= dpds.referenced_files(documents[name], source=name, read=read)
    return components


def _ignored(errors: dict[str, list[Issue]], components: set[str]) -> list[Issue]:
    """A DPDS bundle's files that are neither descriptors nor referenced: left out."""
    ignored = []
    for name in [name for name in errors if name not in components]:
        reason = errors.pop(name)[0].message
        message = f"not a descriptor, and no $ref points at it: ignored ({reason})"
        ignored.append(Issue("", message, name))
    return ignored


def _load(files: dict[str, str]) -> tuple[dict[str, Any], dict[str, list[Issue]]]:
    documents: dict[str, Any] = {}
    errors: dict[str, list[Issue]] = {}
    for name, text in files.items():
        if not name.lower().endswith(DESCRIPTOR_SUFFIXES):
            continue  # .avsc, .proto, ...: only ever read as DPDS components
        try:
            documents[name] = load_text(text, source=name)
        except DescriptorError as error:
            errors[name] = error.issues
    return documents, errors


def _raise_all(issue_lists: Iterable[list[Issue]]) -> None:
    issues = [issue for issues in issue_lists for issue in issues]
    if issues:
        raise DescriptorError(issues)


def _parse_one(
    name: str, doc: dict[str, Any], found: Detected, read: Reader, strict: bool
) -> _Parsed:
    warnings = _schema_warnings(name, doc, found, strict)
    result = _Parsed(name)
    if found.format == ODPS:
        result.product, more = parse_odps(doc, source=name)
    elif found.format == DPS:
        result.product, more = parse_dps(doc, source=name)
    elif found.format == DPDS:
        result.product, more = dpds.parse_dpds(doc, source=name, read=read)
    elif found.format == ODCS:
        result.contract, more = parse_odcs(doc, source=name)
    else:
        assert found.format == DCS
        result.contract, more = parse_dcs(doc, source=name)
    result.warnings = [_sourced(issue, name) for issue in (*warnings, *more)]
    return result


def _sourced(issue: Issue, source: str) -> Issue:
    return issue if issue.source else Issue(issue.path, issue.message, source)


def _schema_warnings(name: str, doc: dict[str, Any], found: Detected, strict: bool) -> list[Issue]:
    """Schema errors that may stay warnings; raises on the others (see the policy)."""
    validation = validate(doc, found.format, found.version)
    label = f"schema {found.format.upper()} {validation.schema_version}"
    errors: list[Issue] = []
    warnings = list(validation.warnings)
    for error in validation.errors:
        issue = Issue(error.path, f"{label}: {error.message}", name)
        (errors if error.fatal or strict else warnings).append(issue)
    if errors:
        raise DescriptorError(errors)
    if len(warnings) > MAX_ERRORS:
        more = len(warnings) - MAX_ERRORS
        warnings = [*warnings[:MAX_ERRORS], Issue("", f"{label}: {more} more errors", name)]
    return warnings


def _assemble(parsed: list[_Parsed]) -> Product:
    products = [p for p in parsed if p.product]
    contracts = [p for p in parsed if p.contract]
    if len(products) > 1:
        names = ", ".join(p.source for p in products)
        raise fail("", f"one data product per bundle, found several: {names}")
    if not products:
        if len(contracts) > 1:
            names = ", ".join(p.source for p in contracts)
            raise fail("", f"several contracts and no data product descriptor: {names}")
        return _standalone(contracts[0])
    return _bind(products[0], contracts)


def _standalone(parsed: _Parsed) -> Product:
    """A product around a lone contract: one output port bound to it, its id its own."""
    contract = parsed.contract
    assert contract is not None
    port = Port(name=contract.id, version=contract.version, contract_id=contract.id)
    return Product(
        id=contract.id,
        format=contract.format,
        format_version=contract.format_version,
        name=contract.name or contract.id,
        version=contract.version,
        status=contract.status,
        status_raw=contract.status_raw,
        domain=contract.domain,
        tenant=normalize.text(contract.raw.get("tenant")),
        purpose=contract.purpose,
        usage=contract.usage,
        limitations=contract.limitations,
        description=contract.description,
        tags=list(contract.tags),
        support=list(contract.support),
        team=contract.team,
        output_ports=[port],
        contracts=[contract],
        warnings=parsed.warnings,
    )


def _bind(parsed: _Parsed, contract_files: list[_Parsed]) -> Product:
    product = parsed.product
    assert product is not None
    sources = {c.id: parsed.source for c in product.contracts}
    errors = _duplicate_ports(product, parsed.source)
    for item in contract_files:
        assert item.contract is not None
        if item.contract.id in sources:
            message = (
                f"duplicate contract id {item.contract.id!r}: also in {sources[item.contract.id]}"
            )
            errors.append(Issue("id", message, item.source))
        sources.setdefault(item.contract.id, item.source)
        product.contracts.append(item.contract)
        parsed.warnings.extend(item.warnings)
    errors += _unbound_ports(product, parsed, bool(contract_files))
    if errors:
        raise DescriptorError(errors)
    bound = {port.contract_id for port in product.output_ports}
    for item in contract_files:
        if item.contract and item.contract.id not in bound:
            message = f"contract {item.contract.id!r} is not bound to any output port"
            parsed.warnings.append(Issue("id", message, item.source))
    product.warnings = parsed.warnings
    return product


def _duplicate_ports(product: Product, source: str) -> list[Issue]:
    prefix = "interfaceComponents/" if product.format == DPDS else ""
    errors = []
    for kind, ports in (("inputPorts", product.input_ports), ("outputPorts", product.output_ports)):
        seen: dict[tuple[str, str], int] = {}
        for index, port in enumerate(ports):
            key = (port.name, port.version)
            if key in seen:
                message = (
                    f"duplicate port {port.name!r} version {port.version!r}: "
                    f"same name and version as {kind}/{seen[key]}"
                )
                errors.append(Issue(f"{prefix}{kind}/{index}", message, source))
            seen.setdefault(key, index)
    return errors


def _unbound_ports(product: Product, parsed: _Parsed, has_contracts: bool) -> list[Issue]:
    """Output ports naming a contract that is not in the bundle (see the module docstring)."""
    known = {contract.id for contract in product.contracts}
    errors = []
    key = _CONTRACT_KEYS.get(product.format, "contractId")
    for index, port in enumerate(product.output_ports):
        if not port.contract_id or port.contract_id in known:
            continue
        path = f"outputPorts/{index}/{key}"
        if has_contracts:
            message = f"unknown contractId {port.contract_id!r}: no contract in the bundle has it"
            errors.append(Issue(path, message, parsed.source))
        else:
            message = f"contract {port.contract_id!r} is not in the bundle: the port stays unbound"
            parsed.warnings.append(Issue(path, message, parsed.source))
    return errors
