"""Webhook notifications: who is told about what, and getting it to them.

Other governance services call :func:`webhook_notify` inside their own transaction. It only
writes one pending :class:`~governance.models.WebhookDelivery` per matching subscription;
after the commit the worker is asked to send them (``governance.tasks``), and a sweep every
minute sends whatever is due, so a lost wake-up only delays a notification.

What a receiver gets
--------------------
::

    POST <subscription url>
    Content-Type: application/json
    User-Agent: Meshport-Webhooks/1
    X-Meshport-Event: slo.breached
    X-Meshport-Delivery: 42
    X-Meshport-Timestamp: 1714557600
    X-Meshport-Signature: sha256=5d41402abc4b2a76b9719d911017c592…

    {"id":42,"event":"slo.breached","created_at":"2024-05-01T10:00:00+00:00","data":{…}}

``X-Meshport-Signature`` is ``sha256=`` and the hex HMAC-SHA256, keyed with the
subscription's secret, of the timestamp header, a dot, and the raw body bytes:
``hmac(secret, f"{timestamp}.".encode() + body)``. A receiver recomputes it over the body
exactly as received (before parsing the JSON), compares in constant time, and rejects
timestamps more than a few minutes old so that a captured request cannot be replayed:
:func:`webhook_verify` does all three.

Delivery is at least once: a worker that dies between sending and recording sends again
after its lease, so receivers should ignore a delivery id they have already handled. The
body of a delivery is the same on every attempt; only the timestamp and signature change.

A 2xx answer within ``TIMEOUT_SECONDS`` is a success. Anything else (another status,
redirects included, a timeout, a refused connection, an unknown host) is retried after
``BACKOFF_SECONDS[attempt - 1]`` until ``MAX_ATTEMPTS``, then the delivery is ``failed``.
Every attempt is appended to the delivery's ``log``.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from catalog.audit import Via, audit_record
from catalog.models import DataProduct, Domain
from governance.models import WebhookDelivery, WebhookSubscription

logger = logging.getLogger(__name__)

USER_AGENT = "Meshport-Webhooks/1"
PING = "ping"
RESPONSE_EXCERPT_CHARS = 500
# Claiming a few rows at a time keeps a claim's lease longer than the time spent sending
# them, even when every endpoint of the batch times out.
CLAIM_BATCH = 10
_DEFAULTS: dict[str, Any] = {
    "TIMEOUT_SECONDS": 5,
    "MAX_ATTEMPTS": 6,
    "BACKOFF_SECONDS": [30, 120, 600, 3600, 21600],
    "LEASE_SECONDS": 300,
}


@dataclass(frozen=True)
class WebhookConfig:
    timeout_seconds: float
    max_attempts: int
    backoff_seconds: tuple[int, ...]
    lease_seconds: float

    @classmethod
    def from_settings(cls) -> WebhookConfig:
        raw = {**_DEFAULTS, **getattr(settings, "MESHPORT_WEBHOOKS", {})}
        timeout = float(raw["TIMEOUT_SECONDS"])
        return cls(
            timeout_seconds=timeout,
            max_attempts=max(1, int(raw["MAX_ATTEMPTS"])),
            backoff_seconds=tuple(int(s) for s in raw["BACKOFF_SECONDS"]) or (60,),
            lease_seconds=max(float(raw["LEASE_SECONDS"]), 2 * CLAIM_BATCH * timeout),
        )

    def backoff(self, attempt: int) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1-based); the last step repeats."""
        return timedelta(seconds=self.backoff_seconds[min(attempt, len(self.backoff_seconds)) - 1])


@dataclass
class DeliveryReport:
    """What one :func:`webhook_deliver_due` call did."""

    delivered: int = 0
    retrying: int = 0  # failed this time, tried again later
    failed: int = 0  # failed for the last time

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.failed


# --- who is told ------------------------------------------------------------------------


def webhook_notify(
    *,
    event: str,
    data: dict[str, Any],
    product: DataProduct | None = None,
    domain: Domain | None = None,
) -> list[WebhookDelivery]:
    """Queue ``event`` for every active subscription that wants it and whose scope covers
    ``product`` (the product itself, its domain or a parent of it) or ``domain`` (it or a
    parent); global subscriptions get everything.

    Call it inside the transaction of the change being announced: the deliveries commit or
    roll back with it. No network I/O happens here.
    """
    if event not in WebhookSubscription.EVENTS:
        raise ValueError(f"Unknown webhook event {event!r}: add it to WebhookSubscription.EVENTS.")
    subscriptions = [
        s for s in _subscriptions_in_scope(product=product, domain=domain) if s.wants(event)
    ]
    if not subscriptions:
        return []
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(subscription=s, event=event, payload=data) for s in subscriptions
    )
    transaction.on_commit(_deliver_soon)
    return deliveries


