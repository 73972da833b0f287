"""The catalog's searchable things: data products, datasets, domains, teams, people, tags.

Each ``build`` reads a batch in a fixed number of queries. Facet values are normalized
here once: domains by slug (labelled with their names), owners by team name or person
username (``team:`` / ``user:`` prefixes of OpenLineage ownership dropped), tags as
lowercase words (:func:`catalog.tags.tag_words`), platforms as the namespace's scheme.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlencode

from django.db.models import Prefetch, Q
from django.urls import reverse

from catalog.models import (
    Contract,
    DataProduct,
    Dataset,
    DatasetField,
    Domain,
    Person,
    Port,
    PortBinding,
    SchemaProperty,
    Team,
    TeamMember,
)
from catalog.search.base import SearchDocument
from catalog.search.documents import DocumentSource, register_source
from catalog.tags import says_pii, tag_value, tag_words

PII = "pii"  # facet values are lowercase, like the contracts' classifications
MAX_COLUMNS = 2000
MAX_TEXT = 20_000


def search_url(**params: str) -> str:
    return f"{reverse('catalog:search')}?{urlencode(params)}"


def owner_name(raw: Any) -> str:
    """``team:sales-data`` → ``sales-data``; ``user:ana@x`` → ``ana@x``."""
    name = str(raw.get("name", "") if isinstance(raw, dict) else raw).strip()
    for prefix in ("team:", "user:", "group:"):
        if name.lower().startswith(prefix):
            return name[len(prefix) :]
    return name


def platform(namespace: str) -> str:
    scheme, sep, _ = namespace.partition("://")
    return scheme.lower() if sep else ""


def int_keys(keys: Sequence[str]) -> list[int]:
    return [int(k) for k in keys if k.isdigit()]


def _text(*parts: str) -> str:
    return "\n".join(p for p in parts if p)[:MAX_TEXT]


class ModelSource(DocumentSource):
    """Keys are primary keys of ``model``."""

    model: Any = None

    def keys(self) -> Iterator[str]:
        for pk in self.model.objects.order_by("pk").values_list("pk", flat=True).iterator():
            yield str(pk)

    def count(self) -> int:
        return int(self.model.objects.count())


# --- data products -------------------------------------------------------------------


def _product_queryset() -> Any:
    return DataProduct.objects.select_related("domain", "team").prefetch_related(
        Prefetch(
            "team__members",
            queryset=TeamMember.objects.filter(role__in=TeamMember.OWNER_ROLES).select_related(
                "person"
            ),
        ),
        Prefetch(
            "contracts",
            queryset=Contract.objects.prefetch_related("schema_objects__properties"),
        ),
        Prefetch("ports", queryset=Port.objects.prefetch_related("bindings")),
    )


class ProductSource(ModelSource):
    type = "product"
    model = DataProduct

    def build(self, keys: Sequence[str]) -> list[SearchDocument]:
        products = list(_product_queryset().filter(pk__in=int_keys(keys)))
        consumers = _declared_consumers(products)
        return [self._document(p, consumers.get(p.external_id, 0)) for p in products]

    def _document(self, product: DataProduct, consumers: int) -> SearchDocument:
        contracts = list(product.contracts.all())
        objects = [o for c in contracts for o in c.schema_objects.all()]
        properties = [p for o in objects for p in o.properties.all()]
        ports = list(product.ports.all())
        owners = _product_owners(product)
        domain = product.domain
        return SearchDocument(
            id=f"product:{product.pk}",
            type="product",
            name=product.name,
            url=product.get_absolute_url(),
            subtitle=" · ".join(
                x for x in (domain.name if domain else "", product.external_id) if x
            ),
            exact=[product.external_id],
            columns=[o.name for o in objects] + [p.path for p in properties][:MAX_COLUMNS],
            tags=tag_words([*product.tags, *(t for p in properties for t in p.tags)]),
            description=product.description or product.purpose,
            text=_text(
                product.purpose,
                product.usage,
                product.limitations,
                *(f"{port.name} {port.description}" for port in ports),
                *(c.description for c in contracts),
                *(o.description for o in objects),
                *(p.description for p in properties),
            ),
            facets={
                "domain": [domain.slug] if domain else [],
                "owner": owners,
                "tag": tag_words(product.tags),
                "classification": _classifications(properties),
                "platform": sorted(
                    {str(s.get("type", "")).lower() for c in contracts for s in c.servers} - {""}
                ),
                "status": [product.status],
            },
            labels={domain.slug: domain.name} if domain else {},
            consumers=consumers,
            updated_at=product.updated_at,
        )

    def related(self, keys: Sequence[str]) -> set[str]:
        """A product shows on its datasets (domain, owner, status) and names its domain,
        team, owners and tags."""
        pks = int_keys(keys)
        related: set[str] = set()
        bindings = PortBinding.objects.filter(port__product__in=pks)
        pairs = set(bindings.values_list("namespace", "name"))
        related |= {f"dataset:{pk}" for pk in dataset_pks(pairs).values()}
        for domain, team, tags in DataProduct.objects.filter(pk__in=pks).values_list(
            "domain_id", "team_id", "tags"
        ):
            related |= {f"domain:{domain}"} if domain else set()
            related |= {f"team:{team}"} if team else set()
            related |= {f"tag:{word}" for word in tag_words(tags or [])}
        members = TeamMember.objects.filter(team__products__in=pks).values_list("person_id")
        related |= {f"person:{pk}" for (pk,) in members}
        return related


def _product_owners(product: DataProduct) -> list[str]:
    owners = [product.team.name] if product.team else []
    if product.team:
        owners += [m.person.username for m in product.team.members.all()]
    return list(dict.fromkeys(owners))


def _classifications(properties: Iterable[SchemaProperty]) -> list[str]:
    found = {p.classification.lower() for p in properties if p.classification}
    if any(p.pii for p in properties):
        found.add(PII)
    return sorted(found)


def _declared_consumers(products: Sequence[DataProduct]) -> dict[str, int]:
    """How many other products declare an input port reading each product."""
    ids = [p.external_id for p in products]
    rows = (
        Port.objects.filter(direction=Port.Direction.INPUT, source_product__in=ids)
        .values_list("source_product", "product_id")
        .distinct()
    )
    counts: dict[str, int] = defaultdict(int)
    for source, _ in rows:
        counts[source] += 1
    return counts


def dataset_pks(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The primary keys of the datasets named by ``(namespace, name)`` pairs, in one query
    of two ``IN`` lists (an OR per pair would grow the SQL with the batch)."""
    if not pairs:
        return {}
    rows = Dataset.objects.filter(
        namespace__name__in={ns for ns, _ in pairs}, name__in={n for _, n in pairs}
    ).values_list("pk", "namespace__name", "name")
    return {(ns, name): pk for pk, ns, name in rows if (ns, name) in pairs}


