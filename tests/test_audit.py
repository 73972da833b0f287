"""The audit log: every change to products, ownership, SLOs, scorecards, waivers, webhooks
and tokens leaves one entry naming who made it and through which door; refusals leave
none; stewards read it."""

# The fixtures of tests/test_roles.py are imported by name, which pytest needs.
# ruff: noqa: F811

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from catalog.models import ApiToken, AuditEntry
from governance.models import Scorecard, Slo, Waiver, WebhookSubscription
from tests.test_roles import (  # noqa: F401  (fixtures)
    PRODUCT,
    WRITES,
    World,
    _decide_page,
    _ownership_page,
    _upload_page,
    owner,
    send,
    world,
)

pytestmark = pytest.mark.django_db

# The action each write of tests/test_roles.py records, and through which door.
AUDITED = {
    "publish a revision": ("product.revised", "portal"),
    "publish by API": ("product.revised", "api"),
    "retire by API": ("product.retired", "api"),
    "ask for a waiver": ("waiver.requested", "portal"),
    "edit ownership": ("ownership.granted", "portal"),
    "edit ownership by API": ("ownership.granted", "api"),
    "run a scorecard": ("scorecard.run_requested", "portal"),
    "run a scorecard by API": ("scorecard.run_requested", "api"),
    "decide a waiver": ("waiver.approved", "portal"),
    "approve a waiver by API": ("waiver.approved", "api"),
    "declare an SLO by API": ("slo.created", "api"),
    "add a webhook by API": ("webhook.created", "api"),
    "issue a token": ("token.issued", "portal"),
}
READS_ONLY = {"upload page", "webhooks page", "tokens page", "post lineage as a user"}


def test_every_write_path_is_covered() -> None:
    assert {name for name, *_ in WRITES} == set(AUDITED) | READS_ONLY


@pytest.mark.parametrize(
    ("name", "make"), [(w[0], w[2]) for w in WRITES], ids=[w[0] for w in WRITES]
)
def test_each_write_leaves_one_entry_naming_who_and_how(
    world: World, admin_user: User, name: str, make: Any
) -> None:
    client = Client()
    client.force_login(admin_user)
    before = AuditEntry.objects.count()
    since = timezone.now()
    response = send(client, *make(world))
    assert response.status_code < 400, response.content[:500]
    entries = list(AuditEntry.objects.filter(at__gte=since))
    if name in READS_ONLY:
        assert AuditEntry.objects.count() == before
        return
    action, via = AUDITED[name]
    assert [(e.action, e.via, e.actor) for e in entries] == [(action, via, "ada.admin")]


def test_refusals_leave_no_entry(world: World, outsider: User) -> None:
    client = Client()
    client.force_login(outsider)
    before = AuditEntry.objects.count()
    for make in (_upload_page, _decide_page, _ownership_page):
        assert send(client, *make(world)).status_code == 403
    assert AuditEntry.objects.count() == before


def test_a_publication_names_its_revision_and_version(world: World) -> None:
    entry = AuditEntry.objects.filter(action="product.published", target=PRODUCT).get()
    assert entry.target_label and entry.changes["revision"] == 1
    assert entry.changes["version"] == world.product.version


def test_an_slo_change_records_what_changed_from_what(
    world: World, admin_user: User, steward: User
) -> None:
    client = Client()
    client.force_login(steward)
    created = client.post(
        "/api/v1/slos",
        {"product": PRODUCT, "kind": "freshness", "name": "Fresh", "thresholdSeconds": 3600},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    changed = client.patch(
        f"/api/v1/slos/{pk}", {"objective": 0.95}, content_type="application/json"
    )
    assert changed.status_code == 200, changed.content
    entry = AuditEntry.objects.filter(action="slo.changed").get()
    assert entry.changes == {"objective": [0.99, 0.95]}
    assert (entry.actor, entry.via, entry.target) == ("sam.steward", "api", str(pk))
    assert client.delete(f"/api/v1/slos/{pk}").status_code == 204
    assert not Slo.objects.filter(pk=pk).exists()
    assert AuditEntry.objects.filter(action="slo.deleted", target=str(pk)).count() == 1


def test_scorecard_and_webhook_removals_are_recorded(world: World, steward: User) -> None:
    client = Client()
    client.force_login(steward)
    hook = client.post(
        "/api/v1/webhooks",
        {"name": "ops", "url": "https://hooks.example.com/x"},
        content_type="application/json",
    )
    assert hook.status_code == 201, hook.content
    pk = hook.json()["id"]
    paused = client.patch(
        f"/api/v1/webhooks/{pk}", {"active": False}, content_type="application/json"
    )
    assert paused.status_code == 200
    assert client.delete(f"/api/v1/webhooks/{pk}").status_code == 204
    assert client.delete("/api/v1/scorecards/readiness").status_code == 204
    recorded = AuditEntry.objects.filter(actor="sam.steward").order_by("id")
    assert [e.action for e in recorded] == [
        "webhook.created",
        "webhook.changed",
        "webhook.deleted",
        "scorecard.deleted",
    ]
    assert recorded[1].changes == {"active": False}
    assert not WebhookSubscription.objects.exists()


def test_tokens_issued_and_revoked_are_recorded_without_their_secret(admin_user: User) -> None:
    client = Client()
    client.force_login(admin_user)
    issued = client.post(
        "/tokens/", {"name": "ci", "scopes": ["lineage:write"], "expires_in_days": 30}
    )
    assert issued.status_code == 201
    token = ApiToken.objects.get(name="ci")
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 302
    out = StringIO()
    call_command("create_token", "--name", "dbt", "--scope", "lineage:write", stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]
    entries = list(AuditEntry.objects.filter(target_type="token").order_by("id"))
    assert [(e.action, e.via) for e in entries] == [
        ("token.issued", "portal"),
        ("token.revoked", "portal"),
        ("token.issued", "command"),
    ]
    assert entries[0].changes["scopes"] == ["lineage:write"]
    assert all(secret not in str(e.changes) for e in entries)


def test_stewards_read_the_log_and_filter_it(world: World, steward: User) -> None:
    client = Client()
    client.force_login(steward)
    page = client.get("/governance/audit/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "product.published" in html and "waiver.requested" in html
    assert f'href="/products/{PRODUCT}/"' in html
    waivers = client.get("/governance/audit/", {"type": "waiver"}).content.decode()
    assert "waiver.requested" in waivers and "product.published" not in waivers
    nobody = client.get("/governance/audit/", {"actor": "nobody"}).content.decode()
    assert "No change matches these filters" in nobody
    assert client.get("/governance/audit/", {"days": "2"}).status_code == 400
    old = AuditEntry.objects.filter(action="waiver.requested").get()
    AuditEntry.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=40))
    recent = client.get("/governance/audit/", {"days": "30"}).content.decode()
    assert "waiver.requested" not in recent and "product.published" in recent


