"""Every operation of the OpenAPI schema, fuzzed in process against the WSGI app on the
demo mesh (with its scorecards): no input gives a 5xx, and every answer is one the schema
documents (its status code, content type, headers and body).

Each example is sent twice, anonymously and with a token holding every scope.
``MESHPORT_FUZZ_EXAMPLES`` sets the generated examples per operation (15 by default, from
a fixed seed, so that CI repeats itself); ``MESHPORT_FUZZ_COVERAGE=1`` adds schemathesis'
coverage phase (boundary and wrong-type values of every parameter); ``MESHPORT_FUZZ_SEED``
picks other inputs. ``python -m benchmarks.fuzz`` runs the long version.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import schemathesis
from django.core.cache import caches
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.pytest._test_builder import build_operation_test
from schemathesis.python._constants.orchestrator import make_constants_value_source

from catalog.models import (
    ApiToken,
    DataProduct,
    Dataset,
    DatasetField,
    Ownership,
    ProductRevision,
    Team,
)
from governance.models import Scorecard, ScorecardRun, Slo, Waiver, WebhookSubscription
from lineage.models import Job, Run
from tests.fuzz.support import own_transaction

EXAMPLES = int(os.environ.get("MESHPORT_FUZZ_EXAMPLES", "15"))
COVERAGE = os.environ.get("MESHPORT_FUZZ_COVERAGE", "") == "1"
SEED = int(os.environ.get("MESHPORT_FUZZ_SEED", "20240501"))
OPERATIONS = 70  # in the schema today: a smaller count means some were left out

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)


def fuzz_config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",  # valid inputs and invalid ones
                "max-examples": EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": COVERAGE},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """Django's WSGI handler, minus the connection clean-up after each request: it would
    close the test's connection, and its transaction with it (the test client does the
    same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def known_path_values() -> dict[str, list[dict[str, Any]]]:
    """Path parameters that name rows of the demo mesh, by the path they fill, so that
    reads and writes reach real rows and not only 404s."""
    revisions = ProductRevision.objects.select_related("product")
    runs = ScorecardRun.objects.select_related("scorecard")
    datasets = Dataset.objects.values_list("namespace__name", "name")
    jobs = Job.objects.values_list("namespace__name", "name")
    pks: dict[str, Any] = {
        "/slos/{id}": Slo.objects,
        "/webhooks/{id}": WebhookSubscription.objects,
        "/waivers/{id}": Waiver.objects,
        "/ownerships/{id}": Ownership.objects,
        "/teams/{id}": Team.objects,
    }
    return {
        "/products/{product_id}/revisions/{number}": [
            {"product_id": r.product.external_id, "number": r.number} for r in revisions
        ],
        "/products/{product_id}": [
            {"product_id": p} for p in DataProduct.objects.values_list("external_id", flat=True)
        ],
        "/scorecards/{slug}/runs/{id}": [{"slug": r.scorecard.slug, "id": r.pk} for r in runs],
        "/scorecards/{slug}": [
            {"slug": s} for s in Scorecard.objects.values_list("slug", flat=True)
        ],
        "/namespaces/{namespace}/datasets/{dataset}": [
            {"namespace": ns, "dataset": name} for ns, name in datasets
        ],
        "/namespaces/{namespace}/jobs/{job}": [{"namespace": ns, "job": name} for ns, name in jobs],
        "/namespaces/{namespace}": [{"namespace": ns} for ns, _ in datasets],
        "/jobs/runs/{id}": [{"id": str(u)} for u in Run.objects.values_list("uuid", flat=True)],
        **{
            path: [{"id": pk} for pk in manager.values_list("pk", flat=True)]
            for path, manager in pks.items()
        },
    }


def known_nodes() -> list[str]:
    """Graph node ids of the demo mesh, as ``nodeId``, ``from`` and ``to`` name them."""
    datasets = Dataset.objects.values_list("namespace__name", "name")
    jobs = Job.objects.values_list("namespace__name", "name")
    products = DataProduct.objects.values_list("external_id", flat=True)
    fields = DatasetField.objects.values_list(
        "dataset__namespace__name", "dataset__name", "name"
    ).order_by("pk")[:200]
    return [
        *(f"dataset:{ns}:{name}" for ns, name in datasets),
        *(f"job:{ns}:{name}" for ns, name in jobs),
        *(f"product:{pid}" for pid in products),
        *(f"datasetField:{ns}:{name}:{field}" for ns, name, field in fields),
    ]


NODE_PARAMETERS = ("nodeId", "from", "to")


def real_rows_too(known: dict[str, list[dict[str, Any]]]) -> Callable[..., Any]:
    """A schema hook: path parameters are generated, or name a row of the demo mesh."""

    def before_generate_path_parameters(context: Any, strategy: Any) -> Any:
        path = context.operation.path.removeprefix("/api/v1")
        for template, values in known.items():  # the longest templates come first
            if path.startswith(template) and values:
                return st.one_of(strategy, st.sampled_from(values))
        return strategy

    return before_generate_path_parameters