def webhook_ping(*, subscription: WebhookSubscription) -> WebhookDelivery:
    """Queue a test notification to ``subscription``, even when it is paused, so that a
    receiver can be checked before it is switched on."""
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        event=PING,
        payload={
            "subscription": {"id": subscription.pk, "name": subscription.name},
            "message": "A test notification from Meshport.",
        },
    )
    transaction.on_commit(_deliver_soon)
    return delivery


def _subscriptions_in_scope(
    *, product: DataProduct | None, domain: Domain | None
) -> list[WebhookSubscription]:
    scope = Q(product__isnull=True, domain__isnull=True)
    if product is not None:
        scope |= Q(product=product)
    domain_ids = set()
    if product is not None and product.domain_id is not None:
        domain_ids.add(product.domain_id)
    if domain is not None:
        domain_ids.add(domain.pk)
    if domain_ids:
        scope |= Q(domain_id__in=_with_ancestors(domain_ids))
    return list(WebhookSubscription.objects.filter(scope, active=True))


# Four levels per query: sub-domains rarely nest deeper, so one query is the usual cost.
_ANCESTRY = ("parent", "parent__parent", "parent__parent__parent", "parent__parent__parent__parent")


def _with_ancestors(domain_ids: set[int]) -> set[int]:
    """The domains and every domain above them."""
    found = set(domain_ids)
    expanded: set[int] = set()
    todo = set(domain_ids)
    while todo:
        expanded |= todo
        rows = Domain.objects.filter(pk__in=todo).values_list(*_ANCESTRY)
        todo = set()
        for row in rows:
            found.update(pk for pk in row if pk is not None)
            if row[-1] is not None and row[-1] not in expanded:
                todo.add(row[-1])
    return found


def _deliver_soon() -> None:
    """After the commit: wake the worker rather than wait for the minute sweep."""
    # Imported here because the tasks module imports this one.
    from governance.tasks import webhook_deliver

    try:
        webhook_deliver()
    except Exception:
        # The change is committed and the deliveries are stored: the sweep sends them.
        logger.exception("Could not queue webhook delivery; the periodic sweep will send it.")


# --- managing subscriptions --------------------------------------------------------------


