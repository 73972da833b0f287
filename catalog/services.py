"""Catalog writes: registering data products from their descriptors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from catalog.audit import Via, actor_of, audit_record, token_recorded
from catalog.consumers import DatasetRef
from catalog.descriptors import DescriptorError, parse_bundle
from catalog.descriptors.binding import bind_product
from catalog.descriptors.diff import breaking_changes, semver_major
from catalog.descriptors.errors import fail
from catalog.descriptors.model import Issue, Product, product_from_dict, to_dict
from catalog.descriptors.model import Property as PropertySpec
from catalog.hooks import product_saved
from catalog.models import (
    ApiToken,
    Contract,
    DataProduct,
    Domain,
    Ownership,
    Port,
    PortBinding,
    ProductRevision,
    ProductStatus,
    SchemaObject,
    SchemaProperty,
    SlaProperty,
    Team,
    TeamMember,
)
from catalog.ownership import entries_from_team, member_party, ownership_sync, persons_ensure
from catalog.roles import grant_of
from catalog.search.documents import expand
from catalog.search.outbox import search_outbox_add
from catalog.selectors import consumers_with_products


class RegistrationRefused(Exception):
    """Base of the refusals a caller turns into a 4xx."""


class DomainForbidden(RegistrationRefused):
    """The token may not publish into the product's domain (403)."""


class BreakingChangeRefused(RegistrationRefused):
    """A breaking change to an active product without a major version bump (409)."""

    def __init__(self, report: list[dict[str, Any]], message: str) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class Registration:
    """What registering a descriptor did (or, with ``dry_run``, would do)."""

    product_id: str
    action: str  # created / updated / unchanged
    product: DataProduct | None = None
    revision: ProductRevision | None = None
    report: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    dry_run: bool = False

    @property
    def breaking(self) -> list[dict[str, Any]]:
        return [f for f in self.report if f["severity"] == "breaking"]


class _DryRun(Exception):
    pass


