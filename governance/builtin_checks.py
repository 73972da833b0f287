"""The built-in checks. Each judges one product from its facts (``governance/facts.py``)
and says how to fix a failure; scorecards name them and set their parameters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from catalog.descriptors.model import Property
from governance.checks import Result, check, failed, not_applicable, passed
from governance.facts import ProductFacts
from lineage.models import RunState

SHOWN = 10  # names listed in evidence

# Column names that usually hold personal data.
PERSONAL = (
    r"(^|_)(e_?mail|phone|mobile|first_?name|last_?name|full_?name|surname|birth|dob|ssn|"
    r"social_security|passport|national_id|tax_id|iban|address|street|zip|postal|postcode|"
    r"ip_?address|ip|gender|salary|credit_?card|card_number)($|_)"
)

# --- ownership and support --------------------------------------------------------------


@check(
    "has_owner",
    title="Has an owner",
    category="ownership",
    remediation="Name an owner: add a team member with the role owner to the descriptor, "
    "or add one on the product page.",
)
def has_owner(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """Someone answers for the product: a person or team holding an owner role."""
    if facts.owners:
        return passed(_names(o.name for o in facts.owners), owners=[o.name for o in facts.owners])
    return failed("nobody holds an owner role")


@check(
    "has_support_channel",
    title="Has a support channel",
    category="ownership",
    remediation="Add a support channel (chat, email or issue tracker) under support in the "
    "descriptor, so consumers know where to ask.",
)
def has_support_channel(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """Consumers know where to ask: the product or a contract names a support channel."""
    channels = [c for c in facts.spec.support if c.url or c.channel]
    channels += [
        c for contract in facts.spec.contracts for c in contract.support if c.url or c.channel
    ]
    if channels:
        return passed(_names(c.channel or c.url for c in channels), channels=len(channels))
    return failed("no support channel is declared")


# --- documentation ----------------------------------------------------------------------


@check(
    "description_filled",
    title="Purpose and usage described",
    category="documentation",
    remediation="Write the product's purpose and usage in the descriptor, each at least "
    "{min_length} characters: what it is for, and how to use it well.",
    min_length=20,
)
def description_filled(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """The descriptor says what the product is for and how to use it."""
    spec, least = facts.spec, int(params["min_length"])
    purpose = spec.purpose or spec.description
    short = [
        name
        for name, text in (("purpose", purpose), ("usage", spec.usage))
        if len(text.strip()) < least
    ]
    if short:
        return failed(
            f"{' and '.join(short)} missing or shorter than {least} characters", short=short
        )
    return passed("purpose and usage are described")


@check(
    "columns_described",
    title="Columns described",
    category="documentation",
    remediation="Describe the columns of the contract schema (description on each "
    "property); at least {min_percent}% of them need one.",
    min_percent=80,
)
def columns_described(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """At least ``min_percent`` of the contract's columns have a description."""
    columns = list(_columns(facts))
    if not columns:
        return not_applicable("the contracts declare no columns")
    bare = [path for path, prop in columns if not prop.description.strip()]
    share = 100 * (len(columns) - len(bare)) / len(columns)
    evidence = {
        "described": len(columns) - len(bare),
        "columns": len(columns),
        "missing": bare[:SHOWN],
    }
    message = f"{int(share)}% of {len(columns)} columns described"  # 79.5% is not 80%
    return (passed if share >= float(params["min_percent"]) else failed)(message, **evidence)


