"""The registry: namespaces, datasets and their fields, versions, aliases, API tokens,
and the data products domain teams publish (domains, teams, people, products, ports,
contracts and their schemas, revisions)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Namespace(models.Model):
    """An OpenLineage namespace: where jobs run or datasets live (``postgres://db:5432``)."""

    name = models.CharField(max_length=1024, unique=True)
    description = models.TextField(blank=True)
    owner_name = models.CharField(max_length=255, default="anonymous")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Dataset(models.Model):
    """A dataset as lineage sees it, identified by ``(namespace, name)``.

    Holds the latest description; history lives in :class:`DatasetVersion` (schema
    changes) and :class:`DatasetLifecycleEvent` (drops and renames).
    """

    class Type(models.TextChoices):
        DB_TABLE = "DB_TABLE"
        STREAM = "STREAM"

    namespace = models.ForeignKey(Namespace, on_delete=models.PROTECT, related_name="datasets")
    name = models.CharField(max_length=1024)
    type = models.CharField(max_length=32, choices=Type.choices, default=Type.DB_TABLE)
    # datasetType facet: TABLE, VIEW, TOPIC, FILE, MODEL...
    subtype = models.CharField(max_length=64, blank=True)
    source_name = models.CharField(max_length=1024, blank=True)
    source_uri = models.CharField(max_length=2048, blank=True)
    physical_name = models.CharField(max_length=1024, blank=True)
    description = models.TextField(blank=True)
    owners = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)
    facets = models.JSONField(default=dict, blank=True)
    current_version = models.ForeignKey(
        "DatasetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Hash of the current schema, so a schema change is spotted without a join.
    schema_hash = models.CharField(max_length=64, blank=True)
    lifecycle_state = models.CharField(max_length=32, blank=True)
    is_deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Time of the last successful write observed (a COMPLETE run that output it).
    last_modified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["namespace__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["namespace", "name"], name="dataset_ns_name_uniq")
        ]
        indexes = [models.Index(fields=["-updated_at"], name="dataset_updated_idx")]

    def __str__(self) -> str:
        return f"{self.namespace.name}:{self.name}"

    def get_absolute_url(self) -> str:
        return reverse("catalog:dataset-detail", args=[self.pk])

    @property
    def node_id(self) -> str:
        return f"dataset:{self.namespace.name}:{self.name}"


class DatasetVersion(models.Model):
    """A dataset's schema as of a change: a new row only when the schema hash changes."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    version = models.UUIDField(default=uuid.uuid4, unique=True)
    schema_hash = models.CharField(max_length=64)
    fields = models.JSONField(default=list)
    facets = models.JSONField(default=dict, blank=True)
    lifecycle_state = models.CharField(max_length=32, blank=True)
    # The run that produced this version; a plain UUID because catalog does not
    # import lineage (the run may also not exist yet when events arrive out of order).
    run_uuid = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "schema_hash"], name="dataset_version_schema_uniq"
            )
        ]


class DatasetField(models.Model):
    """A column of a dataset's current schema; nested fields are named by dotted path."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="schema_fields")
    name = models.CharField(max_length=1024)
    # Dotted path of the enclosing struct field, "" at the top level.
    parent_name = models.CharField(max_length=1024, blank=True)
    type = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    ordinal = models.PositiveIntegerField(default=0)
    tags = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["dataset", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="dataset_field_uniq")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def depth(self) -> int:
        return self.parent_name.count(".") + 1 if self.parent_name else 0


class DatasetSymlink(models.Model):
    """Another identifier of the same dataset (``symlinks`` facet: a table behind a path)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="symlinks")
    namespace = models.CharField(max_length=1024)
    name = models.CharField(max_length=1024)
    type = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["namespace", "name"], name="dataset_symlink_uniq")
        ]


class DatasetLifecycleEvent(models.Model):
    """A ``lifecycleStateChange``: DROP or RENAME is kept as history, never deletes the past.

    For ``RENAME`` the new dataset records where it came from (``related_*`` = previous
    identifier), and the old one gets a ``RENAMED`` row naming where it went.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="lifecycle")
    state = models.CharField(max_length=32)
    related_namespace = models.CharField(max_length=1024, blank=True)
    related_name = models.CharField(max_length=1024, blank=True)
    run_uuid = models.UUIDField(null=True, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]


