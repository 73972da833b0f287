"""The lineage graph service and its APIs: directed, bounded, at three levels."""

from __future__ import annotations

import io
import uuid
from typing import Any

import networkx as nx
import pydot
import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from lineage.graph.ids import InvalidNodeId, UnknownNode, resolve
from lineage.graph.service import GraphQuery, lineage_subgraph
from lineage.models import GraphGeneration
from lineage.services import lineage_event_ingest
from tests.conftest import load_fixture, run_event

NS = "postgres://db:5432"
DBT_SCENARIO = "compatibility-tests/producer/dbt/scenarios/csv_to_postgres/events"


def ds(name: str, ns: str = NS, **facets: Any) -> dict[str, Any]:
    return {"namespace": ns, "name": name, "facets": facets}


def ingest(*events: dict[str, Any]) -> None:
    for event in events:
        lineage_event_ingest(payload=event, token_name="tests")


def job(name: str, reads: list[str], writes: list[str], state: str = "COMPLETE") -> dict[str, Any]:
    return run_event(
        state, job=("etl", name), inputs=[ds(n) for n in reads], outputs=[ds(n) for n in writes]
    )


def completed(relative: str) -> dict[str, Any]:
    """An expected-event fragment from the fixtures, completed into a valid event (the
    fragments leave out run ids, times and producers, which lineage does not need)."""
    partial = load_fixture(relative)
    name = partial["job"].get("name", "job")
    event = run_event(partial["eventType"], job=(partial["job"]["namespace"], name))
    event.update(inputs=partial.get("inputs", []), outputs=partial.get("outputs", []))
    return event


def query(node: str, **options: Any) -> nx.DiGraph:
    return lineage_subgraph(GraphQuery.asked(resolve(node), **options))


def dataset(name: str, ns: str = NS) -> str:
    return f"dataset:{ns}:{name}"


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    caches["graph"].clear()


@pytest.fixture
def chain(db: None) -> None:
    """d0 → j1 → d1 → j2 → d2 → j3 → d3."""
    ingest(*(job(f"j{i}", [f"d{i - 1}"], [f"d{i}"]) for i in (1, 2, 3)))


@pytest.fixture
def two_readers(db: None) -> None:
    """Marquez's undirected trap: two jobs that merely read the same table."""
    ingest(job("a", ["shared"], ["out_a"]), job("b", ["shared"], ["out_b"]))


def test_it_does_not_pull_in_the_other_reader_of_a_shared_table(two_readers: None) -> None:
    graph = query(dataset("out_a"), direction="both", depth=5)
    assert set(graph) == {dataset("out_a"), "job:etl:a", dataset("shared")}


def test_marquez_lineage_is_directed_too(two_readers: None, anonymous: APIClient) -> None:
    answer = anonymous.get("/api/v1/lineage", {"nodeId": dataset("out_a"), "depth": 5}).json()
    ids = {node["id"] for node in answer["graph"]}
    assert ids == {dataset("out_a"), "job:etl:a", dataset("shared")}
    job_node = next(n for n in answer["graph"] if n["type"] == "JOB")
    assert job_node["data"]["inputs"] == [{"namespace": NS, "name": "shared"}]
    assert job_node["inEdges"] == [{"origin": dataset("shared"), "destination": "job:etl:a"}]


def test_it_walks_upstream_and_downstream_apart(chain: None) -> None:
    up = query(dataset("d2"), direction="upstream", depth=5)
    down = query(dataset("d2"), direction="downstream", depth=5)
    assert set(up) == {dataset("d0"), "job:etl:j1", dataset("d1"), "job:etl:j2", dataset("d2")}
    assert set(down) == {dataset("d2"), "job:etl:j3", dataset("d3")}
    assert up.nodes[dataset("d0")]["side"] == "upstream"
    assert up.nodes[dataset("d0")]["distance"] == 2


def test_depth_counts_jobs_and_says_what_it_hid(chain: None) -> None:
    graph = query(dataset("d3"), direction="upstream", depth=1)
    assert set(graph) == {dataset("d3"), "job:etl:j3", dataset("d2")}
    assert graph.graph["truncated"] == ["depth"]
    assert graph.nodes[dataset("d2")]["hidden_upstream"] == 1
    assert graph.nodes[dataset("d3")]["hidden_upstream"] == 0


