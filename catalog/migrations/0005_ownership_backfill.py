"""Backfill ownerships from what the catalog already knew.

Products: their team's members in a role other than "member" (a team without members owns
its products), as source ``descriptor``, which is what registering the descriptor again
would produce. Datasets: their stored OpenLineage ``ownership`` facet, as source
``openlineage``; the projector only syncs owners when the facet changes, so without this
a steady pipeline would never fill them. Each row is recorded in the history.

The URN and role rules are copied from ``catalog.ownership`` on purpose: a migration must
not change when the application code does.
"""

from django.db import migrations
from django.utils import timezone

ACTOR = "migration"
ROLE_WORDS = (
    ("business", "business_owner"),
    ("steward", "steward"),
    ("technical", "technical_owner"),
    ("maintainer", "technical_owner"),
    ("engineer", "technical_owner"),
    ("developer", "technical_owner"),
)


def role_from_type(kind):
    lowered = (kind or "").lower()
    return next((role for word, role in ROLE_WORDS if word in lowered), "owner")


def party_from_urn(urn):
    prefix, colon, rest = urn.partition(":")
    if colon and rest.strip() and prefix.strip().lower() == "team":
        return "team", rest.strip()[:200]
    if colon and rest.strip() and prefix.strip().lower() == "user":
        return "person", rest.strip()[:255]
    return "person", urn.strip()[:255]


class Backfill:
    def __init__(self, apps):
        self.Person = apps.get_model("catalog", "Person")
        self.Team = apps.get_model("catalog", "Team")
        self.Ownership = apps.get_model("catalog", "Ownership")
        self.Change = apps.get_model("catalog", "OwnershipChange")
        self.now = timezone.now()
        self.rows = {}  # (target kind, target pk, party kind, party pk, role) -> row
        self.labels = {}

    def party(self, kind, key):
        if kind == "team":
            return self.Team.objects.get_or_create(name=key)[0]
        person = self.Person.objects.filter(username=key).first()
        if person is None and "@" in key:
            person = self.Person.objects.filter(email__iexact=key).first()
        return person or self.Person.objects.create(username=key, email=key if "@" in key else "")

    def add(self, kind, target, label, party_kind, party, role, role_raw, source):
        key = (kind, target.pk, party_kind, party.pk, role)
        if key in self.rows:
            return
        self.labels[key] = (label, party.username if party_kind == "person" else party.name)
        self.rows[key] = self.Ownership(
            **{kind: target, party_kind: party},
            role=role,
            role_raw=role_raw[:255],
            source=source,
            created_at=self.now,
            created_by=ACTOR,
        )

    def save(self):
        self.Ownership.objects.bulk_create(self.rows.values(), ignore_conflicts=True)
        self.Change.objects.bulk_create(
            self.Change(
                target_kind=key[0],
                **{f"{key[0]}_id": key[1], f"{key[2]}_id": key[3]},
                target_label=self.labels[key][0][:1024],
                party_kind=key[2],
                party_label=self.labels[key][1][:255],
                role=row.role,
                action="added",
                source=row.source,
                actor=ACTOR,
                at=self.now,
            )
            for key, row in self.rows.items()
        )


def backfill(apps, schema_editor):
    fill = Backfill(apps)
    DataProduct = apps.get_model("catalog", "DataProduct")
    TeamMember = apps.get_model("catalog", "TeamMember")
    Dataset = apps.get_model("catalog", "Dataset")
    for product in DataProduct.objects.exclude(team=None).select_related("team"):
        members = TeamMember.objects.filter(team_id=product.team_id).select_related("person")
        for m in members.exclude(role="member"):
            fill.add("product", product, product.external_id, "person", m.person, m.role,
                     m.role_raw, "descriptor")
        if not members.exists():
            fill.add("product", product, product.external_id, "team", product.team, "owner", "",
                     "descriptor")
    for dataset in Dataset.objects.exclude(owners=[]).select_related("namespace"):
        label = f"{dataset.namespace.name}:{dataset.name}"
        for owner in dataset.owners if isinstance(dataset.owners, list) else []:
            name = str((owner or {}).get("name") or "") if isinstance(owner, dict) else ""
            if not name.strip():
                continue
            kind = str(owner.get("type") or "")
            party_kind, key = party_from_urn(name)
            fill.add("dataset", dataset, label, party_kind, fill.party(party_kind, key),
                     role_from_type(kind), kind, "openlineage")
    fill.save()


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0004_ownership"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
