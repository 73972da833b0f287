"""Readable diffs and breaking-change reports between two revisions (no database)."""

from __future__ import annotations

import copy

import pytest

from catalog.descriptors.diff import (
    RULES,
    SEVERITIES,
    Finding,
    breaking_changes,
    diff_documents,
    semver_major,
)
from catalog.descriptors.model import (
    Contract,
    Member,
    Port,
    Product,
    Property,
    QualityRule,
    SchemaObject,
    Server,
    SlaProperty,
    to_dict,
)

COLUMNS = "contracts[orders-v1].objects[orders].properties"


def product(
    *columns: Property, sla: list[SlaProperty] | None = None, **contract: object
) -> Product:
    """A product with port ``orders@1.0.0`` serving contract ``orders-v1`` (one table)."""
    return Product(
        id="sales",
        format="odps",
        status="active",
        output_ports=[Port(name="orders", version="1.0.0", contract_id="orders-v1")],
        contracts=[
            Contract(
                id="orders-v1",
                format="odcs",
                status="active",
                objects=[SchemaObject(name="orders", properties=list(columns))],
                sla=sla or [],
                **contract,  # type: ignore[arg-type]
            )
        ],
    )


def col(name: str, logical_type: str = "string", **kw: object) -> Property:
    return Property(name=name, logical_type=logical_type, **kw)  # type: ignore[arg-type]


def base() -> Product:
    return product(
        col("order_id", required=True, unique=True, primary_key=True),
        col("customer_id", "integer", physical_type="INTEGER"),
        col("status", enum=["open", "shipped", "cancelled"]),
        col("address", "object", properties=[col("city"), col("zip")]),
    )


def revised() -> Product:
    return copy.deepcopy(base())


def columns(p: Product) -> list[Property]:
    return p.contracts[0].objects[0].properties


def column(p: Product, name: str) -> Property:
    return next(c for c in columns(p) if c.name == name)


def findings(old: Product, new: Product) -> dict[str, Finding]:
    """By rule id (each test makes one kind of change)."""
    return {f.rule: f for f in breaking_changes(old, new)}


# --- breaking changes ---------------------------------------------------------------------


def test_it_flags_removed_column_as_breaking() -> None:
    new = revised()
    columns(new).pop(1)
    (finding,) = breaking_changes(base(), new)
    assert finding.severity == "breaking"
    assert finding.rule == "property-removed"
    assert finding.path == f"{COLUMNS}[customer_id]"
    assert (finding.contract_id, finding.object_name, finding.property_path) == (
        "orders-v1",
        "orders",
        "customer_id",
    )


def test_nested_property_removal_names_the_dotted_path() -> None:
    new = revised()
    column(new, "address").properties.pop()
    (finding,) = breaking_changes(base(), new)
    assert finding.rule == "property-removed"
    assert finding.property_path == "address.zip"
    assert finding.path == f"{COLUMNS}[address].properties[zip]"
    assert "orders.address.zip" in finding.message


def test_it_flags_type_change_as_breaking() -> None:
    new = revised()
    column(new, "customer_id").logical_type = "string"
    (finding,) = breaking_changes(base(), new)
    assert (finding.severity, finding.rule) == ("breaking", "logical-type-changed")
    assert finding.path == f"{COLUMNS}[customer_id].logical_type"
    assert "'integer' to 'string'" in finding.message


def test_integer_to_number_is_a_widening_warning() -> None:
    new = revised()
    column(new, "customer_id").logical_type = "number"
    assert findings(base(), new)["logical-type-widened"].severity == "warning"
    assert "logical-type-changed" not in findings(base(), new)


def test_physical_type_change_is_a_warning_but_case_is_not_a_change() -> None:
    bigint, lowercase = revised(), revised()
    column(bigint, "customer_id").physical_type = "BIGINT"
    column(lowercase, "customer_id").physical_type = "integer"
    assert findings(base(), bigint)["physical-type-changed"].severity == "warning"
    assert breaking_changes(base(), lowercase) == []