def test_the_cap_cuts_and_counts_hidden_neighbours(db: None) -> None:
    ingest(job("fan_in", [f"src{i}" for i in range(10)], ["target"]))
    graph = query(dataset("target"), direction="upstream", depth=3, cap=5)
    assert graph.number_of_nodes() == 5
    assert graph.graph["truncated"] == ["cap"]
    assert graph.nodes["job:etl:fan_in"]["hidden_upstream"] == 7


def test_it_handles_cycles(db: None) -> None:
    ingest(job("loop", ["state"], ["state"]), job("next", ["state"], ["report"]))
    graph = query(dataset("report"), direction="upstream", depth=10)
    assert set(graph) == {dataset("report"), "job:etl:next", dataset("state"), "job:etl:loop"}
    assert graph.has_edge("job:etl:loop", dataset("state"))
    assert graph.has_edge(dataset("state"), "job:etl:loop")


def test_it_reads_node_ids_whose_names_hold_colons(db: None, anonymous: APIClient) -> None:
    kafka, arn = "kafka://broker:9092", "arn:aws:s3:::bucket/key"
    ingest(
        run_event(
            job=("streams", "copy"),
            inputs=[ds("topic:proj:topic", kafka)],
            outputs=[ds(arn, "s3://bucket")],
        )
    )
    node = resolve(f"dataset:{kafka}:topic:proj:topic")
    assert node.id == f"dataset:{kafka}:topic:proj:topic"
    answer = anonymous.get("/api/v1/lineage", {"nodeId": f"dataset:s3://bucket:{arn}"}).json()
    assert {n["id"] for n in answer["graph"]} == {
        f"dataset:s3://bucket:{arn}",
        "job:streams:copy",
        f"dataset:{kafka}:topic:proj:topic",
    }


def test_it_tells_a_malformed_id_from_an_unknown_one(db: None) -> None:
    with pytest.raises(InvalidNodeId):
        resolve("table:orders")
    with pytest.raises(UnknownNode):
        resolve("dataset:nowhere:orders")


def test_the_api_refuses_bad_input_naming_the_field(chain: None, anonymous: APIClient) -> None:
    url = "/api/v1/graph/lineage"
    unknown = anonymous.get(url, {"nodeId": "dataset:nowhere:x"})
    assert unknown.status_code == 404
    assert "dataset:nowhere:x" in unknown.json()["error"]
    for params, field in (
        ({"nodeId": dataset("d1"), "depth": "-1"}, "depth"),
        ({"nodeId": dataset("d1"), "depth": "99"}, "depth"),
        ({"nodeId": dataset("d1"), "cap": "0"}, "cap"),
        ({"nodeId": dataset("d1"), "level": "galaxy"}, "level"),
        ({"nodeId": dataset("d1"), "format": "pdf"}, "format"),
        ({"nodeId": "orders"}, "nodeId"),
        ({}, "nodeId"),
    ):
        answer = anonymous.get(url, params)
        assert answer.status_code == 400, params
        assert [e["path"] for e in answer.json()["errors"]] == [field]


def test_new_edges_show_on_the_next_query(chain: None) -> None:
    before = GraphGeneration.current()
    assert set(query(dataset("d3"), direction="downstream")) == {dataset("d3")}
    ingest(job("j4", ["d3"], ["d4"]))
    assert GraphGeneration.current() == before + 1
    assert dataset("d4") in query(dataset("d3"), direction="downstream")


def test_repeating_known_edges_keeps_the_generation(chain: None) -> None:
    before = GraphGeneration.current()
    ingest(job("j1", ["d0"], ["d1"]), job("j2", ["d1"], ["d2"], state="FAIL"))
    assert GraphGeneration.current() == before


def test_run_states_are_fresh_even_from_the_cache(chain: None) -> None:
    graph = query(dataset("d2"), direction="upstream")
    assert graph.nodes["job:etl:j2"]["state"] == "COMPLETED"
    ingest(job("j2", ["d1"], ["d2"], state="FAIL"))
    graph = query(dataset("d2"), direction="upstream")
    assert graph.nodes["job:etl:j2"]["state"] == "FAILED"
    assert graph.nodes[dataset("d2")]["state"] == "FAILED"


def test_filters_keep_matches_and_the_way_to_them(db: None, anonymous: APIClient) -> None:
    ingest(
        job("stage", ["raw"], ["staged"]),
        run_event(job=("etl", "publish"), inputs=[ds("staged")], outputs=[ds("pub", "s3://lake")]),
        job("audit", ["staged"], ["audit_log"]),
    )
    answer = anonymous.get(
        "/api/v1/graph/lineage",
        {"nodeId": dataset("raw"), "direction": "downstream", "depth": 3, "namespace": "s3://lake"},
    ).json()
    ids = {n["id"] for n in answer["nodes"]}
    assert ids == {
        dataset("raw"),
        "job:etl:stage",
        dataset("staged"),
        "job:etl:publish",
        "dataset:s3://lake:pub",
    }
    assert answer["filteredOut"] == 2


