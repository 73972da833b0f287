"""The built-in checks and the check registry, judged on crafted facts (no database)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from catalog.descriptors.model import (
    Contract,
    Port,
    Product,
    Property,
    SchemaObject,
    SlaProperty,
    SupportChannel,
)
from governance.checks import (
    REGISTRY,
    Result,
    UnknownCheck,
    check,
    check_type,
    failed,
    passed,
)
from governance.facts import (
    AssertionFact,
    Bound,
    Owner,
    ProductFacts,
    Related,
    RunFact,
    SloFact,
)
from governance.models import CheckStatus

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PASS, FAIL, NA = CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.NOT_APPLICABLE

BUILT_IN = (
    "has_owner",
    "has_support_channel",
    "description_filled",
    "columns_described",
    "pii_classified",
    "has_contract",
    "contract_declares_sla",
    "output_ports_bound",
    "lineage_recent",
    "runs_succeeding",
    "quality_passing",
    "slos_declared",
    "slos_met",
    "no_deprecated_upstream",
    "no_unversioned_breaking_change",
    "recently_attested",
    "is_active",
    "semantic_version",
    "has_consumers",
    "has_tags",
)


def facts(status: str = "active", pk: int | None = 1, **values: Any) -> ProductFacts:
    """The facts of product ``p``; ``spec_*`` keywords go to its descriptor."""
    spec = {k.removeprefix("spec_"): v for k, v in values.items() if k.startswith("spec_")}
    rest = {k: v for k, v in values.items() if not k.startswith("spec_")}
    return ProductFacts(
        pk=pk,
        spec=Product(id="p", format="odps", name="Orders", **spec),
        status=status,
        domain="sales",
        now=NOW,
        **rest,
    )


def run(name: str, subject: ProductFacts, **params: Any) -> Result:
    return check_type(name).run(subject, params)


def columns(*props: Property, contract: str = "orders-contract") -> list[Contract]:
    """One contract whose single table ``orders`` has these columns."""
    return [
        Contract(id=contract, format="odcs", objects=[SchemaObject("orders", properties=[*props])])
    ]


def col(name: str, description: str = "", **values: Any) -> Property:
    return Property(name=name, description=description, **values)


def ran(days_ago: float, state: str = "COMPLETED", job: str = "etl:load_orders") -> RunFact:
    return RunFact(NOW - timedelta(days=days_ago), state, job)


# --- registry -----------------------------------------------------------------------------


def test_every_built_in_check_is_registered_with_a_title_and_a_remediation() -> None:
    for name in BUILT_IN:
        found = check_type(name)
        assert found.name == name
        assert found.title and found.remediation and found.category
        assert found.description  # the function's docstring
    assert set(BUILT_IN) <= set(REGISTRY)


def test_parameters_default_and_can_be_overridden() -> None:
    found = check_type("runs_succeeding")
    assert found.params({}) == {"days": 7, "min_percent": 95}
    assert found.params({"days": 14}) == {"days": 14, "min_percent": 95}


def test_remediation_for_fills_the_defaults_into_the_text() -> None:
    assert "at least 80% of them" in check_type("columns_described").remediation_for({})


def test_remediation_for_fills_the_given_parameters_over_the_defaults() -> None:
    text = check_type("runs_succeeding").remediation_for({"min_percent": 99, "days": 3})
    assert "at least 99% of them over 3 days" in text
    assert "{" not in text


def test_remediation_for_fills_an_override_text_too() -> None:
    text = check_type("has_tags").remediation_for({"min_tags": 3}, "Tag it {min_tags} times.")
    assert text == "Tag it 3 times."


def test_remediation_for_leaves_a_text_with_unknown_placeholders_as_written() -> None:
    override = "Ask {steward} about {min_tags} tags."
    assert check_type("has_tags").remediation_for({}, override) == override


@pytest.mark.parametrize(
    "override", ["Fix {", "Fix }", "See {} in the docs", "Use {0}", "Tag it {min_tags:zz} times"]
)
def test_remediation_for_keeps_a_text_with_stray_braces_as_written(override: str) -> None:
    assert check_type("has_tags").remediation_for({}, override) == override


def test_check_type_rejects_an_unknown_name_and_lists_the_known_ones() -> None:
    with pytest.raises(UnknownCheck, match="no built-in check 'has_ownr'") as error:
        check_type("has_ownr")
    assert "has_owner" in str(error.value)


def test_check_type_rejects_a_dotted_path_to_a_function_not_decorated_as_a_check() -> None:
    with pytest.raises(UnknownCheck, match="is not a check"):
        check_type("os.path.join")


def test_check_type_rejects_a_dotted_path_that_cannot_be_imported() -> None:
    with pytest.raises(UnknownCheck, match="cannot import"):
        check_type("acme.governance.has_cost_center")


@check(
    "cost_center_declared",
    title="Cost center declared",
    remediation="Set custom property cost_center (at least {min_length} characters).",
    category="finance",
    min_length=3,
)
def cost_center_declared(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """The descriptor names the cost center paying for the product."""
    value = str(facts.spec.custom_properties.get("cost_center", ""))
    if len(value) >= int(params["min_length"]):
        return passed(value, cost_center=value)
    return failed(f"cost center {value or 'missing'} is too short", cost_center=value)


CUSTOM = "tests.governance.test_checks.cost_center_declared"


def test_a_decorated_function_elsewhere_is_resolved_by_its_dotted_path_and_runs() -> None:
    found = check_type(CUSTOM)
    assert (found.name, found.title, found.category) == (
        "cost_center_declared",
        "Cost center declared",
        "finance",
    )
    assert found.description == "The descriptor names the cost center paying for the product."
    assert found.remediation_for({}) == "Set custom property cost_center (at least 3 characters)."

    result = found.run(facts(spec_custom_properties={"cost_center": "CC-42"}), {})
    assert (result.status, result.evidence) == (PASS, {"cost_center": "CC-42"})
    assert (
        found.run(facts(spec_custom_properties={"cost_center": "CC-42"}), {"min_length": 9}).status
        == FAIL
    )
    assert found.run(facts(), {}).status == FAIL


def test_a_decorated_function_outside_the_built_ins_is_not_registered_by_its_short_name() -> None:
    assert "cost_center_declared" not in REGISTRY
    with pytest.raises(UnknownCheck, match="no built-in check"):
        check_type("cost_center_declared")


def test_check_type_rule_builds_a_check_from_the_rule_text() -> None:
    found = check_type("rule", 'tags contains "gdpr"')
    assert (found.name, found.title, found.category) == ("rule", 'tags contains "gdpr"', "policy")
    assert found.run(facts(spec_tags=["GDPR"]), {}).status == PASS


# --- ownership and support ----------------------------------------------------------------


def test_has_owner_passes_naming_the_owners() -> None:
    owners = [Owner("owner", "person", "Ada Lovelace"), Owner("owner", "team", "Orders Team")]
    result = run("has_owner", facts(owners=owners))
    assert result.status == PASS
    assert result.message == "Ada Lovelace, Orders Team"
    assert result.evidence == {"owners": ["Ada Lovelace", "Orders Team"]}


def test_has_owner_fails_when_nobody_holds_an_owner_role() -> None:
    result = run("has_owner", facts())
    assert (result.status, result.message) == (FAIL, "nobody holds an owner role")


def test_has_support_channel_passes_with_a_channel_on_the_product() -> None:
    support = [SupportChannel(channel="#orders-help", tool="slack")]
    result = run("has_support_channel", facts(spec_support=support))
    assert (result.status, result.message, result.evidence) == (
        PASS,
        "#orders-help",
        {"channels": 1},
    )


def test_has_support_channel_passes_with_a_channel_on_a_contract_only() -> None:
    contract = Contract(
        id="c", format="odcs", support=[SupportChannel(url="https://jira.example.com/ORD")]
    )
    result = run("has_support_channel", facts(spec_contracts=[contract]))
    assert (result.status, result.message) == (PASS, "https://jira.example.com/ORD")


def test_has_support_channel_fails_without_one_even_when_an_entry_names_only_a_tool() -> None:
    assert run("has_support_channel", facts()).status == FAIL
    result = run("has_support_channel", facts(spec_support=[SupportChannel(tool="slack")]))
    assert (result.status, result.message) == (FAIL, "no support channel is declared")


# --- documentation ------------------------------------------------------------------------

PURPOSE = "Every order placed in the web shop, one row per order line."
USAGE = "Join on order_id; amounts are in EUR, net of VAT."


def test_description_filled_passes_with_purpose_and_usage_long_enough() -> None:
    result = run("description_filled", facts(spec_purpose=PURPOSE, spec_usage=USAGE))
    assert (result.status, result.message) == (PASS, "purpose and usage are described")


def test_description_filled_takes_the_description_when_no_purpose_is_given() -> None:
    result = run("description_filled", facts(spec_description=PURPOSE, spec_usage=USAGE))
    assert result.status == PASS


def test_description_filled_fails_naming_what_is_short_or_blank() -> None:
    result = run("description_filled", facts(spec_purpose="Orders.", spec_usage=" " * 40))
    assert result.status == FAIL
    assert result.message == "purpose and usage missing or shorter than 20 characters"
    assert result.evidence == {"short": ["purpose", "usage"]}

    only_usage = run("description_filled", facts(spec_purpose=PURPOSE))
    assert (only_usage.status, only_usage.evidence) == (FAIL, {"short": ["usage"]})


def test_description_filled_honours_min_length() -> None:
    short = facts(spec_purpose="Orders.", spec_usage="Join it.")
    assert run("description_filled", short, min_length=5).status == PASS
    result = run("description_filled", facts(spec_purpose=PURPOSE, spec_usage=USAGE), min_length=55)
    assert (result.status, result.evidence) == (FAIL, {"short": ["usage"]})
    assert "shorter than 55 characters" in result.message


def test_columns_described_is_not_applicable_without_columns() -> None:
    assert run("columns_described", facts()).status == NA
    no_columns = [Contract(id="c", format="odcs", objects=[SchemaObject("orders")])]
    result = run("columns_described", facts(spec_contracts=no_columns))
    assert (result.status, result.message) == (NA, "the contracts declare no columns")


def test_columns_described_passes_at_exactly_the_minimum_share() -> None:
    contracts = columns(
        col("order_id", "Order key"),
        col("amount", "Net amount in EUR"),
        col("placed_at", "When the order was placed"),
        col("channel", "web or app"),
        col("note"),
    )
    result = run("columns_described", facts(spec_contracts=contracts))
    assert result.status == PASS
    assert result.message == "80% of 5 columns described"
    assert result.evidence == {"described": 4, "columns": 5, "missing": ["orders.note"]}


def test_columns_described_fails_below_the_share_listing_nested_and_blank_columns() -> None:
    address = col("address", "Delivery address", properties=[col("city"), col("zip", "  ")])
    contracts = columns(col("order_id", "Order key"), address, col("amount"))
    result = run("columns_described", facts(spec_contracts=contracts))
    assert result.status == FAIL
    assert result.message == "40% of 5 columns described"
    assert result.evidence["missing"] == [
        "orders.address.city",
        "orders.address.zip",
        "orders.amount",
    ]


def test_columns_described_counts_columns_across_contracts_and_objects() -> None:
    first = columns(col("order_id", "Order key"), contract="a")
    second = [
        Contract(
            id="b",
            format="odcs",
            objects=[
                SchemaObject("customers", properties=[col("customer_id")]),
                SchemaObject("lines", properties=[col("sku", "Stock keeping unit")]),
            ],
        )
    ]
    result = run("columns_described", facts(spec_contracts=first + second))
    assert result.evidence == {"described": 2, "columns": 3, "missing": ["customers.customer_id"]}


def test_columns_described_honours_min_percent() -> None:
    contracts = columns(col("order_id", "Order key"), col("amount"))
    assert run("columns_described", facts(spec_contracts=contracts)).status == FAIL
    assert run("columns_described", facts(spec_contracts=contracts), min_percent=50).status == PASS


def test_columns_described_lists_at_most_ten_missing_columns() -> None:
    contracts = columns(*(col(f"c{i}") for i in range(12)))
    result = run("columns_described", facts(spec_contracts=contracts))
    assert result.status == FAIL
    assert result.evidence["missing"] == [f"orders.c{i}" for i in range(10)]


def test_pii_classified_is_not_applicable_when_no_column_looks_personal() -> None:
    contracts = columns(col("order_id"), col("shipping_cost"), col("tips"))
    result = run("pii_classified", facts(spec_contracts=contracts))
    assert (result.status, result.message) == (NA, "no column looks personal")
    assert run("pii_classified", facts()).status == NA


def test_pii_classified_fails_naming_the_unclassified_personal_columns() -> None:
    contracts = columns(
        col("order_id"),
        col("Customer_Email"),
        col("first_name", classification="restricted"),
        col("address", properties=[col("zip")]),
        col("phone", pii=False),
    )
    result = run("pii_classified", facts(spec_contracts=contracts))
    assert result.status == FAIL
    assert result.evidence == {
        "personal": [
            "orders.Customer_Email",
            "orders.first_name",
            "orders.address",
            "orders.address.zip",
            "orders.phone",
        ],
        "unclassified": ["orders.Customer_Email", "orders.address", "orders.address.zip"],
    }
    assert result.message == (
        "3 personal-looking column(s) unclassified: "
        "orders.Customer_Email, orders.address, orders.address.zip"
    )


def test_pii_classified_passes_when_every_personal_column_is_classified_or_flagged() -> None:
    contracts = columns(
        col("email", classification="confidential"),
        col("ip_address", pii=True),
        col("gender", pii=False),
        col("amount"),
    )
    result = run("pii_classified", facts(spec_contracts=contracts))
    assert (result.status, result.message) == (PASS, "3 personal-looking column(s) classified")
    assert result.evidence["unclassified"] == []


def test_pii_classified_honours_a_custom_pattern() -> None:
    contracts = columns(col("email"), col("secret_code"), col("Secret_Token", pii=True))
    result = run("pii_classified", facts(spec_contracts=contracts), pattern=r"^secret")
    assert result.status == FAIL
    assert result.evidence == {
        "personal": ["orders.secret_code", "orders.Secret_Token"],
        "unclassified": ["orders.secret_code"],
    }


def test_pii_classified_skips_keys_and_flags_named_after_personal_data() -> None:
    contracts = columns(
        col("address_id", logical_type="integer"),
        col("is_email_marketable", logical_type="boolean"),
        col("phone_type"),
    )
    result = run("pii_classified", facts(spec_contracts=contracts))
    assert result.status == NA


def test_pii_classified_sees_personal_fields_inside_an_array_of_objects() -> None:
    element = Property(name="items", path="contacts[]", properties=[col("email")])
    contracts = columns(col("contacts", logical_type="array", items=element))
    result = run("pii_classified", facts(spec_contracts=contracts))
    assert result.status == FAIL
    assert result.evidence["unclassified"] == ["orders.contacts[].email"]


# --- contract and ports -------------------------------------------------------------------


def test_has_contract_fails_without_a_contract() -> None:
    result = run("has_contract", facts())
    assert (result.status, result.message) == (FAIL, "no contract")


def test_has_contract_fails_naming_contracts_without_a_schema() -> None:
    contracts = [
        *columns(col("order_id"), contract="with-schema"),
        Contract(id="tables-only", format="odcs", objects=[SchemaObject("orders")]),
        Contract(id="nothing", format="odcs"),
    ]
    result = run("has_contract", facts(spec_contracts=contracts))
    assert result.status == FAIL
    assert result.message == "no schema in tables-only, nothing"
    assert result.evidence == {
        "contracts": ["with-schema", "tables-only", "nothing"],
        "empty": ["tables-only", "nothing"],
    }


def test_has_contract_fails_on_validation_warnings() -> None:
    warnings = [
        {"path": "schema/0/properties/1/logicalType", "message": "'money' is not valid"},
        {"path": "", "message": "unknown key"},
    ]
    result = run("has_contract", facts(spec_contracts=columns(col("id")), warnings=warnings))
    assert (result.status, result.message) == (FAIL, "2 validation warning(s)")
    assert result.evidence == {
        "warnings": ["schema/0/properties/1/logicalType: 'money' is not valid", "/: unknown key"]
    }


def test_has_contract_passes_with_a_schema_and_no_warnings() -> None:
    result = run("has_contract", facts(spec_contracts=columns(col("id"))))
    assert (result.status, result.message) == (PASS, "orders-contract")
    assert result.evidence == {"contracts": ["orders-contract"]}


def test_contract_declares_sla_is_not_applicable_without_a_contract() -> None:
    result = run("contract_declares_sla", facts())
    assert (result.status, result.message) == (NA, "no contract")


def test_contract_declares_sla_fails_when_no_contract_promises_anything() -> None:
    result = run("contract_declares_sla", facts(spec_contracts=columns(col("id"))))
    assert (result.status, result.message) == (FAIL, "no service levels declared")


def test_contract_declares_sla_passes_naming_the_sla_lines() -> None:
    sla = [
        SlaProperty("latency", property="freshness", value=4, unit="h"),
        SlaProperty("availability"),
    ]
    contracts = [Contract(id="c", format="odcs", sla=sla), Contract(id="d", format="odcs")]
    result = run("contract_declares_sla", facts(spec_contracts=contracts))
    assert (result.status, result.message, result.evidence) == (
        PASS,
        "freshness, availability",
        {"lines": 2},
    )


def test_output_ports_bound_fails_without_an_output_port() -> None:
    result = run("output_ports_bound", facts())
    assert (result.status, result.message) == (FAIL, "no output port")


def test_output_ports_bound_fails_naming_unbound_ports_and_unseen_datasets() -> None:
    ports = [Port("orders"), Port("refunds"), Port("returns")]
    bound = [
        Bound("orders", "postgres://warehouse:5432", "public.orders", 7),
        Bound("refunds", "postgres://warehouse:5432", "public.refunds", None),
    ]
    result = run("output_ports_bound", facts(spec_output_ports=ports, bound=bound))
    assert result.status == FAIL
    assert result.evidence == {
        "unbound": ["returns"],
        "unseen": ["postgres://warehouse:5432:public.refunds"],
    }
    assert result.message == (
        "unbound: returns; never seen in lineage: postgres://warehouse:5432:public.refunds"
    )


def test_output_ports_bound_passes_when_every_port_is_bound_and_observed() -> None:
    bound = [Bound("orders", "postgres://warehouse:5432", "public.orders", 7)]
    result = run("output_ports_bound", facts(spec_output_ports=[Port("orders")], bound=bound))
    assert result.status == PASS
    assert result.evidence == {"datasets": ["postgres://warehouse:5432:public.orders"]}


# --- lineage and operations ---------------------------------------------------------------

BOUND = [Bound("orders", "postgres://warehouse:5432", "public.orders", 7)]


def test_lineage_recent_fails_without_a_bound_dataset() -> None:
    result = run("lineage_recent", facts(runs=[ran(1)]))
    assert (result.status, result.message) == (
        FAIL,
        "no dataset bound, so no lineage can be observed",
    )


def test_lineage_recent_passes_naming_the_last_run() -> None:
    runs = [ran(3, job="etl:old"), ran(0.5, "FAILED", job="etl:load_orders")]
    result = run("lineage_recent", facts(bound=BOUND, runs=runs))
    assert result.status == PASS
    assert result.message == "last run etl:load_orders at 2024-06-01 00:00"
    assert result.evidence == {"job": "etl:load_orders", "at": "2024-06-01T00:00:00+00:00"}


def test_lineage_recent_fails_when_the_last_run_is_older_than_days() -> None:
    subject = facts(bound=BOUND, runs=[ran(8)])
    result = run("lineage_recent", subject)
    assert (result.status, result.message) == (FAIL, "no run in the last 7 days")
    assert run("lineage_recent", subject, days=10).status == PASS
    assert run("lineage_recent", facts(bound=BOUND)).status == FAIL


def test_runs_succeeding_is_not_applicable_without_a_run_in_the_window() -> None:
    result = run("runs_succeeding", facts(runs=[ran(8, "FAILED")]))
    assert (result.status, result.message) == (NA, "no producing run in 7 days")


def test_runs_succeeding_passes_at_the_minimum_share() -> None:
    runs = [ran(6 - i * 0.25) for i in range(19)] + [ran(1, "FAILED", job="etl:load_refunds")]
    result = run("runs_succeeding", facts(runs=runs))
    assert (result.status, result.message) == (PASS, "19 of 20 runs completed (95%)")
    assert result.evidence == {"runs": 20, "completed": 19, "failing_jobs": ["etl:load_refunds"]}


def test_runs_succeeding_fails_below_the_share_naming_the_failing_jobs() -> None:
    runs = [ran(2), ran(2, "FAILED", job="etl:b"), ran(1, "ABORTED", job="etl:a"), ran(1)]
    result = run("runs_succeeding", facts(runs=runs))
    assert (result.status, result.message) == (FAIL, "2 of 4 runs completed (50%)")
    assert result.evidence == {"runs": 4, "completed": 2, "failing_jobs": ["etl:a", "etl:b"]}


def test_runs_succeeding_honours_min_percent_and_days() -> None:
    runs = [ran(10, "FAILED"), ran(2), ran(1, "FAILED")]
    assert run("runs_succeeding", facts(runs=runs)).status == FAIL
    assert run("runs_succeeding", facts(runs=runs), min_percent=50).status == PASS
    week = run("runs_succeeding", facts(runs=runs[:2]))
    assert (week.status, week.evidence["runs"]) == (PASS, 1)  # the failure 10 days ago is out
    fortnight = run("runs_succeeding", facts(runs=runs[:2]), days=14)
    assert (fortnight.status, fortnight.evidence["runs"]) == (FAIL, 2)


def test_quality_passing_is_not_applicable_without_error_assertions() -> None:
    assert run("quality_passing", facts()).status == NA
    warn_only = [AssertionFact("d", "unique", "order_id", False, "WARN")]
    result = run("quality_passing", facts(assertions=warn_only))
    assert (result.status, result.message) == (NA, "no quality assertion reported on its datasets")


def test_quality_passing_fails_naming_the_failing_assertions_and_ignores_warnings() -> None:
    assertions = [
        AssertionFact("d", "not_null", "email", False, "error"),
        AssertionFact("d", "row_count_positive", "", False, ""),
        AssertionFact("d", "unique", "order_id", False, "warn"),
        AssertionFact("d", "not_null", "order_id", True, "error"),
    ]
    result = run("quality_passing", facts(assertions=assertions))
    assert result.status == FAIL
    assert result.message == "2 of 3 failing: not_null on email, row_count_positive"
    assert result.evidence == {
        "assertions": 3,
        "failing": ["not_null on email", "row_count_positive"],
    }


def test_quality_passing_passes_when_every_error_assertion_succeeds() -> None:
    assertions = [
        AssertionFact("d", "not_null", "email", True, "error"),
        AssertionFact("d", "unique", "order_id", False, "warn"),
    ]
    result = run("quality_passing", facts(assertions=assertions))
    assert (result.status, result.message) == (PASS, "1 assertion(s) pass")
    assert result.evidence == {"assertions": 1, "failing": []}


def test_slos_declared_passes_naming_the_slos() -> None:
    slos = [
        SloFact("fresh", "freshness", "met", 1.0, 0.99),
        SloFact("rows", "volume", "unknown", None, 0.9),
    ]
    result = run("slos_declared", facts(slos=slos))
    assert (result.status, result.message, result.evidence) == (PASS, "fresh, rows", {"slos": 2})


def test_slos_declared_fails_without_an_slo() -> None:
    result = run("slos_declared", facts())
    assert (result.status, result.message) == (FAIL, "no SLO")


def test_slos_met_is_not_applicable_until_an_slo_is_measured() -> None:
    assert run("slos_met", facts()).status == NA
    result = run("slos_met", facts(slos=[SloFact("fresh", "freshness", "unknown", None, 0.99)]))
    assert (result.status, result.message) == (NA, "no SLO measured yet")


def test_slos_met_fails_naming_the_slos_below_objective() -> None:
    slos = [
        SloFact("fresh", "freshness", "breached", 0.95, 0.99),
        SloFact("rows", "volume", "met", 0.999, 0.99),
        SloFact("new", "quality", "unknown", None, 0.99),
    ]
    result = run("slos_met", facts(slos=slos))
    assert result.status == FAIL
    assert result.message == "1 of 2 below objective: fresh"
    assert result.evidence == {
        "missed": [{"slo": "fresh", "attainment": 0.95, "objective": 0.99}],
        "measured": 2,
    }


def test_slos_met_passes_when_attainment_reaches_the_objective() -> None:
    slos = [
        SloFact("fresh", "freshness", "met", 0.99, 0.99),
        SloFact("zero", "volume", "met", 0.0, 0.0),
    ]
    result = run("slos_met", facts(slos=slos))
    assert (result.status, result.message) == (PASS, "2 SLO(s) at objective")
    assert result.evidence == {"missed": [], "measured": 2}


# --- lifecycle ----------------------------------------------------------------------------


def test_no_deprecated_upstream_passes_without_upstream() -> None:
    result = run("no_deprecated_upstream", facts())
    assert (result.status, result.message) == (PASS, "no upstream product")
    assert result.evidence == {"upstream": [], "ending": []}


def test_no_deprecated_upstream_passes_when_every_upstream_is_live() -> None:
    upstream = [
        Related("customers", "Customers", "active", "input port"),
        Related("fx", "FX", "draft", "lineage"),
    ]
    result = run("no_deprecated_upstream", facts(upstream=upstream))
    assert (result.status, result.message) == (PASS, "2 upstream product(s), none ending")
    assert result.evidence == {"upstream": ["customers", "fx"], "ending": []}


def test_no_deprecated_upstream_fails_naming_deprecated_and_retired_upstream() -> None:
    upstream = [
        Related("customers", "Customers", "active", "input port"),
        Related("crm-v1", "CRM v1", "deprecated", "input port"),
        Related("legacy-fx", "Legacy FX", "retired", "lineage"),
    ]
    result = run("no_deprecated_upstream", facts(upstream=upstream))
    assert result.status == FAIL
    assert result.message == "reads CRM v1 (deprecated), Legacy FX (retired)"
    assert result.evidence == {
        "upstream": ["customers", "crm-v1", "legacy-fx"],
        "ending": ["crm-v1 (deprecated)", "legacy-fx (retired)"],
    }


def test_no_unversioned_breaking_change_passes_without_one() -> None:
    result = run("no_unversioned_breaking_change", facts())
    assert (result.status, result.message) == (
        PASS,
        "no breaking change under the same major version",
    )


def test_no_unversioned_breaking_change_fails_naming_the_latest_revision() -> None:
    breaks = [
        {"revision": 3, "version": "1.2.0", "findings": ["column amount removed"]},
        {"revision": 5, "version": "1.3.0", "findings": ["column note retyped"]},
    ]
    result = run("no_unversioned_breaking_change", facts(unversioned_breaks=breaks))
    assert result.status == FAIL
    assert (
        result.message == "revision 5 (version 1.3.0) breaks the contract without a major version"
    )
    assert result.evidence == {"breaks": breaks}


def test_no_unversioned_breaking_change_names_a_descriptor_not_registered_yet() -> None:
    breaks = [{"revision": None, "version": "", "findings": ["column amount removed"]}]
    result = run("no_unversioned_breaking_change", facts(pk=None, unversioned_breaks=breaks))
    assert result.status == FAIL
    assert (
        result.message == "this descriptor (version ?) breaks the contract without a major version"
    )


def test_recently_attested_fails_when_never_registered() -> None:
    result = run("recently_attested", facts())
    assert (result.status, result.message) == (FAIL, "never registered")


def test_recently_attested_passes_up_to_days_and_fails_after() -> None:
    at_limit = run("recently_attested", facts(revised_at=NOW - timedelta(days=180)))
    assert (at_limit.status, at_limit.message) == (PASS, "revised 180 day(s) ago")
    assert at_limit.evidence == {"revised_at": "2023-12-04T12:00:00+00:00", "days": 180}

    late = run("recently_attested", facts(revised_at=NOW - timedelta(days=181)))
    assert (late.status, late.message, late.evidence["days"]) == (FAIL, "revised 181 days ago", 181)


def test_recently_attested_honours_days() -> None:
    subject = facts(revised_at=NOW - timedelta(days=45))
    assert run("recently_attested", subject).status == PASS
    assert run("recently_attested", subject, days=30).status == FAIL


def test_is_active_passes_for_an_active_product() -> None:
    assert run("is_active", facts()) == Result(PASS, "active", {})


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("draft", "status is draft"),
        ("deprecated", "status is deprecated"),
        ("", "status is not declared"),
    ],
)
def test_is_active_fails_for_any_other_status(status: str, message: str) -> None:
    result = run("is_active", facts(status=status))
    assert (result.status, result.message, result.evidence) == (FAIL, message, {"status": status})


@pytest.mark.parametrize(
    "version", ["1.4.0", "0.0.1", "v2.10.3", "2.0.0-rc.1", "1.0.0+build.7", " 1.2.3 "]
)
def test_semantic_version_passes_for_major_minor_patch(version: str) -> None:
    result = run("semantic_version", facts(spec_version=version))
    assert (result.status, result.message) == (PASS, version.strip())


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("1.4", "version 1.4 is not MAJOR.MINOR.PATCH"),
        ("latest", "version latest is not MAJOR.MINOR.PATCH"),
        ("1.2.3.4", "version 1.2.3.4 is not MAJOR.MINOR.PATCH"),
        ("", "version missing is not MAJOR.MINOR.PATCH"),
    ],
)
def test_semantic_version_fails_otherwise(version: str, message: str) -> None:
    result = run("semantic_version", facts(spec_version=version))
    assert (result.status, result.message, result.evidence) == (FAIL, message, {"version": version})


# --- use ----------------------------------------------------------------------------------


def test_has_consumers_fails_when_nobody_reads_it() -> None:
    result = run("has_consumers", facts())
    assert (result.status, result.message) == (FAIL, "0 product(s) and 0 job(s) read it")
    assert result.evidence == {"products": [], "jobs": []}


def test_has_consumers_passes_with_a_reading_product_or_job() -> None:
    reader = Related("finance", "Finance", "active", "input port")
    by_product = run("has_consumers", facts(consumer_products=[reader]))
    assert (by_product.status, by_product.message) == (PASS, "1 product(s) and 0 job(s) read it")
    assert by_product.evidence == {"products": ["finance"], "jobs": []}

    by_job = run("has_consumers", facts(consumer_jobs=["airflow:report"]))
    assert (by_job.status, by_job.evidence) == (PASS, {"products": [], "jobs": ["airflow:report"]})


def test_has_consumers_honours_min_consumers_counting_products_and_jobs() -> None:
    reader = Related("finance", "Finance", "active", "input port")
    one = facts(consumer_products=[reader])
    two = facts(consumer_products=[reader], consumer_jobs=["airflow:report"])
    assert run("has_consumers", one, min_consumers=2).status == FAIL
    assert run("has_consumers", two, min_consumers=2).status == PASS


def test_has_tags_passes_naming_the_tags() -> None:
    result = run("has_tags", facts(spec_tags=["sales", "gdpr"]))
    assert (result.status, result.message, result.evidence) == (
        PASS,
        "sales, gdpr",
        {"tags": ["sales", "gdpr"]},
    )


def test_has_tags_fails_without_tags() -> None:
    result = run("has_tags", facts())
    assert (result.status, result.message, result.evidence) == (FAIL, "0 tag(s)", {"tags": []})


def test_has_tags_honours_min_tags() -> None:
    subject = facts(spec_tags=["sales", "gdpr"])
    assert run("has_tags", subject, min_tags=3).status == FAIL
    assert run("has_tags", subject, min_tags=2).status == PASS
