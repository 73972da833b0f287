"""Failed logins are throttled (meshport.access): per user name and per client address,
counted in the database so that every web process sees the same count."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from catalog.models import LoginFailure

pytestmark = pytest.mark.django_db

LOGIN = "/login/"
LOCKED = "Too many failed attempts"


@pytest.fixture(autouse=True)
def fast_hashing(settings: Any) -> None:
    """A hundred logins with the real hasher take half a minute."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def attempt(client: Client, username: str, password: str = "wrong", ip: str = "10.0.0.1") -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def fail(client: Client, username: str, times: int, ip: str = "10.0.0.1") -> None:
    for _ in range(times):
        attempt(client, username, ip=ip)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_a_wrong_password_is_an_ordinary_error_until_the_fifth(
    client: Client, steward: User
) -> None:
    for _ in range(4):
        response = attempt(client, "sam.steward")
        assert response.status_code == 200
        assert LOCKED not in response.content.decode()
    fifth = attempt(client, "sam.steward")
    assert fifth.status_code == 429
    assert LOCKED in fifth.content.decode()


def test_a_locked_name_is_refused_even_with_the_right_password(
    client: Client, steward: User
) -> None:
    fail(client, "sam.steward", 5)
    response = attempt(client, "sam.steward", "pw-steward-1", ip="10.9.9.9")
    assert response.status_code == 429
    assert not logged_in(client)
    text = response.content.decode()
    assert "try again in 14\xa0minutes" in text
    assert 'name="username"' in text and 'value="sam.steward"' in text  # the form, to retry
    assert 0 < int(response["Retry-After"]) <= 15 * 60


def test_the_name_counts_whatever_its_case(client: Client, steward: User) -> None:
    for name in ("Sam.Steward", "SAM.STEWARD", "sam.steward", "sAm.steward", " sam.steward"):
        attempt(client, name)
    assert attempt(client, "sam.steward", "pw-steward-1").status_code == 429


def test_an_unknown_name_is_locked_exactly_like_a_known_one(client: Client, steward: User) -> None:
    fail(client, "sam.steward", 5, ip="10.0.0.1")
    fail(client, "nobody.here", 5, ip="10.0.0.2")
    known = attempt(client, "sam.steward", ip="10.0.0.3")
    unknown = attempt(client, "nobody.here", ip="10.0.0.3")
    assert known.status_code == unknown.status_code == 429
    assert notice(known.content.decode()) == notice(unknown.content.decode())


def notice(html: str) -> str:
    """The login page's message, its times blurred."""
    found = re.search(r'<div class="notice notice-error".*?</div>', html, re.S)
    assert found is not None
    return re.sub(r"\d", "0", found.group(0))


def test_twenty_failures_from_one_address_lock_it_for_every_name(
    client: Client, steward: User
) -> None:
    for n in range(20):
        attempt(client, f"guess{n}", ip="10.0.0.7")
    assert attempt(client, "sam.steward", "pw-steward-1", ip="10.0.0.7").status_code == 429
    assert not logged_in(client)
    response = attempt(client, "sam.steward", "pw-steward-1", ip="10.0.0.8")
    assert response.status_code == 302 and logged_in(client)


def test_attempts_resume_once_the_window_has_passed(client: Client, steward: User) -> None:
    fail(client, "sam.steward", 5)
    LoginFailure.objects.update(at=timezone.now() - timedelta(minutes=15, seconds=1))
    response = attempt(client, "sam.steward", "pw-steward-1")
    assert response.status_code == 302 and logged_in(client)


def test_a_lock_still_holds_just_before_the_window_ends(client: Client, steward: User) -> None:
    fail(client, "sam.steward", 5)
    LoginFailure.objects.update(at=timezone.now() - timedelta(minutes=14))
    assert attempt(client, "sam.steward", "pw-steward-1").status_code == 429


def test_a_refused_attempt_does_not_extend_the_lock(client: Client, steward: User) -> None:
    fail(client, "sam.steward", 5)
    fail(client, "sam.steward", 3)
    assert LoginFailure.objects.filter(username="sam.steward").count() == 5


def test_a_successful_login_clears_the_names_failures(client: Client, steward: User) -> None:
    fail(client, "Sam.Steward", 4)
    assert attempt(client, "sam.steward", "pw-steward-1").status_code == 302
    assert not LoginFailure.objects.filter(username="sam.steward").exists()
    client.logout()
    fail(client, "sam.steward", 4)
    assert attempt(client, "sam.steward", "pw-steward-1").status_code == 302


def test_old_failures_are_pruned_on_the_next_one(client: Client) -> None:
    old = timezone.now() - timedelta(hours=2)
    LoginFailure.objects.bulk_create([LoginFailure(username="x", ip="10.1.1.1", at=old)] * 3)
    attempt(client, "someone")
    assert list(LoginFailure.objects.values_list("username", flat=True)) == ["someone"]


def test_failures_and_locks_are_logged_with_name_and_address(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="meshport.security"):
        fail(client, "Mallory", 6, ip="10.0.0.66")
    messages = [r.getMessage() for r in caplog.records if r.name == "meshport.security"]
    failed = [m for m in messages if m.startswith("login failed")]
    assert len(failed) == 5
    assert "username='mallory'" in failed[0] and "ip=10.0.0.66" in failed[0]
    assert any(m.startswith("login locked until") and "mallory" in m for m in messages)
    assert any(m.startswith("login refused while locked") for m in messages)


def test_a_huge_or_missing_user_name_is_a_plain_failure(client: Client) -> None:
    assert attempt(client, "x" * 10_000).status_code == 200
    assert client.post(LOGIN, {}).status_code == 200
    assert client.post(LOGIN, {"username": "\x00"}).status_code == 200


def test_the_forwarded_address_counts_only_behind_a_proxy(client: Client, settings: Any) -> None:
    spoofed = {"HTTP_X_FORWARDED_FOR": "203.0.113.9, 198.51.100.4"}
    client.post(LOGIN, {"username": "a", "password": "b"}, REMOTE_ADDR="10.0.0.1", **spoofed)
    settings.MESHPORT_BEHIND_PROXY = True
    client.post(LOGIN, {"username": "a", "password": "b"}, REMOTE_ADDR="10.0.0.1", **spoofed)
    client.post(LOGIN, {"username": "a", "password": "b"}, REMOTE_ADDR="10.0.0.1")
    assert list(LoginFailure.objects.order_by("id").values_list("ip", flat=True)) == [
        "10.0.0.1",
        "198.51.100.4",
        "10.0.0.1",
    ]


@pytest.mark.parametrize("path", ["/admin/login/", "/api-auth/login/"])
def test_the_other_login_pages_send_people_to_the_throttled_one(client: Client, path: str) -> None:
    response = client.get(f"{path}?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/admin/"
    posted = client.post(path, {"username": "a", "password": "b"})
    assert posted.status_code in (301, 302, 307, 405) and not logged_in(client)