def test_root_cause_names_the_failed_upstream_run(chain: None, anonymous: APIClient) -> None:
    failing = job("j1", ["d0"], ["d1"], state="FAIL")
    ingest(failing)
    answer = anonymous.get("/api/v1/graph/root-cause", {"nodeId": dataset("d3"), "depth": 5})
    [suspect] = answer.json()["suspects"]
    assert suspect["id"] == "job:etl:j1"
    assert suspect["state"] == "FAILED"
    assert suspect["run"] == failing["run"]["runId"]
    assert suspect["runUrl"].endswith(f"{failing['run']['runId']}/")


def test_path_between_two_nodes_or_a_clear_no(chain: None, anonymous: APIClient) -> None:
    url = "/api/v1/graph/path"
    found = anonymous.get(url, {"from": dataset("d3"), "to": dataset("d0"), "depth": 3}).json()
    assert found["path"] == [
        dataset("d0"),
        "job:etl:j1",
        dataset("d1"),
        "job:etl:j2",
        dataset("d2"),
        "job:etl:j3",
        dataset("d3"),
    ]
    short = anonymous.get(url, {"from": dataset("d0"), "to": dataset("d3"), "depth": 2}).json()
    assert short["path"] == []
    assert short["message"] == "no path within depth 2"


def test_impact_lists_everything_downstream_nearest_first(
    chain: None, anonymous: APIClient
) -> None:
    answer = anonymous.get("/api/v1/graph/impact", {"nodeId": dataset("d1"), "depth": 3}).json()
    assert [(r["id"], r["distance"]) for r in answer["impacted"]] == [
        (dataset("d2"), 1),
        ("job:etl:j2", 1),
        (dataset("d3"), 2),
        ("job:etl:j3", 2),
    ]
    csv = anonymous.get(
        "/api/v1/graph/impact", {"nodeId": dataset("d1"), "depth": 3, "format": "csv"}
    )
    assert csv["Content-Type"].startswith("text/csv")
    assert csv.content.decode().splitlines()[0].startswith("id,kind,distance")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_exports_parse_back(chain: None, anonymous: APIClient) -> None:
    params = {"nodeId": dataset("d2"), "depth": 2}
    graphml = anonymous.get("/api/v1/graph/lineage", {**params, "format": "graphml"})
    parsed = nx.read_graphml(io.BytesIO(graphml.content))
    assert set(parsed) == set(query(dataset("d2"), depth=2))
    assert parsed.has_edge("job:etl:j2", dataset("d2"))
    dot = anonymous.get("/api/v1/graph/lineage", {**params, "format": "dot"}).content.decode()
    [parsed_dot] = pydot.graph_from_dot_data(dot)
    assert len(parsed_dot.get_edges()) == parsed.number_of_edges()
    mermaid = anonymous.get("/api/v1/graph/lineage", {**params, "format": "mermaid"})
    assert mermaid.content.decode().startswith("flowchart LR")
    svg = anonymous.get("/api/v1/graph/lineage", {**params, "format": "svg"})
    assert svg["Content-Type"].startswith("image/svg+xml")
    assert b'data-node-id="job:etl:j2"' in svg.content


def test_column_lineage_from_a_spark_event(db: None, anonymous: APIClient) -> None:
    ingest(completed("openlineage-spark/container/pysparkCLLEnd.json"))
    node = "datasetField:file:/tmp/cll_test/tbl1:ident"
    answer = anonymous.get("/api/v1/column-lineage", {"nodeId": node, "depth": 2}).json()
    [field] = [n for n in answer["graph"] if n["id"] == node]
    inputs = {
        (f["dataset"], f["field"], f["transformationType"]) for f in field["data"]["inputFields"]
    }
    assert inputs == {
        ("/tmp/cll_test/cll_source1", "a", "DIRECT"),
        ("/tmp/cll_test/cll_source1", "b", "INDIRECT"),
        ("/tmp/cll_test/cll_source2", "a", "INDIRECT"),
    }
    graph = query(node, level="column", direction="upstream")
    edge = graph.edges["datasetField:file:/tmp/cll_test/cll_source1:a", node]
    assert edge["transformations"].split(", ")[:2] == ["DIRECT/IDENTITY", "INDIRECT/GROUP_BY"]


