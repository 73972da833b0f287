"""Searchable assets for the search benchmark: a lineage mesh, and what search reads besides.

``benchmarks/lineage_synth.py`` writes namespaces, datasets with their fields, jobs, runs
and edges. Search also reads prose, tags, owners, SQL and the data products that publish
datasets, which the mesh lacks; :func:`plan_extras` plans them (pure Python, deterministic
for a mesh and a seed) and :func:`write_extras` writes them into the tables:

- **dataset descriptions** on ~75% of the datasets: a sentence on what the table holds
  (entity, kind, grain, refresh), one on what it is used for, drawn from a vocabulary of
  business words with Zipf popularity (``revenue`` is everywhere, ``payout`` is not) and
  multi-word business terms (``"net revenue"``); ~2% mention a project code name
  (``halcyon``), the rare words of the vocabulary;
- **dataset tags and owners**: the mesh already tags datasets of a personal-data schema
  ``pii`` (~15%); ~3% more carry a ``{"key": "domain", "value": <slug>}`` tag, ~8% a
  maintainer team (OpenLineage ownership);
- **job SQL** on every job but Dagster's: ``INSERT INTO <output> SELECT … FROM <input> a
  JOIN <input> b ON …`` over the job's own inputs, outputs and their columns; dbt models
  also get a description, ~20% of the jobs an owner;
- **domains, teams and people**: 12 business domains and 4 sub-domains, 3 teams per
  domain, people in 3–7 teams' worth of roles;
- **data products** (1,500 at 100k): domain, team, status, tags, prose, one ODCS contract
  whose schema objects copy the columns (types, classification, PII) of 1–3 datasets of
  the product's entity, an output port bound to those datasets (``PortBinding``) and, for
  a quarter of them, an input port reading an earlier product.

Products, contracts and the rest are written with ``bulk_create`` and explicit ids; the
datasets and jobs are updated with prepared ``executemany`` statements.
"""

from __future__ import annotations

import bisect
import itertools
import random
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.lineage_synth import _FIELD_TYPES, _JOB_NS, _PII, Mesh, Scale, build_plan

SEARCH_FORMAT = 1  # bump when the assets change shape, so kept stores are not reused


@dataclass(frozen=True)
class SearchScale:
    name: str
    mesh: Scale
    products: int
    people: int


SCALES = {
    # ~3,200 documents: the test's scale, a run of under a minute.
    "small": SearchScale("small", Scale("search-small", 2_000, 1_000, 8, 12), 60, 40),
    # ~100k documents: 66,000 datasets, 32,000 jobs, 1,500 products and the rest.
    "100k": SearchScale("100k", Scale("search-100k", 66_000, 32_000, 16, 36), 1_500, 240),
    # ~1M documents: ten times the assets, with the same vocabulary and organisation
    # (more people, deeper layers, more dataset namespaces).
    "1m": SearchScale("1m", Scale("search-1m", 660_000, 320_000, 20, 44), 15_000, 2_400),
}

# --- vocabulary ---------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# (slug, name, entities whose tables the domain publishes)
DOMAINS = (
    ("sales", "Sales", ("orders", "customers", "carts", "stores")),
    ("finance", "Finance", ("invoices", "payments", "ledger", "fx_rates", "refunds")),
    ("marketing", "Marketing", ("campaigns", "leads", "clicks")),
    ("logistics", "Logistics", ("shipments", "inventory")),
    ("customer-care", "Customer Care", ("tickets", "reviews")),
    ("product-analytics", "Product Analytics", ("events", "sessions", "devices")),
    ("subscriptions", "Subscriptions", ("subscriptions", "accounts")),
    ("merchandising", "Merchandising", ("products", "prices")),
    ("procurement", "Procurement", ("suppliers",)),
    ("people", "People", ("employees",)),
    ("risk", "Risk and Fraud", ("payments", "accounts", "devices")),
    ("data-platform", "Data Platform", ("events", "devices")),
)
SUBDOMAINS = (
    ("sales-emea", "Sales EMEA", "sales"),
    ("finance-tax", "Finance Tax", "finance"),
    ("marketing-paid", "Paid Marketing", "marketing"),
    ("logistics-returns", "Returns", "logistics"),
)
TEAM_KINDS = ("data", "analytics", "platform")

