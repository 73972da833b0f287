"""Data product descriptors (ODPS products with ODCS contracts, and the other formats of the
shared fixtures), as they are and mutated, through ``PUT /api/v1/products/{id}`` and the
portal's upload form: a 2xx (or the form's redirect), or a 4xx naming the field at fault,
never a 5xx; a refused descriptor writes nothing, an accepted one is stored once.

The mesh is the demo's, so a mutated demo product is a new revision of a registered one:
unchanged, updated, refused as a breaking change, or refused as invalid.
"""

from __future__ import annotations

import json
from functools import cache
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from catalog.descriptors import DescriptorError, load_text, parse_bundle
from catalog.models import ApiToken, ProductRevision
from tests.conftest import FIXTURES
from tests.fuzz.support import (
    mutated,
    own_transaction,
    parent_of,
    paths,
    property_settings,
    row_counts,
)

TABLES = ("catalog", "lineage", "governance")
DEMO_PRODUCTS = Path(__file__).resolve().parents[2] / "catalog" / "demo_products"
UPLOAD = "/products/upload/"

pytestmark = pytest.mark.django_db

Bundle = dict[str, str]  # file name -> text


@cache
def demo_bundles() -> list[Bundle]:
    return [
        {file.name: file.read_text(encoding="utf-8") for file in sorted(folder.glob("*.yaml"))}
        for folder in sorted(DEMO_PRODUCTS.glob("*/*"))
        if folder.is_dir()
    ]


@cache
def fixture_descriptors() -> list[Bundle]:
    """The single-file descriptors of the shared fixtures that parse on their own."""
    found = []
    root = FIXTURES / "descriptors"
    for file in sorted([*root.rglob("*.yaml"), *root.rglob("*.yml"), *root.rglob("*.json")]):
        if "schema" in file.relative_to(root).parts:
            continue
        bundle = {file.name: file.read_text(encoding="utf-8", errors="replace")}
        try:
            parse_bundle(bundle)
        except DescriptorError:
            continue
        found.append(bundle)
    return found


def product_id(bundle: Bundle) -> str:
    try:
        return parse_bundle(bundle).id
    except DescriptorError:
        return "unparsed"


@pytest.fixture
def demo(db: None) -> None:
    call_command("load_demo", "--no-progress", stdout=StringIO())