def content_hash(normalized: Mapping[str, Any]) -> str:
    text = json.dumps(normalized, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def data_product_register(
    *,
    files: Mapping[str, str],
    actor: str,
    source: str,
    token: ApiToken | None = None,
    user: Any = None,
    expected_id: str | None = None,
    accept_breaking: bool = False,
    dry_run: bool = False,
    strict: bool = False,
) -> Registration:
    """Parse, check and store a descriptor bundle as the product's new active revision.

    Raises :class:`DescriptorError` (bad input, 400), :class:`DomainForbidden` (403) or
    :class:`BreakingChangeRefused` (409); on any of them nothing is written. Identical
    content (same normalized JSON as the active revision) is a no-op. Schema errors that
    leave the descriptor usable are warnings, or errors with ``strict``.
    """
    spec = parse_bundle(files, strict=strict)
    _check_identities_fit(spec)
    if expected_id is not None and spec.id != expected_id:
        raise fail("id", f"the descriptor's id {spec.id!r} is not the {expected_id!r} of the URL")
    _check_contract_ids(spec)
    existing = (
        DataProduct.objects.filter(external_id=spec.id)
        .select_related("active_revision", "domain__parent")
        .first()
    )
    _check_domains(token, user, spec, existing)
    normalized = to_dict(spec)
    digest = content_hash(normalized)
    warnings = [asdict(w) for w in spec.warnings]
    active = existing.active_revision if existing else None
    # A product retired since (data_product_retire) is restored by registering it again,
    # even with the content of its last revision.
    retired_since = existing is not None and existing.status != (spec.status or ProductStatus.DRAFT)
    if active is not None and active.content_hash == digest and not retired_since:
        return Registration(
            spec.id, "unchanged", existing, active, active.report, warnings, dry_run
        )
    report = _report(existing, spec) if active is not None else []
    if active is not None and existing is not None and existing.status == ProductStatus.ACTIVE:
        _refuse_unversioned_breaks(
            report, product_from_dict(active.normalized), spec, accept_breaking
        )
    result = Registration(
        spec.id,
        "updated" if existing else "created",
        report=report,
        warnings=warnings,
        dry_run=dry_run,
    )
    try:
        with transaction.atomic():
            result.product, result.revision = _store(
                spec,
                existing,
                files,
                normalized,
                digest,
                report,
                actor,
                source,
                breaking_accepted=bool(
                    accept_breaking and any(f["severity"] == "breaking" for f in report)
                ),
            )
            _audit_publish(result, actor, source)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return result


_VIA = {"api": Via.API, "portal": Via.PORTAL, "admin": Via.ADMIN}


def _audit_publish(result: Registration, actor: str, source: str) -> None:
    product, revision = result.product, result.revision
    assert product is not None and revision is not None
    breaking = sum(1 for f in result.report if f["severity"] == "breaking")
    summary = f"revision {revision.number}, version {product.version or '—'}"
    if breaking:
        summary += f", {breaking} breaking change{'s' if breaking != 1 else ''} accepted"
    audit_record(
        actor=actor,
        via=_VIA.get(source, Via.COMMAND),
        action=f"product.{'published' if result.action == 'created' else 'revised'}",
        target=product.external_id,
        label=product.name or product.external_id,
        summary=summary,
        changes={
            "revision": revision.number,
            "version": product.version,
            "status": product.status,
            "changes": len(result.report),
            "breaking": breaking,
        },
    )


# Columns of what a descriptor names as identities (contract ids: 255): a longer value is
# refused, not cut (two long ids cut alike would be one product). Other text is cut.
_IDENTITY_LENGTHS = {"id": 255, "domain": 200, "subdomain": 200, "team/name": 200}


def _check_identities_fit(spec: Product) -> None:
    """PostgreSQL refuses text past a column (a 500 once the transaction began), SQLite
    keeps it: both are refused here, by path, before anything is written."""
    domain, sub = _domain_slugs(spec)
    values = {
        "id": spec.id,
        "domain": max(spec.domain, domain, key=len),
        "subdomain": max(spec.subdomain, sub, key=len),
        "team/name": spec.team.name,
    }
    values.update({f"contracts/{i}/id": c.id for i, c in enumerate(spec.contracts)})
    limits = {path: _IDENTITY_LENGTHS.get(path, 255) for path in values}
    problems = [
        Issue(path, f"at most {limits[path]} characters, not {len(value)}")
        for path, value in values.items()
        if len(value) > limits[path]
    ]
    if problems:
        raise DescriptorError(problems)


def _check_contract_ids(spec: Product) -> None:
    """An output port's contract must be in the bundle or already registered (a product
    file published alone, its contracts with an earlier revision or another product)."""
    bundled = {c.id for c in spec.contracts}
    named = {p.contract_id for p in spec.output_ports if p.contract_id} - bundled
    if not named:
        return
    known = set(
        Contract.objects.filter(external_id__in=named).values_list("external_id", flat=True)
    )
    problems = [
        Issue(
            f"outputPorts/{index}/contractId",
            f"unknown contractId {port.contract_id!r}: not in this bundle and not registered",
        )
        for index, port in enumerate(spec.output_ports)
        if port.contract_id in named - known
    ]
    if problems:
        raise DescriptorError(problems)


def _check_domains(
    token: ApiToken | None, user: Any, spec: Product, existing: DataProduct | None
) -> None:
    """A token publishes into the domains it is bound to; a user (``user``, when no token
    is used) into their own domains (:mod:`catalog.roles`). Moving a product out of a
    domain needs the right to that domain too."""
    wanted = _domain_slugs(spec)
    if token is not None:
        slugs = {wanted[0]}
        if existing is not None and existing.domain is not None:
            slugs.add(existing.domain.top_slug)
        for slug in sorted(slugs):
            if not token.allows_domain(slug):
                raise DomainForbidden(
                    f"token {token.name!r} may publish into {', '.join(token.domains)}, "
                    f"not into domain {slug!r}"
                )
    elif user is not None:
        grant = grant_of(user)
        if existing is not None and not grant.allows_product(existing):
            raise DomainForbidden(
                f"{user.get_username()} may not edit {existing.external_id!r}: it belongs to "
                f"domain {existing.domain.slug if existing.domain else '?'!r}, and you may "
                f"publish into {grant.describe()}"
            )
        moved = existing is None or existing.domain is None or existing.domain.slug not in wanted
        if moved and not grant.allows_domain(None, wanted):
            raise DomainForbidden(
                f"{user.get_username()} may publish into {grant.describe()}, "
                f"not into domain {wanted[0]!r}"
            )


def _domain_slugs(spec: Product) -> tuple[str, str]:
    """(domain slug, sub-domain slug or "")."""
    domain = slugify(spec.domain) or "unassigned"
    sub = slugify(spec.subdomain)
    return domain, f"{domain}--{sub}" if sub else ""


# --- breaking changes ---------------------------------------------------------------------


def _report(existing: DataProduct | None, spec: Product) -> list[dict[str, Any]]:
    """Findings against the active revision, each breaking one with its consumers."""
    assert existing is not None and existing.active_revision is not None
    old = product_from_dict(existing.active_revision.normalized)
    findings = [asdict(f) for f in breaking_changes(old, spec)]
    breaking = [f for f in findings if f["severity"] == "breaking"]
    if breaking:
        _attach_consumers(existing, breaking)
    return findings


def _attach_consumers(product: DataProduct, findings: list[dict[str, Any]]) -> None:
    """Consumers of the datasets each finding touches, through the product's bindings."""
    bindings = list(
        PortBinding.objects.filter(port__product=product).values_list(
            "port__contract_external_id", "port__name", "object_name", "namespace", "name"
        )
    )
    wanted: dict[int, list[DatasetRef]] = {}
    for index, finding in enumerate(findings):
        column = finding["property_path"].split(".")[0].removesuffix("[]")
        wanted[index] = [
            DatasetRef(ns, name, column)
            for contract_id, _port, obj, ns, name in bindings
            if (not finding["contract_id"] or contract_id == finding["contract_id"])
            and (not finding["object_name"] or not obj or obj == finding["object_name"])
        ]
    found = consumers_with_products(
        sorted(
            {ref for refs in wanted.values() for ref in refs},
            key=lambda r: (r.namespace, r.name, r.field),
        ),
        exclude=product.external_id,
    )
    for index, finding in enumerate(findings):
        finding["consumers"] = [
            {**asdict(c), "writes": [list(w) for w in c.writes], "products": products}
            for ref in wanted[index]
            for c, products in found.get(ref, [])
        ]


def _refuse_unversioned_breaks(
    report: list[dict[str, Any]], old: Product, new: Product, accept: bool
) -> None:
    breaking = [f for f in report if f["severity"] == "breaking"]
    if not breaking or accept or semver_major(old.version, new.version):
        return
    old_versions = {c.id: c.version for c in old.contracts}
    new_versions = {c.id: c.version for c in new.contracts}
    if all(
        f["contract_id"]
        and semver_major(
            old_versions.get(f["contract_id"], ""), new_versions.get(f["contract_id"], "")
        )
        for f in breaking
    ):
        return
    raise BreakingChangeRefused(
        report,
        f"{len(breaking)} breaking change(s) to active product {new.id!r} without a major "
        f"version bump ({old.version or '?'} → {new.version or '?'}); bump the major version "
        "or accept the breaking change explicitly",
    )


# --- storing ------------------------------------------------------------------------------


def _store(
    spec: Product,
    existing: DataProduct | None,
    files: Mapping[str, str],
    normalized: dict[str, Any],
    digest: str,
    report: list[dict[str, Any]],
    actor: str,
    source: str,
    *,
    breaking_accepted: bool,
) -> tuple[DataProduct, ProductRevision]:
    now = timezone.now()
    # What shows the product before the change (datasets it bound, its old team and
    # tags) must be rebuilt too; what shows it afterwards is found when the writer runs.
    shown_before = expand([f"product:{existing.pk}"]) if existing else set()
    product = existing or DataProduct(external_id=spec.id, created_at=now)
    product.name = (spec.name or spec.id)[:255]
    product.version = spec.version[:64]
    product.status = spec.status or ProductStatus.DRAFT
    product.domain = _domain(spec)
    product.team = _team(spec, product.domain)
    product.format = spec.format
    product.purpose, product.usage = spec.purpose, spec.usage
    product.limitations, product.description = spec.limitations, spec.description
    product.tags = spec.tags
    product.support = [asdict(s) for s in spec.support]
    product.custom_properties = spec.custom_properties
    product.updated_at = now
    product.save()
    number = (product.revisions.aggregate(n=Max("number"))["n"] or 0) + 1
    revision = ProductRevision.objects.create(
        product=product,
        number=number,
        version=spec.version[:64],
        content_hash=digest,
        files=dict(files),
        normalized=normalized,
        warnings=normalized["warnings"],
        report=report,
        breaking_accepted=breaking_accepted,
        actor=actor[:255],
        source=source,
        created_at=now,
    )
    product.active_revision = revision
    product.save(update_fields=["active_revision"])
    _replace_parts(product, spec)
    ownership_sync(
        target=product,
        entries=entries_from_team(spec.team, product.team.name if product.team else ""),
        source=Ownership.Source.DESCRIPTOR,
        actor=actor,
    )
    product_saved(product)
    search_outbox_add(shown_before | {f"product:{product.pk}"})
    return product, revision


def _domain(spec: Product) -> Domain:
    slug, sub_slug = _domain_slugs(spec)
    domain, _ = Domain.objects.get_or_create(slug=slug, defaults={"name": spec.domain or slug})
    if not sub_slug:
        return domain
    sub, _ = Domain.objects.get_or_create(
        slug=sub_slug, defaults={"name": spec.subdomain, "parent": domain}
    )
    return sub


def _team(spec: Product, domain: Domain) -> Team | None:
    if not spec.team.name and not spec.team.members:
        return None
    team, _ = Team.objects.get_or_create(
        name=spec.team.name or f"{spec.name or spec.id}"[:195] + " team",
        defaults={"description": spec.team.description, "domain": domain},
    )
    if team.domain_id is None or (spec.team.description and not team.description):
        # A team first named by a lineage facet (``team:<name>``) knows neither yet.
        team.description = team.description or spec.team.description
        team.domain = team.domain or domain
        team.save(update_fields=["description", "domain"])
    TeamMember.objects.filter(team=team).delete()
    named = [(m, party) for m in spec.team.members if (party := member_party(m)) is not None]
    persons = persons_ensure(party for _, party in named)
    members = [
        TeamMember(team=team, person=persons[party], role=m.role, role_raw=m.role_raw[:255])
        for m, party in named
    ]
    TeamMember.objects.bulk_create(members, ignore_conflicts=True)
    return team


def _replace_parts(product: DataProduct, spec: Product) -> None:
    """Rebuild contracts, schemas, SLAs, ports and bindings from the new revision."""
    product.ports.all().delete()
    product.contracts.all().delete()
    contracts = {
        c.id: Contract(
            product=product,
            external_id=c.id,
            name=c.name[:255],
            version=c.version[:64],
            status=c.status,
            format=c.format,
            description=c.description or c.purpose,
            servers=[asdict(s) for s in c.servers],
            quality=[asdict(q) for q in c.quality],
        )
        for c in spec.contracts
    }
    Contract.objects.bulk_create(contracts.values())
    objects, properties, slas = [], [], []
    for c in spec.contracts:
        contract = contracts[c.id]
        for sla in c.sla:
            slas.append(
                SlaProperty(
                    contract=contract,
                    kind=sla.kind[:32],
                    property=sla.property[:64],
                    value=sla.value,
                    unit=sla.unit[:32],
                    element=sla.element[:1024],
                    duration_seconds=sla.duration_seconds,
                    percent=sla.percent,
                    raw=sla.raw[:255],
                )
            )
        for ordinal, obj in enumerate(c.objects):
            row = SchemaObject(
                contract=contract,
                name=obj.name[:255],
                physical_name=obj.physical_name[:1024],
                physical_type=obj.physical_type[:64],
                description=obj.description,
                ordinal=ordinal,
            )
            objects.append((row, obj.properties))
    SchemaObject.objects.bulk_create([row for row, _ in objects])
    for row, props in objects:
        properties += _property_rows(row, props)
    SchemaProperty.objects.bulk_create(properties, batch_size=500)
    SlaProperty.objects.bulk_create(slas)
    ports = {}
    for direction, specs in (
        (Port.Direction.OUTPUT, spec.output_ports),
        (Port.Direction.INPUT, spec.input_ports),
    ):
        for p in specs:
            ports[(direction, p.name, p.version)] = Port(
                product=product,
                direction=direction,
                name=p.name[:255],
                version=p.version[:64],
                description=p.description,
                type=p.type[:64],
                contract_external_id=p.contract_id[:255],
                contract=contracts.get(p.contract_id),
                source_product=p.source_product[:255],
                source_port=p.source_port[:255],
                custom_properties=p.custom_properties,
            )
    Port.objects.bulk_create(ports.values())
    bindings, _issues = bind_product(spec)
    PortBinding.objects.bulk_create(
        PortBinding(
            port=ports[(Port.Direction.OUTPUT, b.port_name, b.port_version)],
            object_name=b.object_name[:255],
            namespace=b.namespace[:1024],
            name=b.name[:1024],
            source=b.source,
            server=b.server[:255],
        )
        for b in bindings
        if (Port.Direction.OUTPUT, b.port_name, b.port_version) in ports
    )


def _property_rows(
    obj: SchemaObject, props: list[PropertySpec], depth: int = 0, start: int = 0
) -> list[SchemaProperty]:
    rows: list[SchemaProperty] = []
    for prop in props:
        rows.append(
            SchemaProperty(
                object=obj,
                path=(prop.path or prop.name)[:1024],
                name=prop.name[:255],
                depth=depth,
                logical_type=prop.logical_type[:64],
                physical_type=prop.physical_type[:255],
                description=prop.description,
                required=prop.required,
                unique=prop.unique,
                primary_key=prop.primary_key,
                classification=prop.classification[:64],
                pii=prop.pii,
                critical=prop.critical,
                tags=prop.tags,
                ordinal=start + len(rows),
            )
        )
        children = list(prop.properties)
        if prop.items is not None:
            children += prop.items.properties
        rows += _property_rows(obj, children, depth + 1, start + len(rows))
    return rows


# --- retiring -----------------------------------------------------------------------------


def data_product_retire(
    *,
    product: DataProduct,
    token: ApiToken | None = None,
    user: Any = None,
    actor: tuple[str, str] | None = None,
) -> DataProduct:
    """Retire a product: it stays in the catalog, with its history, as ``retired``.
    ``actor``: ``(who, via)`` for the audit log when neither a token nor a user acts (a
    command)."""
    if token is not None and product.domain and not token.allows_domain(product.domain.top_slug):
        raise DomainForbidden(f"token {token.name!r} may not retire products of this domain")
    if token is None and user is not None and not grant_of(user).allows_product(product):
        raise DomainForbidden(f"{user.get_username()} may not retire products of this domain")
    before = product.status
    product.status = ProductStatus.RETIRED
    product.updated_at = timezone.now()
    who, via = actor or actor_of(token=token, user=user)
    with transaction.atomic():
        product.save(update_fields=["status", "updated_at"])
        search_outbox_add([f"product:{product.pk}"])
        audit_record(
            actor=who,
            via=via,
            action="product.retired",
            target=product.external_id,
            label=product.name or product.external_id,
            changes={"status": [before, product.status]},
        )
    return product


def api_token_issue(
    *, name: str, scopes: list[str], actor: str, via: str, **extra: Any
) -> tuple[ApiToken, str]:
    """Issue a token (``extra``: ``domains``, ``expires_at``, ``created_by``) and record
    who did; returns it with its secret, which is shown once and never stored."""
    with transaction.atomic():
        token, secret = ApiToken.issue(name=name, scopes=scopes, **extra)
        token_recorded(token, "issued", actor=actor, via=via)
    return token, secret


def api_token_revoke(*, token: ApiToken, actor: str, via: str) -> None:
    if token.revoked_at is not None:
        return
    with transaction.atomic():
        token.revoke()
        token_recorded(token, "revoked", actor=actor, via=via)


def issues_as_dicts(error: DescriptorError) -> list[dict[str, str]]:
    return [asdict(issue) for issue in error.issues]


__all__ = [
    "BreakingChangeRefused",
    "DomainForbidden",
    "Issue",
    "Registration",
    "RegistrationRefused",
    "data_product_register",
    "data_product_retire",
    "issues_as_dicts",
]