def real_nodes_too(nodes: list[str]) -> Callable[..., Any]:
    """A schema hook: the graph's node parameters are generated, or name a node of the
    demo mesh, so that walks, layouts and exports run on real graphs too."""

    def with_nodes(drawn: tuple[Any, str, str]) -> Any:
        query, origin, target = drawn
        if not isinstance(query, dict):  # an invalid query of another shape: as drawn
            return query
        names = {"nodeId": origin, "from": origin, "to": target}
        return {**query, **{k: v for k, v in names.items() if k in query}}

    def before_generate_query(context: Any, strategy: Any) -> Any:
        names = {p.name for p in context.operation.query}
        if not names & set(NODE_PARAMETERS):
            return strategy
        real = st.tuples(strategy, st.sampled_from(nodes), st.sampled_from(nodes))
        return st.one_of(strategy, real.map(with_nodes))

    return before_generate_query


@pytest.fixture
def api_schema(db: None, wsgi_app: WSGIHandler) -> Any:
    caches["graph"].clear()
    call_command("load_demo", "--no-progress", stdout=StringIO())
    call_command("load_demo_governance", stdout=StringIO())  # scorecards, runs, a waiver
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app, config=fuzz_config())
    schema.hook(real_rows_too(known_path_values()))
    schema.hook(real_nodes_too(known_nodes()))
    return schema


@pytest.fixture
def token_headers(db: None) -> dict[str, str]:
    """A token holding every scope."""
    _, secret = ApiToken.issue(name="fuzzer", scopes=[scope for scope, _ in ApiToken.SCOPES])
    return {"Authorization": f"Bearer {secret}"}


@dataclass
class OperationRun:
    """What fuzzing one operation did: the examples sent and the failures found."""

    label: str
    cases: int = 0
    unrouted: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def routed(response: schemathesis.Response) -> bool:
    """Whether the URLconf sent the request to a view at all: an id that is not a number,
    or a slug with a space, ends at the router's 404 page."""
    try:
        resolve(unquote(urlsplit(response.request.url).path))
    except Resolver404:
        return False
    return True


def call(case: schemathesis.Case, run: OperationRun, headers: dict[str, str]) -> None:
    with own_transaction():
        response = case.call(headers=headers)
    run.statuses[response.status_code] += 1
    if routed(response):
        case.validate_response(response, headers=headers)
        return
    # The request never reached an API view; the router's answer must still be a 404.
    run.unrouted += 1
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code == 404, f"{response.request.url}: {response.status_code}"


def fuzz_operation(schema: Any, operation: Any, token: dict[str, str]) -> OperationRun:
    """One operation through schemathesis' phases (the schema's examples, generated
    inputs; coverage when asked), built as ``schema.parametrize()`` builds it. Its pytest
    wrapper (``schemathesis.pytest.from_fixture``) renames the test's node id per
    operation, which pytest 9.2 no longer allows, so the operations run in this one test."""
    run = OperationRun(operation.label)

    def send(case: schemathesis.Case) -> None:
        run.cases += 1
        # Anonymous first: a refused write must leave the state the token's call then sees.
        call(case, run, {})
        call(case, run, token)

    test = build_operation_test(
        config=schema.config,
        operation=operation,
        test_func=send,
        given_kwargs={},
        feedback=FeedbackSources(constants_value_source=make_constants_value_source(schema)),
        explicit_settings=settings(
            deadline=None, suppress_health_check=list(HealthCheck), database=None
        ),
    )
    try:
        test()
    except (Exception, BaseExceptionGroup) as exc:  # failed checks, or a request that broke
        run.failures.append(f"{operation.label}\n{exc}")
    return run


def write_report(runs: list[OperationRun]) -> None:
    """The run's figures as JSON, where ``MESHPORT_FUZZ_REPORT`` says (benchmarks/fuzz.py)."""
    path = os.environ.get("MESHPORT_FUZZ_REPORT")
    if not path:
        return
    report = {
        "examples": EXAMPLES,
        "coverage": COVERAGE,
        "seed": SEED,
        "operations": [vars(run) for run in runs],
    }
    Path(path).write_text(json.dumps(report, indent=1))


def test_no_input_gives_a_5xx_or_an_undocumented_answer(
    api_schema: Any, token_headers: dict[str, str]
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    runs = [fuzz_operation(api_schema, operation, token_headers) for operation in operations]
    write_report(runs)

    assert len(operations) >= OPERATIONS
    assert all(run.cases > 0 for run in runs)
    failures = [failure for run in runs for failure in run.failures]
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)