# --- datasets --------------------------------------------------------------------------


@dataclass
class _Publisher:
    """What a dataset takes from the product whose output port binds it."""

    products: list[str] = field(default_factory=list)
    domain: Domain | None = None
    owners: list[str] = field(default_factory=list)
    status: str = ""
    pii_columns: set[str] = field(default_factory=set)
    classifications: set[str] = field(default_factory=set)


def _publishers(datasets: Sequence[Dataset]) -> dict[tuple[str, str], _Publisher]:
    keys = {(d.namespace.name, d.name) for d in datasets}
    if not keys:
        return {}
    bindings = (
        PortBinding.objects.filter(
            namespace__in={ns for ns, _ in keys},
            name__in={n for _, n in keys},
            port__direction=Port.Direction.OUTPUT,
        )
        .select_related("port__product__domain", "port__product__team", "port__contract")
        .order_by("pk")
    )
    found: dict[tuple[str, str], _Publisher] = {}
    contract_objects: dict[tuple[int, str], list[tuple[str, str]]] = defaultdict(list)
    for binding in bindings:
        key = (binding.namespace, binding.name)
        if key not in keys:
            continue
        product = binding.port.product
        publisher = found.setdefault(key, _Publisher())
        publisher.products.append(product.name)
        publisher.domain = publisher.domain or product.domain
        publisher.owners += [product.team.name] if product.team else []
        publisher.status = publisher.status or product.status
        if binding.port.contract_id:
            contract_objects[(binding.port.contract_id, binding.object_name)].append(key)
    _add_contract_classes(found, contract_objects)
    return found


def _add_contract_classes(
    found: dict[tuple[str, str], _Publisher],
    contract_objects: dict[tuple[int, str], list[tuple[str, str]]],
) -> None:
    """Classifications and PII columns declared by the bound contracts' properties."""
    if not contract_objects:
        return
    rows = SchemaProperty.objects.filter(
        object__contract_id__in={c for c, _ in contract_objects}
    ).values_list("object__contract_id", "object__name", "name", "classification", "pii")
    for contract, obj, name, classification, pii in rows:
        keys = contract_objects.get((contract, obj)) or contract_objects.get((contract, ""), [])
        for key in keys:
            if classification:
                found[key].classifications.add(classification.lower())
            if pii:
                found[key].pii_columns.add(name)