# Business words, most used first: a word's share of the descriptions falls as 1/rank.
BUSINESS_WORDS = (
    "revenue",
    "customer",
    "forecast",
    "churn",
    "retention",
    "margin",
    "conversion",
    "attribution",
    "fulfilment",
    "reconciliation",
    "billing",
    "pricing",
    "loyalty",
    "cohort",
    "funnel",
    "settlement",
    "compliance",
    "audit",
    "segmentation",
    "basket",
    "promotion",
    "refund",
    "chargeback",
    "payout",
    "renewal",
    "acquisition",
    "engagement",
    "replenishment",
    "backorder",
    "warehouse",
    "carrier",
    "delivery",
    "fraud",
    "exposure",
    "liquidity",
    "accrual",
    "amortisation",
    "depreciation",
    "budget",
    "headcount",
    "payroll",
    "onboarding",
    "attrition",
    "sentiment",
    "satisfaction",
    "escalation",
    "backlog",
    "capacity",
    "seasonality",
    "elasticity",
)
# Business terms of several words, for phrase queries.
PHRASES = (
    "net revenue",
    "gross margin",
    "customer lifetime value",
    "order fulfilment",
    "month end close",
    "daily active users",
    "average order value",
    "cost of goods sold",
    "first contact resolution",
    "days sales outstanding",
    "click through rate",
    "inventory turnover",
    "on time delivery",
    "net promoter score",
    "monthly recurring revenue",
    "return rate",
)
# Project code names: each in a few dozen descriptions at 100k, the rare words.
CODENAMES = (
    "halcyon",
    "kestrel",
    "marigold",
    "obsidian",
    "juniper",
    "quasar",
    "tamarind",
    "zephyr",
    "bramble",
    "cobalt",
    "driftwood",
    "ember",
    "fjord",
    "garnet",
    "heron",
    "indigo",
    "jasper",
    "kelpie",
    "lodestar",
    "mistral",
    "nebula",
    "onyx",
    "pelican",
    "quartz",
    "rosewood",
    "saffron",
    "thistle",
    "umber",
    "vesper",
    "wisteria",
    "yarrow",
    "zircon",
    "aurora",
    "basalt",
    "cinder",
    "dunlin",
    "egret",
    "foxglove",
    "gossamer",
    "hawthorn",
    "ibex",
    "jacaranda",
    "kingfisher",
    "larkspur",
    "meridian",
    "nightjar",
    "oriole",
    "peregrine",
    "quillwort",
    "redstart",
    "sandpiper",
    "tanager",
    "upland",
    "verbena",
    "waxwing",
    "xanthe",
    "yellowhammer",
    "zinnia",
    "avocet",
    "bittern",
)
_KINDS = {
    "raw": "raw extract",
    "clean": "cleaned table",
    "daily": "daily aggregate",
    "hourly": "hourly aggregate",
    "agg": "aggregate",
    "snapshot": "snapshot",
    "dim": "dimension",
    "fact": "fact table",
    "enriched": "enriched table",
    "summary": "summary",
}
_CADENCES = (
    "Refreshed hourly.",
    "Refreshed daily at 02:00 UTC.",
    "Loaded weekly on Mondays.",
    "Streamed continuously.",
    "Rebuilt nightly from the lake.",
)
_USES = (
    "Used for {phrase} reporting in {domain}.",
    "Feeds the {word} dashboard and the {word2} model.",
    "Source of truth for {word} and {phrase}.",
    "Joins {other} to compute {phrase}.",
    "Backs the {domain} {word} review every month.",
)
_PRODUCT_NOUNS = ("Mart", "360", "Insights", "Scores", "Metrics", "Feed", "Cube", "KPIs")
_QUALIFIERS = ("Daily", "Monthly", "Real-time", "EMEA", "Global", "Core", "Certified")
_PRODUCT_TAGS = ("gold", "certified", "gdpr", "finance-approved", "experimental", "kpi")
_STATUSES = (("active", 82), ("draft", 7), ("deprecated", 6), ("proposed", 3), ("retired", 2))
_FIRST = _words(
    "ana lena omar yuki priya jonas marta tariq chloe diego ines kwame sofia liam noor "
    "mateo hana felix amara luca zara emil nadia ravi elif oskar mei tomas aisha jan"
)
_LAST = _words(
    "silva novak haddad tanaka sharma berg costa rahman dubois garcia moreau mensah rossi "
    "walsh aziz lopez sato weber okafor conti khan lind park horvat nilsen ito kowalski "
    "yilmaz fischer bauer"
)
_LOGICAL = {"BIGINT": "integer", "INTEGER": "integer", "DOUBLE": "number", "DATE": "date"}
_LOGICAL |= {"TIMESTAMP": "timestamp", "BOOLEAN": "boolean", "JSON": "object"}
_AGGREGATED = ("amount", "revenue", "quantity", "discount", "tax", "price", "duration_ms")


