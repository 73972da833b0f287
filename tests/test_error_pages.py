"""The error pages: 404, 403, a form whose CSRF check failed, and 500, in the portal's
look, each saying what happened and offering a way on."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path

pytestmark = pytest.mark.django_db


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", boom), path("", include("meshport.urls"))]


def test_a_missing_page_is_a_404_with_search_and_ways_on(client: Client, settings: Any) -> None:
    settings.DEBUG = False
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "There is nothing at this address" in html
    assert 'action="/search/"' in html and 'href="/products/"' in html
    assert 'class="site-header"' in html  # the portal's own layout, with its navigation


def test_a_missing_product_says_so(client: Client, settings: Any) -> None:
    settings.DEBUG = False
    response = client.get("/products/no-such-product/")
    assert response.status_code == 404
    assert "No such data product." in response.content.decode()


def test_a_refusal_says_why_and_who_is_signed_in(client: Client, outsider: Any) -> None:
    client.force_login(outsider)
    response = client.get("/tokens/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "Only Meshport administrators may manage API tokens." in html
    assert "signed in as <strong>olga.outsider</strong>" in html
    assert 'href="/login/?next=/tokens/"' in html


def test_a_failed_csrf_check_explains_and_changes_nothing(settings: Any) -> None:
    settings.DEBUG = False
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "This form could not be sent" in html and "nothing was changed" in html


def test_a_server_error_is_a_500_page_of_our_own(settings: Any) -> None:
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert "a bug" not in html and "Traceback" not in html
