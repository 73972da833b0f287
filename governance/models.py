"""Governance: service-level objectives computed from lineage, scorecards with their runs
and waivers, and webhook notifications."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.db import models
from django.urls import reverse
from django.utils import timezone

from catalog.models import DataProduct, Domain, PortBinding

DAY = 86400.0


class SloState(models.TextChoices):
    MET = "met"
    BREACHED = "breached"
    UNKNOWN = "unknown"


class SloKind(models.TextChoices):
    FRESHNESS = "freshness"
    VOLUME = "volume"
    QUALITY = "quality"
    PIPELINE_SUCCESS = "pipeline_success", "Pipeline success"
    SCHEMA_STABILITY = "schema_stability", "Schema stability"


BURNING = 1.0  # a 1-day burn rate above this spends the 28-day budget before its time


class SloQuerySet(models.QuerySet["Slo"]):
    def enabled(self) -> SloQuerySet:
        return self.filter(enabled=True)

    def bound_to(self, keys: set[tuple[str, str]]) -> SloQuerySet:
        """SLOs that name one of the datasets ``(namespace, name)`` or belong to a product
        whose output ports are bound to one."""
        if not keys:
            return self.none()
        explicit = models.Q()
        bound = models.Q()
        for namespace, name in keys:
            explicit |= models.Q(namespace=namespace, dataset_name=name)
            bound |= models.Q(namespace=namespace, name=name)
        products = PortBinding.objects.filter(bound, port__direction="output").values(
            "port__product_id"
        )
        return self.filter(explicit | models.Q(namespace="", product_id__in=products))


class Slo(models.Model):
    """A promise about a product's output (or one dataset), evaluated from lineage.

    The promise is ``kind`` with its threshold (``threshold_seconds``, ``min_rows`` …);
    ``objective`` is the share of time it should hold, which sets the error budget over
    28 days. Which datasets it watches: ``namespace``/``dataset_name`` when given, else
    the product's output-port bindings (only those of contract object ``element`` when
    the SLA names one). The current state and its figures are kept on the row, the past in
    :class:`SloSegment`.
    """

    class Source(models.TextChoices):
        CONTRACT = "contract"
        API = "api"
        ADMIN = "admin"

    product = models.ForeignKey(
        DataProduct, null=True, blank=True, on_delete=models.CASCADE, related_name="slos"
    )
    key = models.CharField(max_length=512, blank=True)  # a contract's SLO: which line made it
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=32, choices=SloKind.choices)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    namespace = models.CharField(max_length=1024, blank=True)
    dataset_name = models.CharField(max_length=1024, blank=True)
    element = models.CharField(max_length=255, blank=True)

    threshold_seconds = models.FloatField(null=True, blank=True)  # freshness: the oldest allowed
    min_rows = models.BigIntegerField(null=True, blank=True)  # volume bounds
    max_rows = models.BigIntegerField(null=True, blank=True)
    tolerance = models.FloatField(null=True, blank=True)  # volume: share of the recent median
    target = models.FloatField(null=True, blank=True)  # quality / pipeline success: share 0–1
    window_seconds = models.FloatField(default=7 * DAY)  # pipeline success: runs counted over
    objective = models.FloatField(default=0.99)  # share of time met; the rest is the budget
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    state = models.CharField(max_length=16, choices=SloState.choices, default=SloState.UNKNOWN)
    state_since = models.DateTimeField(null=True, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    # When time alone changes the state next (a freshness deadline): the sweep evaluates
    # only SLOs that are due, and refreshes the others' figures in bulk.
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attainment_7d = models.FloatField(null=True, blank=True)
    attainment_28d = models.FloatField(null=True, blank=True)
    budget_remaining = models.FloatField(null=True, blank=True)
    burn_rate_1d = models.FloatField(null=True, blank=True)
    burn_rate_7d = models.FloatField(null=True, blank=True)

    objects = SloQuerySet.as_manager()

    class Meta:
        ordering = ["product", "kind", "name", "id"]
        verbose_name = "SLO"
        constraints = [
            models.UniqueConstraint(
                fields=["product", "key"],
                condition=~models.Q(key=""),
                name="slo_product_key_uniq",
            )
        ]
        indexes = [
            models.Index(fields=["namespace", "dataset_name"], name="slo_dataset_idx"),
            models.Index(fields=["state", "state_since"], name="slo_state_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("governance:slo-detail", args=[self.pk])

    @property
    def is_breached(self) -> bool:
        return self.state == SloState.BREACHED

    @property
    def budget_seconds(self) -> float:
        """Breached time the objective allows over 28 days."""
        return (1.0 - self.objective) * 28 * DAY

    def describe(self) -> str:
        """The promise in words: ``updated within 6 h``, ``99% of runs succeed``."""
        if self.kind == SloKind.FRESHNESS:
            return f"updated within {human_duration(self.threshold_seconds or 0)}"
        if self.kind == SloKind.VOLUME:
            parts = []
            if self.min_rows is not None:
                parts.append(f"≥ {self.min_rows:,} rows")
            if self.max_rows is not None:
                parts.append(f"≤ {self.max_rows:,} rows")
            if self.tolerance is not None:
                parts.append(f"within {self.tolerance:.0%} of the recent median")
            return ", ".join(parts) or "row count observed"
        if self.kind == SloKind.QUALITY:
            return f"{percent(self.target)} of quality checks pass"
        if self.kind == SloKind.PIPELINE_SUCCESS:
            window = human_duration(self.window_seconds)
            return f"{percent(self.target)} of producing runs succeed over {window}"
        return "no breaking schema change without a major version"


class SloSegmentQuerySet(models.QuerySet["SloSegment"]):
    def overlapping(self, since: datetime, until: datetime | None = None) -> SloSegmentQuerySet:
        """Stretches that reach past ``since`` and (given ``until``) began by then."""
        found = self.filter(models.Q(end__isnull=True) | models.Q(end__gt=since))
        return found if until is None else found.filter(start__lte=until)


class SloSegment(models.Model):
    """One stretch of an SLO's timeline: its state from ``start`` until ``end`` (``None``:
    still so), and the evidence (which run, which assertion)."""

    slo = models.ForeignKey(Slo, on_delete=models.CASCADE, related_name="segments")
    state = models.CharField(max_length=16, choices=SloState.choices)
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)
    evidence = models.JSONField(default=dict, blank=True)

    objects = SloSegmentQuerySet.as_manager()

    class Meta:
        ordering = ["slo", "start"]
        indexes = [models.Index(fields=["slo", "start"], name="slo_segment_start_idx")]

    @property
    def duration(self) -> timedelta:
        return (self.end or timezone.now()) - self.start


def percent(share: float | None) -> str:
    """``0.995`` → ``99.5%``; no target means all of them."""
    return f"{round((1.0 if share is None else share) * 100, 3):g}%"


def human_duration(seconds: float) -> str:
    """``90`` → ``1.5 min``, ``21600`` → ``6 h``, ``172800`` → ``2 d``."""
    for unit, size in (("d", DAY), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            value = round(seconds / size, 1)
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{seconds:.0f} s"


# --- webhooks ------------------------------------------------------------------------


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class WebhookSubscription(models.Model):
    """Where notifications go: for one product, one domain (and its sub-domains), or
    everything when neither is set. Bodies are signed with ``secret`` (HMAC-SHA256)."""

    # The events Meshport sends; a new kind of notification adds its name here. ``ping`` is
    # the test a steward sends from the API or the portal.
    EVENTS = ("slo.breached", "slo.recovered", "scorecard.level_dropped", "ping")

    name = models.CharField(max_length=200)
    url = models.URLField(max_length=2048)
    secret = models.CharField(max_length=128, default=new_webhook_secret)
    product = models.ForeignKey(
        DataProduct, null=True, blank=True, on_delete=models.CASCADE, related_name="webhooks"
    )
    domain = models.ForeignKey(
        Domain, null=True, blank=True, on_delete=models.CASCADE, related_name="webhooks"
    )
    events = models.JSONField(default=list, blank=True)  # empty: every event
    active = models.BooleanField(default=True)
    created_by = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def wants(self, event: str) -> bool:
        return not self.events or event in self.events


class WebhookDelivery(models.Model):
    """One notification to one subscription, and what happened when it was sent."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # out of attempts

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    log = models.JSONField(default=list, blank=True)  # one entry per attempt
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx")]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription}"