def test_only_stewards_read_the_log(world: World, outsider: User, owner: User) -> None:
    assert Client().get("/governance/audit/").status_code == 302
    for user in (outsider, owner):
        client = Client()
        client.force_login(user)
        assert client.get("/governance/audit/").status_code == 403


def test_the_page_shows_changes_as_before_and_after(world: World, steward: User) -> None:
    slo = Slo.objects.create(product=world.product, name="Fresh", kind="freshness")
    AuditEntry.objects.create(
        actor="sam.steward",
        via="api",
        action="slo.changed",
        target_type="slo",
        target=str(slo.pk),
        target_label="Fresh (freshness)",
        changes={"objective": [0.99, 0.95], "enabled": [True, False]},
    )
    client = Client()
    client.force_login(steward)
    html = client.get("/governance/audit/", {"type": "slo"}).content.decode()
    assert "0.99 → 0.95" in html and "yes → no" in html
    assert f'href="/governance/slos/{slo.pk}/"' in html


def test_token_use_and_refusals_are_logged_without_secrets(
    pipeline_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()
    with caplog.at_level("INFO", logger="meshport.tokens"):
        client.get("/api/v1/namespaces", HTTP_AUTHORIZATION=f"Bearer {pipeline_token}")
        client.get("/api/v1/namespaces", HTTP_AUTHORIZATION="Bearer mp_deadbeef_nope")
    used, refused = [r for r in caplog.records if r.name == "meshport.tokens"]
    token = ApiToken.objects.get(name="airflow")
    assert used.levelname == "INFO" and f"airflow ({token.prefix})" in used.getMessage()
    assert "GET /api/v1/namespaces" in used.getMessage()
    assert refused.levelname == "WARNING" and "deadbeef" in refused.getMessage()
    assert all(pipeline_token not in r.getMessage() for r in (used, refused))
    assert "nope" not in refused.getMessage()


def test_changes_and_deletions_in_the_admin_are_recorded_as_the_admins(
    world: World, admin_user: User
) -> None:
    client = Client()
    client.force_login(admin_user)
    token, _ = ApiToken.issue(name="ci", scopes=["lineage:write"])
    edit = {"name": "ci", "scopes": '["lineage:write", "products:write"]', "expires_at": ""}
    changed = client.post(f"/admin/catalog/apitoken/{token.pk}/change/", edit)
    assert changed.status_code == 302, changed.content[:2000]
    deleted = client.post(f"/admin/catalog/apitoken/{token.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    slos = [
        Slo.objects.create(product=world.product, name=name, kind="freshness")
        for name in ("Fresh", "Fresher")
    ]
    bulk = {"action": "delete_selected", "_selected_action": [s.pk for s in slos], "post": "yes"}
    assert client.post("/admin/governance/slo/", bulk).status_code == 302
    readiness = Scorecard.objects.get(slug="readiness")
    scorecard = client.post(f"/admin/governance/scorecard/{readiness.pk}/delete/", {"post": "yes"})
    hook = WebhookSubscription.objects.create(name="ops", url="https://hooks.example.com/x")
    assert client.post(f"/admin/governance/webhooksubscription/{hook.pk}/delete/", {"post": "yes"})

    recorded = AuditEntry.objects.filter(via="admin").order_by("id")
    assert [(e.action, e.actor) for e in recorded] == [
        ("token.changed", "ada.admin"),
        ("token.deleted", "ada.admin"),
        ("slo.deleted", "ada.admin"),
        ("slo.deleted", "ada.admin"),
        ("scorecard.deleted", "ada.admin"),
        ("webhook.deleted", "ada.admin"),
    ]
    assert recorded[0].changes["scopes"] == [
        ["lineage:write"],
        ["lineage:write", "products:write"],
    ]
    assert scorecard.status_code == 302
    assert not Slo.objects.filter(pk__in=[s.pk for s in slos]).exists()
    assert not (WebhookSubscription.objects.exists() or Scorecard.objects.exists())


def test_waivers_are_not_deleted_in_the_admin(world: World, admin_user: User) -> None:
    client = Client()
    client.force_login(admin_user)

    response = client.post(f"/admin/governance/waiver/{world.waiver.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert Waiver.objects.filter(pk=world.waiver.pk).exists()