@pytest.fixture
def publisher(demo: None) -> APIClient:
    """A GitOps token that may publish into every domain."""
    _, secret = ApiToken.issue(name="gitops", scopes=["products:write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


# --- inputs ----------------------------------------------------------------------------------

bundles = st.sampled_from(demo_bundles()) | st.sampled_from(fixture_descriptors())


def dump(data: Any, as_json: bool) -> str:
    # ASCII escapes keep NUL and lone surrogates intact on the way to the server.
    if as_json:
        return json.dumps(data)
    return yaml.safe_dump(data, allow_unicode=False, sort_keys=False)


@st.composite
def mutated_bundles(draw: st.DrawFn) -> tuple[str, Bundle, list[str]]:
    """A valid bundle with one file's data mutated (written back as YAML or JSON), or
    replaced by text that is not a descriptor; with the id of the original product."""
    bundle = dict(draw(bundles))
    pid = product_id(bundle)
    name = draw(st.sampled_from(sorted(bundle)))
    if draw(st.integers(0, 9)) == 0:
        bundle[name] = draw(st.text(max_size=300))
        return pid, bundle, [f"text of {name} replaced"]
    data, done = draw(mutated(load_text(bundle[name], source=name)))
    bundle[name] = dump(data, as_json=draw(st.booleans()))
    return pid, bundle, [f"{name}: {step}" for step in done]


# --- what every answer must be -----------------------------------------------------------------


def put(client: APIClient, pid: str, bundle: Bundle) -> Any:
    url = f"/api/v1/products/{quote(pid, safe='')}"
    with own_transaction():
        if len(bundle) == 1:
            ((name, text),) = bundle.items()
            kind = "application/json" if name.endswith(".json") else "application/yaml"
            response = client.put(url, text.encode("utf-8", "surrogatepass"), content_type=kind)
        else:
            files = [
                SimpleUploadedFile(n, t.encode("utf-8", "surrogatepass")) for n, t in bundle.items()
            ]
            response = client.put(url, {"file": files}, format="multipart")
    assert response.status_code < 500, response.content[:2000]
    assert response["Content-Type"].startswith("application/json")
    return response


def assert_refused_naming_the_field(response: Any, before: dict[str, int]) -> None:
    assert 400 <= response.status_code < 500
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    if response.status_code == 400:
        assert body["errors"], body
        for issue in body["errors"]:  # the field, or the file when it is the whole of it
            assert (issue["path"] or issue["source"]) and issue["message"], body
    assert row_counts(*TABLES) == before


def assert_stored_once(client: APIClient, pid: str, bundle: Bundle, response: Any) -> None:
    """A 2xx holds the revision (new, or the active one when nothing changed); putting
    the same files again changes nothing."""
    assert response.json()["action"] in ("created", "updated", "unchanged")
    revisions = ProductRevision.objects.count()
    before = row_counts(*TABLES)
    again = put(client, pid, bundle)
    assert (again.status_code, again.json()["action"]) == (200, "unchanged")
    assert ProductRevision.objects.count() == revisions
    assert row_counts(*TABLES) == before


# --- properties -------------------------------------------------------------------------------


@property_settings(factor=2)
@given(bundle=bundles)
def test_a_valid_descriptor_is_stored_once_or_refused_naming_the_field(
    publisher: APIClient, bundle: Bundle
) -> None:
    pid = product_id(bundle)
    before = row_counts(*TABLES)

    response = put(publisher, pid, bundle)

    if bundle in demo_bundles():
        assert response.status_code == 200, response.json()  # registered by the demo already
    if response.status_code < 300:
        assert_stored_once(publisher, pid, bundle, response)
    else:  # a contract it names is not registered, a JSON Schema error under strict...
        assert_refused_naming_the_field(response, before)


# Registering is the slowest path of the API (validation, normalization, bindings, SLOs):
# fewer examples than the other properties.
@property_settings(factor=2)
@given(case=mutated_bundles())
def test_a_mutated_descriptor_is_stored_once_or_refused_naming_the_field(
    publisher: APIClient, case: tuple[str, Bundle, list[str]]
) -> None:
    pid, bundle, _mutations = case
    before = row_counts(*TABLES)

    response = put(publisher, pid, bundle)

    if response.status_code < 300:
        assert_stored_once(publisher, pid, bundle, response)
    else:
        assert_refused_naming_the_field(response, before)


@property_settings(factor=1)
@given(
    raw=st.binary(max_size=300),
    kind=st.sampled_from(["application/yaml", "application/json", "text/plain", "x/unknown"]),
)
def test_bytes_that_are_not_a_descriptor_are_refused(
    publisher: APIClient, raw: bytes, kind: str
) -> None:
    before = row_counts(*TABLES)

    response = publisher.put("/api/v1/products/sales-orders", raw, content_type=kind)

    assert response.status_code < 500, response.content[:2000]
    if response.status_code >= 400:
        assert response.json()["error"]
        assert row_counts(*TABLES) == before


def test_text_past_any_column_anywhere_in_a_descriptor_is_cut_or_refused(
    publisher: APIClient,
) -> None:
    """Every string of a product and of its contract in turn, 3,000 characters long (past
    every text column): PostgreSQL refused some of them with a 500."""
    bundle = next(b for b in demo_bundles() if "product.odps.yaml" in b and len(b) > 1)
    pid = product_id(bundle)
    for name in sorted(bundle):
        data = load_text(bundle[name], source=name)
        for path in list(paths(data)):
            changed = json.loads(json.dumps(data))
            parent = parent_of(changed, path)
            if not isinstance(parent[path[-1].key], str):
                continue
            parent[path[-1].key] = "x" * 3000
            before = row_counts(*TABLES)

            response = put(publisher, pid, {**bundle, name: json.dumps(changed)})

            if response.status_code >= 400:
                assert_refused_naming_the_field(response, before)


# --- the portal's upload form -----------------------------------------------------------------


@pytest.fixture
def admin_browser(demo: None, admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@property_settings(factor=1)
@given(case=mutated_bundles(), pasted=st.booleans(), action=st.sampled_from(["publish", "preview"]))
def test_the_upload_form_publishes_or_shows_the_problems_and_writes_nothing(
    admin_browser: Client, case: tuple[str, Bundle, list[str]], pasted: bool, action: str
) -> None:
    _pid, bundle, _mutations = case
    before = row_counts(*TABLES)
    data: dict[str, Any] = {"action": action}
    if pasted and len(bundle) == 1:
        data["text"] = next(iter(bundle.values()))
    else:
        data["uploads"] = [
            SimpleUploadedFile(n, t.encode("utf-8", "surrogatepass")) for n, t in bundle.items()
        ]

    response = admin_browser.post(UPLOAD, data)

    assert response.status_code in (200, 302, 400, 403, 409), response.content[:2000]
    if response.status_code >= 400 or action == "preview":
        assert row_counts(*TABLES) == before
    if response.status_code == 400:
        page = response.content.decode()
        shown = ("nothing was saved", 'class="field-error"', 'class="notice notice-error"')
        assert any(problem in page for problem in shown)