class DatasetSource(ModelSource):
    type = "dataset"
    model = Dataset

    def build(self, keys: Sequence[str]) -> list[SearchDocument]:
        pks = int_keys(keys)
        datasets = list(
            Dataset.objects.filter(pk__in=pks)
            .select_related("namespace")
            .prefetch_related("symlinks")
        )
        # Fields as rows, not model instances: a dataset has five or more.
        fields: dict[int, list[_Field]] = defaultdict(list)
        rows = DatasetField.objects.filter(dataset_id__in=pks).order_by("dataset_id", "ordinal")
        for dataset_id, *row in rows.values_list(
            "dataset_id", "name", "parent_name", "description", "tags"
        ):
            fields[dataset_id].append(_Field(*row))
        publishers = _publishers(datasets)
        domains = _tag_domains(datasets, publishers)
        return [
            self._document(d, fields[d.pk], publishers.get((d.namespace.name, d.name)), domains)
            for d in datasets
        ]

    def _document(
        self,
        dataset: Dataset,
        fields: list[_Field],
        publisher: _Publisher | None,
        domains: dict[str, Domain],
    ) -> SearchDocument:
        namespace = dataset.namespace.name
        publisher = publisher or _Publisher()
        domain = publisher.domain or domains.get(tag_value(dataset.tags, "domain").lower())
        field_tags = [t for f in fields for t in f.tags]
        pii = says_pii(dataset.tags) or says_pii(field_tags) or bool(publisher.pii_columns)
        classes = publisher.classifications | ({PII} if pii else set())
        status = "dropped" if dataset.is_deleted else (publisher.status or "active")
        return SearchDocument(
            id=f"dataset:{dataset.pk}",
            type="dataset",
            name=dataset.name,
            url=dataset.get_absolute_url(),
            subtitle=namespace,
            exact=[
                f"{namespace}/{dataset.name}",
                f"{namespace}:{dataset.name}",
                f"dataset:{namespace}:{dataset.name}",
                dataset.physical_name,
                *(f"{s.namespace}/{s.name}" for s in dataset.symlinks.all()),
                *(s.name for s in dataset.symlinks.all()),
            ],
            columns=[_field_path(f) for f in fields][:MAX_COLUMNS],
            tags=tag_words([*dataset.tags, *field_tags]),
            description=dataset.description,
            text=_text(*publisher.products, *(f.description for f in fields)),
            facets={
                "domain": [domain.slug] if domain else [],
                "owner": list(dict.fromkeys([*publisher.owners, *map(owner_name, dataset.owners)])),
                "tag": tag_words(dataset.tags),
                "classification": sorted(classes),
                "platform": [p] if (p := platform(namespace)) else [],
                "namespace": [namespace],
                "status": [status],
            },
            labels={domain.slug: domain.name} if domain else {},
            updated_at=dataset.updated_at,
        )

    def related(self, keys: Sequence[str]) -> set[str]:
        """The products binding these datasets show how much they are read."""
        rows = Dataset.objects.filter(pk__in=int_keys(keys)).values_list("namespace__name", "name")
        pairs = set(rows)
        if not pairs:
            return set()
        bound = PortBinding.objects.filter(
            namespace__in={ns for ns, _ in pairs}, name__in={n for _, n in pairs}
        ).values_list("namespace", "name", "port__product_id")
        return {f"product:{pk}" for ns, name, pk in bound if (ns, name) in pairs}


class _Field(NamedTuple):
    name: str
    parent_name: str
    description: str
    tags: list[str]


def _field_path(field: _Field) -> str:
    return f"{field.parent_name}.{field.name}" if field.parent_name else field.name


def _tag_domains(
    datasets: Sequence[Dataset], publishers: dict[tuple[str, str], _Publisher]
) -> dict[str, Domain]:
    """Domains named by ``domain`` tags of datasets that no product publishes."""
    wanted = {
        tag_value(d.tags, "domain").lower()
        for d in datasets
        if (d.namespace.name, d.name) not in publishers
    } - {""}
    if not wanted:
        return {}
    return {d.slug: d for d in Domain.objects.filter(Q(slug__in=wanted))}


# --- domains, teams, people ----------------------------------------------------------


class DomainSource(ModelSource):
    type = "domain"
    model = Domain

    def build(self, keys: Sequence[str]) -> list[SearchDocument]:
        domains = Domain.objects.filter(pk__in=int_keys(keys)).prefetch_related(
            Prefetch("products", queryset=DataProduct.objects.only("domain_id", "name"))
        )
        return [
            SearchDocument(
                id=f"domain:{d.pk}",
                type="domain",
                name=d.name,
                url=d.get_absolute_url(),
                subtitle=f"Domain · {len(d.products.all())} data products",
                exact=[d.slug],
                description=d.description,
                text=_text(*(p.name for p in d.products.all())),
                facets={"domain": [d.slug]},
                labels={d.slug: d.name},
            )
            for d in domains
        ]