# --- scorecards ---------------------------------------------------------------------------


class CheckStatus(models.TextChoices):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "na", "Not applicable"
    WAIVED = "waived"  # failed, but an approved waiver counts it as passing
    UPCOMING = "upcoming"  # enabled later: evaluated and shown, not counted yet


class Scorecard(models.Model):
    """Checks grouped into categories with weights and gated levels, over the products
    that ``filters`` select, run on ``schedule`` (cron) and on demand.

    Defined as code (``manage.py load_scorecards``) or in the admin; the definition that
    a run used is kept on the run.
    """

    class Source(models.TextChoices):
        FILE = "file"
        ADMIN = "admin"
        API = "api", "API"

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # minute hour day month weekday, as in crontab; empty: runs only on demand
    schedule = models.CharField(max_length=100, blank=True)
    # {"domains": [slug...], "tags": [...], "statuses": [...]}: products must match each given
    filters = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.ADMIN)
    source_path = models.CharField(max_length=1024, blank=True)
    last_run = models.ForeignKey(
        "ScorecardRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("governance:scorecard-detail", args=[self.slug])


class ScorecardLevel(models.Model):
    """Bronze, Silver, Gold...: reached when every check of it, and of the levels below,
    passes. ``rank`` orders them from the lowest."""

    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="levels")
    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)
    rank = models.PositiveSmallIntegerField(default=0)
    color = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["scorecard", "rank", "id"]
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "slug"], name="scorecard_level_uniq")
        ]

    def __str__(self) -> str:
        return self.name