# --- API tokens -----------------------------------------------------------------------


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A bearer token for machines. Only a SHA-256 of the secret is stored.

    The secret looks like ``mp_<prefix>_<random>``; the prefix is stored in clear so that a
    leaked token can be identified (and revoked) without the secret.
    """

    SCOPES = [
        ("lineage:write", "Post OpenLineage events"),
        ("products:write", "Register and edit data products"),
        ("governance:write", "Manage ownership, SLOs and webhooks"),
        ("admin", "Everything"),
    ]

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    hashed_secret = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    # Domain slugs this token may publish into; empty means every domain.
    domains = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def issue(cls, *, name: str, scopes: list[str], **extra: Any) -> tuple[ApiToken, str]:
        """Create a token and return it with its secret, which is never stored."""
        prefix = secrets.token_hex(4)
        secret = f"mp_{prefix}_{secrets.token_urlsafe(32)}"
        token = cls.objects.create(
            name=name,
            prefix=prefix,
            hashed_secret=cls.hash_secret(secret),
            scopes=sorted(set(scopes)),
            **extra,
        )
        return token, secret

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def allows_domain(self, slug: str) -> bool:
        return not self.domains or slug in self.domains or "admin" in self.scopes

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


# --- domains, teams, people ---------------------------------------------------------------


class Domain(models.Model):
    """A business domain; ``parent`` makes sub-domains (``sales`` → ``sales/orders``)."""

    slug = models.SlugField(max_length=200, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:domain-detail", args=[self.slug])

    @property
    def top_slug(self) -> str:
        """The slug of the top-level domain: tokens are bound to those."""
        return self.parent.slug if self.parent_id and self.parent else self.slug


class Team(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    domain = models.ForeignKey(
        Domain, null=True, blank=True, on_delete=models.SET_NULL, related_name="teams"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    """Someone named in a descriptor; tied to a portal user when the username matches."""

    username = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=255, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.name or self.username


class TeamMember(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        TECHNICAL_OWNER = "technical_owner"
        BUSINESS_OWNER = "business_owner"
        STEWARD = "steward"
        MEMBER = "member"

    # The roles that answer for a product: shown as its owners.
    OWNER_ROLES = (Role.OWNER, Role.BUSINESS_OWNER, Role.TECHNICAL_OWNER)

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.MEMBER)
    role_raw = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["team", "role", "person"]
        constraints = [
            models.UniqueConstraint(fields=["team", "person", "role"], name="team_member_uniq")
        ]


# --- data products ------------------------------------------------------------------------


class ProductStatus(models.TextChoices):
    PROPOSED = "proposed"
    DRAFT = "draft"
    ACTIVE = "active"
    DEPRECATED = "deprecated"
    RETIRED = "retired"


class DataProduct(models.Model):
    """A data product as its active revision describes it.

    The descriptor is the source of truth: every column here is rebuilt from the active
    :class:`ProductRevision`'s normalized JSON when a revision is registered.
    """

    external_id = models.CharField(max_length=255, unique=True)  # the descriptor's id
    name = models.CharField(max_length=255)
    version = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=ProductStatus.choices, default=ProductStatus.DRAFT
    )
    domain = models.ForeignKey(
        Domain, null=True, blank=True, on_delete=models.PROTECT, related_name="products"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="products"
    )
    format = models.CharField(max_length=16)
    purpose = models.TextField(blank=True)
    usage = models.TextField(blank=True)
    limitations = models.TextField(blank=True)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    support = models.JSONField(default=list, blank=True)
    custom_properties = models.JSONField(default=dict, blank=True)
    active_revision = models.ForeignKey(
        "ProductRevision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "external_id"]
        indexes = [models.Index(fields=["status"], name="product_status_idx")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:product-detail", args=[self.external_id])


class ProductRevision(models.Model):
    """One accepted descriptor: raw text, normalized JSON, hash, who, when, and the
    breaking-change report against the revision it replaced."""

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    version = models.CharField(max_length=64, blank=True)
    content_hash = models.CharField(max_length=64)
    files = models.JSONField()  # {file name: text} as uploaded
    normalized = models.JSONField()
    warnings = models.JSONField(default=list, blank=True)
    report = models.JSONField(default=list, blank=True)  # breaking-change findings
    breaking_accepted = models.BooleanField(default=False)
    actor = models.CharField(max_length=255, blank=True)  # user or token name
    source = models.CharField(max_length=32, blank=True)  # api, cli, portal, demo
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["product", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["product", "number"], name="revision_number_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.product.external_id} r{self.number}"

    @property
    def breaking(self) -> list[dict[str, Any]]:
        return [f for f in self.report if f.get("severity") == "breaking"]


class Contract(models.Model):
    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="contracts")
    external_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True)
    version = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, blank=True)
    format = models.CharField(max_length=16)
    description = models.TextField(blank=True)
    servers = models.JSONField(default=list, blank=True)
    quality = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["product", "external_id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "external_id"], name="contract_uniq")
        ]

    def __str__(self) -> str:
        return self.name or self.external_id


class Port(models.Model):
    class Direction(models.TextChoices):
        INPUT = "input"
        OUTPUT = "output"

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="ports")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    name = models.CharField(max_length=255)
    version = models.CharField(max_length=64, blank=True)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=64, blank=True)
    contract_external_id = models.CharField(max_length=255, blank=True)
    contract = models.ForeignKey(
        Contract, null=True, blank=True, on_delete=models.SET_NULL, related_name="ports"
    )
    # Input ports: the product (and port) they read, when the descriptor says or when the
    # contract they name belongs to another product's output port.
    source_product = models.CharField(max_length=255, blank=True)
    source_port = models.CharField(max_length=255, blank=True)
    custom_properties = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["product", "direction", "name", "version"]

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()


class SchemaObject(models.Model):
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="schema_objects")
    name = models.CharField(max_length=255)
    physical_name = models.CharField(max_length=1024, blank=True)
    physical_type = models.CharField(max_length=64, blank=True)
    description = models.TextField(blank=True)
    ordinal = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["contract", "ordinal"]

    def __str__(self) -> str:
        return self.name


class SchemaProperty(models.Model):
    """A column or nested field of a contract object; ``path`` is dotted (``address.city``)."""

    object = models.ForeignKey(SchemaObject, on_delete=models.CASCADE, related_name="properties")
    path = models.CharField(max_length=1024)
    name = models.CharField(max_length=255)
    depth = models.PositiveSmallIntegerField(default=0)
    logical_type = models.CharField(max_length=64, blank=True)
    physical_type = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    required = models.BooleanField(null=True)
    unique = models.BooleanField(null=True)
    primary_key = models.BooleanField(null=True)
    classification = models.CharField(max_length=64, blank=True)
    pii = models.BooleanField(null=True)
    critical = models.BooleanField(null=True)
    tags = models.JSONField(default=list, blank=True)
    ordinal = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["object", "ordinal"]

    def __str__(self) -> str:
        return self.path


class SlaProperty(models.Model):
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="sla")
    kind = models.CharField(max_length=32)  # latency, frequency, availability, retention, other
    property = models.CharField(max_length=64, blank=True)
    value = models.JSONField(null=True)
    unit = models.CharField(max_length=32, blank=True)
    element = models.CharField(max_length=1024, blank=True)
    duration_seconds = models.FloatField(null=True)
    percent = models.FloatField(null=True)
    raw = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["contract", "kind", "id"]


class PortBinding(models.Model):
    """An output port's contract object is the lineage dataset ``(namespace, name)``.

    Names, not a foreign key: the dataset may be registered before lineage first sees it.
    """

    port = models.ForeignKey(Port, on_delete=models.CASCADE, related_name="bindings")
    object_name = models.CharField(max_length=255, blank=True)
    namespace = models.CharField(max_length=1024)
    name = models.CharField(max_length=1024)
    source = models.CharField(max_length=16)  # explicit / derived
    server = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["port", "namespace", "name"]
        indexes = [models.Index(fields=["namespace", "name"], name="binding_dataset_idx")]

    @property
    def node_id(self) -> str:
        return f"dataset:{self.namespace}:{self.name}"


class SearchOutbox(models.Model):
    """A search document to refresh, queued in the transaction that changed it.

    ``doc_id`` is ``<type>:<key>`` (``dataset:42``). The search writer
    (``catalog.search.outbox``) reads the oldest rows, rebuilds those documents from the
    database, commits them to the index and only then deletes the rows: a crash in between
    leaves them queued, and applying one twice is harmless.
    """

    doc_id = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.doc_id


# --- ownership ----------------------------------------------------------------------------

OWNERSHIP_TARGETS = ("domain", "product", "dataset")
OWNERSHIP_PARTIES = ("person", "team")


def _exactly_one(*fields: str) -> models.Q:
    """The condition that exactly one of the nullable foreign keys ``fields`` is set."""
    condition = models.Q()
    for name in fields:
        nulls = {f"{other}__isnull": other != name for other in fields}
        condition |= models.Q(**nulls)
    return condition


class Ownership(models.Model):
    """A role that a person or a team holds on a domain, a data product or a dataset.

    ``source`` says where it came from: a sync from one source (a descriptor upload, an
    OpenLineage ``ownership`` facet) replaces only that source's rows, so a steward's
    portal edit survives the next upload. The foreign keys are indexed, which serves the
    lookups by person, team and each target.
    """

    class Role(models.TextChoices):
        # The values of TeamMember.Role, without "member": membership is not a role on data.
        OWNER = "owner"
        TECHNICAL_OWNER = "technical_owner"
        BUSINESS_OWNER = "business_owner"
        STEWARD = "steward"

    class Source(models.TextChoices):
        DESCRIPTOR = "descriptor"
        OPENLINEAGE = "openlineage", "OpenLineage"
        PORTAL = "portal"
        API = "api", "API"

    # The roles that answer for a product: shown as its owners.
    OWNER_ROLES = (Role.OWNER, Role.TECHNICAL_OWNER, Role.BUSINESS_OWNER)

    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="ownerships"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="ownerships"
    )
    domain = models.ForeignKey(
        Domain, null=True, blank=True, on_delete=models.CASCADE, related_name="ownerships"
    )
    product = models.ForeignKey(
        DataProduct, null=True, blank=True, on_delete=models.CASCADE, related_name="ownerships"
    )
    dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.CASCADE, related_name="ownerships"
    )
    role = models.CharField(max_length=32, choices=Role.choices)
    role_raw = models.CharField(max_length=255, blank=True)  # as the source wrote it
    source = models.CharField(max_length=16, choices=Source.choices)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=255, blank=True)  # username or token name

    class Meta:
        ordering = ["role", "id"]
        constraints = [
            models.CheckConstraint(
                condition=_exactly_one(*OWNERSHIP_PARTIES), name="ownership_one_party"
            ),
            models.CheckConstraint(
                condition=_exactly_one(*OWNERSHIP_TARGETS), name="ownership_one_target"
            ),
            # One constraint per (target, party) pair: a plain unique over nullable columns
            # would say nothing about the rows where one of them is NULL.
            *[
                models.UniqueConstraint(
                    fields=[target, party, "role"],
                    condition=models.Q(**{f"{target}__isnull": False, f"{party}__isnull": False}),
                    name=f"ownership_{target}_{party}_uniq",
                )
                for target in OWNERSHIP_TARGETS
                for party in OWNERSHIP_PARTIES
            ],
        ]

    def __str__(self) -> str:
        return f"{self.party_label} is {self.role} of {self.target_kind} {self.target_label}"

    @property
    def target_kind(self) -> str:
        return next(kind for kind in OWNERSHIP_TARGETS if getattr(self, f"{kind}_id"))

    @property
    def target(self) -> Domain | DataProduct | Dataset:
        return getattr(self, self.target_kind)  # type: ignore[no-any-return]

    @property
    def target_label(self) -> str:
        return ownership_target_label(self.target)

    @property
    def party_kind(self) -> str:
        return "person" if self.person_id else "team"

    @property
    def party(self) -> Person | Team:
        return self.person if self.person is not None else self.team  # type: ignore[return-value]

    @property
    def party_label(self) -> str:
        return self.person.username if self.person is not None else str(self.team)

    @property
    def is_owner(self) -> bool:
        return self.role in self.OWNER_ROLES


def ownership_target_kind(target: Domain | DataProduct | Dataset) -> str:
    return {Domain: "domain", DataProduct: "product", Dataset: "dataset"}[type(target)]


def ownership_target_label(target: Domain | DataProduct | Dataset) -> str:
    """How history names a target, so that it still reads after the target is deleted."""
    if isinstance(target, Dataset):
        return f"{target.namespace.name}:{target.name}"[:1024]
    if isinstance(target, DataProduct):
        return target.external_id
    return target.slug


class OwnershipChange(models.Model):
    """One ownership added or removed: the history of who answered for what.

    The foreign keys are ``SET_NULL`` and the labels copies, so that history outlives the
    people, teams and targets it names.
    """

    class Action(models.TextChoices):
        ADDED = "added"
        REMOVED = "removed"

    target_kind = models.CharField(max_length=16)  # domain / product / dataset
    domain = models.ForeignKey(
        Domain, null=True, blank=True, on_delete=models.SET_NULL, related_name="ownership_changes"
    )
    product = models.ForeignKey(
        DataProduct,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ownership_changes",
    )
    dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="ownership_changes"
    )
    target_label = models.CharField(max_length=1024)
    party_kind = models.CharField(max_length=8)  # person / team
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="ownership_changes"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="ownership_changes"
    )
    party_label = models.CharField(max_length=255)
    role = models.CharField(max_length=32, choices=Ownership.Role.choices)
    action = models.CharField(max_length=8, choices=Action.choices)
    source = models.CharField(max_length=16, choices=Ownership.Source.choices)
    actor = models.CharField(max_length=255, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["-at", "-id"], name="ownership_change_at_idx")]

    def __str__(self) -> str:
        return f"{self.action} {self.party_label} as {self.role} of {self.target_label}"


# --- audit ------------------------------------------------------------------------------------


class AuditEntry(models.Model):
    """Who changed what, when and through which door: one row per change to products,
    ownership, SLOs, scorecards, waivers, webhooks and tokens, written in the transaction
    of the change itself (see ``catalog.audit``). Append-only."""

    class Via(models.TextChoices):
        PORTAL = "portal", "Portal"
        API = "api", "API"
        ADMIN = "admin", "Admin"
        COMMAND = "command", "Command"
        FILE = "file", "File"

    at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=255)
    via = models.CharField(max_length=8, choices=Via.choices)
    action = models.CharField(max_length=48)  # "<target type>.<verb>": "product.published"
    target_type = models.CharField(max_length=16)
    target = models.CharField(max_length=255)  # the key a page links by: external id, slug, pk
    target_label = models.CharField(max_length=1024)
    summary = models.TextField(blank=True)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["-at", "-id"], name="audit_at_idx"),
            models.Index(fields=["target_type", "target"], name="audit_target_idx"),
            models.Index(fields=["actor", "-at"], name="audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target_label}"


# --- login throttling -------------------------------------------------------------------------


class LoginFailure(models.Model):
    """A failed login to the portal, kept while it counts against the throttle window
    (``meshport.access``). In the database, not a per-process cache, so that every web
    process counts the same failures."""

    username = models.CharField(max_length=150, blank=True)  # as typed, lower-cased
    ip = models.CharField(max_length=45, blank=True)  # "" when the address is unknown
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["username", "at"], name="login_failure_user_idx"),
            models.Index(fields=["ip", "at"], name="login_failure_ip_idx"),
            models.Index(fields=["at"], name="login_failure_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username or '-'} from {self.ip or '?'}"


# --- search on PostgreSQL ---------------------------------------------------------------------


class SearchEntry(models.Model):
    """One document of the PostgreSQL search index (``catalog.search.postgres_backend``).

    ``document`` holds what a hit shows; ``rank`` is the document's rank multiplier and
    ``updated`` its last update in epoch seconds (0: never), as the whoosh index stores
    them. On PostgreSQL the migration adds what only PostgreSQL can index: ``terms``
    (a ``tsvector`` of field-tagged terms, GIN), ``facet_terms`` (``text[]`` of
    ``facet\\x1evalue``, GIN) and ``lengths`` (``real[]``, each scored field's length).
    The backend writes rows with SQL of its own; on SQLite the table only exists.
    """

    id = models.CharField(max_length=300, primary_key=True)
    type = models.CharField(max_length=16)
    name = models.TextField()
    sort_name = models.TextField()  # lowercased name, compared byte by byte
    document = models.JSONField(default=dict)
    fingerprint = models.CharField(max_length=32)
    rank = models.FloatField(default=1.0)
    updated = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "search entries"
        # Browsing without words or filters reads a page in order, not every row.
        indexes = [
            models.Index(fields=["-rank"], name="search_entry_rank"),
            models.Index(fields=["sort_name", "id"], name="search_entry_name"),
            models.Index(fields=["-updated"], name="search_entry_updated"),
            models.Index(fields=["type"], name="search_entry_type"),
        ]

    def __str__(self) -> str:
        return self.id


class SearchTerm(models.Model):
    """A term of the PostgreSQL search index and how many documents hold it (idf, typo
    corrections, facet counts without a query).

    ``term`` is ``<field code>:<term>`` as in ``SearchEntry.terms`` (``n:customer``,
    ``n:sales region``); ``f:<facet>\\x1e<value>`` counts a facet value. ``n#`` describes
    a field: documents with a name, and their ``length`` summed (BM25's average length);
    ``*:`` counts all documents; ``*:format`` holds the layout (``docs``) the index was
    written in.
    """

    term = models.TextField(primary_key=True)
    docs = models.IntegerField(default=0)
    length = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.term} ({self.docs})"


class SearchLabel(models.Model):
    """A facet value's display name (a domain's slug → its name) in the PostgreSQL index."""

    value = models.TextField(primary_key=True)
    label = models.TextField()

    def __str__(self) -> str:
        return f"{self.value}: {self.label}"