def test_it_treats_added_optional_column_as_info() -> None:
    new = revised()
    columns(new).append(col("note"))
    (finding,) = breaking_changes(base(), new)
    assert (finding.severity, finding.rule, finding.property_path) == (
        "info",
        "property-added",
        "note",
    )
    assert finding.message.startswith("Optional property")


def test_added_required_column_is_info_too() -> None:
    # Nothing inside a new element can break a consumer: it did not exist before.
    new = revised()
    columns(new).append(col("channel", required=True))
    (finding,) = breaking_changes(base(), new)
    assert (finding.severity, finding.rule) == ("info", "property-added")
    assert finding.message.startswith("Required property")


def test_it_flags_enum_narrowing() -> None:
    new = revised()
    column(new, "status").enum = ["open", "shipped"]
    finding = findings(base(), new)["enum-narrowed"]
    assert finding.severity == "breaking"
    assert "['cancelled']" in finding.message


def test_enum_widening_is_a_warning_and_reordering_is_nothing() -> None:
    widened, reordered = revised(), revised()
    column(widened, "status").enum = ["open", "shipped", "cancelled", "returned"]
    column(reordered, "status").enum = ["cancelled", "open", "shipped"]
    assert findings(base(), widened)["enum-widened"].severity == "warning"
    assert breaking_changes(base(), reordered) == []


def test_introducing_an_enum_narrows_and_dropping_it_widens() -> None:
    old = base()
    new = revised()
    column(new, "customer_id").enum = [1, 2]
    assert findings(old, new)["enum-narrowed"].severity == "breaking"
    assert findings(new, old)["enum-widened"].severity == "warning"


@pytest.mark.parametrize(
    ("before", "after", "rule"),
    [
        ({"maxLength": 20}, {"maxLength": 10}, "constraint-tightened"),
        ({"maxLength": 10}, {"maxLength": 20}, "constraint-loosened"),
        ({"minimum": 0}, {"minimum": 1}, "constraint-tightened"),
        ({"minimum": 1}, {"minimum": 0}, "constraint-loosened"),
        ({"precision": 18}, {"precision": 10}, "constraint-tightened"),
        ({}, {"maxLength": 10}, "constraint-tightened"),
        ({"maxLength": 10}, {}, "constraint-loosened"),
        ({"pattern": "^[A-Z]+$"}, {"pattern": "^[A-Z]{3}$"}, "constraint-tightened"),
        ({"format": "email"}, {"format": "uri"}, "constraint-tightened"),
        ({"scale": 2}, {"scale": 4}, "constraint-tightened"),
        ({"minimum": "2024-01-01"}, {"minimum": "2025-01-01"}, "constraint-tightened"),
        ({"maximum": "high"}, {"maximum": "low"}, "constraint-changed"),
    ],
)
def test_constraint_direction(
    before: dict[str, object], after: dict[str, object], rule: str
) -> None:
    old, new = revised(), revised()
    column(old, "customer_id").constraints = before
    column(new, "customer_id").constraints = after
    (finding,) = breaking_changes(old, new)
    assert finding.rule == rule
    assert finding.severity == RULES[rule].severity
    assert finding.path.startswith(f"{COLUMNS}[customer_id].constraints.")


@pytest.mark.parametrize(
    ("field", "rule_on", "rule_off"),
    [
        ("required", "required-added", "required-dropped"),
        ("unique", "unique-added", "unique-dropped"),
        ("primary_key", "primary-key-added", "primary-key-dropped"),
        ("pii", "pii-added", "pii-removed"),
    ],
)
def test_flags_are_breaking_when_set_and_warnings_when_cleared(
    field: str, rule_on: str, rule_off: str
) -> None:
    unset, set_ = revised(), revised()
    setattr(column(set_, "customer_id"), field, True)
    assert findings(unset, set_)[rule_on].severity == "breaking"
    assert findings(set_, unset)[rule_off].severity == "warning"


def test_undeclared_flag_and_false_are_the_same() -> None:
    explicit_false = revised()
    column(explicit_false, "customer_id").required = False
    assert breaking_changes(base(), explicit_false) == []


