"""Who may do what, on the portal's pages and the API alike: every write path tried by a
visitor, a signed-in member of no domain, an owner (a member of the sales domain's team),
a steward and an admin; and reading with anonymous read on and off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.utils import timezone

from catalog.models import ApiToken, DataProduct
from governance.models import Waiver
from governance.scorecard_services import waiver_request
from lineage.models import LineageEvent
from tests.catalog.test_product_pages import bundle, register
from tests.conftest import domain_member, run_event
from tests.governance.test_scorecards import readiness

pytestmark = pytest.mark.django_db

ROLES = ["visitor", "member", "owner", "steward", "admin"]
PRODUCT = "shop:orders.v1"  # in the sales domain


@dataclass
class World:
    product: DataProduct
    waiver: Waiver


@pytest.fixture
def world(db: None) -> World:
    register(PRODUCT)
    product = DataProduct.objects.get(external_id=PRODUCT)
    readiness()
    waiver = waiver_request(
        product=product,
        check_key="has_tags",
        justification="tags come with the next release",
        expires_at=timezone.now() + timedelta(days=30),
        actor="tests",
    )
    return World(product, waiver)


@pytest.fixture
def owner(db: None) -> User:
    return domain_member("olly.owner", "olly@example.com")


def client_as(role: str, request: pytest.FixtureRequest) -> Client:
    client = Client()
    fixture = {"member": "outsider", "owner": "owner", "steward": "steward", "admin": "admin_user"}
    if role != "visitor":
        client.force_login(request.getfixturevalue(fixture[role]))
    return client


def descriptor(version: str) -> dict[str, Any]:
    files = bundle(PRODUCT, version=version)
    return {"file": [SimpleUploadedFile(name, text.encode()) for name, text in files.items()]}


def _upload_page(world: World) -> tuple[str, str, Any]:
    files = bundle(PRODUCT, version="1.0.1")
    uploads = [SimpleUploadedFile(name, text.encode()) for name, text in files.items()]
    return "post", "/products/upload/", {"uploads": uploads, "action": "publish"}


def _ownership_page(world: World) -> tuple[str, str, Any]:
    data = {"target_kind": "product", "target": world.product.pk, "party_kind": "person"}
    return "post", "/ownerships/add/", {**data, "party": "zoe", "role": "steward"}


def _decide_page(world: World) -> tuple[str, str, Any]:
    expires = (timezone.now() + timedelta(days=20)).date().isoformat()
    data = {"decision": "approve", "expires_at": expires, "note": ""}
    return "post", f"/governance/waivers/{world.waiver.pk}/decide/", data


def _waiver_request(world: World) -> tuple[str, str, Any]:
    expires = (timezone.now() + timedelta(days=20)).date().isoformat()
    data = {"product": PRODUCT, "scorecard": "readiness", "check": "has_owner"}
    return (
        "post",
        "/governance/waivers/request/",
        {**data, "justification": "x", "expires_at": expires},
    )


# (name, kind, request maker, the roles allowed)
WRITES: list[tuple[str, str, Any, set[str]]] = [
    ("upload page", "page", lambda w: ("get", "/products/upload/", None), {"owner", "admin"}),
    ("publish a revision", "page", _upload_page, {"owner", "admin"}),
    (
        "publish by API",
        "api",
        lambda w: ("put_multipart", f"/api/v1/products/{PRODUCT}", descriptor("1.0.1")),
        {"owner", "admin"},
    ),
    (
        "retire by API",
        "api",
        lambda w: ("delete", f"/api/v1/products/{PRODUCT}", None),
        {"owner", "admin"},
    ),
    ("ask for a waiver", "page", _waiver_request, {"owner", "steward", "admin"}),
    ("edit ownership", "page", _ownership_page, {"steward", "admin"}),
    (
        "edit ownership by API",
        "api",
        lambda w: (
            "post",
            "/api/v1/ownerships",
            {"product": PRODUCT, "person": "zoe", "role": "steward"},
        ),
        {"steward", "admin"},
    ),
    (
        "run a scorecard",
        "page",
        lambda w: ("post", "/governance/scorecards/readiness/run/", {}),
        {"steward", "admin"},
    ),
    (
        "run a scorecard by API",
        "api",
        lambda w: ("post", "/api/v1/scorecards/readiness/runs", {}),
        {"steward", "admin"},
    ),
    ("decide a waiver", "page", _decide_page, {"steward", "admin"}),
    (
        "approve a waiver by API",
        "api",
        lambda w: ("post", f"/api/v1/waivers/{w.waiver.pk}/approve", {}),
        {"steward", "admin"},
    ),
    (
        "declare an SLO by API",
        "api",
        lambda w: (
            "post",
            "/api/v1/slos",
            {"product": PRODUCT, "kind": "freshness", "name": "Fresh", "thresholdSeconds": 3600},
        ),
        {"steward", "admin"},
    ),
    (
        "webhooks page",
        "page",
        lambda w: ("get", "/governance/webhooks/", None),
        {"steward", "admin"},
    ),
    (
        "add a webhook by API",
        "api",
        lambda w: (
            "post",
            "/api/v1/webhooks",
            {"name": "ops", "url": "https://hooks.example.com/x"},
        ),
        {"steward", "admin"},
    ),
    ("tokens page", "page", lambda w: ("get", "/tokens/", None), {"admin"}),
    (
        "issue a token",
        "page",
        lambda w: (
            "post",
            "/tokens/",
            {"name": "ci", "scopes": ["lineage:write"], "expires_in_days": 30},
        ),
        {"admin"},
    ),
    (
        "post lineage as a user",
        "api",
        lambda w: ("post", "/api/v1/lineage", run_event()),
        {"admin"},
    ),
]


def send(client: Client, method: str, url: str, data: Any) -> Any:
    if method == "get":
        return client.get(url)
    if method == "delete":
        return client.delete(url)
    if method == "put_multipart":
        return client.put(url, encode_multipart(BOUNDARY, data), content_type=MULTIPART_CONTENT)
    if url.startswith("/api/"):
        return client.post(url, data, content_type="application/json")
    return client.post(url, data)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "kind", "make", "allowed"), WRITES, ids=[w[0] for w in WRITES])
def test_each_write_is_open_to_its_roles_only(
    world: World,
    request: pytest.FixtureRequest,
    role: str,
    name: str,
    kind: str,
    make: Any,
    allowed: set[str],
) -> None:
    method, url, data = make(world)
    response = send(client_as(role, request), method, url, data)
    status = response.status_code
    assert status < 500, response.content[:500]
    if role in allowed:
        assert status < 400, response.content[:500]
        assert "/login/" not in response.get("Location", "")
    elif role == "visitor" and kind == "page" and method == "get":
        assert status == 302 and response["Location"].startswith("/login/?next=")
    elif role == "visitor" and kind == "api":
        assert status in (401, 403)
    else:
        assert status == 403, response.content[:500]


def test_refusals_leave_everything_as_it_was(world: World, outsider: User, steward: User) -> None:
    client = Client()
    client.force_login(outsider)
    version = world.product.version
    for make in (_upload_page, _decide_page, _ownership_page):
        method, url, data = make(world)
        assert send(client, method, url, data).status_code == 403
    world.product.refresh_from_db()
    world.waiver.refresh_from_db()
    assert world.product.version == version
    assert world.waiver.status == Waiver.Status.PENDING
    assert not world.product.ownerships.filter(person__username="zoe").exists()
    assert not ApiToken.objects.exists() and not LineageEvent.objects.exists()


# --- reading ------------------------------------------------------------------------------


def test_with_anonymous_read_on_visitors_read_pages_and_the_api(
    world: World, settings: Any
) -> None:
    settings.MESHPORT_ANONYMOUS_READ = True
    client = Client()
    for url in ("/", f"/products/{PRODUCT}/", "/lineage/runs/", "/governance/"):
        assert client.get(url).status_code == 200, url
    assert client.get("/api/v1/products").status_code == 200


@pytest.mark.parametrize(
    "url",
    ["/", "/search/?q=orders", f"/products/{PRODUCT}/", "/lineage/runs/", "/governance/"],
)
def test_with_anonymous_read_off_a_visitor_is_sent_to_log_in(
    world: World, settings: Any, url: str
) -> None:
    settings.MESHPORT_ANONYMOUS_READ = False
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize(
    "url", ["/api/v1/products", f"/api/v1/products/{PRODUCT}", "/api/v1/namespaces", "/api/v1/slos"]
)
def test_with_anonymous_read_off_the_api_wants_credentials(
    world: World, settings: Any, outsider: User, url: str
) -> None:
    settings.MESHPORT_ANONYMOUS_READ = False
    response = Client().get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "Authentication required" in response.json()["error"]

    _, secret = ApiToken.issue(name="reader", scopes=["lineage:write"])
    assert Client().get(url, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    bad = Client().get(url, HTTP_AUTHORIZATION="Bearer mp_nope_nope")
    assert bad.status_code == 401
    signed_in = Client()
    signed_in.force_login(outsider)
    assert signed_in.get(url).status_code == 200


def test_with_anonymous_read_off_login_static_and_pipelines_still_work(
    settings: Any, pipeline_token: str
) -> None:
    settings.MESHPORT_ANONYMOUS_READ = False
    client = Client()
    assert client.get("/login/").status_code == 200
    assert client.get("/api/schema/").status_code == 200
    response = client.post(
        "/api/v1/lineage",
        run_event(),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {pipeline_token}",
    )
    assert response.status_code == 201
    assert (
        client.post("/api/v1/lineage", run_event(), content_type="application/json").status_code
        == 401
    )


def test_the_header_names_the_role_and_offers_what_it_may_use(
    client: Client, steward: User, admin_user: User, outsider: User
) -> None:
    client.force_login(outsider)
    page = client.get("/").content.decode()
    assert "olga.outsider" in page and 'href="/tokens/"' not in page and "/admin/" not in page
    client.force_login(steward)
    page = client.get("/").content.decode()
    assert '<span class="role">steward</span>' in page and 'href="/tokens/"' not in page
    client.force_login(admin_user)
    page = client.get("/").content.decode()
    assert '<span class="role">admin</span>' in page and 'href="/tokens/"' in page
