"""``/api/v1/scorecards`` and ``/api/v1/waivers``: definitions, dry runs, shift-left
evaluation, runs and their results, and waivers through their whole lifecycle."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.models import ApiToken, DataProduct, ProductRevision
from governance.models import Scorecard, ScorecardResult, ScorecardRun, Waiver, WaiverEvent
from governance.scorecard_services import definitions_read, scorecard_save
from governance.scorecards import Definition, definition_from_dict
from tests.catalog.test_product_pages import bundle, inputs_from
from tests.governance.test_scorecards import readiness, register, run_now

pytestmark = pytest.mark.django_db

DEMO_READINESS = Path(__file__).resolve().parents[2] / "governance/demo_scorecards/readiness.yaml"
READINESS = {
    "name": "Readiness",
    "levels": ["bronze", "silver"],
    "checks": [
        {"check": "has_owner", "level": "bronze"},
        {"check": "has_tags", "level": "silver", "params": {"min_tags": 2}},
    ],
}
STRICTER = {
    **READINESS,
    "checks": [*READINESS["checks"], {"rule": 'tags contains "sales"', "level": "bronze"}],
}


def signed_in(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def bearer(name: str, *scopes: str, created_by: User | None = None) -> APIClient:
    _, secret = ApiToken.issue(name=name, scopes=list(scopes), created_by=created_by)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def ci() -> APIClient:
    """A domain team's CI: a ``products:write`` token."""
    return bearer("sales-ci", "products:write")


@pytest.fixture
def alice(db: None) -> User:
    """The owner the test descriptors name (``owner: alice``)."""
    return User.objects.create_user("alice", "alice@example.com", "pw-alice-1")


def errors(response: Any) -> dict[str, str]:
    return {e["path"]: e["message"] for e in response.json()["errors"]}


def evaluate(client: APIClient, files: dict[str, str], slug: str = "readiness") -> Any:
    uploads = [SimpleUploadedFile(name, text.encode()) for name, text in files.items()]
    return client.post(f"/api/v1/scorecards/{slug}/evaluate", {"file": uploads}, format="multipart")


@contextmanager
def no_writes() -> Iterator[None]:
    """Fails unless the block writes nothing but a token's last use."""
    with CaptureQueriesContext(connection) as seen:
        yield
    writes = [
        q["sql"]
        for q in seen.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and "catalog_apitoken" not in q["sql"]
    ]
    assert writes == []


def later(**delta: float) -> str:
    return (timezone.now() + timedelta(**delta)).isoformat()


# --- definitions ----------------------------------------------------------------------------


def test_a_steward_creates_a_scorecard_from_a_document_and_reads_it_back(
    governor: APIClient, anonymous: APIClient
) -> None:
    created = governor.post("/api/v1/scorecards", READINESS, format="json")
    assert created.status_code == 201, created.json()
    assert (created.json()["slug"], created.json()["source"]) == ("readiness", "api")
    detail = anonymous.get("/api/v1/scorecards/readiness").json()
    assert detail["definition"] == definition_from_dict(READINESS).to_dict()
    (listed,) = anonymous.get("/api/v1/scorecards").json()["results"]
    assert (listed["checks"], listed["lastRun"]) == (2, None)
    assert [lv["slug"] for lv in listed["levels"]] == ["bronze", "silver"]


def test_the_list_shows_the_last_run_and_reads_in_a_fixed_number_of_queries(
    anonymous: APIClient, django_assert_num_queries: Any
) -> None:
    register("one", tags=("orders", "sales"))
    run = run_now(readiness())
    scorecard_save(actor="tester", via="api", definition=Definition(slug="b", name="B"))
    with django_assert_num_queries(3):  # count, page, levels
        body = anonymous.get("/api/v1/scorecards").json()
    last = body["results"][1]["lastRun"]
    assert (last["id"], last["summary"]["levels"]) == (run.pk, {"silver": 1})
    assert last["finishedAt"]