def test_classification_change_is_a_warning() -> None:
    old, new = revised(), revised()
    column(old, "customer_id").classification = "internal"
    column(new, "customer_id").classification = "Confidential"
    finding = findings(old, new)["classification-changed"]
    assert finding.severity == "warning"
    assert "'internal' to 'confidential'" in finding.message


def sla_product(*lines: SlaProperty) -> Product:
    return product(col("order_id"), sla=list(lines))


def sla(kind: str, value: object, unit: str = "", **parsed: float) -> SlaProperty:
    return SlaProperty(kind, kind, value, unit, **parsed)  # type: ignore[arg-type]


HOUR, DAY, YEAR = 3600, 86400, 365 * 86400


@pytest.mark.parametrize(
    ("before", "after", "rule"),
    [
        (sla("latency", 1, "h", duration_seconds=HOUR),
         sla("latency", 4, "h", duration_seconds=4 * HOUR), "sla-latency-loosened"),
        (sla("latency", 4, "h", duration_seconds=4 * HOUR),
         sla("latency", 1, "h", duration_seconds=HOUR), "sla-tightened"),
        (sla("frequency", 1, "d", duration_seconds=DAY),
         sla("frequency", 7, "d", duration_seconds=7 * DAY), "sla-frequency-lowered"),
        (sla("availability", "99.9%", percent=99.9),
         sla("availability", "99.5%", percent=99.5), "sla-availability-lowered"),
        (sla("retention", 3, "y", duration_seconds=3 * YEAR),
         sla("retention", 1, "y", duration_seconds=YEAR), "sla-retention-shortened"),
        (sla("other", "09:00"), sla("other", "11:00"), "sla-changed"),
    ],
)  # fmt: skip
def test_sla_direction(before: SlaProperty, after: SlaProperty, rule: str) -> None:
    (finding,) = breaking_changes(sla_product(before), sla_product(after))
    assert finding.rule == rule
    assert finding.severity == RULES[rule].severity
    assert finding.contract_id == "orders-v1"


def test_it_flags_freshness_loosening() -> None:
    old = sla_product(SlaProperty("latency", "latency", 1, "h", duration_seconds=3600))
    new = sla_product(SlaProperty("latency", "latency", 1, "d", duration_seconds=86400))
    (finding,) = breaking_changes(old, new)
    assert (finding.severity, finding.rule) == ("breaking", "sla-latency-loosened")
    assert finding.path == "contracts[orders-v1].sla[latency].duration_seconds"
    assert "1 h" in finding.message and "1 d" in finding.message


def test_removed_sla_line_is_a_warning_and_element_is_part_of_its_key() -> None:
    on_table = SlaProperty("latency", "latency", 1, "h", element="orders", duration_seconds=3600)
    on_column = SlaProperty(
        "latency", "latency", 1, "h", element="orders.ts", duration_seconds=3600
    )
    by_rule = findings(sla_product(on_table), sla_product(on_column))
    assert by_rule["sla-removed"].path == "contracts[orders-v1].sla[latency@orders]"
    assert by_rule["sla-added"].path == "contracts[orders-v1].sla[latency@orders.ts]"


def test_removed_output_port_is_breaking_and_names_its_contract() -> None:
    new = revised()
    new.output_ports = [Port(name="orders", version="2.0.0", contract_id="orders-v1")]
    by_rule = findings(base(), new)
    removed = by_rule["output-port-removed"]
    assert (removed.severity, removed.path) == ("breaking", "output_ports[orders@1.0.0]")
    assert removed.contract_id == "orders-v1"
    assert by_rule["output-port-added"].path == "output_ports[orders@2.0.0]"


def test_removed_contract_and_object_are_breaking() -> None:
    no_contract, no_object = revised(), revised()
    no_contract.contracts = []
    no_object.contracts[0].objects = []
    assert findings(base(), no_contract)["contract-removed"].severity == "breaking"
    removed = findings(base(), no_object)["object-removed"]
    assert (removed.severity, removed.object_name) == ("breaking", "orders")


