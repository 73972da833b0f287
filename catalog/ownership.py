"""Ownership writes: who answers for a domain, a data product or a dataset.

Ownerships come from four sources (:class:`~catalog.models.Ownership.Source`): descriptor
registration and OpenLineage ``ownership`` facets replace the rows of their own source with
:func:`ownership_sync`; stewards add and remove single rows from the portal or the API with
:func:`ownership_add` and :func:`ownership_remove`. Every addition and removal is kept as an
:class:`~catalog.models.OwnershipChange`.

Parties are named, not pointed at: a :class:`Party` is a person's username (or email) or a
team's name, looked up — and created when missing — in bulk by :func:`parties_ensure`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from catalog.audit import Via, audit_record
from catalog.descriptors.model import Member
from catalog.descriptors.model import Team as TeamSpec
from catalog.models import (
    DataProduct,
    Dataset,
    Domain,
    Ownership,
    OwnershipChange,
    Person,
    Team,
    ownership_target_kind,
    ownership_target_label,
)
from catalog.search.outbox import search_outbox_add

R = TypeVar("R")

Target = Domain | DataProduct | Dataset
TargetRef = tuple[str, int]  # (kind, pk)
EntryKey = tuple[str, int, str]  # (party kind, party pk, role)

_EMAIL = re.compile(r"^[^@\s:]+@[^@\s]+\.[^@\s]+$")
# Words of an OpenLineage owner ``type``, checked in this order (first match wins).
_ROLE_WORDS = (
    ("business", Ownership.Role.BUSINESS_OWNER),
    ("steward", Ownership.Role.STEWARD),
    ("technical", Ownership.Role.TECHNICAL_OWNER),
    ("maintainer", Ownership.Role.TECHNICAL_OWNER),
    ("engineer", Ownership.Role.TECHNICAL_OWNER),
    ("developer", Ownership.Role.TECHNICAL_OWNER),
)


# --- parties --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """A person (``key`` = username) or a team (``key`` = name), before it is looked up.

    Two parties are the same when kind and key are: name and email only fill in a person
    created from it.
    """

    kind: str  # "person" or "team"
    key: str
    name: str = field(default="", compare=False)
    email: str = field(default="", compare=False)


def looks_like_email(value: str) -> bool:
    return bool(_EMAIL.match(value))


def person_party(username: str, *, name: str = "", email: str = "") -> Party:
    username = username.strip()[:255]
    if not email and looks_like_email(username):
        email = username
    return Party("person", username, name.strip()[:255], email.strip()[:255])


def team_party(name: str) -> Party:
    return Party("team", name.strip()[:200])


def party_from_urn(urn: str) -> Party:
    """The party an OpenLineage owner ``name`` names: ``team:data`` is the team ``data``;
    ``user:jdoe`` and anything else a person (an email finds a person by email too)."""
    prefix, colon, rest = urn.partition(":")
    if colon and rest.strip() and prefix.strip().lower() == "team":
        return team_party(rest)
    if colon and rest.strip() and prefix.strip().lower() == "user":
        return person_party(rest)
    return person_party(urn)


def member_party(member: Member) -> Party | None:
    """The person a descriptor's team member is, or None when it names nobody."""
    username = member.username or member.email or member.name
    if not username.strip():
        return None
    return person_party(username, name=member.name, email=member.email)


def parties_ensure(parties: Iterable[Party]) -> dict[Party, Person | Team]:
    """The person or team of each party, the missing ones created (a few queries for any
    number of parties)."""
    wanted = set(parties)
    found: dict[Party, Person | Team] = {}
    found.update(persons_ensure(p for p in wanted if p.kind == "person"))
    found.update(teams_ensure(p for p in wanted if p.kind == "team"))
    return found


def persons_ensure(parties: Iterable[Party]) -> dict[Party, Person]:
    """The person of each party: by username, else by email (case-insensitive). A missing
    person is created, tied to the portal user with that username or email if there is one."""
    wanted = set(parties)
    if not wanted:
        return {}
    found = _persons_matching(wanted)
    missing = wanted - found.keys()
    if missing:
        users = _users_matching(missing)
        Person.objects.bulk_create(
            [
                Person(username=p.key, name=p.name, email=p.email, user=users.get(p))
                for p in missing
            ],
            ignore_conflicts=True,  # a concurrent writer may create the same person
        )
        created = _persons_matching(missing)
        found.update(created)
        # Searchable at once: a person whose only mention is an ownership facet has no
        # product or team document that would bring its own into the index.
        search_outbox_add(f"person:{person.pk}" for person in created.values())
    _fill_in(found)
    return found


