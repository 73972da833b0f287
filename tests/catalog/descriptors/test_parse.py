"""Importing descriptors: loading, format detection, validity policy, bundles, normalization.

The full normalized output of every upstream example is pinned by ``test_parse_golden.py``;
these tests name the rules one by one.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from catalog.descriptors import DescriptorError, load_text, parse_bundle, parse_path
from catalog.descriptors import normalize as n
from catalog.descriptors.model import Product
from tests.conftest import FIXTURES

DESCRIPTORS = FIXTURES / "descriptors"


def fixture(relative: str) -> str:
    return (DESCRIPTORS / relative).read_text(encoding="utf-8")


def messages(error: pytest.ExceptionInfo[DescriptorError]) -> str:
    return "\n".join(f"{i.source} {i.path}: {i.message}" for i in error.value.issues)


def validation_rows() -> list[dict[str, str]]:
    with (DESCRIPTORS / "VALIDATION.tsv").open(encoding="utf-8") as rows:
        return list(csv.DictReader(rows, delimiter="\t"))


ODCS = """\
apiVersion: v3.1.0
kind: DataContract
id: {id}
version: 1.0.0
status: active
name: orders
schema:
  - name: orders
    properties:
      - name: order_id
        logicalType: string
"""

ODPS = """\
apiVersion: v1.0.0
kind: DataProduct
id: shop
status: active
name: Shop
inputPorts:
  - name: customers
    version: 1.0.0
    contractId: someone-elses-contract
outputPorts:
  - name: orders
    version: 1.0.0
    contractId: orders-contract
  - name: payments
    version: 1.0.0
    contractId: payments-contract