class ScorecardCheck(models.Model):
    """One check of a scorecard: a built-in check by name, a declarative ``rule`` on the
    product's fields, or a Python function by dotted path; ``enabled_from`` makes it count
    only from then on."""

    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="checks")
    key = models.SlugField(max_length=100)
    check_name = models.CharField(max_length=255)  # built-in name, "rule", or a dotted path
    name = models.CharField(max_length=255, blank=True)
    category = models.CharField(max_length=100, blank=True)
    weight = models.FloatField(default=1.0)
    level = models.ForeignKey(
        ScorecardLevel, null=True, blank=True, on_delete=models.SET_NULL, related_name="checks"
    )
    params = models.JSONField(default=dict, blank=True)
    rule = models.CharField(max_length=1000, blank=True)
    remediation = models.TextField(blank=True)  # overrides the check's own
    enabled_from = models.DateTimeField(null=True, blank=True)
    ordinal = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["scorecard", "ordinal", "id"]
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "key"], name="scorecard_check_uniq")
        ]

    def __str__(self) -> str:
        return self.name or self.key


class ScorecardRun(models.Model):
    """One evaluation of a scorecard over its products. A scheduled run holds its
    ``slot`` (the minute the schedule named): the unique (scorecard, slot) row is the
    claim that keeps two workers from running it twice."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule"
        MANUAL = "manual"  # the portal or the API

    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="runs")
    slot = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    definition = models.JSONField(default=dict, blank=True)  # as the run used it
    # products, level counts, mean score, products whose level rose / dropped
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scorecard", "slot"],
                condition=models.Q(slot__isnull=False),
                name="scorecard_run_slot_uniq",
            )
        ]
        indexes = [
            models.Index(fields=["scorecard", "status", "-created_at"], name="scorecard_run_idx")
        ]

    def __str__(self) -> str:
        return f"{self.scorecard} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("governance:scorecard-run", args=[self.scorecard.slug, self.pk])


class ScorecardResult(models.Model):
    """A product in one run: its score, level, every check's result with evidence, and
    what changed since the previous run (``changes``: the checks whose result moved)."""

    run = models.ForeignKey(ScorecardRun, on_delete=models.CASCADE, related_name="results")
    product = models.ForeignKey(
        DataProduct, on_delete=models.CASCADE, related_name="scorecard_results"
    )
    score = models.FloatField()
    level = models.CharField(max_length=50, blank=True)  # slug of the level reached
    previous_level = models.CharField(max_length=50, blank=True)
    previous_score = models.FloatField(null=True, blank=True)
    # {check key: {"status": ..., "message": ..., "evidence": {...}}}
    checks = models.JSONField(default=dict)
    changes = models.JSONField(default=list, blank=True)
    # Downstream consumers (jobs and products) a failure here reaches, from lineage.
    blast_radius = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["run", "product"]
        constraints = [
            models.UniqueConstraint(fields=["run", "product"], name="scorecard_result_uniq")
        ]
        indexes = [models.Index(fields=["product", "run"], name="scorecard_result_product_idx")]


class WaiverQuerySet(models.QuerySet["Waiver"]):
    def active(self, at: datetime | None = None) -> WaiverQuerySet:
        """Approved and not expired at ``at``."""
        return self.filter(status=Waiver.Status.APPROVED, expires_at__gt=at or timezone.now())


class Waiver(models.Model):
    """An exemption for one product from one check (of one scorecard, or of every one
    that has the check), with a justification and an expiry, decided by a steward."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        DENIED = "denied"
        REVOKED = "revoked"

    scorecard = models.ForeignKey(
        Scorecard, null=True, blank=True, on_delete=models.CASCADE, related_name="waivers"
    )
    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="waivers")
    check_key = models.SlugField(max_length=100)
    justification = models.TextField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.CharField(max_length=255)
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.CharField(max_length=255, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    objects = WaiverQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["status", "expires_at"], name="waiver_status_idx")]

    def __str__(self) -> str:
        return f"{self.product} / {self.check_key}"

    def is_active(self, at: datetime | None = None) -> bool:
        return self.status == self.Status.APPROVED and self.expires_at > (at or timezone.now())


class WaiverEvent(models.Model):
    """The audit trail of a waiver: who did what, when, and why."""

    waiver = models.ForeignKey(Waiver, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16)  # requested / approved / denied / revoked
    actor = models.CharField(max_length=255)
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