@check(
    "pii_classified",
    title="Personal data classified",
    category="compliance",
    remediation="Set a classification (or pii: true/false) on every column that looks "
    "personal, such as email, phone, name or address columns.",
    pattern=PERSONAL,
)
def pii_classified(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """Every column whose name looks personal is classified, and none is left unsaid."""
    looks = re.compile(str(params["pattern"]), re.IGNORECASE)
    personal = [(path, p) for path, p in _columns(facts) if _personal(p, looks)]
    if not personal:
        return not_applicable("no column looks personal")
    unclassified = [path for path, p in personal if not p.classification and p.pii is None]
    evidence = {
        "personal": [path for path, _ in personal][:SHOWN],
        "unclassified": unclassified[:SHOWN],
    }
    if unclassified:
        return failed(
            f"{len(unclassified)} personal-looking column(s) unclassified: {_names(unclassified)}",
            **evidence,
        )
    return passed(f"{len(personal)} personal-looking column(s) classified", **evidence)


def _personal(prop: Property, looks: re.Pattern[str]) -> bool:
    """A name that looks personal, on a column that can hold it: not a key pointing
    elsewhere (``address_id``) nor a flag (``is_email_marketable``)."""
    if prop.logical_type == "boolean" or re.search(r"_(id|key|count|type)$", prop.name, re.I):
        return False
    return bool(looks.search(prop.name))


def _columns(facts: ProductFacts) -> Iterable[tuple[str, Property]]:
    for contract in facts.spec.contracts:
        for obj in contract.objects:
            yield from _flat(obj.name, obj.properties)


def _flat(prefix: str, props: Iterable[Property]) -> Iterable[tuple[str, Property]]:
    """Every column, nested ones too: ``address.city``, and ``contacts[].email`` for the
    fields of an array's items."""
    for prop in props:
        path = f"{prefix}.{prop.name}"
        yield path, prop
        yield from _flat(path, prop.properties)
        if prop.items is not None:
            yield from _flat(f"{path}[]", prop.items.properties)


# --- contract and ports -----------------------------------------------------------------


@check(
    "has_contract",
    title="Has a contract with a valid schema",
    category="contract",
    remediation="Attach a data contract (ODCS) to each output port, with a schema that "
    "names its tables and columns and passes validation.",
)
def has_contract(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """A contract with a schema of at least one object with columns, and no schema
    warnings from validation."""
    contracts = facts.spec.contracts
    if not contracts:
        return failed("no contract")
    empty = [c.id for c in contracts if not any(o.properties for o in c.objects)]
    invalid = [f"{w.get('path') or '/'}: {w.get('message', '')}" for w in facts.warnings]
    if empty:
        return failed(
            f"no schema in {_names(empty)}", contracts=[c.id for c in contracts], empty=empty
        )
    if invalid:
        return failed(f"{len(invalid)} validation warning(s)", warnings=invalid[:SHOWN])
    return passed(_names(c.id for c in contracts), contracts=[c.id for c in contracts])


@check(
    "contract_declares_sla",
    title="Contract declares service levels",
    category="contract",
    remediation="Declare service levels in the contract (slaProperties: latency or "
    "freshness, frequency, availability).",
)
def contract_declares_sla(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """The contracts promise something: at least one SLA line."""
    lines = [s for c in facts.spec.contracts for s in c.sla]
    if not facts.spec.contracts:
        return not_applicable("no contract")
    if lines:
        return passed(_names(s.property or s.kind for s in lines), lines=len(lines))
    return failed("no service levels declared")


@check(
    "output_ports_bound",
    title="Output ports bound to observed datasets",
    category="lineage",
    remediation="Bind every output port to its dataset (contract servers with a physical "
    "name, or a binding in custom properties), and make sure the pipeline that writes it "
    "emits OpenLineage events.",
)
def output_ports_bound(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """Every output port is bound to a dataset that lineage has seen."""
    ports = [p.name for p in facts.spec.output_ports]
    if not ports:
        return failed("no output port")
    bound = {b.port for b in facts.bound}
    unbound = [p for p in ports if p not in bound]
    unseen = [b.label for b in facts.bound if b.dataset_id is None]
    evidence = {"unbound": unbound, "unseen": unseen[:SHOWN]}
    if unbound or unseen:
        parts = [f"unbound: {_names(unbound)}"] if unbound else []
        parts += [f"never seen in lineage: {_names(unseen)}"] if unseen else []
        return failed("; ".join(parts), **evidence)
    return passed(
        f"{len(facts.bound)} dataset(s) bound and observed", datasets=[b.label for b in facts.bound]
    )


# --- lineage and operations -------------------------------------------------------------


@check(
    "lineage_recent",
    title="Lineage observed recently",
    category="lineage",
    remediation="The pipeline writing this product has not reported a run for {days} days: "
    "check it runs, and that it sends OpenLineage events to Meshport.",
    days=7,
)
def lineage_recent(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """A run that writes the product's datasets ended within ``days``."""
    if not facts.bound:
        return failed("no dataset bound, so no lineage can be observed")
    since = facts.now - timedelta(days=float(params["days"]))
    recent = [r for r in facts.runs if r.ended_at >= since]
    if recent:
        last = recent[-1]
        return passed(
            f"last run {last.job} at {last.ended_at:%Y-%m-%d %H:%M}",
            job=last.job,
            at=last.ended_at.isoformat(),
        )
    return failed(f"no run in the last {params['days']} days")


@check(
    "runs_succeeding",
    title="Producing runs succeed",
    category="operations",
    remediation="Fix the failing runs of the jobs that write this product: at least "
    "{min_percent}% of them over {days} days must complete.",
    days=7,
    min_percent=95,
)
def runs_succeeding(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """The share of producing runs over ``days`` that completed."""
    since = facts.now - timedelta(days=float(params["days"]))
    runs = [r for r in facts.runs if r.ended_at >= since]
    if not runs:
        return not_applicable(f"no producing run in {params['days']} days")
    completed = sum(1 for r in runs if r.state == RunState.COMPLETED)
    share = 100 * completed / len(runs)
    failing = sorted({r.job for r in runs if r.state != RunState.COMPLETED})
    evidence = {"runs": len(runs), "completed": completed, "failing_jobs": failing[:SHOWN]}
    message = f"{completed} of {len(runs)} runs completed ({share:.0f}%)"
    return (passed if share >= float(params["min_percent"]) else failed)(message, **evidence)


@check(
    "quality_passing",
    title="Quality checks pass",
    category="quality",
    remediation="Fix the data or the tests behind the failing quality assertions; the "
    "latest run of each must pass.",
)
def quality_passing(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """The latest assertions on each bound dataset (error severity) all pass."""
    errors = [a for a in facts.assertions if a.severity.lower() not in ("warn", "warning", "info")]
    if not errors:
        return not_applicable("no quality assertion reported on its datasets")
    failing = [
        f"{a.assertion}" + (f" on {a.column}" if a.column else "") for a in errors if not a.success
    ]
    evidence = {"assertions": len(errors), "failing": failing[:SHOWN]}
    if failing:
        return failed(f"{len(failing)} of {len(errors)} failing: {_names(failing)}", **evidence)
    return passed(f"{len(errors)} assertion(s) pass", **evidence)


@check(
    "slos_declared",
    title="SLOs declared",
    category="reliability",
    remediation="Declare service levels in the contract (freshness, volume, quality or "
    "availability) or add SLOs through the API, so consumers know what to expect.",
)
def slos_declared(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """The product promises something measurable: at least one SLO."""
    if facts.slos:
        return passed(_names(s.name for s in facts.slos), slos=len(facts.slos))
    return failed("no SLO")


@check(
    "slos_met",
    title="SLOs met over 28 days",
    category="reliability",
    remediation="Bring the breached SLOs back within their objective (see each SLO's "
    "evidence), or revise an objective the product cannot keep.",
)
def slos_met(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """Every SLO's 28-day attainment reaches its objective."""
    measured = [s for s in facts.slos if s.attainment_28d is not None]
    if not measured:
        return not_applicable("no SLO measured yet")
    missed = [s for s in measured if (s.attainment_28d or 0) < s.objective]
    evidence = {
        "missed": [
            {"slo": s.name, "attainment": s.attainment_28d, "objective": s.objective}
            for s in missed
        ][:SHOWN],
        "measured": len(measured),
    }
    if missed:
        return failed(
            f"{len(missed)} of {len(measured)} below objective: {_names(s.name for s in missed)}",
            **evidence,
        )
    return passed(f"{len(measured)} SLO(s) at objective", **evidence)


# --- lifecycle ----------------------------------------------------------------------------


@check(
    "no_deprecated_upstream",
    title="No deprecated or retired upstream",
    category="lifecycle",
    remediation="Move off the deprecated or retired products it reads from, to their successors.",
)
def no_deprecated_upstream(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """Nothing it reads (input ports, or lineage) is deprecated or retired."""
    old = [u for u in facts.upstream if u.status in ("deprecated", "retired")]
    evidence = {
        "upstream": [u.external_id for u in facts.upstream][:SHOWN],
        "ending": [f"{u.external_id} ({u.status})" for u in old],
    }
    if old:
        return failed(f"reads {_names(f'{u.name} ({u.status})' for u in old)}", **evidence)
    if not facts.upstream:
        return passed("no upstream product", **evidence)
    return passed(f"{len(facts.upstream)} upstream product(s), none ending", **evidence)


@check(
    "no_unversioned_breaking_change",
    title="No breaking change without a major version",
    category="lifecycle",
    remediation="Publish the next major version for the breaking change, and tell its "
    "consumers; never break a contract under the same major version.",
)
def no_unversioned_breaking_change(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """No revision since the last major version accepted a breaking change."""
    if facts.unversioned_breaks:
        first = facts.unversioned_breaks[-1]
        where = f"revision {first['revision']}" if first["revision"] else "this descriptor"
        version = first["version"] or "?"
        return failed(
            f"{where} (version {version}) breaks the contract without a major version",
            breaks=facts.unversioned_breaks,
        )
    return passed("no breaking change under the same major version")


@check(
    "recently_attested",
    title="Descriptor re-attested",
    category="lifecycle",
    remediation="Review the descriptor and publish it again (even unchanged content counts "
    "once its version or date changes): it was last revised more than {days} days ago.",
    days=180,
)
def recently_attested(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """The descriptor was revised within ``days``."""
    if facts.revised_at is None:
        return failed("never registered")
    age = (facts.now - facts.revised_at).days
    evidence = {"revised_at": facts.revised_at.isoformat(), "days": age}
    if age <= float(params["days"]):
        return passed(f"revised {age} day(s) ago", **evidence)
    return failed(f"revised {age} days ago", **evidence)


@check(
    "is_active",
    title="Published as active",
    category="lifecycle",
    remediation="Publish the product with status active once it is ready for consumers.",
)
def is_active(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """Its status is active (not proposed, draft, deprecated or retired)."""
    if facts.status == "active":
        return passed("active")
    return failed(f"status is {facts.status or 'not declared'}", status=facts.status)


@check(
    "semantic_version",
    title="Semantic version",
    category="lifecycle",
    remediation="Give the product a semantic version (MAJOR.MINOR.PATCH, such as 1.4.0), so "
    "consumers can tell a breaking release from a compatible one.",
)
def semantic_version(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """Its version reads as MAJOR.MINOR.PATCH."""
    version = facts.spec.version.strip()
    if re.fullmatch(r"v?\d+\.\d+\.\d+([-+][0-9A-Za-z.\-+]+)?", version):
        return passed(version)
    return failed(f"version {version or 'missing'} is not MAJOR.MINOR.PATCH", version=version)


# --- use ----------------------------------------------------------------------------------


@check(
    "has_consumers",
    title="Has consumers",
    category="value",
    remediation="Nobody reads this product yet: announce it to the teams it was built for, "
    "or consider retiring it.",
    min_consumers=1,
)
def has_consumers(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """Other products (input ports) or jobs (lineage) read it."""
    count = facts.blast_radius
    evidence = {
        "products": [p.external_id for p in facts.consumer_products][:SHOWN],
        "jobs": facts.consumer_jobs[:SHOWN],
    }
    message = (
        f"{len(facts.consumer_products)} product(s) and {len(facts.consumer_jobs)} job(s) read it"
    )
    return (passed if count >= int(params["min_consumers"]) else failed)(message, **evidence)


@check(
    "has_tags",
    title="Tagged",
    category="discoverability",
    remediation="Add at least {min_tags} tag(s) to the descriptor so the product can be "
    "found by topic.",
    min_tags=1,
)
def has_tags(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    """It carries at least ``min_tags`` tags."""
    tags = facts.spec.tags
    if len(tags) >= int(params["min_tags"]):
        return passed(_names(tags), tags=tags)
    return failed(f"{len(tags)} tag(s)", tags=tags)


def _names(items: Iterable[str]) -> str:
    names = [str(i) for i in items]
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more
