"""Lineage subgraphs exported as GraphML, DOT and Mermaid, and impact lists as CSV.

Each format is read back with an independent parser (networkx, pydot, the csv module, or
Mermaid's own entity rules) so the tests prove what a consumer sees, not what we wrote.
"""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any

import networkx as nx
import pydot
import pytest

from lineage.graph.export import EXPORTERS, to_csv, to_dot, to_graphml, to_mermaid

# pydot's parser still calls pyparsing's camelCase names; that is its business, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pydot")

KAFKA = "dataset:kafka://broker:9092:topic:proj:topic"
QUOTED = 'dataset:s3://b:a "quoted" \\ back\\\\slash'
ARN = "dataset:arn:aws:glue:eu-west-1:123456789012:table/sales/orders"
UNICODE = "dataset:warehouse:ventes.été_日本"
JOB = "job:airflow:etl.daily_orders"
FIELD_IN = "datasetField:kafka://broker:9092:topic:proj:topic:amount"
FIELD_OUT = "datasetField:warehouse:ventes.été_日本:total"
PRODUCT = "product:urn:dp:sales/orders"
PORTAL = "https://portal.example/datasets/warehouse/ventes"


def lineage_graph() -> nx.DiGraph:
    """A downstream answer rooted at the Kafka topic, with one of every kind of node."""
    graph = nx.DiGraph(
        root=KAFKA, level="dataset", direction="downstream", depth=3, cap=200, truncated=["cap"]
    )
    graph.add_node(
        KAFKA, kind="dataset", label="topic", title=KAFKA, side="root", distance=0, pii=True
    )
    graph.add_node(
        JOB, kind="job", label="daily_orders", state="FAILED", late=False, url=PORTAL + "/job"
    )
    graph.add_node(QUOTED, kind="dataset", label='a "quoted" \\ name', state="COMPLETED")
    graph.add_node(ARN, kind="dataset", label="orders\n(glue)", late=True, hidden_downstream=4)
    graph.add_node(UNICODE, kind="dataset", label="ventes <été> | [x] {y} #1; `z`", url=PORTAL)
    graph.add_node(FIELD_IN, kind="field", label="amount", dataset=KAFKA, field="amount")
    graph.add_node(FIELD_OUT, kind="field", label="total", type=None, state="RUNNING")
    graph.add_node(PRODUCT, kind="product", label=None, status="active", url='/p?q="x"')
    graph.add_edge(KAFKA, JOB, kind="io")
    graph.add_edge(JOB, QUOTED, kind="io")
    graph.add_edge(JOB, ARN, kind="io")
    graph.add_edge(JOB, UNICODE, kind="io")
    graph.add_edge(
        FIELD_IN,
        FIELD_OUT,
        kind="column",
        transformation_type="DIRECT",
        transformation_subtype="AGGREGATION",
        job=JOB,
    )
    graph.add_edge(UNICODE, PRODUCT, kind="declared")
    return graph


def reversed_copy(graph: nx.DiGraph) -> nx.DiGraph:
    copy = nx.DiGraph(**graph.graph)
    copy.add_nodes_from(reversed(list(graph.nodes(data=True))))
    copy.add_edges_from(reversed(list(graph.edges(data=True))))
    return copy


# --- GraphML ----------------------------------------------------------------------------


def test_it_round_trips_graphml_with_networkx() -> None:
    graph = lineage_graph()

    parsed = nx.parse_graphml(to_graphml(graph))

    assert isinstance(parsed, nx.DiGraph)
    assert set(parsed.nodes) == set(graph.nodes)
    assert set(parsed.edges) == set(graph.edges)
    assert parsed.nodes[ARN]["label"] == "orders\n(glue)"
    assert parsed.edges[FIELD_IN, FIELD_OUT] == graph.edges[FIELD_IN, FIELD_OUT]


def test_it_keeps_graphml_value_types() -> None:
    parsed = nx.parse_graphml(to_graphml(lineage_graph()))

    root = parsed.nodes[KAFKA]
    assert root["pii"] is True
    assert parsed.nodes[JOB]["late"] is False
    assert root["distance"] == 0 and type(root["distance"]) is int
    assert parsed.nodes[ARN]["hidden_downstream"] == 4


def test_it_leaves_none_out_of_graphml() -> None:
    parsed = nx.parse_graphml(to_graphml(lineage_graph()))

    assert "type" not in parsed.nodes[FIELD_OUT]
    assert "label" not in parsed.nodes[PRODUCT]
    assert parsed.nodes[PRODUCT]["status"] == "active"