def name_parts(name: str) -> tuple[str, str]:
    """The entity and suffix a generated dataset name was made of.

    ``lake/orders/daily_0001234``, ``orders.daily.v1-0001234`` and
    ``analytics_orders.orders_daily_0001234`` all give ``("orders", "daily")``.
    """
    if "/" in name:
        _, entity, rest = name.split("/", 2)
        return entity, rest.rsplit("_", 1)[0]
    if ".v1-" in name:
        entity, suffix, _ = name.split(".", 2)
        return entity, suffix
    schema, table = name.split(".", 1)
    entity = schema.split("_", 1)[1]
    return entity, table.removeprefix(f"{entity}_").rsplit("_", 1)[0]


def table_name(name: str) -> str:
    """The last segment of a dataset name: what a contract calls its schema object."""
    return re.split(r"[./]", name)[-1]


def platform_of(namespace: str) -> str:
    scheme, sep, _ = namespace.partition("://")
    return scheme if sep else namespace.rstrip("0123456789-")


# --- the plan -----------------------------------------------------------------------------


@dataclass
class Product:
    external_id: str
    name: str
    domain: int  # index into Extras.domains
    team: int  # index into Extras.teams
    status: str
    tags: list[str]
    description: str
    purpose: str
    entity: str
    datasets: list[int]  # bound by its output port, one schema object each
    reads: int | None  # the product its input port reads, if any


@dataclass
class Extras:
    """What search reads beyond the mesh; datasets and jobs are indexed as in the mesh."""

    seed: int
    ds_description: list[str] = field(default_factory=list)
    ds_tags: list[list[dict[str, str]]] = field(default_factory=list)
    ds_owners: list[list[dict[str, str]]] = field(default_factory=list)
    job_sql: list[str] = field(default_factory=list)
    job_description: list[str] = field(default_factory=list)
    job_owners: list[list[dict[str, str]]] = field(default_factory=list)
    domains: list[tuple[str, str, str]] = field(default_factory=list)  # slug, name, parent
    teams: list[tuple[str, int]] = field(default_factory=list)  # name, domain index
    people: list[tuple[str, str, str]] = field(default_factory=list)  # username, name, email
    members: list[tuple[int, int, str]] = field(default_factory=list)  # team, person, role
    products: list[Product] = field(default_factory=list)
    # What the queries are drawn from: words that made it into the store.
    codenames: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)


@dataclass
class Assets:
    scale: SearchScale
    mesh: Mesh
    extras: Extras


def build_assets(scale: SearchScale, seed: int = 42) -> Assets:
    """The mesh of ``scale.mesh`` and its extras: pure Python, the same for the same seed."""
    mesh = build_plan(scale.mesh, seed)
    return Assets(scale, mesh, plan_extras(mesh, scale, seed))


def plan_extras(mesh: Mesh, scale: SearchScale, seed: int) -> Extras:
    rng = random.Random(seed + 100)
    extras = Extras(seed=seed)
    _plan_organisation(extras, rng, scale.people)
    _plan_products(extras, mesh, rng, scale.products)
    _plan_datasets(extras, mesh, rng)
    _plan_jobs(extras, mesh, rng)
    return extras


def _zipf(count: int, exponent: float = 1.0) -> list[float]:
    return list(itertools.accumulate(1 / (rank**exponent) for rank in range(1, count + 1)))


