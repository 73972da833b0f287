"""The synthetic mesh of the scorecard benchmark: every product is complete enough to be
scored, and every built-in check both passes and fails somewhere."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks.scorecards import CHECKS, _scorecard
from benchmarks.scorecards_synth import Scale, write_mesh
from catalog.models import DataProduct, PortBinding
from governance.models import CheckStatus, ScorecardRun
from governance.scorecard_services import scorecard_run_execute
from lineage.models import Run

pytestmark = pytest.mark.django_db


def test_the_mesh_is_scored_with_every_check_passing_and_failing_somewhere() -> None:
    counts = write_mesh(Scale(products=300, runs=4, domains=3))
    assert counts["products"] == DataProduct.objects.count() == 300
    assert Run.objects.count() == counts["runs"] == 1200
    assert PortBinding.objects.count() == 300
    assert not DataProduct.objects.filter(active_revision__isnull=True).exists()

    scorecard = _scorecard()
    run = ScorecardRun.objects.create(scorecard=scorecard, trigger=ScorecardRun.Trigger.MANUAL)
    done = scorecard_run_execute(run_pk=run.pk)
    assert done is not None and done.status == ScorecardRun.Status.DONE
    seen: Counter[tuple[str, str]] = Counter()
    for checks in done.results.values_list("checks", flat=True):
        seen.update((key, result["status"]) for key, result in checks.items())
    always = {"has_contract", "no_unversioned_breaking_change"}  # no broken descriptor here
    for key in set(CHECKS) - always:
        assert seen[(key, CheckStatus.PASS)] and seen[(key, CheckStatus.FAIL)], key
    assert set(done.summary["levels"]) == {"", "bronze", "silver", "gold"}