def test_column_lineage_from_dbt_follows_fields_downstream(db: None, anonymous: APIClient) -> None:
    for model in ("customers", "orders", "analytics"):
        ingest(completed(f"{DBT_SCENARIO}/{model}/column_lineage_event.json"))
    pg = "postgres://localhost:5432"
    source = f"datasetField:{pg}:dbt_test.main.raw_customers:email"
    answer = anonymous.get(
        "/api/v1/column-lineage", {"nodeId": source, "depth": 3, "withDownstream": "true"}
    ).json()
    assert {n["id"] for n in answer["graph"]} == {
        source,
        f"datasetField:{pg}:dbt_test.main.stg_customers:email",
        f"datasetField:{pg}:dbt_test.main.customer_analytics:email",
    }
    upstream_only = anonymous.get("/api/v1/column-lineage", {"nodeId": source}).json()
    assert {n["id"] for n in upstream_only["graph"]} == {source}


def test_a_field_tagged_pii_marks_its_dataset_and_field(db: None) -> None:
    schema = {
        "fields": [{"name": "email", "type": "STRING"}, {"name": "country", "type": "STRING"}]
    }
    tags = {"tags": [{"key": "pii", "value": "true", "field": "email"}]}
    people = ds("people", schema=schema, tags=tags)
    ingest(run_event(job=("etl", "load"), inputs=[ds("src")], outputs=[people]))
    assert query(dataset("people")).nodes[dataset("people")]["pii"]
    assert not query(dataset("src"), direction="downstream").nodes[dataset("src")]["pii"]
    columns = query(dataset("people"), level="column")
    assert columns.nodes[f"datasetField:{NS}:people:email"]["pii"]
    assert not columns.nodes[f"datasetField:{NS}:people:country"]["pii"]


def test_lateness_is_learnt_from_each_jobs_own_rhythm(db: None) -> None:
    from datetime import UTC, datetime, timedelta

    from lineage.models import Job
    from lineage.selectors import job_lateness

    now = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)

    def at(hours_ago: float) -> str:
        return (now - timedelta(hours=hours_ago)).isoformat().replace("+00:00", "Z")

    for day in (5, 4, 3):  # a daily job, silent for three days since
        ingest(run_event(job=("etl", "daily"), event_time=at(24 * day)))
    for day in (3, 2, 1):  # done in ten minutes, now running for three hours
        run = str(uuid.uuid4())
        ingest(run_event("START", run_id=run, job=("etl", "slow"), event_time=at(24 * day)))
        ingest(run_event(run_id=run, job=("etl", "slow"), event_time=at(24 * day - 1 / 6)))
    ingest(run_event("START", job=("etl", "slow"), event_time=at(3)))
    ingest(run_event(job=("etl", "fine"), event_time=at(1)))
    jobs = dict(Job.objects.values_list("name", "pk"))
    late = job_lateness(list(jobs.values()), now=now)
    assert late[jobs["daily"]].startswith("no run for 3 d")
    assert late[jobs["slow"]].startswith("running for 3 h")
    assert jobs["fine"] not in late


def test_marquez_lineage_defaults_to_marquezs_depth(chain: None, anonymous: APIClient) -> None:
    answer = anonymous.get("/api/v1/lineage", {"nodeId": dataset("d3")}).json()
    assert dataset("d0") in {node["id"] for node in answer["graph"]}
    graph = anonymous.get("/api/v1/graph/lineage", {"nodeId": dataset("d3")}).json()
    assert dataset("d0") not in {node["id"] for node in graph["nodes"]}


def test_a_level_the_node_cannot_be_asked_at_is_a_400_or_404(
    chain: None, anonymous: APIClient
) -> None:
    job_at_products = anonymous.get(
        "/api/v1/graph/impact", {"nodeId": "job:etl:j1", "level": "product"}
    )
    assert job_at_products.status_code == 400
    assert [e["path"] for e in job_at_products.json()["errors"]] == ["level"]
    unbound = anonymous.get("/api/v1/graph/lineage", {"nodeId": dataset("d1"), "level": "product"})
    assert unbound.status_code == 404
    assert dataset("d1") in unbound.json()["error"]
    huge = anonymous.get(
        "/api/v1/graph/path", {"from": dataset("d0"), "to": dataset("d3"), "cap": "999999"}
    )
    assert huge.status_code == 400