def test_it_keeps_graph_attributes_and_joins_lists_in_graphml() -> None:
    graph = lineage_graph()
    graph.graph["truncated"] = ["depth", "cap"]

    parsed = nx.parse_graphml(to_graphml(graph))

    assert parsed.graph["truncated"] == "depth,cap"
    assert parsed.graph["root"] == KAFKA
    assert (parsed.graph["depth"], parsed.graph["cap"]) == (3, 200)
    assert parsed.graph["direction"] == "downstream"


def test_it_exports_a_graph_read_back_from_graphml_unchanged() -> None:
    exported = to_graphml(lineage_graph())

    assert to_graphml(nx.parse_graphml(exported)) == exported


def test_it_writes_an_empty_truncated_list_as_an_empty_graphml_string() -> None:
    graph = lineage_graph()
    graph.graph["truncated"] = []

    assert nx.parse_graphml(to_graphml(graph)).graph["truncated"] == ""


# --- DOT --------------------------------------------------------------------------------

_DOT_UNESCAPES = {"n": "\n", "r": "\r"}


def dot_unquote(name: str) -> str:
    """What a DOT quoted string stands for, as ``to_dot`` escaped it."""
    inner = name[1:-1] if name.startswith('"') and name.endswith('"') else name
    return re.sub(r"\\(.)", lambda m: _DOT_UNESCAPES.get(m[1], m[1]), inner, flags=re.DOTALL)


def parse_dot(text: str) -> pydot.Dot:
    graphs = pydot.graph_from_dot_data(text)
    assert graphs is not None and len(graphs) == 1
    return graphs[0]


def dot_nodes(text: str) -> dict[str, dict[str, str]]:
    return {
        dot_unquote(node.get_name()): {
            k: dot_unquote(str(v)) for k, v in node.get_attributes().items()
        }
        for node in parse_dot(text).get_nodes()
        if node.get_name() not in {"node", "edge", "graph"}
    }


def dot_edges(text: str) -> dict[tuple[str, str], dict[str, str]]:
    return {
        (dot_unquote(str(edge.get_source())), dot_unquote(str(edge.get_destination()))): {
            k: dot_unquote(str(v)) for k, v in edge.get_attributes().items()
        }
        for edge in parse_dot(text).get_edges()
    }


def test_it_parses_back_dot_with_the_same_node_ids_and_edges() -> None:
    graph = lineage_graph()

    text = to_dot(graph)

    assert parse_dot(text).get_type() == "digraph"
    assert set(dot_nodes(text)) == set(graph.nodes)
    assert set(dot_edges(text)) == set(graph.edges)


def test_it_writes_one_dot_statement_per_line_even_for_multiline_labels() -> None:
    graph = lineage_graph()

    lines = to_dot(graph).splitlines()

    assert len(lines) == 5 + graph.number_of_nodes() + graph.number_of_edges()
    assert all(line.endswith(("{", ";", "}")) for line in lines)


def test_it_lays_out_dot_left_to_right() -> None:
    assert parse_dot(to_dot(lineage_graph())).get_attributes()["rankdir"] == "LR"


def test_it_labels_dot_nodes_and_falls_back_to_the_id() -> None:
    nodes = dot_nodes(to_dot(lineage_graph()))

    assert nodes[QUOTED]["label"] == 'a "quoted" \\ name'
    assert nodes[ARN]["label"] == "orders\n(glue)"
    assert nodes[PRODUCT]["label"] == PRODUCT


def test_it_shapes_dot_nodes_by_kind() -> None:
    nodes = dot_nodes(to_dot(lineage_graph()))

    assert (nodes[UNICODE]["shape"], nodes[UNICODE]["style"]) == ("box", "rounded")
    assert nodes[JOB]["shape"] == "cds"
    assert nodes[PRODUCT]["shape"] == "box3d"
    assert nodes[FIELD_IN]["shape"] == "note"


def test_it_colours_dot_nodes_by_state_and_draws_the_root_bold() -> None:
    nodes = dot_nodes(to_dot(lineage_graph()))

    colours = {node: nodes[node].get("color") for node in (JOB, ARN, FIELD_OUT, QUOTED, PRODUCT)}
    assert colours == {
        JOB: "#c62828",
        ARN: "#ef8f00",
        FIELD_OUT: "#1565c0",
        QUOTED: "#2e7d32",
        PRODUCT: None,
    }
    assert "bold" in nodes[KAFKA]["style"].split(",")
    assert "bold" not in nodes[JOB]["style"].split(",")