def test_deprecating_the_product_or_a_contract_is_a_warning() -> None:
    new = revised()
    new.status = "deprecated"
    new.contracts[0].status = "retired"
    paths = {f.path: f.severity for f in breaking_changes(base(), new)}
    assert paths == {"status": "warning", "contracts[orders-v1].status": "warning"}


def test_description_and_documentation_changes_are_info() -> None:
    new = revised()
    column(new, "order_id").description = "The order's id"
    column(new, "order_id").tags = ["key"]
    new.contracts[0].purpose = "Reporting"
    assert {(f.rule, f.severity) for f in breaking_changes(base(), new)} == {
        ("description-changed", "info"),
        ("metadata-changed", "info"),
    }


def test_removed_quality_rule_is_a_warning() -> None:
    old, new = revised(), revised()
    column(old, "order_id").quality = [QualityRule(name="no_nulls", type="library")]
    finding = findings(old, new)["quality-rule-removed"]
    assert (finding.severity, finding.path) == (
        "warning",
        f"{COLUMNS}[order_id].quality[no_nulls]",
    )


def test_moved_server_is_a_warning_but_changed_roles_are_info() -> None:
    def with_server(**attributes: object) -> Product:
        return product(col("id"), servers=[Server("prod", "postgres", attributes=attributes)])

    old = with_server(host="a", roles=[{"role": "reader"}, {"role": "writer"}])
    moved = with_server(host="b", roles=[{"role": "reader"}, {"role": "writer"}])
    fewer_roles = with_server(host="a", roles=[{"role": "reader"}])
    assert findings(old, moved)["server-changed"].path == "contracts[orders-v1].servers[prod]"
    assert [f.rule for f in breaking_changes(old, fewer_roles)] == ["metadata-changed"]


def test_reordering_is_not_a_change() -> None:
    new = revised()
    columns(new).reverse()
    column(new, "address").properties.reverse()
    new.contracts[0].sla = []
    assert breaking_changes(base(), new) == []
    assert diff_documents(to_dict(base()), to_dict(new)) == []


def test_it_agrees_with_datacontract_cli_on_its_fields_pair() -> None:
    """datacontract-cli-breaking-pairs/datacontract-fields-v2 → v3, as dataclasses."""
    old = product(
        col("my_field", "string", required=False, primary_key=False, unique=False, pii=True,
            classification="sensitive", description="My Description", tags=["one"],
            enum=["one"], constraints={"format": "email", "pattern": "^[A-Za-z0-9]{8,14}$",
            "minLength": 8, "maxLength": 14, "minimum": 8, "exclusiveMinimum": 8,
            "maximum": 14, "exclusiveMaximum": 14}),
    )  # fmt: skip
    new = product(
        col("my_field", "integer", required=True, primary_key=True, unique=True, pii=False,
            classification="restricted", description="My updated Description",
            tags=["one", "two"], enum=["one", "two"], constraints={"format": "url",
            "pattern": "^[A-Za-z0-9]$", "minLength": 10, "maxLength": 20, "minimum": 10,
            "exclusiveMinimum": 10, "maximum": 20, "exclusiveMaximum": 20}),
    )  # fmt: skip
    got = {(f.path.rsplit("].", 1)[1], f.severity) for f in breaking_changes(old, new)}
    assert got == {
        ("logical_type", "breaking"),
        ("required", "breaking"),
        ("unique", "breaking"),
        ("primary_key", "breaking"),
        ("pii", "warning"),
        ("classification", "warning"),
        ("enum", "warning"),
        ("constraints.format", "breaking"),
        ("constraints.pattern", "breaking"),
        ("constraints.minLength", "breaking"),
        ("constraints.minimum", "breaking"),
        ("constraints.exclusiveMinimum", "breaking"),
        ("constraints.maxLength", "info"),
        ("constraints.maximum", "info"),
        ("constraints.exclusiveMaximum", "info"),
        ("description", "info"),
        ("tags", "info"),
    }


def test_every_rule_has_a_severity_and_a_line_of_documentation() -> None:
    assert all(r.severity in SEVERITIES and r.doc and r.id == key for key, r in RULES.items())


