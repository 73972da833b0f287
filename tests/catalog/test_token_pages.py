"""API tokens in the portal: issued by an admin with the secret shown once, listed by
prefix, revoked; the secret works at once and stops working when revoked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from catalog.models import ApiToken, Domain
from lineage.models import LineageEvent
from tests.conftest import run_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client: Client, admin_user: User) -> Client:
    client.force_login(admin_user)
    return client


def secret_in(html: str) -> str:
    start = html.index("data-secret")
    value = html.rindex('value="', 0, start) + len('value="')
    return html[value : html.index('"', value)]


def test_an_admin_issues_a_token_sees_the_secret_once_and_it_posts_lineage(
    admin: Client, admin_user: User
) -> None:
    Domain.objects.create(slug="sales", name="Sales")
    data = {"name": "airflow-prod", "scopes": ["lineage:write"], "domains": ["sales"]}
    response = admin.post("/tokens/", {**data, "expires_in_days": "30"})

    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    secret = secret_in(html)
    token = ApiToken.objects.get()
    assert secret.startswith(f"mp_{token.prefix}_") and token.hashed_secret != secret
    assert ApiToken.hash_secret(secret) == token.hashed_secret
    assert (token.name, token.scopes, token.domains) == (
        "airflow-prod",
        ["lineage:write"],
        ["sales"],
    )
    assert token.created_by == admin_user
    assert token.expires_at is not None
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    assert f"OPENLINEAGE_API_KEY={secret}" in html

    posted = Client().post(
        "/api/v1/lineage",
        run_event(),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert posted.status_code == 201
    assert LineageEvent.objects.get().token_name == "airflow-prod"

    listing = admin.get("/tokens/").content.decode()
    assert secret not in listing
    assert f"mp_{token.prefix}_…" in listing and "airflow-prod" in listing


def test_a_token_that_never_expires(admin: Client) -> None:
    admin.post("/tokens/", {"name": "dbt", "scopes": ["lineage:write"], "expires_in_days": "0"})
    assert ApiToken.objects.get().expires_at is None


def test_an_incomplete_form_names_each_field_and_issues_nothing(admin: Client) -> None:
    response = admin.post("/tokens/", {"name": "  ", "scopes": ["nope"], "expires_in_days": "7"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "No token was issued" in html
    for label in ("Name", "Scopes", "Expires"):
        assert f"<strong>{label}</strong>" in html
    assert not ApiToken.objects.exists()


def test_a_revoked_token_is_refused_and_listed_as_revoked(admin: Client) -> None:
    token, secret = ApiToken.issue(name="old-ci", scopes=["lineage:write"])

    response = admin.post(f"/tokens/{token.pk}/revoke/")

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    refused = Client().post(
        "/api/v1/lineage",
        run_event(),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert refused.status_code == 401
    html = admin.get("/tokens/").content.decode()
    assert "Revoked old-ci" in html and "Revoked or expired" in html
    assert admin.post("/tokens/999999/revoke/").status_code == 404
    assert admin.get(f"/tokens/{token.pk}/revoke/").status_code == 405


def test_the_token_list_reads_in_a_fixed_number_of_queries(
    admin: Client, admin_user: User, django_assert_num_queries: Any
) -> None:
    for i in range(3):
        ApiToken.issue(name=f"t{i}", scopes=["lineage:write"], created_by=admin_user)
    admin.get("/tokens/")
    with django_assert_num_queries(4):  # session, user, tokens, domains
        admin.get("/tokens/")
    for i in range(3, 10):
        ApiToken.issue(name=f"t{i}", scopes=["lineage:write"], created_by=admin_user)
    with django_assert_num_queries(4):
        admin.get("/tokens/")
