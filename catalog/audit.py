"""The audit log: who changed what, when, and through which door.

Services call :func:`audit_record` inside the transaction that makes the change, so an
entry exists exactly when the change does. Reads are in :func:`audit_entries`; the page
and the API that show them are for stewards (``governance``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from django.db.models import Q, QuerySet

from catalog.models import ApiToken, AuditEntry

Via = AuditEntry.Via

#: What the log covers, by target type; a page filters by these.
TARGET_TYPES = {
    "product": "Data products",
    "ownership": "Ownership",
    "slo": "SLOs",
    "scorecard": "Scorecards",
    "waiver": "Waivers",
    "webhook": "Webhooks",
    "token": "API tokens",
}


def audit_record(
    *,
    actor: str,
    via: str,
    action: str,
    target: str,
    label: str,
    summary: str = "",
    changes: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry. ``action`` is ``<target type>.<verb>`` (``product.published``);
    ``target`` the key pages link by; ``changes`` a small JSON-able dict of what changed."""
    target_type, _, _ = action.partition(".")
    if target_type not in TARGET_TYPES:
        raise ValueError(f"unknown audit target type in {action!r}")
    entry = AuditEntry(
        actor=(actor or "unknown")[:255],
        via=via,
        action=action,
        target_type=target_type,
        target=str(target)[:255],
        target_label=label[:1024],
        summary=summary,
        changes=dict(changes or {}),
    )
    if at is not None:
        entry.at = at
    entry.save()
    return entry


def actor_of(*, token: ApiToken | None = None, user: Any = None) -> tuple[str, str]:
    """``(actor, via)`` of an API write made with a token or in a signed-in session."""
    if token is not None:
        return token.name, Via.API
    if user is not None and user.is_authenticated:
        return user.get_username(), Via.API
    return "anonymous", Via.API


def audit_value(value: Any) -> Any:
    """A value as an entry's ``changes`` keep it (JSON): dates and times as ISO text."""
    return value.isoformat() if isinstance(value, date | time) else value


def token_recorded(
    token: ApiToken,
    verb: str,
    *,
    actor: str,
    via: str,
    changed: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """A token issued, changed, revoked or deleted (its secret is never recorded, its
    prefix is); ``changed``: the fields an edit changed, as ``[before, after]``."""
    changes: dict[str, Any] = {"prefix": token.prefix, **(changed or {})}
    if verb == "issued":
        changes.update(
            scopes=token.scopes,
            domains=token.domains,
            expires_at=token.expires_at.isoformat() if token.expires_at else None,
        )
    return audit_record(
        actor=actor,
        via=via,
        action=f"token.{verb}",
        target=str(token.pk),
        label=f"{token.name} ({token.prefix})",
        changes=changes,
    )


def audit_entries(
    *,
    target_type: str = "",
    actor: str = "",
    target: str = "",
    text: str = "",
    since: datetime | None = None,
) -> QuerySet[AuditEntry]:
    """Entries newest first, narrowed by the filters given."""
    entries = AuditEntry.objects.all()
    if target_type:
        entries = entries.filter(target_type=target_type)
    if actor:
        entries = entries.filter(actor__iexact=actor)
    if target:
        entries = entries.filter(target=target)
    if text:
        entries = entries.filter(
            Q(target_label__icontains=text) | Q(summary__icontains=text) | Q(action__icontains=text)
        )
    if since is not None:
        entries = entries.filter(at__gte=since)
    return entries