def validate_webhook_url(value: str) -> None:
    """An http(s) URL with a host. Single-label hosts (``http://alertmanager:9093/``) are
    fine: receivers often live on an internal network."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise ValidationError("Enter a valid URL.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("Use an http or https URL.")
    if not parts.hostname or any(c.isspace() for c in value):
        raise ValidationError("Enter a valid URL with a host.")


_EDITABLE = ("name", "url", "events", "active")


def webhook_create(
    *,
    name: str,
    url: str,
    product: DataProduct | None = None,
    domain: Domain | None = None,
    events: Iterable[str] = (),
    active: bool = True,
    actor: str = "",
) -> WebhookSubscription:
    if product is not None and domain is not None:
        raise ValueError("A subscription is scoped to a product or a domain, not both.")
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            name=name,
            url=url,
            product=product,
            domain=domain,
            events=list(events),
            active=active,
            created_by=actor,
        )
        _audit_webhook(subscription, "created", actor, _described(subscription))
    return subscription


def webhook_update(
    *, subscription: WebhookSubscription, changes: Mapping[str, Any], actor: str
) -> WebhookSubscription:
    """Apply ``changes`` (``name``, ``url``, ``events``, ``active``, and ``product`` /
    ``domain``: naming either replaces the scope, so ``{"domain": None}`` alone makes the
    subscription global)."""
    fields = [f for f in _EDITABLE if f in changes]
    for field in fields:
        setattr(subscription, field, changes[field])
    if "product" in changes or "domain" in changes:
        if changes.get("product") is not None and changes.get("domain") is not None:
            raise ValueError("A subscription is scoped to a product or a domain, not both.")
        subscription.product = changes.get("product")
        subscription.domain = changes.get("domain")
        fields += ["product", "domain"]
    if fields:
        with transaction.atomic():
            subscription.save(update_fields=fields)
            _audit_webhook(subscription, "changed", actor, _described(subscription, fields))
    return subscription


def webhook_delete(*, subscription: WebhookSubscription, actor: str, via: str = Via.API) -> None:
    with transaction.atomic():
        _audit_webhook(subscription, "deleted", actor, {}, via)
        subscription.delete()


def webhook_recorded(
    subscription: WebhookSubscription,
    verb: str,
    *,
    actor: str,
    via: str,
    fields: Iterable[str] = (),
) -> None:
    """A subscription created or changed elsewhere than through the services (the admin)."""
    _audit_webhook(subscription, verb, actor, _described(subscription, fields), via)


def _described(subscription: WebhookSubscription, fields: Iterable[str] = ()) -> dict[str, Any]:
    """What the audit log keeps of a subscription: its settings, never its secret."""
    shown = set(fields) or {"url", "events", "active", "product", "domain"}
    values = {
        "url": subscription.url,
        "events": subscription.events,
        "active": subscription.active,
        "product": subscription.product.external_id if subscription.product else None,
        "domain": subscription.domain.slug if subscription.domain else None,
        "name": subscription.name,
    }
    return {key: value for key, value in values.items() if key in shown}


def _audit_webhook(
    subscription: WebhookSubscription,
    verb: str,
    actor: str,
    changes: dict[str, Any],
    via: str = Via.API,
) -> None:
    audit_record(
        actor=actor,
        via=via,
        action=f"webhook.{verb}",
        target=str(subscription.pk),
        label=subscription.name,
        changes=changes,
    )


# --- signing ------------------------------------------------------------------------------


def webhook_signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Meshport-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def webhook_verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance_seconds: float | None = 300,
    now: float | None = None,
) -> bool:
    """Whether a received request is authentic: ``signature`` matches ``timestamp`` and the
    raw ``body``, and the timestamp is within ``tolerance_seconds`` of ``now`` (unix
    seconds; default: the clock). ``tolerance_seconds=None`` skips the replay check."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if tolerance_seconds is not None and abs(current - sent) > tolerance_seconds:
        return False
    expected = webhook_signature(secret, timestamp, body)
    return hmac.compare_digest(expected.encode(), signature.encode())


def webhook_body(delivery: WebhookDelivery) -> bytes:
    """The request body of ``delivery``: the same bytes on every attempt."""
    document = {
        "id": delivery.pk,
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(document, separators=(",", ":"), cls=DjangoJSONEncoder).encode()


# --- sending ------------------------------------------------------------------------------


def webhook_deliver_due(*, now: datetime | None = None, limit: int = 100) -> DeliveryReport:
    """Send up to ``limit`` pending deliveries that are due at ``now`` (default: the clock,
    read again for each batch), recording each attempt. Safe to run from several workers at
    once: each delivery is claimed by one of them. A bad endpoint never raises."""
    config = WebhookConfig.from_settings()
    report = DeliveryReport()
    while report.attempted < limit:
        clock = now or timezone.now()
        size = min(CLAIM_BATCH, limit - report.attempted)
        batch = _claim_due(now=clock, limit=size, lease=timedelta(seconds=config.lease_seconds))
        if not batch:
            break
        for delivery in batch:
            _deliver_one(delivery, at=now or timezone.now(), config=config, report=report)
    return report


def _due() -> QuerySet[WebhookDelivery]:
    active = WebhookSubscription.objects.filter(active=True).values("pk")
    # A paused subscription's notifications wait for it; a ping is sent regardless.
    return WebhookDelivery.objects.filter(
        Q(subscription_id__in=active) | Q(event=PING), status=WebhookDelivery.Status.PENDING
    )


def _claim_due(*, now: datetime, limit: int, lease: timedelta) -> list[WebhookDelivery]:
    """Take up to ``limit`` due deliveries for this caller by moving their
    ``next_attempt_at`` to the end of a lease. The UPDATE repeats the "is due" condition,
    so when another caller took a row first it changes nothing, and its rowcount says so.
    A caller that dies mid-send leaves its rows to be taken again when the lease ends."""
    due = _due().filter(next_attempt_at__lte=now)
    with transaction.atomic():
        candidates = due.order_by("next_attempt_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            # Rows another caller is claiming right now are skipped, not waited for.
            candidates = candidates.select_for_update(skip_locked=True)
        pks = list(candidates.values_list("pk", flat=True)[:limit])
        won = [pk for pk in pks if due.filter(pk=pk).update(next_attempt_at=now + lease)]
    if not won:
        return []
    return list(
        WebhookDelivery.objects.filter(pk__in=won)
        .select_related("subscription")
        .order_by("next_attempt_at", "pk")
    )


@dataclass(frozen=True)
class Attempt:
    """The outcome of one request."""

    status_code: int | None
    error: str
    duration_ms: int
    response: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _deliver_one(
    delivery: WebhookDelivery, *, at: datetime, config: WebhookConfig, report: DeliveryReport
) -> None:
    try:
        attempt = _send(delivery, timeout=config.timeout_seconds)
    except Exception as exc:
        # A bug met while sending must not stop the other deliveries; the attempt counts.
        logger.exception("Webhook delivery %s: unexpected error while sending.", delivery.pk)
        attempt = Attempt(None, f"{type(exc).__name__}: {exc}", 0, "")
    _record(delivery, attempt, at=at, config=config)
    if delivery.status == WebhookDelivery.Status.DELIVERED:
        report.delivered += 1
    elif delivery.status == WebhookDelivery.Status.FAILED:
        report.failed += 1
    else:
        report.retrying += 1


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a GET without the body: it counts as a failure
    whose status code tells the subscriber to fix the URL."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _send(delivery: WebhookDelivery, *, timeout: float) -> Attempt:
    body = webhook_body(delivery)
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        delivery.subscription.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Meshport-Event": delivery.event,
            "X-Meshport-Delivery": str(delivery.pk),
            "X-Meshport-Timestamp": timestamp,
            "X-Meshport-Signature": webhook_signature(
                delivery.subscription.secret, timestamp, body
            ),
        },
    )
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        with _opener.open(request, timeout=timeout) as response:
            return Attempt(response.status, "", elapsed(), _excerpt(response))
    except urllib.error.HTTPError as exc:
        with exc:
            return Attempt(exc.code, f"HTTP {exc.code} {exc.reason}", elapsed(), _excerpt(exc))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return Attempt(None, _describe(exc), elapsed(), "")


