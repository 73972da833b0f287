"""Security headers (meshport.security) and the cookie and session settings of a
production deployment (meshport.settings)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

from meshport.security import POLICY, content_security_policy, header_value

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parent.parent
STRICT = header_value(POLICY)


def test_a_page_carries_the_policy_and_the_other_headers(client: Client) -> None:
    response = client.get("/products/")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == STRICT
    assert "script-src 'self';" in STRICT and "style-src 'self';" in STRICT
    assert "object-src 'none'" in STRICT and "frame-ancestors 'none'" in STRICT
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


def test_an_api_response_carries_the_headers_but_needs_no_policy(client: Client) -> None:
    response = client.get("/api/v1/namespaces", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "Content-Security-Policy" not in response
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "Permissions-Policy" in response


def test_error_pages_carry_the_policy_too(client: Client) -> None:
    response = client.get("/products/no-such-product/")
    assert response.status_code == 404
    assert response["Content-Security-Policy"] == STRICT


def test_the_admin_keeps_the_strict_policy(client: Client, admin_user: User) -> None:
    client.force_login(admin_user)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == STRICT


def test_only_the_pages_the_portal_does_not_write_get_inline_styles(client: Client) -> None:
    docs = client.get("/api/docs/")
    policy = docs["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in policy
    assert "script-src 'self';" in policy  # Swagger UI's start-up script is a file of its own
    assert b"<script>" not in docs.content
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert content_security_policy("/api/redoc/").count("blob:") == 1
    for path in ("/", "/login/", "/products/x/", "/lineage/graph/", "/admin/"):
        assert content_security_policy(path) == STRICT


def test_the_portals_templates_hold_no_inline_script_style_or_handler() -> None:
    """What the policy would block, caught before a browser sees it."""
    offenders = []
    for path in (BASE_DIR / "templates").rglob("*.html"):
        if path.parts[-2] in ("drf_spectacular",):  # a page of its own policy
            continue
        text = path.read_text()
        for bad in (" style=", "<script>", "<style", " onclick=", " onload=", " onerror="):
            if bad in text:
                offenders.append(f"{path.relative_to(BASE_DIR)}: {bad.strip()}")
    assert offenders == []


# --- production settings ----------------------------------------------------------------


def production(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MESHPORT_", "DJANGO_", "PYTEST"))
    }
    return (
        env
        | {
            "MESHPORT_DEBUG": "0",
            "MESHPORT_SECRET_KEY": secrets.token_urlsafe(40),
            "MESHPORT_ALLOWED_HOSTS": "example.org",
            "MESHPORT_DATA_DIR": extra.pop("MESHPORT_DATA_DIR"),
            "DJANGO_SETTINGS_MODULE": "meshport.settings",
        }
        | extra
    )


SHOW = """
import json, django
from django.conf import settings
django.setup()
names = ["SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
         "SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SAMESITE", "SESSION_COOKIE_AGE",
         "SECURE_CONTENT_TYPE_NOSNIFF", "X_FRAME_OPTIONS", "SECURE_PROXY_SSL_HEADER",
         "SECURE_HSTS_SECONDS", "SECURE_SSL_REDIRECT"]
print(json.dumps({name: getattr(settings, name) for name in names}))
"""


def production_settings(tmp_path: Path, **extra: str) -> dict[str, Any]:
    env = production(MESHPORT_DATA_DIR=str(tmp_path), **extra)
    done = subprocess.run(
        [sys.executable, "-c", SHOW], env=env, cwd=BASE_DIR, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_production_cookies_are_secure_http_only_and_same_site(tmp_path: Path) -> None:
    found = production_settings(tmp_path)
    assert found["SESSION_COOKIE_SECURE"] is True and found["CSRF_COOKIE_SECURE"] is True
    assert found["SESSION_COOKIE_HTTPONLY"] is True
    assert found["SESSION_COOKIE_SAMESITE"] == found["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert found["SESSION_COOKIE_AGE"] == 12 * 3600
    assert found["SECURE_CONTENT_TYPE_NOSNIFF"] is True and found["X_FRAME_OPTIONS"] == "DENY"
    assert found["SECURE_PROXY_SSL_HEADER"] is None  # clients could claim https
    assert found["SECURE_HSTS_SECONDS"] == 0 and found["SECURE_SSL_REDIRECT"] is False


def test_the_environment_adjusts_cookies_proxy_hsts_and_session_age(tmp_path: Path) -> None:
    found = production_settings(
        tmp_path,
        MESHPORT_INSECURE_COOKIES="1",
        MESHPORT_BEHIND_PROXY="1",
        MESHPORT_HSTS_SECONDS="31536000",
        MESHPORT_SESSION_HOURS="2",
    )
    assert found["SESSION_COOKIE_SECURE"] is False and found["CSRF_COOKIE_SECURE"] is False
    assert found["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert found["SECURE_HSTS_SECONDS"] == 31536000
    assert found["SESSION_COOKIE_AGE"] == 2 * 3600


def test_a_bad_flag_stops_the_start(tmp_path: Path) -> None:
    env = production(MESHPORT_DATA_DIR=str(tmp_path), MESHPORT_INSECURE_COOKIES="maybe")
    done = subprocess.run(
        [sys.executable, "-c", SHOW], env=env, cwd=BASE_DIR, capture_output=True, text=True
    )
    assert done.returncode != 0 and "MESHPORT_INSECURE_COOKIES" in done.stderr


def test_the_deployment_checks_pass_in_production(tmp_path: Path) -> None:
    env = production(MESHPORT_DATA_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


@override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True)
def test_the_login_sets_cookies_with_the_production_flags(client: Client, steward: User) -> None:
    client.get("/login/")
    csrf = client.cookies["csrftoken"]
    assert csrf["secure"] and csrf["samesite"] == "Lax"
    response = client.post(
        "/login/",
        {"username": "sam.steward", "password": "pw-steward-1"},
        secure=True,
    )
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
    assert int(session["max-age"]) == 12 * 3600
