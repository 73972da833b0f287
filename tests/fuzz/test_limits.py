"""The limits that keep hostile input cheap: body sizes (after gzip too), JSON nesting,
YAML tags and aliases, and numbers past what the database holds. Each is refused with a
4xx that names the problem, and writes nothing."""

from __future__ import annotations

import json
import time
import tracemalloc
import uuid
import zlib
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from pytest_django import Settings as SettingsWrapper
from rest_framework.test import APIClient

from catalog.models import ApiToken
from governance.models import Scorecard, Slo
from governance.rules import RuleError, compile_rule
from lineage.models import Job
from meshport.jsonlimits import MAX_DEPTH
from tests.conftest import run_event
from tests.fuzz.support import nested, row_counts

LINEAGE = "/api/v1/lineage"
BATCH = "/api/v1/lineage/batch"
PRODUCT = "/api/v1/products/sales-orders"
TABLES = ("catalog", "lineage", "governance")
DEEP = 100_000  # levels: Python's parser alone gives up past ~1,000

pytestmark = pytest.mark.django_db


@pytest.fixture
def everything() -> APIClient:
    """A client holding a token with every scope."""
    _, secret = ApiToken.issue(name="fuzzer", scopes=[scope for scope, _ in ApiToken.SCOPES])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def demo(db: None) -> None:
    call_command("load_demo", "--no-progress", stdout=StringIO())


def refused(response: Any, status: int, *words: str) -> str:
    """The error of a refusal with ``status``, which must name the problem in ``words``."""
    assert response.status_code == status, response.content[:500]
    body = response.json()
    text = json.dumps(body)
    for word in words:
        assert word in text, body
    return text


