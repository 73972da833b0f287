"""The search benchmark at its small scale: the generated assets, and one measurement pass.

No timing is asserted: figures belong in ``benchmarks/README.md``, not in a test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db.models import Exists, OuterRef
from whoosh.analysis import STOP_WORDS

from benchmarks.search import CATEGORIES, Result, Timing, make_queries, measure, report
from benchmarks.search_synth import SCALES, Assets, build_assets, write_assets
from catalog.models import (
    Contract,
    DataProduct,
    Dataset,
    Domain,
    Person,
    PortBinding,
    SchemaProperty,
    SearchOutbox,
    Team,
)
from lineage.models import Job

SMALL = SCALES["small"]


@pytest.fixture(scope="module")
def assets() -> Assets:
    return build_assets(SMALL, seed=7)


@pytest.fixture
def written(db: None, assets: Assets) -> dict[str, int]:
    return write_assets(assets)


def test_the_assets_are_deterministic(assets: Assets) -> None:
    again = build_assets(SMALL, seed=7)
    assert again.extras.ds_description == assets.extras.ds_description
    assert again.extras.job_sql == assets.extras.job_sql
    assert make_queries(again, 20, 7) == make_queries(assets, 20, 7)
    assert build_assets(SMALL, seed=8).extras.ds_description != assets.extras.ds_description


def test_it_writes_the_small_scale(written: dict[str, int], assets: Assets) -> None:
    assert Dataset.objects.count() == SMALL.mesh.datasets == written["dataset"]
    assert Job.objects.count() == SMALL.mesh.jobs
    assert DataProduct.objects.count() == Contract.objects.count() == SMALL.products
    assert Domain.objects.count() == 16 and Team.objects.count() == 36
    assert Person.objects.count() == SMALL.people
    described = Dataset.objects.exclude(description="").count()
    assert described == written["dataset descriptions"]
    assert 0.65 * SMALL.mesh.datasets < described < 0.85 * SMALL.mesh.datasets
    keys = [tag["key"] for tags in Dataset.objects.values_list("tags", flat=True) for tag in tags]
    assert keys.count("pii") == written["datasets tagged pii"] > 0
    assert keys.count("domain") == written["datasets tagged with a domain"] > 0
    assert Job.objects.exclude(sql="").count() == written["jobs with sql"] > SMALL.mesh.jobs // 2
    assert Job.objects.filter(sql__startswith="INSERT INTO ").count() == written["jobs with sql"]
    assert SchemaProperty.objects.filter(pii=True).exists()


def test_bindings_point_at_generated_datasets(written: dict[str, int]) -> None:
    dataset = Dataset.objects.filter(namespace__name=OuterRef("namespace"), name=OuterRef("name"))
    bindings = PortBinding.objects.all()
    assert bindings.count() == written["port bindings"] >= SMALL.products
    assert not bindings.exclude(Exists(dataset)).exists()
    # Each bound object copies its dataset's columns.
    binding = bindings.select_related("port__contract").first()
    assert binding is not None and binding.port.contract is not None
    columns = set(
        Dataset.objects.get(
            namespace__name=binding.namespace, name=binding.name
        ).schema_fields.values_list("name", flat=True)
    )
    properties = SchemaProperty.objects.filter(
        object__contract=binding.port.contract, object__name=binding.object_name
    )
    assert set(properties.values_list("name", flat=True)) == columns


def test_one_pass_measures_every_category(
    written: dict[str, int], assets: Assets, tmp_path: Path
) -> None:
    # One indexing process: no forks under pytest, and one segment.
    result = measure(
        assets, index_path=tmp_path / "search", per_category=12, drain=40, ingests=2, procs=1
    )

    expected = SMALL.mesh.datasets + SMALL.mesh.jobs + SMALL.products
    assert result.rebuild.documents == result.rebuild.expected > expected
    assert result.rebuild.by_type["dataset"] == SMALL.mesh.datasets
    assert result.rebuild.size_bytes > 0
    assert [t.category for t in result.timings] == [c.name for c in CATEGORIES]
    for timing in result.timings:
        assert len(timing.ms) == len(timing.first_ms) == 12, timing.category
        misses = [q for q, hits in zip(timing.queries, timing.hits, strict=True) if not hits]
        assert not [q for q in misses if not _has_stop_word(q)], timing.category
    exact = _timing(result, "exact name")
    assert exact.top_expected == exact.expected == 12
    assert _timing(result, "typo").corrected == 12
    _assert_fresh(result)
    table = report(result)
    for category in CATEGORIES:
        assert f"| {category.name} | 12 |" in table
    assert not SearchOutbox.objects.exists()
    assert not Dataset.objects.filter(description__contains="quokka").exists()


def _assert_fresh(result: Result) -> None:
    fresh = result.freshness
    assert fresh.rows == fresh.searchable == 40
    assert fresh.indexed >= 40
    assert len(fresh.ingest_ms) == 2 and fresh.ingest_searchable == 2


def _timing(result: Result, name: str) -> Timing:
    return next(t for t in result.timings if t.category == name)


def _has_stop_word(query: str) -> bool:
    # Phrases with a stop word ("cost of goods sold") find no prose at the time of
    # writing: the index drops stop words and the phrase query keeps them (reported).
    return query.startswith('"') and any(w in STOP_WORDS for w in query.strip('"').split())
