"""The lineage tables' indexes, as migrated: each ingested event writes every one of them."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.db.models import ForeignKey
from django.utils import timezone

from lineage.models import LineageEvent


def _leading(table: str) -> dict[str, list[str]]:
    """Column → names of the indexes (unique or not, primary key included) it leads."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    leading: dict[str, list[str]] = {}
    for name, info in constraints.items():
        if (info["index"] or info["unique"] or info["primary_key"]) and info["columns"]:
            leading.setdefault(info["columns"][0], []).append(name)
    return leading


@pytest.mark.django_db
def test_every_lineage_foreign_key_leads_exactly_one_index() -> None:
    checked = 0
    for model in apps.get_app_config("lineage").get_models():
        leading = _leading(model._meta.db_table)
        for field in model._meta.concrete_fields:
            if isinstance(field, ForeignKey):
                assert len(leading.get(field.column, [])) == 1, (
                    f"{model._meta.db_table}.{field.column}: {leading.get(field.column)}"
                )
                checked += 1
    assert checked >= 15


@pytest.mark.django_db
def test_the_dedupe_key_leads_with_the_event_time() -> None:
    leading = _leading(LineageEvent._meta.db_table)
    assert "hash" not in leading  # no index at a random place per event
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "lineage_lineageevent")
    unique = [c["columns"] for c in constraints.values() if c["unique"] and not c["primary_key"]]
    assert unique == [["event_time", "hash"]]


@pytest.mark.django_db
def test_the_same_hash_and_time_cannot_be_stored_twice() -> None:
    at = timezone.now()
    row = {"hash": "a" * 64, "kind": "run", "event_time": at, "producer": "p", "payload": {}}
    LineageEvent.objects.create(**row)
    with pytest.raises(IntegrityError), transaction.atomic():
        LineageEvent.objects.create(**row)
    LineageEvent.objects.create(**{**row, "hash": "b" * 64})
    assert LineageEvent.objects.count() == 2