def deep_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_object(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def zeros_gzipped(size: int) -> bytes:
    """``size`` bytes of ASCII zeros (a JSON number that never ends), gzipped a megabyte
    at a time: the test never holds the inflated body either."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"0" * (1024 * 1024)
    parts = [packer.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join([*parts, packer.flush()])


# --- body size -------------------------------------------------------------------------------


@pytest.mark.parametrize("inflated_mb", [10, 100])
def test_a_gzip_bomb_is_refused_without_inflating_it(
    everything: APIClient, settings: SettingsWrapper, inflated_mb: int
) -> None:
    settings.MESHPORT_LINEAGE = {**settings.MESHPORT_LINEAGE, "MAX_BODY_BYTES": 1024 * 1024}
    bomb = zeros_gzipped(inflated_mb * 1024 * 1024)
    assert len(bomb) < inflated_mb * 1100  # about a thousandth
    before = row_counts(*TABLES)

    tracemalloc.start()
    try:
        response = everything.post(
            LINEAGE, bomb, content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    refused(response, 413, "Decompressed body exceeds 1048576 bytes")
    # What the request holds besides (the app, the answer) is the same for either bomb.
    assert peak < 8 * 1024 * 1024
    assert row_counts(*TABLES) == before


def test_a_gzip_bomb_past_the_default_limit_is_refused(everything: APIClient) -> None:
    bomb = zeros_gzipped(100 * 1024 * 1024)  # ~100 KB on the wire

    for url in (LINEAGE, BATCH):
        response = everything.post(
            url, bomb, content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
        )
        refused(response, 413, "Decompressed body exceeds 16777216 bytes")


def test_a_json_api_body_past_djangos_upload_limit_is_refused_unread(
    everything: APIClient, settings: SettingsWrapper
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"name": "x" * 2000, "kind": "freshness"})

    response = everything.post("/api/v1/slos", body, content_type="application/json")

    refused(response, 413, "Request body exceeds 1000 bytes")


def test_a_descriptor_past_its_size_limit_is_refused(
    everything: APIClient, settings: SettingsWrapper
) -> None:
    limit = settings.MESHPORT_CATALOG["MAX_DESCRIPTOR_BYTES"]
    before = row_counts(*TABLES)

    response = everything.put(PRODUCT, b"x: " + b"y" * limit, content_type="application/yaml")

    refused(response, 413, f"at most {limit} bytes")
    assert row_counts(*TABLES) == before


def test_a_bundle_of_more_files_than_django_takes_is_refused_as_json(
    everything: APIClient,
) -> None:
    files = [SimpleUploadedFile(f"f{i}.yaml", b"a: 1") for i in range(120)]

    response = everything.put(PRODUCT, {"file": files}, format="multipart")

    refused(response, 400, '"path": "file"', "number of files")


# --- JSON nesting --------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [deep_array(DEEP), deep_object(DEEP)], ids=["array", "object"])
@pytest.mark.parametrize("url", [LINEAGE, BATCH])
def test_deeply_nested_json_is_refused_by_the_lineage_api(
    everything: APIClient, url: str, body: bytes
) -> None:
    before = row_counts(*TABLES)

    response = everything.post(url, body, content_type="application/json")

    refused(response, 400, f"nested too deeply (more than {MAX_DEPTH} levels)")
    assert row_counts(*TABLES) == before


@pytest.mark.parametrize("body", [deep_array(DEEP), deep_object(DEEP)], ids=["array", "object"])
@pytest.mark.parametrize(
    "url", ["/api/v1/slos", "/api/v1/webhooks", "/api/v1/ownerships", "/api/v1/scorecards"]
)
def test_deeply_nested_json_is_refused_by_every_json_api(
    everything: APIClient, url: str, body: bytes
) -> None:
    before = row_counts(*TABLES)

    response = everything.post(url, body, content_type="application/json")

    refused(response, 400, "JSON parse error", "nested too deeply")
    assert row_counts(*TABLES) == before


def test_nesting_up_to_the_limit_is_taken_and_one_level_more_is_not(
    everything: APIClient,
) -> None:
    # The event object is level 1, "run" 2, "facets" 3, the facet 4: the rest is ours.
    facet_at = lambda depth: {"deep": {"_producer": "p", "_schemaURL": "u", "v": nested(depth - 4)}}  # noqa: E731

    taken = everything.post(LINEAGE, run_event(run_facets=facet_at(MAX_DEPTH)), format="json")
    one_more = everything.post(
        LINEAGE, run_event(run_facets=facet_at(MAX_DEPTH + 1)), format="json"
    )

    assert taken.status_code == 201, taken.json()
    refused(one_more, 400, "nested too deeply")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (deep_array(DEEP).decode(), "application/json"),
        (deep_object(DEEP).decode(), "application/json"),
        ("[" * DEEP + "]" * DEEP, "application/yaml"),
        ("a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "application/yaml"),
    ],
    ids=["json-array", "json-object", "yaml-flow", "yaml-past-the-limit"],
)
def test_deeply_nested_descriptors_are_refused(everything: APIClient, text: str, kind: str) -> None:
    before = row_counts(*TABLES)

    response = everything.put(PRODUCT, text, content_type=kind)

    refused(response, 400, "nested too deeply")
    assert row_counts(*TABLES) == before


def test_a_deeply_nested_carried_bundle_is_refused_by_the_upload_form(
    admin_user: User, demo: None
) -> None:
    client = Client()
    client.force_login(admin_user)
    before = row_counts(*TABLES)

    response = client.post("/products/upload/", {"bundle": deep_array(DEEP).decode()})

    assert response.status_code == 400
    assert "The carried-over files are damaged" in response.content.decode()
    assert row_counts(*TABLES) == before


def test_the_upload_form_names_a_nul_under_a_key_of_half_surrogates(
    admin_user: User, demo: None
) -> None:
    client = Client()
    client.force_login(admin_user)
    text = 'id: sales-orders\n"\\ud800\\udc00": ["a\\0b"]\n'
    before = row_counts(*TABLES)

    response = client.post("/products/upload/", {"text": text, "action": "publish"})

    assert response.status_code == 400
    assert "holds a NUL character" in response.content.decode()
    assert row_counts(*TABLES) == before


def test_a_rule_value_cannot_nest(db: None) -> None:
    with pytest.raises(RuleError, match="cannot read"):
        compile_rule("tags in " + "[" * DEEP + "]" * DEEP)


# --- YAML: tags and aliases ---------------------------------------------------------------------

BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
        *(
            f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]"
            for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
        "!!python/name:os.system",
        "!!python/module:os",
    ],
)
def test_a_python_tag_builds_nothing_and_is_refused(
    everything: APIClient, tmp_path: Path, tag: str
) -> None:
    marker = tmp_path / "ran"
    text = f"id: sales-orders\nname: {tag.format(marker=marker)}\n"

    response = everything.put(PRODUCT, text, content_type="application/yaml")

    refused(response, 400, "could not determine a constructor", "python/")
    assert not marker.exists()


def test_a_billion_laughs_descriptor_is_refused_at_once(everything: APIClient) -> None:
    started = time.monotonic()

    response = everything.put(PRODUCT, BILLION_LAUGHS, content_type="application/yaml")

    refused(response, 400, "YAML aliases expand past")
    assert time.monotonic() - started < 5


def test_a_self_referencing_alias_is_refused(everything: APIClient) -> None:
    response = everything.put(PRODUCT, "a: &a [*a]\n", content_type="application/yaml")

    refused(response, 400, "alias refers to itself")


ANCHORED_CONTRACT = """\
apiVersion: v3.0.2
kind: DataContract
id: anchored
version: 1.0.0
status: active
schema:
  - name: t
    physicalName: t
    properties:
      - &column {name: a, logicalType: string, description: the same for both}
      - {<<: *column, name: b}
"""


def test_anchors_and_merge_keys_within_the_limits_are_read(everything: APIClient) -> None:
    response = everything.put(
        "/api/v1/products/anchored", ANCHORED_CONTRACT, content_type="application/yaml"
    )

    assert response.status_code == 201, response.json()
    properties = everything.get("/api/v1/products/anchored").json()["contracts"][0]["objects"][0]
    assert [p["path"] for p in properties["properties"]] == ["a", "b"]


READINESS = Path(__file__).resolve().parents[2] / "governance/demo_scorecards/readiness.yaml"


@pytest.fixture
def steward_browser(admin_user: User) -> Client:
    call_command("load_scorecards", str(READINESS), stdout=StringIO())
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (BILLION_LAUGHS, "YAML aliases expand past"),
        ("name: !!python/object/apply:os.system ['true']\n", "could not determine a constructor"),
        ("[" * 90_000 + "]" * 90_000, "nested too deeply"),
        ("name: .nan\n", "not a number JSON can hold"),
    ],
    ids=["billion-laughs", "python-tag", "deep", "nan"],
)
def test_the_scorecard_editor_reads_yaml_with_the_same_safeguards(
    steward_browser: Client, text: str, problem: str
) -> None:
    before = row_counts(*TABLES)

    response = steward_browser.post(
        "/governance/scorecards/readiness/preview/", {"definition": text, "action": "preview"}
    )

    assert response.status_code == 400
    assert problem in response.content.decode()
    assert row_counts(*TABLES) == before


def test_loading_scorecard_files_reads_yaml_with_the_same_safeguards(
    db: None, tmp_path: Path
) -> None:
    (tmp_path / "laughs.yaml").write_text(BILLION_LAUGHS)
    errors = StringIO()

    with pytest.raises(CommandError, match="nothing loaded"):
        call_command("load_scorecards", str(tmp_path), stdout=StringIO(), stderr=errors)
    assert "YAML aliases expand past" in errors.getvalue()
    assert not Scorecard.objects.exists()


# --- numbers and text JSON cannot hold, and numbers past the database's ------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("NaN", "NaN is not a JSON number"),
        ("Infinity", "Infinity is not a JSON number"),
        ("1e999", "the number 1e999 is out of range"),
        ("1" * 5000, "has too many digits"),
        ('"\\ud800"', "$.run.facets.x.v holds half of a surrogate pair"),
        ('"a\\u0000b"', "$.run.facets.x.v holds a NUL character"),
    ],
)
def test_values_json_cannot_hold_are_refused_by_the_lineage_api(
    everything: APIClient, value: str, problem: str
) -> None:
    body = json.dumps(run_event(run_facets={"x": {"v": "VALUE"}})).replace('"VALUE"', value)
    before = row_counts(*TABLES)

    response = everything.post(LINEAGE, body, content_type="application/json")

    refused(response, 400, problem)
    assert row_counts(*TABLES) == before


@pytest.mark.parametrize("value", ["NaN", "1e999", '"\\udc00"', '{"a\\u0000": 1}'])
def test_values_json_cannot_hold_are_refused_by_every_json_api(
    everything: APIClient, value: str
) -> None:
    body = '{"name": VALUE}'.replace("VALUE", value)

    response = everything.post("/api/v1/slos", body, content_type="application/json")

    refused(response, 400, "JSON parse error")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("id: x\nname: .inf\n", "$.name is not a number JSON can hold"),
        ('id: x\nname: "\\ud800"\n', "$.name holds half of a surrogate pair"),
        ('id: x\nname: "a\\0b"\n', "$.name holds a NUL character"),
        ('{"id": "x", "name": "a\\u0000b"}', "$.name holds a NUL character"),
        # The path holds half surrogates of its own: the message must still be sent.
        ('id: x\n"\\ud800\\udc00": ["a\\0b"]\n', "$.\\\\ud800\\\\udc00[0] holds a NUL"),
        ('{"id": "x", "name": NaN}', "NaN is not a JSON number"),
    ],
)
def test_values_json_cannot_hold_are_refused_in_descriptors(
    everything: APIClient, text: str, problem: str
) -> None:
    kind = "application/json" if text.startswith("{") else "application/yaml"

    response = everything.put("/api/v1/products/x", text, content_type=kind)

    refused(response, 400, problem)


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/ownerships?dataset=1e30", "dataset"),
        ("/api/v1/ownerships?dataset=99999999999999999999", "dataset"),
        ("/api/v1/events/lineage?offset=99999999999999999999", "offset"),
        ("/api/v1/namespaces?offset=99999999999999999999", "offset"),
        ("/api/v1/events/lineage?before=50%25", "before"),
    ],
)
def test_query_values_past_what_sql_takes_are_a_400_naming_them(
    everything: APIClient, url: str, field: str
) -> None:
    refused(everything.get(url), 400, f'"path": "{field}"')


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"kind": "volume", "minRows": 10**30}, "minRows"),
        ({"kind": "volume", "maxRows": 2**63}, "maxRows"),
        ({"kind": "freshness", "thresholdSeconds": 1e308}, "thresholdSeconds"),
    ],
)
def test_slo_thresholds_past_what_evaluation_and_sql_take_are_refused(
    everything: APIClient, values: dict[str, Any], field: str
) -> None:
    body = {"name": "x", "namespace": "tests", "datasetName": "t", **values}
    before = row_counts(*TABLES)

    response = everything.post("/api/v1/slos", body, format="json")

    refused(response, 400, f'"path": "{field}"')
    assert row_counts(*TABLES) == before


@pytest.mark.parametrize(
    "param", ["since=0001-01-01T00:00:00%2B05:00", "until=9999-12-31T23:59-05:00"]
)
def test_an_slo_history_bound_outside_the_years_a_date_holds_is_refused(
    everything: APIClient, param: str
) -> None:
    call_command("load_demo", "--no-progress", stdout=StringIO())
    slo = Slo.objects.first()
    assert slo is not None

    response = everything.get(f"/api/v1/slos/{slo.pk}/history?{param}")

    refused(response, 400, f'"path": "{param.partition("=")[0]}"')


@pytest.mark.parametrize(
    "event_time",
    ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59.999999-23:59"],
)
def test_an_event_time_outside_the_years_a_date_holds_is_refused(
    everything: APIClient, event_time: str
) -> None:
    before = row_counts(*TABLES)

    response = everything.post(LINEAGE, run_event(event_time=event_time), format="json")

    refused(response, 400, '"path": "eventTime"')
    assert row_counts(*TABLES) == before


# --- text past its column ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "event"),
    [
        ("job.name", run_event(job=("tests", "j" * 1025))),
        ("inputs[0].namespace", run_event(inputs=[{"namespace": "n" * 1025, "name": "t"}])),
        ("producer", {**run_event(), "producer": "p" * 2049}),
    ],
)
def test_an_event_name_past_its_column_is_refused_by_its_path(
    everything: APIClient, path: str, event: dict[str, Any]
) -> None:
    before = row_counts(*TABLES)

    response = everything.post(LINEAGE, event, format="json")

    refused(response, 400, f'"path": "{path}"', "at most")
    assert row_counts(*TABLES) == before


def test_facet_text_past_its_column_is_cut_or_left_out_with_a_warning(
    everything: APIClient,
) -> None:
    parent = {"run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "n", "name": "j" * 2000}}
    job_type = {"jobType": {"processingType": "BATCH", "integration": "i" * 2000, "jobType": "X"}}
    event = run_event(run_facets={"parent": parent}, job_facets=job_type)

    response = everything.post(LINEAGE, event, format="json")

    assert response.status_code == 201, response.json()
    warned = [w["path"] for w in response.json()["warnings"]]
    assert "run.facets.parent.job" in warned
    assert Job.objects.get(name="job").integration == "i" * 64


@pytest.mark.parametrize("count", [2**63, 10**30, 1e308, -(2**63) - 1])
def test_a_statistic_past_a_64_bit_count_is_left_out_with_a_warning(
    everything: APIClient, count: float
) -> None:
    stats = {"outputStatistics": {"_producer": "p", "_schemaURL": "u", "rowCount": count}}
    outputs = [{"namespace": "tests", "name": "t", "outputFacets": stats}]

    response = everything.post(LINEAGE, run_event(outputs=outputs), format="json")

    assert response.status_code == 201, response.json()
    warned = [w["path"] for w in response.json()["warnings"]]
    assert "outputs[0].outputFacets.outputStatistics.rowCount" in warned