class TeamSource(ModelSource):
    type = "team"
    model = Team

    def build(self, keys: Sequence[str]) -> list[SearchDocument]:
        teams = (
            Team.objects.filter(pk__in=int_keys(keys))
            .select_related("domain")
            .prefetch_related("members__person")
        )
        return [self._document(team) for team in teams]

    def _document(self, team: Team) -> SearchDocument:
        people = list(dict.fromkeys(m.person for m in team.members.all()))
        domain = team.domain
        return SearchDocument(
            id=f"team:{team.pk}",
            type="team",
            name=team.name,
            url=search_url(owner=team.name),
            subtitle=f"Team{' · ' + domain.name if domain else ''} · {len(people)} people",
            description=team.description,
            text=_text(*(f"{p.name} {p.username}" for p in people)),
            facets={"domain": [domain.slug] if domain else [], "owner": [team.name]},
            labels={domain.slug: domain.name} if domain else {},
        )


class PersonSource(ModelSource):
    type = "person"
    model = Person

    def build(self, keys: Sequence[str]) -> list[SearchDocument]:
        people = Person.objects.filter(pk__in=int_keys(keys)).prefetch_related(
            Prefetch("memberships", queryset=TeamMember.objects.select_related("team"))
        )
        return [self._document(person) for person in people]

    def _document(self, person: Person) -> SearchDocument:
        memberships = list(person.memberships.all())
        teams = list(dict.fromkeys(m.team.name for m in memberships))
        roles = sorted({m.get_role_display().lower() for m in memberships})
        return SearchDocument(
            id=f"person:{person.pk}",
            type="person",
            name=person.name or person.username,
            url=search_url(owner=person.username),
            subtitle=" · ".join(x for x in (person.email, ", ".join(teams)) if x),
            exact=[person.username, person.email],
            text=_text(", ".join(roles)),
            facets={"owner": [person.username, *teams]},
        )


# --- tags ------------------------------------------------------------------------------


class TagSource(DocumentSource):
    """One document per tag or classification word in use, keyed by the word."""

    type = "tag"

    def _all(self) -> dict[str, set[str]]:
        """Every word in use, with what it is (tag, classification)."""
        found: dict[str, set[str]] = defaultdict(set)
        for tags in DataProduct.objects.values_list("tags", flat=True).iterator():
            for word in tag_words(tags or []):
                found[word].add("tag")
        for tags in Dataset.objects.exclude(tags=[]).values_list("tags", flat=True).iterator():
            for word in tag_words(tags or []):
                found[word].add("tag")
        rows = SchemaProperty.objects.exclude(classification="").values_list("classification")
        for (classification,) in rows.distinct():
            found[classification.lower()].add("classification")
        return found

    def keys(self) -> Iterator[str]:
        yield from sorted(self._all())

    def count(self) -> int:
        return len(self._all())

    def build(self, keys: Sequence[str]) -> list[SearchDocument]:
        documents = []
        for key in keys:
            kinds = self._kinds(key)
            if kinds:
                documents.append(self._document(key, kinds))
        return documents

    def _kinds(self, word: str) -> set[str]:
        """What ``word`` is in use as: a few indexed-free but short-circuiting queries."""
        kinds = set()
        if SchemaProperty.objects.filter(classification__iexact=word).exists():
            kinds.add("classification")
        head = word.split(":", 1)[0]
        for model in (DataProduct, Dataset):
            rows = model.objects.filter(tags__icontains=f'"{head}').values_list("tags", flat=True)
            if any(word in tag_words(tags or []) for tags in rows[:200]):
                kinds.add("tag")
                break
        return kinds

    def build_all(self, batch: int) -> Iterator[SearchDocument]:
        for key, kinds in sorted(self._all().items()):
            yield self._document(key, kinds)

    def _document(self, word: str, kinds: set[str]) -> SearchDocument:
        is_class = "classification" in kinds
        return SearchDocument(
            id=f"tag:{word}",
            type="tag",
            name=word,
            url=search_url(classification=word) if is_class else search_url(tag=word),
            subtitle=" and ".join(sorted(kinds)).capitalize(),
            facets={"tag": [word]} if "tag" in kinds else {"classification": [word]},
        )


for _source in (
    ProductSource(),
    DatasetSource(),
    DomainSource(),
    TeamSource(),
    PersonSource(),
    TagSource(),
):
    register_source(_source)