@pytest.mark.parametrize(
    ("change", "paths"),
    [
        ({"schedule": "hourly"}, {"schedule"}),
        ({"levels": ["bronze", "bronze"]}, {"levels/1/slug", "checks/1/level"}),
        ({"checks": ["has_owner", {"check": "nope"}]}, {"checks/1/check"}),
        ({"checks": [{"check": ".x"}]}, {"checks/0/check"}),
        (
            {"checks": [{"check": "has_tags", "enabled_from": "2027-01-01T25:00"}]},
            {"checks/0/enabled_from"},
        ),
        ({"enabled": "false"}, {"enabled"}),
        ({"colour": "red"}, {"colour"}),
        ({"name": "x" * 201}, {"name"}),
        ({"checks": [{"check": "has_tags", "category": "c" * 101}]}, {"checks/0/category"}),
    ],
)
def test_a_bad_definition_is_400_naming_each_path_and_nothing_is_stored(
    governor: APIClient, change: dict[str, Any], paths: set[str]
) -> None:
    response = governor.post("/api/v1/scorecards", {**READINESS, **change}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid scorecard definition"
    assert set(errors(response)) == paths
    assert not Scorecard.objects.exists()


def test_a_body_that_is_not_a_mapping_is_400(governor: APIClient) -> None:
    response = governor.post("/api/v1/scorecards", ["has_owner"], format="json")
    assert response.status_code == 400 and set(errors(response)) == {"/"}


def test_only_stewards_define_scorecards(
    anonymous: APIClient, pipeline: APIClient, ci: APIClient, outsider: User, steward: User
) -> None:
    post = {"path": "/api/v1/scorecards", "data": READINESS, "format": "json"}
    assert anonymous.post(**post).status_code == 401
    assert pipeline.post(**post).status_code == 403
    assert ci.post(**post).status_code == 403
    assert signed_in(outsider).post(**post).status_code == 403
    assert signed_in(steward).post(**post).status_code == 201
    assert (
        anonymous.put("/api/v1/scorecards/readiness", READINESS, format="json").status_code == 401
    )
    assert anonymous.delete("/api/v1/scorecards/readiness").status_code == 401


def test_creating_a_slug_that_is_taken_is_409(governor: APIClient) -> None:
    readiness()
    response = governor.post(
        "/api/v1/scorecards", {**READINESS, "slug": "readiness", "name": "New"}, format="json"
    )
    assert (response.status_code, set(errors(response))) == (409, {"slug"})
    assert Scorecard.objects.get().name == "Readiness"


def test_put_replaces_the_definition_when_the_slug_matches_or_is_absent(
    governor: APIClient,
) -> None:
    readiness()
    url = "/api/v1/scorecards/readiness"
    replaced = governor.put(url, {**STRICTER, "name": "Renamed"}, format="json")
    assert replaced.status_code == 200, replaced.json()
    assert [c["key"] for c in replaced.json()["definition"]["checks"]][-1] == "rule"
    assert Scorecard.objects.get().name == "Renamed"
    other = governor.put(url, {**READINESS, "slug": "other"}, format="json")
    assert (other.status_code, set(errors(other))) == (400, {"slug"})
    assert governor.put(url, {"name": "No checks"}, format="json").status_code == 400
    assert Scorecard.objects.get().checks.count() == 3
    assert governor.put("/api/v1/scorecards/nope", READINESS, format="json").status_code == 404


def test_put_takes_over_a_scorecard_loaded_from_a_file_as_the_portal_does(
    governor: APIClient,
) -> None:
    ((path, definition),) = definitions_read([DEMO_READINESS])
    scorecard_save(
        actor="tester",
        via="api",
        definition=definition,
        source=Scorecard.Source.FILE,
        source_path=str(path),
    )
    replaced = governor.put("/api/v1/scorecards/readiness", READINESS, format="json")
    assert (replaced.status_code, replaced.json()["source"]) == (200, "api")
    assert Scorecard.objects.get().checks.count() == 2


def test_delete_removes_the_scorecard_with_its_runs(governor: APIClient) -> None:
    register("one")
    run_now(readiness())
    assert governor.delete("/api/v1/scorecards/readiness").status_code == 204
    assert not Scorecard.objects.exists() and not ScorecardResult.objects.exists()


# --- dry run ----------------------------------------------------------------------------------


def test_a_dry_run_tells_what_would_move_and_writes_nothing(governor: APIClient) -> None:
    register("one", tags=("orders", "sales"))
    register("two", tags=("orders",))
    card = readiness()
    run_now(card)
    before = Definition.from_model(card)

    with no_writes():
        response = governor.post("/api/v1/scorecards/readiness/dry-run", STRICTER, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["products"] == 2
    assert {(m["from"], m["to"]): m["products"] for m in body["moves"]} == {
        ("silver", "silver"): 1,
        ("bronze", ""): 1,
    }
    assert body["sentences"] == ["1 product would drop Bronze → no level"]
    assert body["changed"] == [{"id": "two", "name": "two", "from": "bronze", "to": ""}]
    assert body["newlyFailing"] == {"rule": 1}
    assert body["scoreBefore"] == 75.0 and body["scoreAfter"] < 75.0
    assert Definition.from_model(card) == before
    assert ScorecardRun.objects.count() == 1 and ScorecardResult.objects.count() == 2


def test_a_dry_run_checks_its_definition_and_is_for_stewards(
    governor: APIClient, ci: APIClient
) -> None:
    readiness()
    url = "/api/v1/scorecards/readiness/dry-run"
    bad = governor.post(url, {**READINESS, "checks": [{"check": "nope"}]}, format="json")
    assert (bad.status_code, set(errors(bad))) == (400, {"checks/0/check"})
    assert ci.post(url, STRICTER, format="json").status_code == 403
    assert (
        governor.post("/api/v1/scorecards/nope/dry-run", STRICTER, format="json").status_code == 404
    )


# --- shift-left -------------------------------------------------------------------------------


def test_evaluate_scores_a_descriptor_and_writes_nothing(ci: APIClient) -> None:
    readiness()
    with no_writes():
        response = evaluate(ci, bundle("new", tags=("one",)))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["product"], body["registered"], body["inScope"]) == ("new", False, True)
    assert (body["level"], body["score"]) == ({"slug": "bronze", "name": "Bronze"}, 50.0)
    assert (body["nextLevel"]["slug"], body["missing"]) == ("silver", ["has_tags"])
    (failing,) = body["failing"]
    assert (failing["key"], failing["status"], failing["level"]) == ("has_tags", "fail", "silver")
    assert failing["remediation"].startswith("Add at least 2 tag(s)")
    assert [c["status"] for c in body["checks"]] == ["pass", "fail"]
    assert not DataProduct.objects.exists() and not ProductRevision.objects.exists()
    assert not ScorecardRun.objects.exists()


def test_evaluate_gives_what_a_run_gives_once_the_descriptor_is_registered(
    ci: APIClient,
) -> None:
    ((_, definition),) = definitions_read([DEMO_READINESS])
    scorecard_save(actor="tester", via="api", definition=definition)
    register("upstream", tags=("orders", "sales"))
    descriptor = {"tags": ("orders",), "inputs": inputs_from("upstream")}
    evaluated = evaluate(ci, bundle("new", **descriptor)).json()

    register("new", **descriptor)
    result = run_now(Scorecard.objects.get()).results.get(product__external_id="new")

    assert (evaluated["level"] or {"slug": ""})["slug"] == result.level
    assert evaluated["score"] == result.score
    assert {c["key"]: c["status"] for c in evaluated["checks"]} == {
        key: check["status"] for key, check in result.checks.items()
    }


def test_evaluate_takes_a_single_yaml_document_as_product_registration_does(
    ci: APIClient,
) -> None:
    readiness()
    text = bundle("solo", tags=("a", "b"))["product.yaml"]
    response = ci.post("/api/v1/scorecards/readiness/evaluate", text, content_type="text/yaml")
    assert response.status_code == 200, response.json()
    assert (response.json()["product"], response.json()["level"]["slug"]) == ("solo", "silver")


def test_an_unreadable_descriptor_is_400_naming_where(ci: APIClient) -> None:
    readiness()
    url = "/api/v1/scorecards/readiness/evaluate"
    broken = ci.post(url, "id: x\nname: [unclosed\n", content_type="application/yaml")
    assert broken.status_code == 400 and broken.json()["error"] == "invalid descriptor"
    assert all(e["path"] and "line" in e["message"] for e in broken.json()["errors"])
    no_id = evaluate(ci, {"product.yaml": "kind: DataProduct\napiVersion: v1.0.0\n"})
    assert no_id.status_code == 400 and no_id.json()["errors"]
    empty = ci.post(url, "", content_type="application/yaml")
    assert (empty.status_code, set(errors(empty))) == (400, {"$"})
    assert not DataProduct.objects.exists()


def test_who_may_evaluate(
    anonymous: APIClient, pipeline: APIClient, governor: APIClient, outsider: User
) -> None:
    readiness()
    files = bundle("new")
    assert evaluate(anonymous, files).status_code == 401
    assert evaluate(pipeline, files).status_code == 403  # lineage:write only
    assert evaluate(signed_in(outsider), files).status_code == 200
    assert evaluate(governor, files).status_code == 200
    assert evaluate(governor, files, slug="nope").status_code == 404


# --- runs and results -------------------------------------------------------------------------


def test_runs_are_listed_newest_first_and_a_steward_starts_one(
    governor: APIClient, anonymous: APIClient
) -> None:
    card = readiness()
    first, second = run_now(card), run_now(card)
    url = "/api/v1/scorecards/readiness/runs"
    page = anonymous.get(url, {"limit": 1}).json()
    assert (page["count"], [r["id"] for r in page["results"]]) == (2, [second.pk])
    assert anonymous.get(page["next"]).json()["results"][0]["id"] == first.pk

    started = governor.post(url)
    assert started.status_code == 202
    body = started.json()
    assert (body["status"], body["trigger"], body["requestedBy"]) == (
        "pending",
        "manual",
        "stewardship",
    )
    assert anonymous.post(url).status_code == 401
    assert ScorecardRun.objects.filter(status="pending").count() == 1


def test_a_run_shows_its_summary_and_the_definition_it_used(anonymous: APIClient) -> None:
    register("one", tags=("orders", "sales"))
    run = run_now(readiness())
    scorecard_save(actor="tester", via="api", definition=Definition(slug="other", name="Other"))
    body = anonymous.get(f"/api/v1/scorecards/readiness/runs/{run.pk}").json()
    assert body["summary"]["levels"] == {"silver": 1} and body["status"] == "done"
    assert [c["key"] for c in body["definition"]["checks"]] == ["has_owner", "has_tags"]
    assert anonymous.get(f"/api/v1/scorecards/other/runs/{run.pk}").status_code == 404


@pytest.fixture
def two_runs() -> ScorecardRun:
    """ "one" drops silver → bronze in the second run, "two" stays bronze, "three" silver."""
    register("one", tags=("orders", "sales"))
    register("two", tags=("orders",))
    register("three", tags=("orders", "sales"))
    card = readiness()
    run_now(card)
    register("one", tags=("orders",))
    return run_now(card)


@pytest.mark.parametrize(
    ("query", "products"),
    [
        ({}, ["one", "three", "two"]),
        ({"level": "bronze"}, ["one", "two"]),
        ({"level": "none"}, []),
        ({"product": "two"}, ["two"]),
        ({"changed": "true"}, ["one"]),
        ({"changed": "false"}, ["three", "two"]),
        ({"failing": "has_tags"}, ["one", "two"]),
        ({"failing": "has_owner"}, []),
    ],
)
def test_results_filter_by_level_product_change_and_failing_check(
    anonymous: APIClient, two_runs: ScorecardRun, query: dict[str, str], products: list[str]
) -> None:
    url = f"/api/v1/scorecards/readiness/runs/{two_runs.pk}/results"
    body = anonymous.get(url, query).json()
    assert [r["product"]["id"] for r in body["results"]] == products


def test_a_result_says_what_moved_and_pages(anonymous: APIClient, two_runs: ScorecardRun) -> None:
    url = f"/api/v1/scorecards/readiness/runs/{two_runs.pk}/results"
    page = anonymous.get(url, {"limit": 1}).json()
    assert page["count"] == 3 and page["next"]
    (one,) = page["results"]
    assert (one["level"], one["previousLevel"], one["previousScore"]) == ("bronze", "silver", 100.0)
    assert one["changes"] == [{"check": "has_tags", "from": "pass", "to": "fail"}]
    assert one["checks"]["has_tags"]["status"] == "fail" and one["blastRadius"] == 0
    bad = anonymous.get(url, {"failing": "a b"})
    assert (bad.status_code, set(errors(bad))) == (400, {"failing"})
    assert anonymous.get(url, {"changed": "maybe"}).status_code == 400


def test_a_products_latest_result(anonymous: APIClient, two_runs: ScorecardRun) -> None:
    url = "/api/v1/scorecards/readiness/results"
    body = anonymous.get(url, {"product": "one"}).json()
    assert (body["run"], body["level"]) == (two_runs.pk, "bronze")
    assert set(errors(anonymous.get(url))) == {"product"}
    assert set(errors(anonymous.get(url, {"product": "nope"}))) == {"product"}
    register("four")
    assert anonymous.get(url, {"product": "four"}).status_code == 404  # not run since


# --- waivers ----------------------------------------------------------------------------------


def ask(client: APIClient, **change: Any) -> Any:
    body = {
        "product": "one",
        "check": "has_tags",
        "scorecard": "readiness",
        "justification": "Tags come with the next release.",
        "expiresAt": later(days=30),
        **change,
    }
    return client.post("/api/v1/waivers", body, format="json")


def test_a_waiver_is_asked_by_an_owner_decided_by_a_steward_and_audited(
    alice: User, governor: APIClient, anonymous: APIClient
) -> None:
    register("one", tags=("orders",))
    card = readiness()
    asked = ask(signed_in(alice))
    assert asked.status_code == 201, asked.json()
    waiver = asked.json()
    assert (waiver["status"], waiver["requestedBy"], waiver["product"]["id"]) == (
        "pending",
        "alice",
        "one",
    )
    url = f"/api/v1/waivers/{waiver['id']}"

    approved = governor.post(f"{url}/approve", {"note": "ok for now"}, format="json")
    assert approved.status_code == 200, approved.json()
    assert (approved.json()["status"], approved.json()["active"]) == ("approved", True)
    assert run_now(card).results.get().checks["has_tags"]["status"] == "waived"

    again = governor.post(f"{url}/deny", {}, format="json")
    assert again.status_code == 409 and "already approved" in again.json()["error"]
    assert governor.post(f"{url}/revoke", {"note": "tags are in"}, format="json").status_code == 200
    trail = anonymous.get(url).json()["events"]
    assert [(e["action"], e["actor"]) for e in trail] == [
        ("requested", "alice"),
        ("approved", "stewardship"),
        ("revoked", "stewardship"),
    ]
    assert governor.post(f"{url}/revoke", {}, format="json").status_code == 409
    assert WaiverEvent.objects.count() == 3


def test_a_steward_denies_or_approves_with_another_expiry(governor: APIClient) -> None:
    register("one", tags=("orders",))
    readiness()
    first, second = ask(governor).json()["id"], ask(governor).json()["id"]
    denied = governor.post(f"/api/v1/waivers/{first}/deny", {"note": "tag it"}, format="json")
    assert (denied.json()["status"], denied.json()["decisionNote"]) == ("denied", "tag it")
    past = governor.post(
        f"/api/v1/waivers/{second}/approve", {"expiresAt": later(days=-1)}, format="json"
    )
    assert (past.status_code, set(errors(past))) == (400, {"expiresAt"})
    until = later(days=3)
    approved = governor.post(
        f"/api/v1/waivers/{second}/approve", {"expiresAt": until}, format="json"
    )
    assert approved.json()["expiresAt"][:16] == until[:16]
    assert governor.post("/api/v1/waivers/999999/approve", {}, format="json").status_code == 404


def test_who_may_ask_for_and_decide_waivers(
    alice: User, anonymous: APIClient, outsider: User, ci: APIClient
) -> None:
    register("one", tags=("orders",))
    readiness()
    assert ask(anonymous).status_code == 401
    assert ask(signed_in(outsider)).status_code == 403
    assert ask(ci).status_code == 403  # a products:write token that no owner made
    assert ask(bearer("alice-lineage", "lineage:write", created_by=alice)).status_code == 403
    made_by_owner = ask(bearer("alice-ci", "products:write", created_by=alice))
    assert made_by_owner.status_code == 201 and made_by_owner.json()["requestedBy"] == "alice-ci"
    url = f"/api/v1/waivers/{made_by_owner.json()['id']}/approve"
    assert signed_in(alice).post(url, {}, format="json").status_code == 403
    assert ci.post(url, {}, format="json").status_code == 403
    assert Waiver.objects.get().status == "pending"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"product": "nope"}, "product"),
        ({"check": "nope"}, "check"),
        ({"check": "not a key"}, "check"),
        ({"scorecard": "nope"}, "scorecard"),
        ({"justification": "  "}, "justification"),
        ({"expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt"),
        ({"expiresAt": "soon"}, "expiresAt"),
    ],
)
def test_a_bad_waiver_request_is_400_naming_the_field_and_nothing_is_stored(
    governor: APIClient, change: dict[str, str], field: str
) -> None:
    register("one")
    readiness()
    response = ask(governor, **change)
    assert (response.status_code, set(errors(response))) == (400, {field})
    assert not Waiver.objects.exists()


def test_the_waiver_list_filters_and_reads_in_a_fixed_number_of_queries(
    governor: APIClient, anonymous: APIClient, django_assert_num_queries: Any
) -> None:
    register("one")
    register("two")
    readiness()
    ask(governor)
    ask(governor, product="two", scorecard=None, check="has_owner")
    denied = ask(governor, product="two").json()["id"]
    governor.post(f"/api/v1/waivers/{denied}/deny", {}, format="json")

    def products(**query: str) -> list[str]:
        body = anonymous.get("/api/v1/waivers", query).json()
        return [w["product"]["id"] for w in body["results"]]

    with django_assert_num_queries(2):  # count, page
        assert products() == ["two", "two", "one"]
    assert products(status="pending") == ["two", "one"]
    assert products(product="one") == ["one"]
    assert products(scorecard="readiness") == ["two", "one"]
    assert products(check="has_owner") == ["two"]
    assert anonymous.get("/api/v1/waivers", {"status": "maybe"}).status_code == 400
