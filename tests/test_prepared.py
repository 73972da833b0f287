"""Prepared reads and writes (meshport.prepared) return and store what the ORM would."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import models

from catalog.models import ApiToken, Dataset, Namespace
from lineage.facets import FieldFact, schema_hash
from lineage.models import ColumnLineage, Job, Run
from meshport.prepared import insert_rows, new_row, select_where

pytestmark = pytest.mark.django_db

BIG = 2**70  # past 64 bits: orjson refuses it, json takes it


def _fields(instance: models.Model) -> dict[str, object]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


@pytest.fixture
def runs() -> list[Run]:
    ns = Namespace.objects.create(name="prepared")
    job = Job.objects.create(namespace=ns, name="job", facets={"a": [1, 2.5, None], "é": "ü"})
    at = datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    return [
        Run.objects.create(uuid=uuid.uuid4(), job=job, started_at=at, facets={"n": BIG}),
        Run.objects.create(uuid=uuid.uuid4(), job=job, ended_at=at, facets={}),
        Run.objects.create(uuid=uuid.uuid4(), job=job),
    ]


def test_instances_match_the_orm(runs: list[Run]) -> None:
    wanted = [runs[0].uuid, runs[1].uuid, uuid.uuid4()]
    found = {r.uuid: r for r in select_where(Run, {"uuid": wanted}, for_update=True)}
    assert set(found) == {runs[0].uuid, runs[1].uuid}
    for run in Run.objects.filter(uuid__in=wanted):
        assert _fields(found[run.uuid]) == _fields(run)
        assert found[run.uuid]._state.adding is False
    assert found[runs[0].uuid].facets == {"n": BIG}
    job = select_where(Job, {"namespace": [runs[0].job.namespace_id], "name": ["job"]})
    assert [_fields(j) for j in job] == [_fields(Job.objects.get())]


def test_columns_match_values_list(runs: list[Run]) -> None:
    job_id = runs[0].job_id
    got = select_where(Run, {"job": [job_id]}, columns=("uuid", "started_at", "facets"))
    expected = Run.objects.filter(job_id=job_id).values_list("uuid", "started_at", "facets")
    assert sorted(got, key=str) == sorted(expected, key=str)


def test_every_column_must_match_and_nothing_matches_nothing(runs: list[Run]) -> None:
    ns_id = runs[0].job.namespace_id
    assert select_where(Job, {"namespace": [ns_id], "name": ["other"]}) == []
    assert select_where(Job, {"namespace": [ns_id], "name": []}) == []
    assert select_where(Run, {"uuid": set()}) == []


def test_a_lookup_value_is_not_cut_to_its_column() -> None:
    ns = Namespace.objects.create(name="x" * 10)
    Job.objects.create(namespace=ns, name="n" * 1024)
    assert len(select_where(Job, {"name": ["n" * 1024]})) == 1
    # Written, a value past its column is cut; looked up, it matches nothing.
    assert select_where(Job, {"name": ["n" * 1030]}) == []


def test_attribute_names_and_column_names_both_work() -> None:
    ns = Namespace.objects.create(name="cols")
    ds = Dataset.objects.create(namespace=ns, name="d")
    job = Job.objects.create(namespace=ns, name="j")
    ColumnLineage.objects.create(
        output_dataset=ds,
        output_field="a",
        input_dataset=ds,
        input_field="b",
        transformation_type="DIRECT",
        transformation_subtype="IDENTITY",
        job=job,
    )
    by_column = select_where(ColumnLineage, {"output_dataset": [ds.pk]}, columns=ColumnLineage.KEY)
    assert by_column == [(ds.pk, "a", ds.pk, "b", "DIRECT", "IDENTITY")]


def test_written_rows_read_back_unchanged_through_the_orm() -> None:
    ns = Namespace.objects.create(name="w")
    job = Job.objects.create(namespace=ns, name="j")
    plus_five = datetime(2024, 1, 1, 5, 0, 0, 250, tzinfo=timezone(timedelta(hours=5)))
    facets = {"big": BIG, "text": "\u2028é\x7f", "list": [1, 1e-7, 1e16, True, None]}
    run_uuid = uuid.uuid4()
    insert_rows(
        Run,
        [new_row(Run, uuid=run_uuid, job_id=job.pk, started_at=plus_five, facets=facets)],
    )
    run = Run.objects.get(uuid=run_uuid)
    assert run.started_at == plus_five
    assert run.facets == facets
    # Filtering on the stored text compares as the ORM writes it.
    assert Run.objects.filter(started_at=plus_five).count() == 1
    assert Run.objects.filter(started_at__gt=plus_five - timedelta(microseconds=1)).count() == 1


def test_the_token_lookup_reads_a_fresh_row() -> None:
    token, secret = ApiToken.issue(name="t", scopes=["lineage:write"])
    (found,) = select_where(ApiToken, {"hashed_secret": [ApiToken.hash_secret(secret)]})
    assert found.pk == token.pk and found.scopes == ["lineage:write"]
    assert found.is_active


@pytest.mark.parametrize(
    "names",
    [["id", "name"], ["ünïcode", "名前"], ["del\x7fchar", "tab\tnew\nline"], ['quote"back\\']],
)
def test_schema_hash_is_the_json_text_hash(names: list[str]) -> None:
    fields = [
        FieldFact(name=n, type="string", description="", ordinal=i, parent=None)
        for i, n in enumerate(names)
    ]
    shape = [[f.name, f.type, f.description] for f in fields]
    expected = hashlib.sha256(json.dumps(shape, separators=(",", ":")).encode()).hexdigest()
    assert schema_hash(fields) == expected