def _excerpt(response: Any) -> str:
    """The start of a response body, for the log; a body that cannot be read is no error."""
    try:
        raw = response.read(RESPONSE_EXCERPT_CHARS * 4)
    except (OSError, http.client.HTTPException):
        return ""
    return str(raw.decode("utf-8", "replace")[:RESPONSE_EXCERPT_CHARS])


def _describe(exc: BaseException) -> str:
    """``ConnectionRefusedError: [Errno 111] Connection refused`` rather than urllib's
    ``<urlopen error …>`` wrapper."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, BaseException):
        return f"{type(reason).__name__}: {reason}"
    return f"{type(exc).__name__}: {reason}"


def _record(
    delivery: WebhookDelivery, attempt: Attempt, *, at: datetime, config: WebhookConfig
) -> None:
    delivery.attempts += 1
    delivery.last_status_code = attempt.status_code
    delivery.last_error = attempt.error
    delivery.log = [
        *delivery.log,
        {
            "at": at.isoformat(),
            "attempt": delivery.attempts,
            "status_code": attempt.status_code,
            "error": attempt.error,
            "duration_ms": attempt.duration_ms,
            "response": attempt.response,
        },
    ]
    if attempt.ok:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = at
    elif delivery.attempts >= config.max_attempts:
        delivery.status = WebhookDelivery.Status.FAILED
    else:
        delivery.next_attempt_at = at + config.backoff(delivery.attempts)
    delivery.save(
        update_fields=[
            "attempts", "last_status_code", "last_error", "log", "status",
            "delivered_at", "next_attempt_at",
        ]
    )  # fmt: skip
    if not attempt.ok:
        _log_failure(delivery, attempt, config=config)


def _log_failure(delivery: WebhookDelivery, attempt: Attempt, *, config: WebhookConfig) -> None:
    # The URL stays out of the log: chat webhooks carry their credentials in the path.
    final = delivery.status == WebhookDelivery.Status.FAILED
    logger.log(
        logging.ERROR if final else logging.WARNING,
        "Webhook delivery %s (%s) to subscription %s %r failed, attempt %s of %s%s: %s",
        delivery.pk,
        delivery.event,
        delivery.subscription_id,
        delivery.subscription.name,
        delivery.attempts,
        config.max_attempts,
        "; giving up" if final else f"; next at {delivery.next_attempt_at.isoformat()}",
        attempt.error,
    )