def _fill_in(found: Mapping[Party, Person]) -> None:
    """Give a person first named by a bare username (an OpenLineage URN) the name and email
    a later source knows; what is already set is never overwritten."""
    changed: dict[int, Person] = {}
    for party, person in found.items():
        for attr in ("name", "email"):
            if getattr(party, attr) and not getattr(person, attr):
                setattr(person, attr, getattr(party, attr))
                changed[person.pk] = person
    if changed:
        Person.objects.bulk_update(changed.values(), ["name", "email"])
        search_outbox_add(f"person:{pk}" for pk in changed)


def _emails(parties: Iterable[Party]) -> set[str]:
    return {p.email.lower() for p in parties if p.email}


def _persons_matching(parties: set[Party]) -> dict[Party, Person]:
    emails = _emails(parties)
    rows = (
        Person.objects.annotate(email_ci=Lower("email"), username_ci=Lower("username"))
        .filter(
            Q(username__in={p.key for p in parties})
            | Q(email_ci__in=emails)
            | Q(username_ci__in=emails)  # people first named by their email
        )
        .order_by("pk")
    )
    return _by_name_or_email(parties, rows, lambda p: p.username, lambda p: (p.email, p.username))


def _users_matching(parties: set[Party]) -> dict[Party, Any]:
    """Portal users with a party's username, else its email (case-insensitive)."""
    users = get_user_model().objects.annotate(email_ci=Lower("email"))
    rows = list(
        users.filter(
            Q(username__in={p.key for p in parties}) | Q(email_ci__in=_emails(parties))
        ).order_by("pk")
    )
    return _by_name_or_email(parties, rows, lambda u: u.get_username(), lambda u: (u.email,))


def _by_name_or_email(
    parties: Iterable[Party],
    rows: Iterable[R],
    name: Callable[[R], str],
    emails: Callable[[R], Iterable[str]],
) -> dict[Party, R]:
    """Each party's row: the one with its username, else the first with its email."""
    rows = list(rows)
    by_name = {name(row): row for row in rows}
    by_email: dict[str, R] = {}
    for row in rows:
        for address in emails(row):
            if address and looks_like_email(address):
                by_email.setdefault(address.lower(), row)
    found = {}
    for party in parties:
        match = by_name.get(party.key) or by_email.get(party.email.lower())
        if match is not None:
            found[party] = match
    return found


def teams_ensure(parties: Iterable[Party]) -> dict[Party, Team]:
    """The team of each party by name, the missing ones created."""
    wanted = {p.key: p for p in parties}
    if not wanted:
        return {}
    found = {t.name: t for t in Team.objects.filter(name__in=list(wanted))}
    missing = wanted.keys() - found.keys()
    if missing:
        Team.objects.bulk_create([Team(name=name) for name in missing], ignore_conflicts=True)
        created = {t.name: t for t in Team.objects.filter(name__in=list(missing))}
        found.update(created)
        search_outbox_add(f"team:{team.pk}" for team in created.values())
    return {party: found[name] for name, party in wanted.items() if name in found}


# --- entries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerEntry:
    """A role a party should hold; ``role_raw`` is the source's own word for it."""

    party: Party
    role: str
    role_raw: str = field(default="", compare=False)


def role_from_type(kind: str | None) -> str:
    """The role of an OpenLineage owner ``type``: business → business owner, steward →
    steward, technical/maintainer/engineer/developer → technical owner, else owner."""
    lowered = (kind or "").lower()
    return next((role for word, role in _ROLE_WORDS if word in lowered), Ownership.Role.OWNER)


def entries_from_facet(owners: Iterable[Mapping[str, Any]]) -> list[OwnerEntry]:
    """The entries of an OpenLineage ``ownership`` facet's owners (``name`` + ``type``)."""
    entries = []
    for owner in owners:
        name = str(owner.get("name") or "")
        if name.strip():
            kind = str(owner.get("type") or "")
            entries.append(OwnerEntry(party_from_urn(name), role_from_type(kind), kind[:255]))
    return entries


