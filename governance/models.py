"""Governance: service-level objectives computed from lineage, and webhook notifications."""

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
    EVENTS = ("slo.breached", "slo.recovered", "ping")

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
