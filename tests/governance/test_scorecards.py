"""Scorecards: gated levels and scores, waivers, enable-later checks, runs on schedule and on
demand, dry runs and shift-left evaluation."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from catalog.descriptors.model import Product
from catalog.models import DataProduct
from catalog.services import data_product_register
from governance.checks import Result, check, failed, not_applicable, passed
from governance.facts import ProductFacts
from governance.models import (
    CheckStatus,
    Scorecard,
    ScorecardResult,
    ScorecardRun,
    Waiver,
    WaiverEvent,
    WebhookDelivery,
    WebhookSubscription,
)
from governance.scorecard_services import (
    WaiverError,
    scorecard_dry_run,
    scorecard_lint,
    scorecard_run_execute,
    scorecard_save,
    scorecards_tick,
    waiver_decide,
    waiver_request,
    waiver_revoke,
)
from governance.scorecards import (
    Definition,
    DefinitionError,
    WaiverRef,
    definition_from_dict,
    score_product,
)
from tests.catalog.test_product_pages import bundle

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HERE = "tests.governance.test_scorecards"


# Checks whose result a test decides: the product's tags say it.
@check("tagged", title="Tagged as the test says", remediation="Tag it {tag}.", tag="ok")
def tagged(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    if "na" in facts.spec.tags:
        return not_applicable("not for this one")
    return passed("tagged") if params["tag"] in facts.spec.tags else failed("untagged")


def facts_with(*tags: str) -> ProductFacts:
    return ProductFacts(
        pk=1,
        spec=Product(id="p", format="odps", tags=list(tags)),
        status="active",
        domain="",
        now=T0,
    )


def definition(
    *checks: dict[str, Any], levels: tuple[str, ...] = ("bronze", "silver", "gold")
) -> Definition:
    return definition_from_dict(
        {"name": "Test card", "levels": list(levels), "checks": list(checks)}
    )


def tag_check(key: str, tag: str, level: str = "", **more: Any) -> dict[str, Any]:
    return {"key": key, "check": f"{HERE}.tagged", "params": {"tag": tag}, "level": level, **more}


# --- levels and scores --------------------------------------------------------------------


def test_a_level_is_reached_when_its_checks_and_those_below_pass() -> None:
    card = definition(
        tag_check("b", "b", "bronze"),
        tag_check("s", "s", "silver"),
        tag_check("g", "g", "gold"),
    )
    assert score_product(card, facts_with("b", "s", "g"), at=T0).level == "gold"
    silver = score_product(card, facts_with("b", "s"), at=T0)
    assert (silver.level, silver.next_level, silver.missing) == ("silver", "gold", ["g"])
    # Gold's checks pass, silver's does not: gated, so bronze only.
    gated = score_product(card, facts_with("b", "g"), at=T0)
    assert (gated.level, gated.next_level, gated.missing) == ("bronze", "silver", ["s"])
    assert score_product(card, facts_with("s", "g"), at=T0).level == ""


def test_a_check_that_does_not_apply_blocks_no_level_and_counts_for_no_score() -> None:
    card = definition(
        tag_check("b", "b", "bronze"),
        tag_check("s", "s", "silver", weight=5),
        levels=("bronze", "silver"),
    )
    outcome = score_product(card, facts_with("b", "na"), at=T0)
    assert outcome.checks["s"].status == CheckStatus.NOT_APPLICABLE
    # "b" is na too (the tag na makes every check not apply): nothing judged scores 100.
    assert (outcome.level, outcome.score) == ("silver", 100.0)


def test_the_score_is_the_weighted_share_of_passing_checks() -> None:
    card = definition(tag_check("heavy", "x", weight=3), tag_check("light", "y", weight=1))
    assert score_product(card, facts_with("x"), at=T0).score == 75.0
    assert score_product(card, facts_with("y"), at=T0).score == 25.0
    assert score_product(card, facts_with(), at=T0).score == 0.0


def test_an_approved_waiver_counts_as_passing_and_stays_visible() -> None:
    card = definition(
        tag_check("b", "b", "bronze"), tag_check("s", "s", "silver"), levels=("bronze", "silver")
    )
    waiver = WaiverRef(7, T0 + timedelta(days=3), "stella")
    outcome = score_product(card, facts_with("b"), at=T0, waivers={"s": waiver})
    assert outcome.level == "silver" and outcome.score == 100.0
    assert outcome.checks["s"].status == CheckStatus.WAIVED
    assert outcome.checks["s"].evidence["waiver"]["id"] == 7


def test_a_check_enabled_later_is_shown_but_counts_only_from_its_date() -> None:
    later = (T0 + timedelta(days=10)).date().isoformat()
    card = definition(
        tag_check("b", "b", "bronze"), tag_check("s", "s", "silver", enabled_from=later)
    )
    before = score_product(card, facts_with("b"), at=T0)
    assert before.checks["s"].status == CheckStatus.UPCOMING
    assert before.checks["s"].evidence["result"] == CheckStatus.FAIL
    assert (before.level, before.score) == ("gold", 100.0)  # gold has no check: reached
    after = score_product(card, facts_with("b"), at=T0 + timedelta(days=10))
    assert (after.level, after.score) == ("bronze", 50.0)


def test_a_check_that_raises_fails_with_the_error_instead_of_stopping_the_run() -> None:
    card = definition({"key": "broken", "check": f"{HERE}.broken", "level": "bronze"})
    outcome = score_product(card, facts_with(), at=T0)
    assert outcome.checks["broken"].status == CheckStatus.FAIL
    assert "boom" in outcome.checks["broken"].message


@check("broken", title="Broken", remediation="None.")
def broken(facts: ProductFacts, params: Mapping[str, Any]) -> Result:
    raise RuntimeError("boom")


# --- definitions ----------------------------------------------------------------------------


def test_a_definition_names_every_problem_with_its_path() -> None:
    with pytest.raises(DefinitionError) as caught:
        definition_from_dict(
            {
                "name": "Bad",
                "schedule": "every hour",
                "levels": ["bronze", "bronze"],
                "colour": "red",
                "checks": [
                    {"check": "has_owner", "level": "platinum"},
                    {"check": "no_such_check"},
                    {"rule": "tags contains"},
                    {"check": "has_owner", "weight": "heavy"},
                    {"check": "os.path.join"},
                    {"check": "has_tags", "enabled_from": "soon"},
                ],
            }
        )
    paths = dict(caught.value.errors)
    assert set(paths) == {
        "schedule",
        "levels/1/slug",
        "colour",
        "checks/0/level",
        "checks/1/check",
        "checks/2/rule",
        "checks/3/weight",
        "checks/4/check",
        "checks/5/enabled_from",
    }
    assert "has_owner" in paths["checks/1/check"]  # lists the known checks


def test_a_definition_round_trips_through_the_database() -> None:
    data = {
        "name": "Round trip",
        "schedule": "*/15 * * * 1-5",
        "filters": {"domains": ["sales"], "statuses": ["active"]},
        "levels": [{"slug": "bronze", "color": "#a87"}, "gold"],
        "checks": [
            {"check": "has_owner", "level": "bronze", "weight": 2, "category": "Ownership"},
            {"key": "gdpr", "rule": 'tags contains "gdpr"', "level": "gold"},
            {
                "check": "columns_described",
                "params": {"min_percent": 50},
                "enabled_from": "2027-01-01",
            },
        ],
    }
    read = definition_from_dict(data)
    assert read.slug == "round-trip"
    saved = scorecard_save(actor="tester", via="api", definition=read)
    assert Definition.from_model(saved) == read
    assert definition_from_dict(read.to_dict()) == read


def test_load_scorecards_loads_all_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("name: Good\nlevels: [bronze]\nchecks: [has_owner]\n")
    (tmp_path / "bad.yaml").write_text("name: Bad\nchecks: [nope]\n")
    with pytest.raises(CommandError, match="nothing loaded"):
        call_command("load_scorecards", str(tmp_path))
    assert not Scorecard.objects.exists()
    (tmp_path / "bad.yaml").unlink()
    call_command("load_scorecards", str(tmp_path))
    assert Scorecard.objects.get().checks.get().check_name == "has_owner"


# --- runs over registered products --------------------------------------------------------------

pytestmark = pytest.mark.django_db


def register(pid: str, **kw: Any) -> DataProduct:
    data_product_register(files=bundle(pid, **kw), actor="tests", source="test")
    return DataProduct.objects.get(external_id=pid)


def readiness(**extra: Any) -> Scorecard:
    data = {
        "name": "Readiness",
        "levels": ["bronze", "silver"],
        "checks": [
            {"check": "has_owner", "level": "bronze"},
            {"check": "has_tags", "level": "silver", "params": {"min_tags": 2}},
        ],
        **extra,
    }
    return scorecard_save(actor="tester", via="api", definition=definition_from_dict(data))


def run_now(scorecard: Scorecard, at: datetime | None = None) -> ScorecardRun:
    run = ScorecardRun.objects.create(scorecard=scorecard, trigger=ScorecardRun.Trigger.MANUAL)
    done = scorecard_run_execute(run_pk=run.pk, now=at)
    assert done is not None and done.status == ScorecardRun.Status.DONE, done and done.error
    return done


def levels(run: ScorecardRun) -> dict[str, str]:
    return dict(run.results.values_list("product__external_id", "level"))


def test_a_run_stores_each_products_checks_score_level_and_what_changed() -> None:
    register("one", tags=("orders", "sales"))
    register("two", tags=("orders",))
    card = readiness()
    first = run_now(card)
    assert levels(first) == {"one": "silver", "two": "bronze"}
    assert first.summary == {
        "products": 2,
        "score": 75.0,
        "levels": {"silver": 1, "bronze": 1},
        "raised": 0,
        "dropped": 0,
    }
    result = first.results.get(product__external_id="two")
    assert result.checks["has_tags"]["status"] == CheckStatus.FAIL
    assert result.changes == []  # nothing to compare with yet

    register("one", tags=("orders",))
    second = run_now(card)
    dropped = second.results.get(product__external_id="one")
    assert (dropped.previous_level, dropped.level) == ("silver", "bronze")
    assert dropped.changes == [{"check": "has_tags", "from": "pass", "to": "fail"}]
    assert second.summary["dropped"] == 1
    card.refresh_from_db()
    assert card.last_run == second


def test_a_level_drop_notifies_the_webhook_subscriptions() -> None:
    register("one", tags=("orders", "sales"))
    card = readiness()
    run_now(card)
    WebhookSubscription.objects.create(name="all", url="https://hooks.example.com/x")
    register("one", tags=("orders",))
    run_now(card)
    delivery = WebhookDelivery.objects.get(event="scorecard.level_dropped")
    assert delivery.payload["product"]["id"] == "one"
    assert (delivery.payload["from"]["level"], delivery.payload["to"]["level"]) == (
        "silver",
        "bronze",
    )


def test_filters_select_products_by_domain_tag_and_status() -> None:
    register("sales-a", domain="sales", tags=("gdpr", "x"))
    register("sales-b", domain="sales", tags=("x", "y"))
    register("finance-a", domain="finance", tags=("gdpr", "x"))
    register("draft", domain="sales", tags=("gdpr", "x"), status="draft")
    card = readiness(filters={"domains": ["sales"], "tags": ["GDPR"], "statuses": ["active"]})
    assert set(levels(run_now(card))) == {"sales-a"}


def test_a_waiver_is_requested_decided_audited_and_expires() -> None:
    product = register("one", tags=("orders",))
    card = readiness()
    waiver = waiver_request(
        product=product,
        check_key="has_tags",
        scorecard=card,
        justification="Tags come with the next release.",
        expires_at=timezone.now() + timedelta(hours=1),
        actor="olga",
    )
    assert levels(run_now(card)) == {"one": "bronze"}  # pending counts for nothing

    waiver_decide(waiver=waiver, approve=True, actor="stella", note="ok for now")
    result = run_now(card).results.get()
    assert result.level == "silver"
    assert result.checks["has_tags"]["status"] == CheckStatus.WAIVED

    later = timezone.now() + timedelta(hours=2)
    assert levels(run_now(card, at=later)) == {"one": "bronze"}  # expired
    assert list(WaiverEvent.objects.filter(waiver=waiver).values_list("action", "actor")) == [
        ("requested", "olga"),
        ("approved", "stella"),
    ]
    with pytest.raises(WaiverError):
        waiver_decide(waiver=waiver, approve=False, actor="stella")
    waiver_revoke(waiver=waiver, actor="stella", note="tags are in")
    assert Waiver.objects.get().status == Waiver.Status.REVOKED


def test_a_waiver_needs_a_reason_a_future_expiry_and_a_known_check() -> None:
    product = register("one")
    readiness()
    soon = timezone.now() + timedelta(days=1)
    cases = [
        ("has_tags", " ", soon, "justification"),
        ("has_tags", "why", timezone.now(), "expires_at"),
        ("nope", "why", soon, "check"),
        ("has_tags", "why", timezone.now() + timedelta(days=400), "expires_at"),
    ]
    for key, why, expires_at, field in cases:
        with pytest.raises(WaiverError) as caught:
            waiver_request(
                product=product, check_key=key, justification=why, expires_at=expires_at, actor="o"
            )
        assert caught.value.field == field
    assert not Waiver.objects.exists()


def test_a_denied_waiver_does_not_count() -> None:
    product = register("one", tags=("orders",))
    card = readiness()
    waiver = waiver_request(
        product=product,
        check_key="has_tags",
        justification="please",
        expires_at=timezone.now() + timedelta(days=1),
        actor="o",
    )
    waiver_decide(waiver=waiver, approve=False, actor="stella", note="tag it")
    assert levels(run_now(card)) == {"one": "bronze"}


def test_a_dry_run_tells_what_the_following_real_run_does() -> None:
    register("one", tags=("orders", "sales"))
    register("two", tags=("orders", "sales"), owner="carol")
    register("three", tags=("orders",))
    card = readiness()
    run_now(card)
    stricter = definition_from_dict(
        {
            "slug": card.slug,
            "name": "Readiness",
            "levels": ["bronze", "silver"],
            "checks": [
                {"check": "has_owner", "level": "bronze"},
                {"check": "has_tags", "level": "silver", "params": {"min_tags": 2}},
                {"key": "gdpr", "rule": 'tags contains "sales"', "level": "bronze"},
            ],
        }
    )
    preview = scorecard_dry_run(scorecard=card, definition=stricter)
    assert preview.moves == {("silver", "silver"): 2, ("bronze", ""): 1}
    assert preview.sentences(Definition.from_model(card), stricter) == [
        "1 product would drop Bronze → no level"
    ]
    assert preview.newly_failing == {"gdpr": 1}
    assert levels(card.runs.get()) == {
        "one": "silver",
        "two": "silver",
        "three": "bronze",
    }  # nothing written

    scorecard_save(actor="tester", via="api", definition=stricter)
    after = run_now(card)
    assert {c["product"]: c["to"] for c in preview.changed} == {
        pid: level for pid, level in levels(after).items() if level != "silver"
    }
    assert after.summary["score"] == preview.score_after


def test_a_run_is_executed_once_however_many_workers_try() -> None:
    register("one")
    card = readiness()
    run = ScorecardRun.objects.create(scorecard=card, trigger=ScorecardRun.Trigger.MANUAL)
    assert scorecard_run_execute(run_pk=run.pk) is not None
    assert scorecard_run_execute(run_pk=run.pk) is None
    assert ScorecardResult.objects.count() == 1


def test_workers_ticking_in_the_same_minute_claim_a_slot_once() -> None:
    register("one")
    card = readiness(schedule="*/5 * * * *")
    Scorecard.objects.filter(pk=card.pk).update(created_at=T0 - timedelta(days=1))
    first = scorecards_tick(now=T0 + timedelta(seconds=5))
    second = scorecards_tick(now=T0 + timedelta(seconds=40))
    assert [r.slot for r in first] == [T0] and second == []
    assert ScorecardRun.objects.filter(scorecard=card).count() == 1


@pytest.fixture
def huey_immediate() -> Iterator[None]:
    HUEY.immediate = True  # queued tasks run as they are queued, in memory
    try:
        yield
    finally:
        HUEY.immediate = False


def test_the_worker_runs_a_five_minute_schedule_twelve_times_an_hour(
    huey_immediate: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from governance.tasks import scorecard_tick

    register("one")
    card = readiness(schedule="*/5 * * * *")
    Scorecard.objects.filter(pk=card.pk).update(created_at=T0 - timedelta(hours=1))
    clock = {"now": T0}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    for minute in range(60):
        clock["now"] = T0 + timedelta(minutes=minute, seconds=2)
        scorecard_tick.call_local()
    runs = ScorecardRun.objects.filter(scorecard=card).order_by("slot")
    assert [r.slot for r in runs] == [T0 + timedelta(minutes=5 * i) for i in range(12)]
    assert all(r.status == ScorecardRun.Status.DONE and r.results.count() == 1 for r in runs)


def test_a_tick_after_a_pause_catches_up_only_recent_slots_and_gives_up_dead_runs() -> None:
    card = readiness(schedule="* * * * *")
    Scorecard.objects.filter(pk=card.pk).update(created_at=T0 - timedelta(days=1))
    stuck = ScorecardRun.objects.create(
        scorecard=card, trigger=ScorecardRun.Trigger.MANUAL, status=ScorecardRun.Status.RUNNING,
        started_at=T0 - timedelta(hours=1),
    )  # fmt: skip
    claimed = scorecards_tick(now=T0)
    assert [r.slot for r in claimed] == [T0 - timedelta(minutes=m) for m in range(4, -1, -1)]
    stuck.refresh_from_db()
    assert stuck.status == ScorecardRun.Status.FAILED


# --- shift-left ---------------------------------------------------------------------------------


def test_shift_left_scores_a_descriptor_without_registering_it() -> None:
    card = readiness()
    lint = scorecard_lint(
        definition=Definition.from_model(card), files=bundle("new", tags=("one",))
    )
    assert (lint.product, lint.outcome.level, lint.outcome.failing()) == (
        "new",
        "bronze",
        ["has_tags"],
    )
    assert lint.in_scope and not DataProduct.objects.exists()


def test_shift_left_sees_a_breaking_change_without_a_major_version() -> None:
    register("one", version="1.0.0")
    card = scorecard_save(
        actor="tester",
        via="api",
        definition=definition_from_dict(
            {
                "name": "Breaks",
                "levels": ["ok"],
                "checks": [{"check": "no_unversioned_breaking_change", "level": "ok"}],
            }
        ),
    )
    card_def = Definition.from_model(card)
    same_major = scorecard_lint(
        definition=card_def, files=bundle("one", version="1.1.0", email=False)
    )
    assert same_major.outcome.failing() == ["no_unversioned_breaking_change"]
    new_major = scorecard_lint(
        definition=card_def, files=bundle("one", version="2.0.0", email=False)
    )
    assert new_major.outcome.level == "ok"


def test_lint_product_exits_non_zero_below_the_wanted_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readiness()
    folder = tmp_path / "product"
    folder.mkdir()
    for name, text in bundle("new", tags=("one",)).items():
        (folder / name).write_text(text)
    call_command("lint_product", str(folder))
    out = capsys.readouterr().out
    assert (
        "Readiness: Bronze" in out and "FAIL Tagged" in out and "fix: Add at least 2 tag(s)" in out
    )
    with pytest.raises(CommandError) as exited:
        call_command("lint_product", str(folder), "--min-level", "silver")
    assert exited.value.returncode == 1


# --- admin ----------------------------------------------------------------------------------


def test_the_admin_edits_a_scorecard_and_refuses_an_unknown_check(
    admin_user: Any, client: Any
) -> None:
    card = readiness(schedule="0 6 * * *")
    client.force_login(admin_user)
    url = f"/admin/governance/scorecard/{card.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and "has_tags" in page.content.decode()
    for path in (
        "/admin/governance/scorecard/",
        "/admin/governance/scorecardrun/",
        "/admin/governance/waiver/",
    ):
        assert client.get(path).status_code == 200

    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if k in form.fields and v is not None}
    data.update(schedule="every day", filters="{}")
    for formset in page.context["inline_admin_formsets"]:
        fs = formset.formset
        data.update(
            {
                f"{fs.prefix}-TOTAL_FORMS": str(fs.total_form_count()),
                f"{fs.prefix}-INITIAL_FORMS": str(fs.initial_form_count()),
            }
        )
        for i, sub in enumerate(fs.forms):
            for name, field in sub.fields.items():
                value = sub.initial.get(name, field.initial)
                if value is not None:
                    data[f"{fs.prefix}-{i}-{name}"] = value.pk if hasattr(value, "pk") else value
    data["checks-1-check_name"] = "no_such_check"
    data = {k: (v if isinstance(v, str | int | float) else json.dumps(v)) for k, v in data.items()}
    refused = client.post(url, data)
    assert refused.status_code == 200  # the form again, with the errors
    text = refused.content.decode()
    assert "is not five fields" in text and "no built-in check" in text
    assert Scorecard.objects.get(pk=card.pk).schedule == "0 6 * * *"