def test_it_finds_the_root_from_the_graph_when_nodes_carry_no_side() -> None:
    graph = nx.DiGraph(root=KAFKA)
    graph.add_edge(KAFKA, JOB)

    nodes = dot_nodes(to_dot(graph))

    assert (nodes[KAFKA].get("style"), nodes[JOB].get("style")) == ("bold", None)
    assert "  class n0 root" in to_mermaid(graph).splitlines()


def test_it_gives_dot_nodes_a_tooltip_and_a_safely_quoted_url() -> None:
    nodes = dot_nodes(to_dot(lineage_graph()))

    assert nodes[KAFKA]["tooltip"] == KAFKA
    assert nodes[UNICODE]["URL"] == PORTAL
    assert nodes[PRODUCT]["URL"] == "/p?q=%22x%22"
    assert "URL" not in nodes[QUOTED]


def test_it_labels_dot_column_edges_with_the_transformation_type() -> None:
    edges = dot_edges(to_dot(lineage_graph()))

    assert edges[FIELD_IN, FIELD_OUT]["label"] == "DIRECT"
    assert "label" not in edges[KAFKA, JOB]
    assert edges[UNICODE, PRODUCT]["style"] == "dashed"


# --- Mermaid ----------------------------------------------------------------------------

_DECLARATION = re.compile(r'^  (n\d+)(\[\(|\[\[|\[/|\[)"([^"]*)"(\)\]|\]\]|/\]|\])$')
_EDGE = re.compile(r'^  (n\d+) (-->|-\.->|-- "[^"]*" -->) (n\d+)$')


def mermaid_decode(label: str) -> str:
    """Text as Mermaid shows it: ``#name;`` and ``#123;`` are HTML entities, ``<br>`` a break."""
    entities = re.sub(r"#(\w+);", lambda m: f"&#{m[1]};" if m[1].isdigit() else f"&{m[1]};", label)
    return html.unescape(entities.replace("<br>", "\n"))


def mermaid_declarations(text: str) -> dict[str, tuple[str, str]]:
    """Mermaid id → (shape opening, label) for each node declaration line."""
    matches = [_DECLARATION.match(line) for line in text.splitlines()]
    return {m[1]: (m[2], m[3]) for m in matches if m}


def mermaid_ids(graph: nx.DiGraph) -> dict[str, str]:
    return {node: f"n{index}" for index, node in enumerate(sorted(graph.nodes))}


def test_it_declares_each_mermaid_node_once_with_a_safe_id() -> None:
    graph = lineage_graph()
    text = to_mermaid(graph)

    declared = [m[1] for line in text.splitlines() if (m := _DECLARATION.match(line))]
    assert text.startswith("flowchart LR\n")
    assert sorted(declared) == sorted(mermaid_ids(graph).values())


def test_it_writes_one_mermaid_line_per_edge() -> None:
    graph = lineage_graph()
    ids = mermaid_ids(graph)

    edges = [m for line in to_mermaid(graph).splitlines() if (m := _EDGE.match(line))]

    assert sorted((m[1], m[3]) for m in edges) == sorted((ids[u], ids[v]) for u, v in graph.edges)
    links = {(m[1], m[3]): m[2] for m in edges}
    assert links[ids[FIELD_IN], ids[FIELD_OUT]] == '-- "DIRECT" -->'
    assert links[ids[UNICODE], ids[PRODUCT]] == "-.->"


def test_it_keeps_mermaid_syntax_out_of_labels_but_shows_the_same_text() -> None:
    graph = lineage_graph()
    ids = mermaid_ids(graph)

    declarations = mermaid_declarations(to_mermaid(graph))

    for node, ref in ids.items():
        label = declarations[ref][1]
        assert not re.search(r'["\[\]{}|;<>#`\\]', re.sub(r"#\w+;|<br>", "", label))
        assert mermaid_decode(label) == (graph.nodes[node]["label"] or node)


def test_it_shapes_mermaid_nodes_by_kind() -> None:
    graph = lineage_graph()
    ids = mermaid_ids(graph)

    declarations = mermaid_declarations(to_mermaid(graph))

    shapes = {
        kind: declarations[ids[node]][0]
        for kind, node in [
            ("dataset", KAFKA),
            ("job", JOB),
            ("product", PRODUCT),
            ("field", FIELD_IN),
        ]
    }
    assert shapes == {"dataset": "[(", "job": "[[", "product": "[/", "field": "["}