def _pick(rng: random.Random, items: Sequence[Any], cumulative: list[float]) -> Any:
    return items[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def _plan_organisation(extras: Extras, rng: random.Random, people: int) -> None:
    extras.domains = [(slug, name, "") for slug, name, _ in DOMAINS]
    extras.domains += [(slug, name, parent) for slug, name, parent in SUBDOMAINS]
    extras.teams = [
        (f"{slug}-{kind}", d) for d, (slug, _, _) in enumerate(DOMAINS) for kind in TEAM_KINDS
    ]
    seen: set[str] = set()
    for n in range(people):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        username = f"{first}.{last}"
        if username in seen:
            username = f"{first}.{last}{n}"
        seen.add(username)
        name = f"{first.title()} {last.title()}"
        extras.people.append((username, name, f"{username}@acme.example"))
    for team in range(len(extras.teams)):
        size = rng.randint(3, 7)
        roles = ["owner", "technical_owner", "steward"] + ["member"] * (size - 3)
        for person, role in zip(rng.sample(range(people), size), roles, strict=True):
            extras.members.append((team, person, role))


def _plan_products(extras: Extras, mesh: Mesh, rng: random.Random, count: int) -> None:
    """Products of the domains' entities, each bound to 1–3 unbound datasets of its entity
    from the lake and warehouse layers."""
    by_entity: dict[str, list[int]] = {}
    for d, name in enumerate(mesh.ds_name):
        if mesh.ds_layer[d] >= 1:
            by_entity.setdefault(name_parts(name)[0], []).append(d)
    for pool in by_entity.values():
        rng.shuffle(pool)
    weights = _zipf(len(DOMAINS), 0.6)
    statuses = [status for status, _ in _STATUSES]
    status_weights = [weight for _, weight in _STATUSES]
    for p in range(count):
        domain = _pick(rng, range(len(DOMAINS)), weights)
        slug, domain_name, entities = DOMAINS[domain]
        entity = rng.choice(entities)
        noun, qualifier = rng.choice(_PRODUCT_NOUNS), rng.choice(_QUALIFIERS)
        pool = by_entity.get(entity, [])
        bound = [pool.pop() for _ in range(min(len(pool), rng.choice((1, 1, 2, 2, 3))))]
        label = entity.replace("_", " ")
        phrase, word = rng.choice(PHRASES), rng.choice(BUSINESS_WORDS[:20])
        extras.products.append(
            Product(
                external_id=f"{slug}.{entity.replace('_', '-')}-{noun.lower()}-{p:04d}",
                name=f"{qualifier} {label.title()} {noun}",
                domain=domain,
                team=domain * len(TEAM_KINDS) + rng.randrange(len(TEAM_KINDS)),
                status=rng.choices(statuses, weights=status_weights)[0],
                tags=rng.sample(_PRODUCT_TAGS, rng.choice((0, 1, 1, 2))),
                description=(
                    f"{qualifier} {label} {noun.lower()} for {domain_name}: {phrase} and "
                    f"{word} by day, region and channel."
                ),
                purpose=f"Lets analysts answer {word} questions without reading raw {label}.",
                entity=entity,
                datasets=bound,
                reads=rng.randrange(p) if p and rng.random() < 0.25 else None,
            )
        )


def _plan_datasets(extras: Extras, mesh: Mesh, rng: random.Random) -> None:
    entity_domain = {e: slug for slug, _, entities in reversed(DOMAINS) for e in entities}
    bound = {d for product in extras.products for d in product.datasets}
    pii_schemas = {i for i, s in enumerate(mesh.schemas) if _PII & set(s)}
    pii_tag = {"key": "pii", "value": "true", "source": "CLASSIFIER"}
    words = _zipf(len(BUSINESS_WORDS))
    domain_names = {slug: name for slug, name, _ in DOMAINS}
    used_codenames: dict[str, None] = {}
    used_phrases: dict[str, None] = {}
    for d, name in enumerate(mesh.ds_name):
        entity, suffix = name_parts(name)
        slug = entity_domain.get(entity, "data-platform")
        description = ""
        if rng.random() < 0.75:
            phrase = rng.choice(PHRASES)
            use = rng.choice(_USES).format(
                phrase=phrase,
                domain=domain_names[slug],
                word=_pick(rng, BUSINESS_WORDS, words),
                word2=_pick(rng, BUSINESS_WORDS, words),
                other=rng.choice(sorted(entity_domain)).replace("_", " "),
            )
            if phrase in use:
                used_phrases[phrase] = None
            label = entity.replace("_", " ")
            grain = label[:-1] if label.endswith("s") else f"{label} entry"
            description = (
                f"{label.capitalize()} {_KINDS.get(suffix, suffix)}: one row per {grain}. "
                f"{use} {rng.choice(_CADENCES)}"
            )
            if rng.random() < 0.02:
                codename = rng.choice(CODENAMES)
                used_codenames[codename] = None
                description += f" Part of project {codename.title()}."
        tags = [pii_tag] if mesh.ds_schema[d] in pii_schemas else []
        if d not in bound and rng.random() < 0.03:
            tags.append({"key": "domain", "value": slug})
        owners = []
        if rng.random() < 0.08:
            kind = rng.choice(TEAM_KINDS)
            owners = [{"name": f"team:{slug}-{kind}", "type": "MAINTAINER"}]
        extras.ds_description.append(description)
        extras.ds_tags.append(tags)
        extras.ds_owners.append(owners)
    extras.codenames = list(used_codenames)
    extras.phrases = list(used_phrases)


def _plan_jobs(extras: Extras, mesh: Mesh, rng: random.Random) -> None:
    first_job_ns = len(mesh.namespaces) - len(_JOB_NS)
    teams = [team for team, _ in extras.teams]
    for j in range(len(mesh.job_name)):
        integration = _JOB_NS[mesh.job_namespace[j] - first_job_ns][1]
        sql = "" if integration == "DAGSTER" else job_sql(mesh, j)
        description = ""
        if integration == "DBT":
            outputs = ", ".join(mesh.ds_name[d] for d in mesh.own_outputs(j))
            word = rng.choice(BUSINESS_WORDS[:30])
            description = f"dbt model building {outputs} for {word} reporting."
        owners = []
        if rng.random() < 0.2:
            owners = [{"name": f"team:{rng.choice(teams)}", "type": "MAINTAINER"}]
        extras.job_sql.append(sql)
        extras.job_description.append(description)
        extras.job_owners.append(owners)


def job_sql(mesh: Mesh, job: int) -> str:
    """What the job runs: one ``INSERT … SELECT`` per output over its inputs, joined on
    their key columns, aggregating the numeric columns when it reads more than one table."""
    inputs = [d for d in mesh.job_inputs[job] if d not in mesh.job_outputs[job]][:4]
    if not inputs:
        inputs = list(mesh.job_inputs[job][:1])
    aliases = "abcd"
    columns = {d: mesh.schemas[mesh.ds_schema[d]] for d in inputs}
    sources = [f"{mesh.ds_name[inputs[0]]} AS a"]
    for alias, d in zip(aliases[1:], inputs[1:], strict=False):
        key = columns[d][0]
        sources.append(f"JOIN {mesh.ds_name[d]} AS {alias} ON a.{key} = {alias}.{key}")
    statements = []
    for out in mesh.own_outputs(job):
        picked, grouped = [], []
        for name in mesh.schemas[mesh.ds_schema[out]]:
            alias = next(
                (a for a, d in zip(aliases, inputs, strict=False) if name in columns[d]), "a"
            )
            if len(inputs) > 1 and name in _AGGREGATED:
                picked.append(f"SUM({alias}.{name}) AS {name}")
            else:
                picked.append(f"{alias}.{name}")
                grouped.append(f"{alias}.{name}")
        sql = f"INSERT INTO {mesh.ds_name[out]}\nSELECT {', '.join(picked)}\n"
        sql += "\n".join(f"{'FROM ' if i == 0 else ''}{s}" for i, s in enumerate(sources))
        if "status" in columns[inputs[0]]:
            sql += "\nWHERE a.status <> 'CANCELLED'"
        if len(grouped) < len(picked):
            sql += f"\nGROUP BY {', '.join(grouped)}"
        statements.append(sql + ";")
    return "\n\n".join(statements)


# --- writing ------------------------------------------------------------------------------
# Django is imported inside the functions, as in lineage_synth: the benchmark imports this
# module for its scales before Django is configured.


def write_assets(assets: Assets, *, progress: bool = False) -> dict[str, int]:
    """Write the mesh and its extras into an empty catalog; returns the rows per table."""
    from benchmarks.lineage_synth import write_mesh

    started = time.perf_counter()
    counts = write_mesh(assets.mesh, progress=progress)
    if progress:
        print(f"  mesh: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    started = time.perf_counter()
    counts |= write_extras(assets)
    if progress:
        print(f"  extras: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return counts


def write_extras(assets: Assets) -> dict[str, int]:
    from django.db import transaction

    from catalog.models import DataProduct, Domain

    for model in (Domain, DataProduct):
        if model.objects.exists():
            raise RuntimeError(f"the assets go into an empty catalog; {model.__name__} isn't")
    counts: dict[str, int] = {}
    with transaction.atomic():
        counts |= _update_datasets(assets)
        counts |= _update_jobs(assets)
    with transaction.atomic():
        counts |= _write_organisation(assets.extras)
        counts |= _write_products(assets)
    return counts


def _chunks(items: Sequence[Any], size: int = 20_000) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _update(model: Any, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """``UPDATE`` of ``columns`` by primary key; ``rows`` are (pk, values…) in Python form."""
    from django.db import connection

    fields = [model._meta.get_field(name) for name in columns]
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {sets} WHERE id = %s"
    with connection.cursor() as cursor:
        for chunk in _chunks(rows):
            params = [
                (
                    *(
                        f.get_db_prep_save(v, connection)
                        for f, v in zip(fields, values, strict=True)
                    ),
                    pk,
                )
                for pk, *values in chunk
            ]
            cursor.executemany(sql, params)


def _update_datasets(assets: Assets) -> dict[str, int]:
    from catalog.models import Dataset

    extras = assets.extras
    rows = [
        (d + 1, extras.ds_description[d], extras.ds_tags[d], extras.ds_owners[d])
        for d in range(len(extras.ds_description))
        if extras.ds_description[d] or extras.ds_tags[d] or extras.ds_owners[d]
    ]
    _update(Dataset, ("description", "tags", "owners"), rows)
    return {
        "dataset descriptions": sum(1 for text in extras.ds_description if text),
        "datasets tagged pii": sum(
            1 for tags in extras.ds_tags if any(t["key"] == "pii" for t in tags)
        ),
        "datasets tagged with a domain": sum(
            1 for tags in extras.ds_tags if any(t["key"] == "domain" for t in tags)
        ),
        "datasets with owners": sum(1 for owners in extras.ds_owners if owners),
    }


def _update_jobs(assets: Assets) -> dict[str, int]:
    from lineage.models import Job

    extras = assets.extras
    rows = [
        (j + 1, extras.job_sql[j], extras.job_description[j], extras.job_owners[j])
        for j in range(len(extras.job_sql))
    ]
    _update(Job, ("sql", "description", "owners"), rows)
    return {
        "jobs with sql": sum(1 for sql in extras.job_sql if sql),
        "job descriptions": sum(1 for text in extras.job_description if text),
    }


def _write_organisation(extras: Extras) -> dict[str, int]:
    from catalog.models import Domain, Person, Team, TeamMember

    slugs = {slug: n + 1 for n, (slug, _, _) in enumerate(extras.domains)}
    Domain.objects.bulk_create(
        Domain(
            id=n + 1,
            slug=slug,
            name=name,
            description=f"Everything {name} publishes and owns.",
            parent_id=slugs.get(parent),
        )
        for n, (slug, name, parent) in enumerate(extras.domains)
    )
    Team.objects.bulk_create(
        Team(
            id=n + 1,
            name=name,
            description=f"The {name.replace('-', ' ')} team.",
            domain_id=domain + 1,
        )
        for n, (name, domain) in enumerate(extras.teams)
    )
    Person.objects.bulk_create(
        Person(id=n + 1, username=username, name=name, email=email)
        for n, (username, name, email) in enumerate(extras.people)
    )
    TeamMember.objects.bulk_create(
        TeamMember(id=n + 1, team_id=team + 1, person_id=person + 1, role=role)
        for n, (team, person, role) in enumerate(extras.members)
    )
    _reset_sequences([Domain, Team, Person, TeamMember])
    return {
        "domains": len(extras.domains),
        "teams": len(extras.teams),
        "people": len(extras.people),
        "team members": len(extras.members),
    }


def _write_products(assets: Assets) -> dict[str, int]:
    from catalog.models import (
        Contract,
        DataProduct,
        Port,
        PortBinding,
        SchemaObject,
        SchemaProperty,
    )

    mesh, extras = assets.mesh, assets.extras
    rows: dict[Any, list[Any]] = {
        m: [] for m in (DataProduct, Contract, SchemaObject, SchemaProperty, Port, PortBinding)
    }
    for p, product in enumerate(extras.products):
        pk = p + 1
        namespaces = [mesh.namespaces[mesh.ds_namespace[d]] for d in product.datasets]
        rows[DataProduct].append(
            DataProduct(
                id=pk,
                external_id=product.external_id,
                name=product.name,
                version="1.2.0",
                status=product.status,
                domain_id=product.domain + 1,
                team_id=product.team + 1,
                format="odps",
                purpose=product.purpose,
                description=product.description,
                tags=product.tags,
            )
        )
        rows[Contract].append(
            Contract(
                id=pk,
                product_id=pk,
                external_id=f"{product.external_id}-contract",
                name=f"{product.name} contract",
                version="1.2.0",
                status="active",
                format="odcs",
                description=f"What {product.name} guarantees its consumers.",
                servers=[
                    {"name": f"prod-{n}", "type": platform_of(ns), "environment": "prod"}
                    for n, ns in enumerate(dict.fromkeys(namespaces))
                ],
            )
        )
        rows[Port].append(
            Port(
                id=len(rows[Port]) + 1,
                product_id=pk,
                direction=Port.Direction.OUTPUT,
                name=product.external_id.split(".", 1)[1].replace("-", "_"),
                version="1",
                description=f"{product.name} tables",
                type="table",
                contract_id=pk,
                contract_external_id=f"{product.external_id}-contract",
            )
        )
        output_port = len(rows[Port])
        for ordinal, d in enumerate(product.datasets):
            _schema_object(rows, mesh, pk, output_port, ordinal, d)
        if product.reads is not None:
            source = extras.products[product.reads]
            rows[Port].append(
                Port(
                    id=len(rows[Port]) + 1,
                    product_id=pk,
                    direction=Port.Direction.INPUT,
                    name=f"from_{source.entity}",
                    version="1",
                    source_product=source.external_id,
                )
            )
    for model, objects in rows.items():
        model.objects.bulk_create(objects, batch_size=2_000)
    _reset_sequences(list(rows))
    names = {
        DataProduct: "products",
        Contract: "contracts",
        SchemaObject: "schema objects",
        SchemaProperty: "schema properties",
        Port: "ports",
        PortBinding: "port bindings",
    }
    return {names[model]: len(objects) for model, objects in rows.items()}


def _schema_object(
    rows: dict[Any, list[Any]], mesh: Mesh, product: int, port: int, ordinal: int, d: int
) -> None:
    """A contract object copying dataset ``d``'s columns, and the binding to ``d``."""
    from catalog.models import PortBinding, SchemaObject, SchemaProperty

    name = mesh.ds_name[d]
    entity = name_parts(name)[0].replace("_", " ")
    obj = len(rows[SchemaObject]) + 1
    rows[SchemaObject].append(
        SchemaObject(
            id=obj,
            contract_id=product,
            name=table_name(name),
            physical_name=name,
            physical_type="table",
            description=f"One row per {entity} record, as published.",
            ordinal=ordinal,
        )
    )
    for n, column in enumerate(mesh.schemas[mesh.ds_schema[d]]):
        physical = _FIELD_TYPES[column]
        pii = column in _PII
        rows[SchemaProperty].append(
            SchemaProperty(
                object_id=obj,
                path=column,
                name=column,
                logical_type=_LOGICAL.get(
                    physical, "number" if "NUMERIC" in physical else "string"
                ),
                physical_type=physical,
                description=f"The {column.replace('_', ' ')} of the {entity} record.",
                required=n == 0,
                primary_key=n == 0 or None,
                classification="restricted" if pii else ("internal" if n % 3 == 0 else ""),
                pii=pii or None,
                tags=["pii"] if pii else [],
                ordinal=n,
            )
        )
    rows[PortBinding].append(
        PortBinding(
            port_id=port,
            object_name=table_name(name),
            namespace=mesh.namespaces[mesh.ds_namespace[d]],
            name=name,
            source="explicit",
            server="prod-0",
        )
    )


def _reset_sequences(models: list[Any]) -> None:
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)