def entries_from_team(team: TeamSpec, team_name: str) -> list[OwnerEntry]:
    """A descriptor's ownerships: its team members in a role other than "member". A team
    named without members (DCS and DPS ``owner``) owns the product as a whole."""
    if not team.members:
        return [OwnerEntry(team_party(team_name), Ownership.Role.OWNER)] if team_name else []
    entries = []
    for member in team.members:
        party = member_party(member)
        if party is not None and member.role in Ownership.Role.values:
            entries.append(OwnerEntry(party, member.role, member.role_raw[:255]))
    return entries


# --- sync -------------------------------------------------------------------------------------


@dataclass
class SyncResult:
    added: int = 0
    removed: int = 0


def ownership_sync(
    *, target: Target, entries: Sequence[OwnerEntry], source: str, actor: str
) -> SyncResult:
    """Make ``target``'s ownerships from ``source`` be ``entries``, recording each addition
    and removal. Rows from other sources stay; an entry one of them already holds is not
    added twice."""
    return ownerships_sync(wanted={target: entries}, source=source, actor=actor)


def ownerships_sync(
    *,
    wanted: Mapping[Target, Sequence[OwnerEntry]],
    source: str,
    actor: str,
    actors: Mapping[Target, str] | None = None,
) -> SyncResult:
    """:func:`ownership_sync` for many targets at once, in a fixed number of queries;
    ``actors`` names a target's own actor when it is not ``actor``."""
    if not wanted:
        return SyncResult()
    actors = actors or {}
    with transaction.atomic():
        parties = parties_ensure(e.party for entries in wanted.values() for e in entries)
        existing = _existing(wanted.keys())
        plan = _SyncPlan(source=source)
        for target, entries in wanted.items():
            rows = existing.get(_ref(target), [])
            plan.diff(target, entries, parties, rows, actors.get(target, actor)[:255])
        return plan.apply()


def _ref(target: Target) -> TargetRef:
    return ownership_target_kind(target), target.pk


def _existing(targets: Iterable[Target]) -> dict[TargetRef, list[Ownership]]:
    pks: dict[str, list[int]] = defaultdict(list)
    for target in targets:
        pks[ownership_target_kind(target)].append(target.pk)
    match = Q()
    for kind, ids in pks.items():
        match |= Q(**{f"{kind}_id__in": ids})
    out: dict[TargetRef, list[Ownership]] = defaultdict(list)
    for row in Ownership.objects.filter(match).select_related("person", "team").order_by("pk"):
        out[(row.target_kind, getattr(row, f"{row.target_kind}_id"))].append(row)
    return out


def _row_key(row: Ownership) -> EntryKey:
    party_id = row.person_id if row.person_id else row.team_id
    assert party_id is not None
    return row.party_kind, party_id, row.role


@dataclass
class _SyncPlan:
    source: str
    now: datetime = field(default_factory=timezone.now)
    new: list[Ownership] = field(default_factory=list)
    gone: list[Ownership] = field(default_factory=list)
    reworded: list[Ownership] = field(default_factory=list)
    changes: list[tuple[Target, Ownership, str, str]] = field(default_factory=list)

    def diff(
        self,
        target: Target,
        entries: Sequence[OwnerEntry],
        parties: Mapping[Party, Person | Team],
        rows: Sequence[Ownership],
        actor: str,
    ) -> None:
        mine = {_row_key(r): r for r in rows if r.source == self.source}
        held_elsewhere = {_row_key(r) for r in rows if r.source != self.source}
        want: dict[EntryKey, Ownership] = {}
        for entry in entries:
            row = self._row(target, parties[entry.party], entry, actor)
            want.setdefault(_row_key(row), row)
        for key, row in want.items():
            if key in mine:
                self._reword(mine[key], row.role_raw)
            elif key not in held_elsewhere:
                self.new.append(row)
                self.changes.append((target, row, OwnershipChange.Action.ADDED, actor))
        for key, row in mine.items():
            if key not in want:
                self.gone.append(row)
                self.changes.append((target, row, OwnershipChange.Action.REMOVED, actor))

    def _row(
        self, target: Target, party: Person | Team, entry: OwnerEntry, actor: str
    ) -> Ownership:
        return Ownership(
            **{ownership_target_kind(target): target, _party_kind(party): party},
            role=entry.role,
            role_raw=entry.role_raw,
            source=self.source,
            created_at=self.now,
            created_by=actor,
        )

    def _reword(self, row: Ownership, role_raw: str) -> None:
        if row.role_raw != role_raw:
            row.role_raw = role_raw
            self.reworded.append(row)

    def apply(self) -> SyncResult:
        if self.gone:
            Ownership.objects.filter(pk__in=[row.pk for row in self.gone]).delete()
        if self.new:
            Ownership.objects.bulk_create(self.new, ignore_conflicts=True)
        if self.reworded:
            Ownership.objects.bulk_update(self.reworded, ["role_raw"])
        if self.changes:
            labels = _target_labels(target for target, _, _, _ in self.changes)
            OwnershipChange.objects.bulk_create(
                _change(row, action, self.source, actor, self.now, labels[_ref(target)])
                for target, row, action, actor in self.changes
            )
        return SyncResult(added=len(self.new), removed=len(self.gone))