def test_it_links_mermaid_nodes_to_their_urls_with_quotes_escaped() -> None:
    graph = lineage_graph()
    ids = mermaid_ids(graph)

    clicks = [line for line in to_mermaid(graph).splitlines() if line.startswith("  click ")]

    assert sorted(clicks) == sorted(
        [
            f'  click {ids[JOB]} href "{PORTAL}/job"',
            f'  click {ids[UNICODE]} href "{PORTAL}"',
            f'  click {ids[PRODUCT]} href "/p?q=%22x%22"',
        ]
    )


def test_it_classes_failed_late_and_root_mermaid_nodes() -> None:
    graph = lineage_graph()
    ids = mermaid_ids(graph)
    text = to_mermaid(graph)

    assigned = {
        name: set(refs.split(","))
        for refs, name in re.findall(r"^  class (\S+) (\w+)$", text, flags=re.MULTILINE)
    }

    assert assigned["failed"] == {ids[JOB]}
    assert assigned["late"] == {ids[ARN]}
    assert assigned["root"] == {ids[KAFKA]}
    assert {"failed", "late", "root"} <= set(re.findall(r"^  classDef (\w+) ", text, re.M))


def test_it_prefers_failed_over_late_for_a_node_that_is_both() -> None:
    graph = nx.DiGraph()
    graph.add_node(JOB, kind="job", state="FAILED", late=True)

    assert "  class n0 failed" in to_mermaid(graph).splitlines()
    assert "  class n0 late" not in to_mermaid(graph).splitlines()


# --- every graph format -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(EXPORTERS))
def test_it_exports_the_same_text_whatever_the_insertion_order(fmt: str) -> None:
    render = EXPORTERS[fmt].render
    graph = lineage_graph()

    assert render(graph) == render(graph) == render(reversed_copy(graph))


@pytest.mark.parametrize("fmt", sorted(EXPORTERS))
def test_it_exports_a_graph_with_bare_nodes(fmt: str) -> None:
    graph = nx.DiGraph()
    graph.add_edge("dataset:a:b", "job:a:c")

    assert "dataset:a:b" in EXPORTERS[fmt].render(graph)


def test_it_registers_a_content_type_and_extension_per_format() -> None:
    served = {fmt: (exp.content_type, exp.extension) for fmt, exp in EXPORTERS.items()}

    assert served == {
        "graphml": ("application/graphml+xml; charset=utf-8", "graphml"),
        "dot": ("text/vnd.graphviz; charset=utf-8", "dot"),
        "mermaid": ("text/vnd.mermaid; charset=utf-8", "mmd"),
    }
    render, _, _ = EXPORTERS["dot"]
    assert render is to_dot


# --- CSV --------------------------------------------------------------------------------

COLUMNS = ["id", "name", "owners", "distance", "note"]


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_it_round_trips_csv_rows_under_a_header() -> None:
    rows: list[dict[str, Any]] = [
        {"id": QUOTED, "name": 'a, "b"\nc', "owners": [], "distance": 2, "note": "été"},
        {"id": ARN, "name": None, "distance": -1},
    ]

    parsed = read_csv(to_csv(rows, COLUMNS))

    assert parsed == [
        COLUMNS,
        [QUOTED, 'a, "b"\nc', "", "2", "été"],
        [ARN, "", "", "-1", ""],
    ]


def test_it_joins_csv_lists_with_semicolons() -> None:
    rows = [{"id": KAFKA, "owners": ["team:sales", "ann@example.com"]}]

    assert read_csv(to_csv(rows, ["owners"]))[1] == ["team:sales; ann@example.com"]


@pytest.mark.parametrize("cell", ["=cmd()", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_it_neutralises_csv_cells_a_spreadsheet_would_run(cell: str) -> None:
    parsed = read_csv(to_csv([{"note": cell}], ["note"]))

    assert parsed[1] == ["'" + cell]


def test_it_neutralises_a_formula_that_starts_a_joined_list() -> None:
    parsed = read_csv(to_csv([{"owners": ["=HYPERLINK(x)", "ok"]}], ["owners"]))

    assert parsed[1] == ["'=HYPERLINK(x); ok"]


def test_it_writes_the_same_csv_twice() -> None:
    rows = [{"id": UNICODE, "owners": ["a", "b"], "distance": 1}]

    assert to_csv(rows, COLUMNS) == to_csv(rows, COLUMNS)