# --- structural diff ----------------------------------------------------------------------


def test_identical_documents_have_no_changes() -> None:
    assert diff_documents(to_dict(base()), to_dict(base())) == []


def test_diff_paths_name_list_items_by_natural_key() -> None:
    old = sla_product(SlaProperty("latency", "latency", 1, "h", element="orders.ts"))
    new = copy.deepcopy(old)
    new.contracts[0].sla[0].value = 2
    column(new, "order_id").logical_type = "integer"
    new.output_ports[0].description = "Orders as they happen"
    changes = {c.path: (c.kind, c.old, c.new) for c in diff_documents(to_dict(old), to_dict(new))}
    assert changes == {
        f"{COLUMNS}[order_id].logical_type": ("changed", "string", "integer"),
        "contracts[orders-v1].sla[latency@orders.ts].value": ("changed", 1, 2),
        "output_ports[orders@1.0.0].description": ("added", "", "Orders as they happen"),
    }


def test_diff_reports_whole_added_and_removed_items() -> None:
    new = revised()
    columns(new).pop(1)
    columns(new).append(col("note"))
    column(new, "status").enum = ["open", "shipped", "returned"]
    changes = {c.path: c for c in diff_documents(to_dict(base()), to_dict(new))}
    assert changes[f"{COLUMNS}[customer_id]"].kind == "removed"
    assert changes[f"{COLUMNS}[customer_id]"].old["logical_type"] == "integer"
    assert changes[f"{COLUMNS}[note]"].kind == "added"
    assert changes[f"{COLUMNS}[status].enum[cancelled]"].kind == "removed"
    assert changes[f"{COLUMNS}[status].enum[returned]"].new == "returned"
    assert len(changes) == 4


def test_unkeyed_items_match_by_content_whatever_their_order() -> None:
    old = {"support": [{"channel": "slack"}, {"channel": "email"}]}
    reordered = {"support": [{"channel": "email"}, {"channel": "slack"}]}
    edited = {"support": [{"channel": "email"}, {"channel": "teams"}]}
    assert diff_documents(old, reordered) == []
    assert [(c.path, c.kind) for c in diff_documents(old, edited)] == [
        ("support[#0]", "removed"),
        ("support[#1]", "added"),
    ]


def test_repeated_names_are_kept_apart() -> None:
    old = {"objects": [{"name": "t", "v": 1}, {"name": "t", "v": 2}]}
    new = {"objects": [{"name": "t", "v": 1}, {"name": "t", "v": 3}]}
    (change,) = diff_documents(old, new)
    assert (change.path, change.old, change.new) == ("objects[t#2].v", 2, 3)


def test_flag_turning_into_a_number_is_a_change() -> None:
    (change,) = diff_documents({"required": True}, {"required": 1})
    assert change.kind == "changed"


# --- versions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "major"),
    [
        ("1.2.3", "2.0.0", True),
        ("v1.2.3", "v2.0.0", True),
        ("1", "2", True),
        ("1.9", "2.0", True),
        ("1.2.3", "10.0.0", True),
        ("1.0.0", "2.0.0-rc.1", True),
        ("1.2.3", "1.3.0", False),
        ("1.2.3", "1.2.4", False),
        ("2.0.0", "1.0.0", False),
        ("2.0.0", "2.0.0", False),
        ("0.1.0", "0.2.0", False),
        ("1.0.0", "latest", False),
        ("2024-01-01", "2025-01-01", False),
        ("", "1.0.0", False),
        ("1.0-beta", "2.0.0", False),
    ],
)
def test_major_bump_detection(old: str, new: str, major: bool) -> None:
    assert semver_major(old, new) is major


def test_reordered_team_members_are_not_a_change() -> None:
    old, new = revised(), revised()
    old.team.members = [Member(username="ann"), Member(username="bob")]
    new.team.members = [Member(username="bob"), Member(username="ann")]
    assert breaking_changes(old, new) == []
    assert diff_documents(to_dict(old), to_dict(new)) == []
