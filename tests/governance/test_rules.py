"""The declarative rule language of scorecards, and rule checks on a product's fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from catalog.descriptors.model import Port, Product
from governance.checks import rule_check
from governance.facts import Bound, Owner, ProductFacts, Related
from governance.models import CheckStatus
from governance.rules import RuleError, compile_rule, resolve

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

FIELDS: dict[str, Any] = {
    "name": "Orders",
    "status": "active",
    "version": "2.1.0",
    "purpose": "Every order placed in the web shop",
    "usage": "",
    "limitations": None,
    "tags": ["Sales", "GDPR"],
    "score": 7,
    "ratio": 0.5,
    "certified": False,
    "custom_properties": {"cost_center": "CC-42", "tier": 1, "empty": ""},
    "output_ports": [
        {"name": "orders", "tags": ["core"], "custom_properties": {}},
        {"name": "refunds", "tags": ["finance", "core"], "custom_properties": {"sla": "gold"}},
    ],
    "input_ports": [],
}


def holds(text: str, fields: dict[str, Any] = FIELDS) -> bool:
    return compile_rule(text).holds(fields)[0]


# --- operators ----------------------------------------------------------------------------


def test_exists_holds_for_a_value_and_not_for_absent_or_empty_ones() -> None:
    assert holds("name exists")
    assert holds("certified exists")  # False is a value
    assert holds("custom_properties.tier exists")
    for empty in ("usage", "limitations", "input_ports", "nothing", "custom_properties.empty"):
        assert not holds(f"{empty} exists"), empty


def test_missing_is_the_opposite_of_exists() -> None:
    assert holds("usage missing")
    assert holds("input_ports missing")
    assert holds("custom_properties.owner_email missing")
    assert not holds("tags missing")
    assert not holds("score missing")


def test_equality_compares_json_values_text_ignoring_case() -> None:
    assert holds('status == "active"')
    assert holds('status == "Active"')
    assert not holds('status == "activ"')
    assert holds("score == 7")
    assert holds("ratio == 0.5")
    assert holds("certified == false")
    assert holds("limitations == null")
    assert holds('tags == ["Sales", "GDPR"]')
    assert not holds('score == "7"')


def test_inequality() -> None:
    assert holds('status != "draft"')
    assert not holds('status != "active"')
    assert holds('custom_properties.missing != "x"')


def test_contains_finds_an_item_of_a_list_case_insensitively() -> None:
    assert holds('tags contains "gdpr"')
    assert holds('tags contains "SALES"')
    assert not holds('tags contains "gd"')  # an item, not part of one


def test_contains_finds_a_substring_of_a_text_case_insensitively() -> None:
    assert holds('purpose contains "WEB SHOP"')
    assert not holds('purpose contains "warehouse"')
    assert not holds('score contains "7"')  # neither a list nor a text
    assert not holds('nothing contains "x"')


def test_in_checks_membership_in_a_list_case_insensitively() -> None:
    assert holds('status in ["active", "deprecated"]')
    assert holds('status in ["ACTIVE"]')
    assert not holds('status in ["draft", "proposed"]')
    assert holds("custom_properties.tier in [1, 2]")
    assert not holds('nothing in ["x"]')


def test_in_on_a_list_field_holds_when_any_item_is_listed() -> None:
    assert holds('tags in ["gdpr", "pii"]')
    assert not holds('tags in ["pii"]')


def test_matches_searches_a_regular_expression_in_a_text_or_any_item() -> None:
    assert holds(r'version matches "^\\d+\\.\\d+\\.\\d+$"')
    assert not holds('version matches "^1\\\\."')
    assert holds('purpose matches "web"')  # search, not a full match
    assert holds('tags matches "^GD"')
    assert not holds('tags matches "^gd"')  # case-sensitive
    assert not holds('score matches "7"')  # not a text


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("score > 6", True),
        ("score > 7", False),
        ("score >= 7", True),
        ("score >= 8", False),
        ("score < 8", True),
        ("score < 7", False),
        ("score <= 7", True),
        ("score <= 6.5", False),
        ("ratio < 1", True),
        ("ratio >= -1", True),
    ],
)
def test_comparisons_on_numbers(rule: str, expected: bool) -> None:
    assert holds(rule) is expected


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("output_ports >= 2", True),
        ("output_ports > 2", False),
        ("input_ports < 1", True),
        ("tags <= 2", True),
        ("tags < 2", False),
        ("custom_properties == 3", False),  # == compares values, not lengths
        ("custom_properties >= 3", True),  # a mapping compares by its length
        ("custom_properties > 3", False),
    ],
)
def test_comparisons_on_lists_and_mappings_use_their_length(rule: str, expected: bool) -> None:
    assert holds(rule) is expected


def test_comparisons_never_hold_for_texts_flags_or_absent_values() -> None:
    assert not holds("name > 0")
    assert not holds("version > 1")
    assert not holds("certified >= 0")  # a flag is not a number
    assert not holds("nothing < 10")
    assert not holds("custom_properties.cost_center >= 0")


# --- not, and, or -------------------------------------------------------------------------


def test_not_negates_a_condition() -> None:
    assert holds('not status == "draft"')
    assert not holds("not tags exists")
    assert holds('not tags contains "hr"')
    assert holds("NOT usage exists")


def test_and_needs_every_condition() -> None:
    assert holds('status == "active" and tags contains "gdpr"')
    assert not holds('status == "active" and tags contains "hr"')
    assert holds('status == "active" AND score > 1 and name exists')


def test_or_needs_any_condition() -> None:
    assert holds('status == "draft" or tags contains "gdpr"')
    assert not holds('status == "draft" or tags contains "hr"')
    assert holds('status == "draft" OR score > 1')


def test_and_binds_tighter_than_or() -> None:
    # (draft and gdpr) or sales: holds by its second group alone
    assert holds('status == "draft" and tags contains "gdpr" or tags contains "sales"')
    # draft or (gdpr and hr): neither group holds; left to right it would hold
    assert not holds('status == "active" and tags contains "hr" or status == "draft"')
    assert not holds('status == "draft" or tags contains "gdpr" and tags contains "hr"')
    assert holds('status == "draft" or tags contains "gdpr" and tags contains "sales"')


def test_not_applies_to_its_condition_only() -> None:
    assert holds('not status == "draft" and tags contains "gdpr"')
    assert not holds('not status == "active" or tags contains "hr"')


# --- paths --------------------------------------------------------------------------------


def test_a_dotted_path_steps_into_mappings() -> None:
    assert resolve(FIELDS, "custom_properties.cost_center") == "CC-42"
    assert resolve(FIELDS, "custom_properties.nothing") is None
    assert resolve(FIELDS, "name.first") is None  # no step into a text
    assert resolve({"a": {"b": {"c": 1}}}, "a.b.c") == 1


def test_a_step_into_a_list_maps_over_its_items_and_flattens() -> None:
    assert resolve(FIELDS, "output_ports.name") == ["orders", "refunds"]
    assert resolve(FIELDS, "output_ports.tags") == ["core", "finance", "core"]
    assert resolve(FIELDS, "output_ports.custom_properties.sla") == ["gold"]  # absent dropped
    assert resolve(FIELDS, "output_ports.nothing") == []
    assert resolve({"xs": [{"n": 0}, {"n": False}, {"n": ""}]}, "xs.n") == [0, False]


def test_rules_over_list_paths() -> None:
    assert holds('output_ports.name contains "refunds"')
    assert holds('output_ports.name contains "ORDERS"')
    assert not holds('output_ports.name contains "returns"')
    assert holds('output_ports.custom_properties.sla contains "gold"')
    assert holds("output_ports.tags >= 3")
    assert holds('output_ports.name matches "^ref"')
    assert holds("output_ports.custom_properties.sla exists")
    assert holds("output_ports.description missing")


def test_paths_may_hold_dashes_and_keep_their_case() -> None:
    fields = {"custom_properties": {"cost-center": "CC-1", "Tier": 2}}
    assert holds("custom_properties.cost-center exists", fields)
    assert holds("custom_properties.Tier == 2", fields)
    assert not holds("custom_properties.tier exists", fields)


def test_holds_reports_the_values_seen_per_path() -> None:
    rule = compile_rule('status == "draft" or tags contains "gdpr" and output_ports.name exists')
    assert rule.holds(FIELDS) == (
        True,
        {"status": "active", "tags": ["Sales", "GDPR"], "output_ports.name": ["orders", "refunds"]},
    )


def test_values_may_be_written_without_spaces_around_operators() -> None:
    assert holds('status=="active"')
    assert holds("score>=7")
    assert holds("score<8 and score>-1")


# --- malformed rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("", "the rule is empty"),
        ("   ", "the rule is empty"),
        ('tags has "gdpr"', "unknown operator 'has'"),
        ("tags", "'tags' needs an operator"),
        ("tags contains", "tags contains needs a value"),
        ("status == active", 'quote text, as in "active"'),
        ('name matches "(unclosed"', "bad regular expression"),
        ('status in "active"', "'in' needs a list"),
        ("status in [active]", "cannot read '\\[active\\]'"),
        ('score > "7"', "> needs a number"),
        ('score <= "many"', "<= needs a number"),
        ("score >= [1]", ">= needs a number"),
        ("tags exists and", "ends with 'and'"),
        ("tags exists or", "ends with 'or'"),
        ("tags exists tags missing", "expected 'and' or 'or' at 'tags'"),
        ('"tags" exists', "expected a field name"),
        ("not", "expected a field name"),
        ("tags exists and or name exists", "expected a field name, found 'or'"),
        ('status = "active"', "cannot read"),
        ('status == "active', "cannot read"),
    ],
)
def test_a_malformed_rule_is_refused_with_a_message(rule: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        compile_rule(rule)


def test_rule_error_is_a_value_error() -> None:
    assert issubclass(RuleError, ValueError)


def test_rule_check_compiles_its_rule_up_front() -> None:
    with pytest.raises(RuleError, match="unknown operator"):
        rule_check('tags has "gdpr"')


# --- rule checks on a product's fields ----------------------------------------------------


def facts(status: str = "active", **spec: Any) -> ProductFacts:
    return ProductFacts(
        pk=1,
        spec=Product(id="p", format="odps", name="Orders", **spec),
        status=status,
        domain="sales",
        now=NOW,
    )


def test_a_tag_rule_passes_for_a_product_tagged_gdpr_with_the_values_seen() -> None:
    result = rule_check('tags contains "gdpr"').run(facts(tags=["Sales", "GDPR"]), {})
    assert result.status == CheckStatus.PASS
    assert result.message == 'tags contains "gdpr" holds'
    assert result.evidence == {
        "rule": 'tags contains "gdpr"',
        "values": {"tags": ["Sales", "GDPR"]},
    }


def test_a_tag_rule_fails_for_a_product_not_tagged_gdpr_with_the_values_seen() -> None:
    result = rule_check('tags contains "gdpr"').run(facts(tags=["sales"]), {})
    assert result.status == CheckStatus.FAIL
    assert result.message == 'tags contains "gdpr" does not hold'
    assert result.evidence == {"rule": 'tags contains "gdpr"', "values": {"tags": ["sales"]}}

    untagged = rule_check('tags contains "gdpr"').run(facts(), {})
    assert (untagged.status, untagged.evidence["values"]) == (CheckStatus.FAIL, {"tags": []})


def test_a_rule_check_reads_descriptor_fields_and_ports() -> None:
    subject = facts(
        version="1.2.0",
        custom_properties={"cost_center": "CC-42"},
        output_ports=[Port("orders", contract_id="orders-v1"), Port("refunds")],
    )
    rule = (
        'custom_properties.cost_center matches "^CC-" and output_ports >= 2 '
        'and output_ports.contract_id contains "orders-v1"'
    )
    result = rule_check(rule).run(subject, {})
    assert result.status == CheckStatus.PASS
    assert result.evidence["values"] == {
        "custom_properties.cost_center": "CC-42",
        "output_ports": [
            {
                "name": "orders",
                "version": "",
                "description": "",
                "type": "",
                "contract_id": "orders-v1",
                "tags": [],
                "custom_properties": {},
                "source_product": "",
                "source_port": "",
                "raw": {},
            },
            {
                "name": "refunds",
                "version": "",
                "description": "",
                "type": "",
                "contract_id": "",
                "tags": [],
                "custom_properties": {},
                "source_product": "",
                "source_port": "",
                "raw": {},
            },
        ],
        "output_ports.contract_id": ["orders-v1"],
    }


def test_a_rule_check_sees_the_registry_status_and_domain_and_counted_facts() -> None:
    subject = facts(status="deprecated", domain="descriptor-domain")
    subject.owners = [Owner("owner", "person", "Ada")]
    subject.consumer_products = [Related("finance", "Finance", "active", "input port")]
    subject.consumer_jobs = ["airflow:report"]
    subject.upstream = [Related("crm", "CRM", "retired", "lineage")]
    subject.bound = [Bound("orders", "postgres://wh", "public.orders", 1)]

    assert rule_check('status == "deprecated"').run(subject, {}).status == CheckStatus.PASS
    assert rule_check('domain == "sales"').run(subject, {}).status == CheckStatus.PASS
    assert rule_check('owners contains "ada"').run(subject, {}).status == CheckStatus.PASS
    assert rule_check("consumers >= 2").run(subject, {}).status == CheckStatus.PASS
    assert rule_check('upstream contains "crm"').run(subject, {}).status == CheckStatus.PASS
    assert (
        rule_check('datasets contains "postgres://wh:public.orders"').run(subject, {}).status
        == CheckStatus.PASS
    )
    assert rule_check("slos exists").run(subject, {}).status == CheckStatus.FAIL


def test_a_rule_check_does_not_see_internal_fields() -> None:
    subject = facts(raw={"secret": "x"}, status_raw="In Production")
    assert (
        rule_check("raw missing and status_raw missing").run(subject, {}).status == CheckStatus.PASS
    )


def test_a_rule_check_carries_its_rule_as_title_and_remediation() -> None:
    found = rule_check('tags contains "gdpr"')
    assert (found.name, found.title, found.category) == ("rule", 'tags contains "gdpr"', "policy")
    assert found.remediation_for({}) == (
        'Change the product\'s descriptor so that tags contains "gdpr".'
    )
