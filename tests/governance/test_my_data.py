""" "My data": what I own, what my products read, what needs me."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from catalog.models import DataProduct
from governance.models import Slo, SloKind
from tests.catalog.test_product_pages import inputs_from, register

pytestmark = pytest.mark.django_db

URL = "/governance/my/"


@pytest.fixture
def alice(db: None) -> User:
    # "alice" is the owner the test descriptors name.
    return User.objects.create_user("alice", "alice@example.com", "pw-alice-1")


def test_it_asks_an_anonymous_visitor_to_log_in(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_lists_what_i_own_what_it_reads_and_what_needs_me(client: Client, alice: User) -> None:
    register("shop:upstream.v1", table="upstream", owner="zoe")
    register("shop:orders.v1", inputs=inputs_from("shop:upstream.v1"))
    upstream = DataProduct.objects.get(external_id="shop:upstream.v1")
    mine = DataProduct.objects.get(external_id="shop:orders.v1")
    Slo.objects.filter(product=upstream, kind=SloKind.FRESHNESS).update(state="breached")
    Slo.objects.filter(product=mine, kind=SloKind.VOLUME).update(state="met", burn_rate_1d=3.0)
    Slo.objects.filter(product=mine, kind=SloKind.FRESHNESS).update(state="breached")

    client.force_login(alice)
    text = client.get(URL).content.decode()
    owned = text[text.index('id="owned"') : text.index('id="consumed"')]
    read = text[text.index('id="consumed"') :]
    needs = text[text.index('id="attention"') : text.index('id="owned"')]
    assert "shop:orders.v1" in owned and "shop:upstream.v1" not in owned
    assert upstream.name in read
    assert needs.count("badge-breached") == 1  # my freshness
    assert "burning its budget: 3.0×" in needs
    assert "a product you read is breached" in needs


def test_someone_who_owns_nothing_is_told_where_ownership_comes_from(
    client: Client, outsider: User
) -> None:
    client.force_login(outsider)
    text = client.get(URL).content.decode()
    assert "You own nothing yet" in text and "Nothing needs you" in text