def _party_kind(party: Person | Team) -> str:
    return "person" if isinstance(party, Person) else "team"


def _target_labels(targets: Iterable[Target]) -> dict[TargetRef, str]:
    """History labels of ``targets``; the namespaces of datasets loaded without theirs are
    read in one query rather than one each."""
    targets = list(targets)
    bare = {t.pk for t in targets if isinstance(t, Dataset) and not Dataset.namespace.is_cached(t)}
    names = (
        dict(Dataset.objects.filter(pk__in=bare).values_list("pk", "namespace__name"))
        if bare
        else {}
    )
    labels = {}
    for target in targets:
        if isinstance(target, Dataset) and target.pk in names:
            labels[_ref(target)] = f"{names[target.pk]}:{target.name}"[:1024]
        else:
            labels[_ref(target)] = ownership_target_label(target)
    return labels


def _change(
    row: Ownership, action: str, source: str, actor: str, at: datetime, label: str
) -> OwnershipChange:
    kind = row.target_kind
    party = row.party
    return OwnershipChange(
        target_kind=kind,
        **{f"{kind}_id": getattr(row, f"{kind}_id")},
        target_label=label,
        party_kind=row.party_kind,
        person=row.person,
        team=row.team,
        party_label=(party.username if isinstance(party, Person) else party.name)[:255],
        role=row.role,
        action=action,
        source=source,
        actor=actor[:255],
        at=at,
    )


# --- single edits -----------------------------------------------------------------------------


def ownership_add(
    *, target: Target, party: Party, role: str, source: str, actor: str, role_raw: str = ""
) -> tuple[Ownership, bool]:
    """Give ``party`` the ``role`` on ``target`` (a steward's edit). Returns the ownership
    and whether it is new; adding one that exists changes nothing."""
    with transaction.atomic():
        holder = parties_ensure([party])[party]
        row, created = Ownership.objects.select_related("person", "team").get_or_create(
            **{ownership_target_kind(target): target, _party_kind(holder): holder, "role": role},
            defaults={"role_raw": role_raw[:255], "source": source, "created_by": actor[:255]},
        )
        if created:
            _record(row, OwnershipChange.Action.ADDED, source, actor)
    return row, created


def ownership_remove(*, ownership: Ownership, source: str, actor: str) -> None:
    """Remove an ownership, whatever its source, recording who removed it from where.

    A descriptor's or a facet's ownership comes back with its next upload or event."""
    with transaction.atomic():
        _record(ownership, OwnershipChange.Action.REMOVED, source, actor)
        ownership.delete()


def _record(row: Ownership, action: str, source: str, actor: str) -> None:
    """The change in the ownership history and, as a steward's edit, in the audit log."""
    label = _target_labels([row.target])[_ref(row.target)]
    change = _change(row, action, source, actor, timezone.now(), label)
    change.save()
    target = row.target
    key = target.external_id if isinstance(target, DataProduct) else target.pk
    audit_record(
        actor=actor,
        via=Via.PORTAL if source == Ownership.Source.PORTAL else Via.API,
        action=f"ownership.{'granted' if action == OwnershipChange.Action.ADDED else 'removed'}",
        target=f"{change.target_kind}:{key}",
        label=f"{change.party_label} as {row.get_role_display().lower()} of {label}",
        changes={"party": change.party_label, "role": row.role, "of": label},
        at=change.at,
    )