"""


def shop_bundle(**contract_ids: str) -> dict[str, str]:
    files = {"product.odps.yaml": ODPS}
    files.update({f"{name}.odcs.yaml": ODCS.format(id=cid) for name, cid in contract_ids.items()})
    return files


# Loading


def test_it_keeps_yaml_dates_as_strings() -> None:
    doc = load_text("dateIn: 2023-01-15\ncreated: 2022-11-15T02:59:43+00:00\nat: 09:30\n")
    assert doc == {"dateIn": "2023-01-15", "created": "2022-11-15T02:59:43+00:00", "at": "09:30"}


def test_it_reports_yaml_syntax_error_with_line_and_column() -> None:
    with pytest.raises(DescriptorError) as error:
        load_text("id: x\nschema:\n  - name: a\n   bad: [1, 2\n", source="broken.yaml")
    issue = error.value.issues[0]
    assert (issue.path, issue.source) == ("broken.yaml", "broken.yaml")
    assert "YAML syntax error at line 4, column" in issue.message


def test_it_reports_json_syntax_error_with_line_and_column() -> None:
    with pytest.raises(DescriptorError) as error:
        load_text('{\n  "id": "x",\n  "info": }\n', source="broken.json")
    assert "JSON syntax error at line 3, column 11" in error.value.issues[0].message


def test_it_refuses_yaml_alias_bombs() -> None:
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]")
    with pytest.raises(DescriptorError, match="aliases expand past"):
        load_text("\n".join(lines))


def test_it_refuses_self_referencing_aliases() -> None:
    with pytest.raises(DescriptorError, match="refers to itself"):
        load_text("a: &a [*a]\n")


def test_it_refuses_files_over_the_size_limit() -> None:
    with pytest.raises(DescriptorError, match="larger than 5 MB"):
        load_text("x: " + "y" * (5 * 1024 * 1024))


# Detection


@pytest.mark.parametrize(
    "relative",
    sorted(
        p.relative_to(DESCRIPTORS).as_posix()
        for p in (DESCRIPTORS / "odps-opendataproducts").rglob("*.yml")
        if "/schema/" not in p.as_posix()
    ),
)
def test_it_rejects_opendataproducts_odps_with_clear_message(relative: str) -> None:
    unparsable = {r["fixture"] for r in validation_rows() if r["result"] == "PARSE-ERROR"}
    with pytest.raises(DescriptorError) as error:
        parse_path(DESCRIPTORS / relative)
    if relative in unparsable:  # not even YAML: the syntax error is what to fix first
        assert "YAML syntax error at line" in messages(error)
    else:
        assert "opendataproducts.org ODPS" in messages(error)
        assert "not a Bitol ODPS data product" in messages(error)
        assert "not supported" in messages(error)


def test_it_detects_the_format_by_root_keys_not_by_words() -> None:
    bitol = ODPS.replace("name: Shop", "name: Shop, not an opendataproducts.org ODPS product")
    assert parse_bundle({"product.yaml": bitol}).format == "odps"
    lookalike = "version: '4.1'\nproduct:\n  details: {en: {name: Bitol ODPS, kind: DataProduct}}\n"
    with pytest.raises(DescriptorError, match=r"opendataproducts\.org ODPS"):
        parse_bundle({"odps.yaml": lookalike})


def test_it_rejects_unknown_shapes_listing_expected_root_keys() -> None:
    with pytest.raises(DescriptorError) as error:
        parse_bundle({"thing.yaml": "name: x\ncolumns: []\n"})
    assert "root keys: columns, name" in messages(error)
    for expected in ("kind: DataProduct", "dataContractSpecification", "dataProductDescriptor"):
        assert expected in messages(error)


def test_it_rejects_odcs_v2() -> None:
    with pytest.raises(DescriptorError, match=r"ODCS v2\.2\.2 is not supported"):
        parse_bundle({"c.yaml": "apiVersion: v2.2.2\nkind: DataContract\nuuid: x\n"})


# Validity policy


def test_it_falls_back_to_newest_schema_with_warning() -> None:
    product = parse_bundle({"c.yaml": ODCS.format(id="c1").replace("v3.1.0", "v3.1.9")})
    [warning] = product.warnings
    assert warning.path == "apiVersion"
    assert "version 'v3.1.9' declared" in warning.message
    assert "validated against the newest, 3.2.0" in warning.message


def test_it_falls_back_to_newest_schema_for_dcs_0_9() -> None:
    product = parse_path(DESCRIPTORS / "datacontract-specification/covid-cases/datacontract.yaml")
    assert [w.path for w in product.warnings] == ["dataContractSpecification"]
    assert "newest, 1.2.1" in product.warnings[0].message


INVALID_BUT_USABLE = [
    ("odcs/datacontract-cli-changelog-pairs/unit/changelog_unit_v1.yaml", "v3.0.2"),
    ("odcs/datacontract-cli-changelog-pairs/integration/changelog_integration_v2.yaml", "v3.0.2"),
    ("odcs/examples/data-types/all-data-types.odcs.yaml", "v3.0.2"),
    ("odcs/examples/stakeholders/basic-four-dpo.odcs.yaml", "v3.0.2"),
    ("odps-bitol/customer-data-product.odps.yaml", "v0.9.0"),
]


@pytest.mark.parametrize(("relative", "version"), INVALID_BUT_USABLE)
def test_it_imports_schema_invalid_upstream_example_with_warnings(
    relative: str, version: str
) -> None:
    """The first error VALIDATION.tsv lists against the declared version is a warning."""
    [row] = [
        r
        for r in validation_rows()
        if r["fixture"] == relative and r["result"] == "INVALID" and version in r["schema"]
    ]
    first = row["detail"].split("first: ", 1)[1]
    path, _, message = first.partition(": ")
    product = parse_path(DESCRIPTORS / relative)
    warned = [w for w in product.warnings if w.path == path]
    assert warned, f"no warning at {path}"
    assert any(message[:25] in w.message or "an object" in w.message for w in warned)


@pytest.mark.parametrize(
    ("relative", "path", "missing"),
    [
        ("dpds/minimal.dpd.json", "info", "'name' is a required property"),
        ("dataproduct-specification/example.yaml", "", "'id' is a required property"),
    ],
)
def test_it_rejects_schema_invalid_example_without_identity(
    relative: str, path: str, missing: str
) -> None:
    with pytest.raises(DescriptorError) as error:
        parse_path(DESCRIPTORS / relative)
    assert any(i.path == path and missing in i.message for i in error.value.issues)


def test_it_rejects_a_property_without_name() -> None:
    text = ODCS.format(id="c1").replace("      - name: order_id\n", "      - description: x\n")
    with pytest.raises(DescriptorError) as error:
        parse_bundle({"c.yaml": text})
    assert error.value.issues[0].path == "schema/0/properties/0"
    assert "'name' is a required property" in error.value.issues[0].message


def test_strict_mode_turns_schema_errors_into_errors() -> None:
    relative = "odcs/datacontract-cli-changelog-pairs/unit/changelog_unit_v1.yaml"
    assert parse_path(DESCRIPTORS / relative).warnings
    with pytest.raises(DescriptorError) as error:
        parse_path(DESCRIPTORS / relative, strict=True)
    paths = {i.path for i in error.value.issues}
    assert "schema/0/properties/3/quality/0" in paths
    assert "team" in paths


# Bundles


def test_it_links_odps_ports_to_odcs_contracts_by_contract_id() -> None:
    files = shop_bundle(orders="orders-contract", payments="payments-contract")
    product = parse_bundle(files)
    assert [(p.name, p.contract_id) for p in product.output_ports] == [
        ("orders", "orders-contract"),
        ("payments", "payments-contract"),
    ]
    assert product.contract("orders-contract") is not None
    assert product.contract("payments-contract") is not None
    assert product.warnings == []


def test_it_rejects_unknown_contract_id_naming_the_path() -> None:
    with pytest.raises(DescriptorError) as error:
        parse_bundle(shop_bundle(orders="orders-contract", payments="paymnets-contract"))
    unknown = [i for i in error.value.issues if i.path == "outputPorts/1/contractId"]
    assert unknown and "unknown contractId 'payments-contract'" in unknown[0].message
    assert unknown[0].source == "product.odps.yaml"


def test_it_warns_about_unbound_ports_when_the_product_comes_alone() -> None:
    product = parse_bundle(shop_bundle())
    assert [w.path for w in product.warnings] == [
        "outputPorts/0/contractId",
        "outputPorts/1/contractId",
    ]


def test_it_does_not_look_for_input_port_contracts() -> None:
    product = parse_bundle(shop_bundle(orders="orders-contract", payments="payments-contract"))
    assert product.input_ports[0].contract_id == "someone-elses-contract"


def test_it_rejects_duplicate_contract_ids() -> None:
    files = shop_bundle(orders="orders-contract", payments="payments-contract")
    files["copy.odcs.yaml"] = ODCS.format(id="orders-contract")
    with pytest.raises(DescriptorError) as error:
        parse_bundle(files)
    [duplicate] = error.value.issues
    assert duplicate.source == "orders.odcs.yaml" or duplicate.source == "copy.odcs.yaml"
    assert "duplicate contract id 'orders-contract'" in duplicate.message


def test_it_rejects_duplicate_ports() -> None:
    files = shop_bundle(orders="orders-contract", payments="payments-contract")
    files["product.odps.yaml"] = ODPS.replace("name: payments", "name: orders")
    with pytest.raises(DescriptorError) as error:
        parse_bundle(files)
    assert [(i.path, i.source) for i in error.value.issues] == [
        ("outputPorts/1", "product.odps.yaml")
    ]


def test_it_warns_about_a_contract_no_port_names() -> None:
    files = shop_bundle(orders="orders-contract", payments="payments-contract")
    files["extra.odcs.yaml"] = ODCS.format(id="extra")
    product = parse_bundle(files)
    assert [(w.source, w.path) for w in product.warnings] == [("extra.odcs.yaml", "id")]


def test_it_rejects_two_products_in_one_bundle() -> None:
    files = {"a.yaml": ODPS, "b.yaml": ODPS.replace("id: shop", "id: shop2")}
    with pytest.raises(DescriptorError, match="one data product per bundle"):
        parse_bundle(files)


def test_it_imports_a_standalone_contract_as_a_product_with_one_port() -> None:
    product = parse_path(DESCRIPTORS / "datacontract-specification/orders-latest/datacontract.yaml")
    assert (product.id, product.name, product.format) == ("orders-latest", "Orders Latest", "dcs")
    [port] = product.output_ports
    assert (port.name, port.version, port.contract_id) == (
        "orders-latest",
        "2.0.0",
        "orders-latest",
    )
    assert product.contracts[0].id == "orders-latest"


def test_parse_path_reads_a_folder_of_product_and_contracts(tmp_path: Path) -> None:
    for name, text in shop_bundle(orders="orders-contract", payments="payments-contract").items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a descriptor", encoding="utf-8")
    product = parse_path(tmp_path)
    assert sorted(c.id for c in product.contracts) == ["orders-contract", "payments-contract"]


# DPDS


def test_it_resolves_dpds_refs() -> None:
    product = parse_path(DESCRIPTORS / "dpds/tripexecution/data-product-descriptor.json")
    assert [p.name for p in product.input_ports] == ["tmsInput"]
    assert [p.name for p in product.output_ports] == ["tripStatus", "tripEvents"]
    status, events = (product.contract(p.contract_id) for p in product.output_ports)
    assert status and events
    # tripStatus: datastoreapi table defined in a .proto file
    [table] = status.objects
    assert table.name == "TripStatus"
    assert [(p.name, p.logical_type) for p in table.properties][:2] == [
        ("id", "integer"),
        ("status", "string"),
    ]
    assert table.properties[0].primary_key is True
    # tripEvents: AsyncAPI channels whose payloads are Avro schemas
    assert [o.physical_type for o in events.objects] == ["topic", "topic"]
    event_type = events.objects[0].properties[1]
    assert (event_type.name, event_type.physical_type) == ("event-type", "enum")
    assert event_type.enum and "planned" in event_type.enum


def test_it_resolves_dpds_refs_inside_a_bundle() -> None:
    folder = DESCRIPTORS / "dpds/tripexecution"
    files = {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in folder.rglob("*")
        if p.is_file()
    }
    product = parse_bundle(files)  # the port, API and schema files are components
    assert product.id == "urn:dpds:com.company-xyz:dataproducts:tripExecution:1"
    assert len(product.contracts) == 2
    assert product.contracts[0].objects[0].properties


def test_it_refuses_dpds_refs_outside_the_bundle() -> None:
    descriptor = """{
      "dataProductDescriptor": "1.0.0",
      "info": {"fullyQualifiedName": "urn:dp:x", "name": "x", "version": "1.0.0",
               "domain": "d", "owner": {"id": "o"}},
      "interfaceComponents": {"outputPorts": [{"$ref": "../../etc/passwd"}]}
    }"""
    with pytest.raises(DescriptorError, match="points outside the bundle"):
        parse_bundle({"dp.json": descriptor})


# Normalization


@pytest.mark.parametrize(
    ("written", "status"),
    [
        ("development", "draft"),
        ("in development", "draft"),
        ("In-Development", "draft"),
        ("production", "active"),
        ("released", "active"),
        ("sunset", "deprecated"),
        ("archived", "retired"),
        ("proposed", "proposed"),
    ],
)
def test_it_normalizes_status_synonyms(written: str, status: str) -> None:
    product = parse_bundle({"c.yaml": ODCS.format(id="c1").replace("active", f"'{written}'")})
    assert (product.status, product.status_raw) == (status, written)
    assert (product.contracts[0].status, product.contracts[0].status_raw) == (status, written)


def test_it_keeps_an_unknown_status_raw_with_a_warning() -> None:
    product = parse_bundle({"c.yaml": ODCS.format(id="c1").replace("active", "frozen")})
    assert (product.status, product.status_raw) == ("", "frozen")
    assert [w.path for w in product.warnings] == ["status"]


def test_it_normalizes_team_roles() -> None:
    product = parse_path(DESCRIPTORS / "odps-bitol/customer-data-product.odps.yaml")
    members = [(m.username, m.role, m.role_raw) for m in product.team.members]
    assert members == [
        ("john.doe@retailcorp.com", "owner", "owner"),
        ("jane.smith@retailcorp.com", "steward", "data steward"),
    ]
    assert [n.role(r) for r in ("Data Product Owner", "business_owner", "Data Scientist")] == [
        "owner",
        "business_owner",
        "member",
    ]


@pytest.mark.parametrize(
    ("explicit", "classification", "custom", "pii"),
    [
        (None, "restricted", {}, None),
        (None, "confidential", {}, None),
        (None, "PII", {}, True),
        (None, "personal-data", {}, True),
        (None, "non-pii", {}, False),
        (None, "", {"pii": "true"}, True),
        (False, "pii", {}, False),
        (True, "public", {}, True),
    ],
)
def test_it_flags_pii_only_when_declared(
    explicit: bool | None, classification: str, custom: dict[str, str], pii: bool | None
) -> None:
    assert n.pii_flag(explicit, classification, custom) is pii


@pytest.mark.parametrize(
    ("value", "unit", "seconds"),
    [
        (4, "d", 4 * 86400),
        (3, "y", 3 * 365 * 86400),
        ("25h", "", 25 * 3600),
        ("500ms", "", 0.5),
        ("1 year", "", 365 * 86400),
        ("24 hours", "", 24 * 3600),
        ("P1Y", "", 365 * 86400),
        ("PT1H30M", "", 5400),
        ("P1DT12H", "", 36 * 3600),
        ("daily", "", 86400),
        ("0 0 * * *", "", None),
        ("2022-05-12T09:30:10-08:00", "", None),
        (4, "", None),
    ],
)
def test_it_parses_sla_durations(value: object, unit: str, seconds: float | None) -> None:
    assert n.parse_duration(value, unit) == seconds


@pytest.mark.parametrize(
    ("value", "percent"), [("99.9%", 99.9), ("0.999", 99.9), (99.5, 99.5), ("2022-05-12", None)]
)
def test_it_parses_availability_percentages(value: object, percent: float | None) -> None:
    assert n.parse_percent(value) == percent


def test_it_reads_odcs_and_dcs_sla_lines() -> None:
    odcs = parse_path(DESCRIPTORS / "odcs/examples/sla/database-table-sla.odcs.yaml")
    latency = odcs.contracts[0].sla[0]
    assert (latency.kind, latency.duration_seconds, latency.raw) == ("latency", 345600, "4 d")
    dcs = parse_path(DESCRIPTORS / "datacontract-specification/orders-latest/datacontract.yaml")
    lines = {line.property: line for line in dcs.contracts[0].sla}
    assert lines["availability"].percent == 99.9
    assert lines["retention"].duration_seconds == 365 * 86400
    assert (lines["freshness"].kind, lines["freshness"].duration_seconds) == ("latency", 90000)


def test_it_resolves_dcs_definitions_and_nested_fields() -> None:
    product = parse_path(
        DESCRIPTORS / "datacontract-specification/orders-latest-nested/datacontract.yaml"
    )
    orders = product.contracts[0].objects[0]
    order_id = orders.properties[0]
    assert (order_id.business_name, order_id.pii, order_id.primary_key) == ("Order ID", True, True)
    address = next(p for p in orders.properties if p.name == "address")
    assert [p.path for p in address.properties] == [
        "address.street",
        "address.city",
        "address.additional_lines",
    ]
    lines = address.properties[2]
    assert lines.items is not None
    assert (lines.items.path, lines.items.logical_type) == ("address.additional_lines[]", "string")


def test_it_reads_odcs_nested_properties_and_items() -> None:
    product = parse_path(DESCRIPTORS / "odcs/examples/schema/all-schema-types.odcs.yaml")
    x = product.contracts[0].objects[2].properties[0]
    assert x.items is not None
    assert [p.path for p in x.items.properties] == ["x[].id", "x[].zip"]


def test_it_flattens_custom_properties() -> None:
    product: Product = parse_path(DESCRIPTORS / "odcs/examples/all/full-example.odcs.yaml")
    contract = product.contracts[0]
    assert contract.custom_properties["refRulesetName"] == "gcsc.ruleset.name"
    assert contract.objects[0].properties[0].custom_properties == {"anonymizationStrategy": "none"}
