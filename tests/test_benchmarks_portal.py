"""The portal benchmark at its small scale: the governance extras, and one measuring pass
over every page.

No timing is asserted: figures belong in ``benchmarks/README.md``, not in a test.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from benchmarks.portal import (
    GOVERNANCE,
    SCORECARD_DAYS,
    Result,
    add_governance,
    measure,
    plan_pages,
    report,
)
from benchmarks.search import rebuild_index, whoosh_on_disk
from benchmarks.search_synth import SCALES, Assets, build_assets, write_assets
from catalog.models import DataProduct, Ownership
from governance.models import Scorecard, ScorecardRun, Slo

SMALL = SCALES["small"]
# page | n | p50 | p95 | first | queries per request (a range when the URLs differ) | …
ROW = r"^\| {name} \| (\d+) \| [\d.]+ \| [\d.]+ \| \d+ \| \d+(–\d+)? \| < 150 \| (met|MISSED) \|$"


@pytest.fixture(scope="module")
def assets() -> Assets:
    return build_assets(SMALL, seed=7)


@pytest.fixture
def extras(db: None, assets: Assets) -> dict[str, object]:
    write_assets(assets)
    return add_governance(assets, GOVERNANCE["small"], seed=7)


def test_it_adds_what_the_governance_pages_read(extras: dict[str, object]) -> None:
    products = DataProduct.objects.count()
    assert Ownership.objects.filter(product__isnull=False).count() == products
    assert Ownership.objects.filter(dataset__isnull=False).exists()
    assert Slo.objects.count() == GOVERNANCE["small"].slos
    assert not Slo.objects.filter(evaluated_at__isnull=True).exists()
    assert Slo.objects.filter(product__isnull=False).exists()
    assert Scorecard.objects.count() == 2
    runs = ScorecardRun.objects.filter(status=ScorecardRun.Status.DONE)
    assert runs.count() == 2 * len(SCORECARD_DAYS)
    user = User.objects.get(username=extras["user"])
    assert not user.is_staff


def test_one_pass_measures_every_page(
    extras: dict[str, object], assets: Assets, tmp_path: Path
) -> None:
    pages = plan_pages(assets, seed=7)
    # One indexing process: no forks under pytest.
    with whoosh_on_disk(tmp_path / "search", procs=1):
        documents = rebuild_index().documents
        timings = measure(pages, requests=2, user=str(extras["user"]))

    assert documents > SMALL.mesh.datasets + SMALL.mesh.jobs
    assert [t.page for t in timings] == [p.name for p in pages]
    for page, timing in zip(pages, timings, strict=True):
        assert page.urls, page.name
        assert len(timing.ms) == 2 * len(page.urls), page.name
        assert len(timing.first_ms) == len(timing.queries) == len(page.urls)
        assert all(ms > 0 for ms in timing.ms)
        assert all(n > 0 for n in timing.queries), page.name
    table = report(Result("small", {}, extras, 2, timings))
    for page in pages:
        row = re.search(ROW.format(name=re.escape(page.name)), table, re.M)
        assert row is not None, page.name
        assert int(row[1]) == 2 * len(page.urls)
    assert "| search | 12 |" in table  # six queries, among them a facet and a typo
