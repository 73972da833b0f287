"""The lineage picture: the layered layout and the SVG drawn from it, on hand-built graphs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from io import BytesIO
from itertools import combinations, pairwise
from typing import Any

import networkx as nx

from lineage.graph.layout import (
    MAX_LABEL_CHARS,
    NODE_MAX_WIDTH,
    Layout,
    layered_layout,
    truncate_label,
)
from lineage.graph.svg import STYLESHEET, render_svg

SVG = "{http://www.w3.org/2000/svg}"


def dataset(graph: nx.DiGraph, name: str, **attrs: Any) -> str:
    node = f"dataset:pg:{name}"
    graph.add_node(node, kind="dataset", label=name, namespace="pg", name=name, **attrs)
    return node


def job(graph: nx.DiGraph, name: str, **attrs: Any) -> str:
    node = f"job:air:{name}"
    graph.add_node(node, kind="job", label=name, namespace="air", name=name, **attrs)
    return node


def field(graph: nx.DiGraph, table: str, name: str, **attrs: Any) -> str:
    node = f"datasetField:pg:{table}:{name}"
    graph.add_node(
        node, kind="field", label=name, namespace="pg", dataset=table, field=name, **attrs
    )
    return node


def pipeline() -> nx.DiGraph:
    """raw -> load -> orders (root) -> report_job -> report."""
    graph = nx.DiGraph(root="dataset:pg:orders", level="dataset", direction="both", depth=2)
    raw, orders, report = (dataset(graph, n) for n in ("raw", "orders", "report"))
    load, report_job = job(graph, "load"), job(graph, "report_job")
    nx.add_path(graph, [raw, load, orders, report_job, report], kind="io")
    return graph


DIRECT_IDENTITY = {"transformation_type": "DIRECT", "transformation_subtype": "IDENTITY"}


def columns() -> nx.DiGraph:
    """Two source tables feeding the columns of ``orders``."""
    graph = nx.DiGraph(root="datasetField:pg:orders:total", level="column")
    amount, tax = field(graph, "raw", "amount"), field(graph, "raw", "tax")
    email = field(graph, "customers", "email", pii=True)
    total, contact = field(graph, "orders", "total"), field(graph, "orders", "contact")
    for source, target in [(amount, total), (tax, total), (email, contact)]:
        graph.add_edge(source, target, kind="column", **DIRECT_IDENTITY)
    return graph


def crossings(graph: nx.DiGraph, layout: Layout) -> int:
    """Pairs of edges between the same two adjacent layers whose ends swap heights."""
    count = 0
    for left, right in pairwise(layout.layers):
        edges = [(s, t) for s, t in graph.edges() if s in left and t in right]
        for (a, b), (c, d) in combinations(edges, 2):
            ya, yb = layout.boxes[a].y, layout.boxes[b].y
            yc, yd = layout.boxes[c].y, layout.boxes[d].y
            count += (ya - yc) * (yb - yd) < 0
    return count


def parse(svg: str | bytes) -> ET.Element:
    return ET.fromstring(svg)


def classes(element: ET.Element) -> set[str]:
    return set((element.get("class") or "").split())


def nodes_by_id(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-node-id", ""): g for g in root.iter(f"{SVG}g") if "node" in classes(g)}


def edges_by_ends(root: ET.Element) -> dict[tuple[str, str], ET.Element]:
    return {
        (g.get("data-source", ""), g.get("data-target", "")): g
        for g in root.iter(f"{SVG}g")
        if "edge" in classes(g)
    }


def child(element: ET.Element, tag: str) -> ET.Element:
    found = element.find(f"{SVG}{tag}")
    assert found is not None, f"no <{tag}> in <{element.tag}>"
    return found


# --- layout --------------------------------------------------------------------------


def test_it_places_upstream_left_of_the_root_and_downstream_right() -> None:
    layout = layered_layout(pipeline())
    x = {node: box.x for node, box in layout.boxes.items()}
    assert x["dataset:pg:raw"] < x["job:air:load"] < x["dataset:pg:orders"]
    assert x["dataset:pg:orders"] < x["job:air:report_job"] < x["dataset:pg:report"]


def test_it_places_every_node_exactly_once_even_with_a_cycle() -> None:
    graph = pipeline()
    graph.add_edge("dataset:pg:report", "job:air:load", kind="io")
    graph.add_edge("dataset:pg:raw", "dataset:pg:raw", kind="io")

    layout = layered_layout(graph)

    placed = [node for layer in layout.layers for node in layer]
    assert sorted(placed) == sorted(graph) == sorted(layout.boxes)


def test_it_keeps_the_roots_upstream_left_when_a_cycle_runs_through_the_root() -> None:
    graph = pipeline()
    graph.add_edge("dataset:pg:report", "job:air:load", kind="io")

    box = layered_layout(graph).boxes

    assert box["job:air:load"].right < box["dataset:pg:orders"].x
    assert box["dataset:pg:orders"].right < box["job:air:report_job"].x


def test_it_pulls_a_source_next_to_its_successor() -> None:
    graph = pipeline()
    lookup = dataset(graph, "lookup")
    graph.add_edge(lookup, "job:air:report_job", kind="io")

    layers = layered_layout(graph).layers

    column = {node: i for i, layer in enumerate(layers) for node in layer}
    assert column[lookup] == column["job:air:report_job"] - 1


def test_it_untangles_a_graph_whose_naive_order_crosses() -> None:
    graph = nx.DiGraph(root="job:air:j", level="dataset")
    a, b, c, d = (dataset(graph, n) for n in ("a", "b", "c", "d"))
    j, k = job(graph, "j"), job(graph, "k")
    # Sorted by label, a/b and c/d face each other crosswise.
    graph.add_edges_from([(a, k), (b, j), (j, c), (k, d)], kind="io")
    graph.add_edges_from([(a, d), (b, c)], kind="io")

    layout = layered_layout(graph)

    assert crossings(graph, layout) == 0


def test_it_groups_column_fields_in_their_dataset_cluster() -> None:
    layout = layered_layout(columns())

    raw = layout.clusters["dataset:pg:raw"]
    assert set(raw.fields) == {"datasetField:pg:raw:amount", "datasetField:pg:raw:tax"}
    assert raw.label == "raw"
    for node in raw.fields:
        row = layout.boxes[node]
        assert row.x > raw.box.x and row.right < raw.box.right
        assert raw.box.y < row.y and row.bottom <= raw.box.bottom
    assert len({layout.boxes[node].x for node in raw.fields}) == 1


def test_a_cluster_is_titled_like_its_dataset() -> None:
    graph = nx.DiGraph(level="column")
    field(graph, "raw", "amount", title="warehouse.public.raw.amount")

    assert layered_layout(graph).clusters["dataset:pg:raw"].title == "warehouse.public.raw"


def test_it_orders_rows_in_a_cluster_by_their_neighbours() -> None:
    graph = nx.DiGraph(level="column")
    a, b = field(graph, "src", "a"), field(graph, "src", "b")
    x, y = field(graph, "dst", "x"), field(graph, "dst", "y")
    graph.add_edges_from([(a, y), (b, x)], kind="column")

    box = layered_layout(graph).boxes

    # Sorted by name, a-y and b-x would cross.
    assert (box[a].y < box[b].y) == (box[y].y < box[x].y)


def test_it_truncates_long_labels_and_bounds_the_box() -> None:
    graph = nx.DiGraph(level="dataset")
    node = dataset(graph, "x" * 200)

    assert len(truncate_label("x" * 200)) == MAX_LABEL_CHARS
    assert "…" in truncate_label("x" * 200)
    assert truncate_label("analytics.finance.fct_revenue_daily_by_country_and_currency").endswith(
        "country_and_currency"
    )
    assert layered_layout(graph).boxes[node].width <= NODE_MAX_WIDTH


# --- svg -----------------------------------------------------------------------------


def test_the_svg_parses_and_names_itself_for_screen_readers() -> None:
    root = parse(render_svg(pipeline(), description="What feeds orders."))

    title_id, desc_id = root.get("aria-labelledby", "").split()
    texts = {element.get("id"): element.text for element in root if element.get("id")}
    assert texts[title_id] == "Lineage of orders"
    assert texts[desc_id] == "What feeds orders."
    assert root.get("viewBox", "").startswith("0 0 ")


def test_each_node_carries_its_id_and_a_link_to_its_page() -> None:
    graph = pipeline()
    for node in graph:
        graph.nodes[node]["url"] = f"/page/{node}"

    nodes = nodes_by_id(parse(render_svg(graph)))

    assert set(nodes) == set(graph)
    for node, g in nodes.items():
        assert child(g, "a").get("href") == f"/page/{node}"


def test_a_node_spells_out_its_state_lateness_and_personal_data() -> None:
    graph = pipeline()
    graph.nodes["dataset:pg:raw"].update(state="FAILED", late=True, pii=True)

    g = nodes_by_id(parse(render_svg(graph)))["dataset:pg:raw"]

    assert g.get("class") == "node node--dataset state--failed is-late is-pii"
    title = g.findtext(f"{SVG}title") or ""
    assert "dataset" in title and "failed" in title
    assert "late" in title and "contains personal data" in title


def test_the_root_is_marked() -> None:
    nodes = nodes_by_id(parse(render_svg(pipeline())))

    assert "is-root" in classes(nodes["dataset:pg:orders"])
    assert "is-root" not in classes(nodes["dataset:pg:raw"])


def test_a_more_badge_links_to_what_expand_href_returns() -> None:
    graph = pipeline()
    graph.nodes["dataset:pg:raw"]["hidden_upstream"] = 3

    def expand(node: str, side: str) -> str:
        return f"/expand?node={node}&side={side}"

    root = parse(render_svg(graph, expand_href=expand))

    (badge,) = [a for a in root.iter(f"{SVG}a") if a.get("class") == "expand"]
    assert badge.get("href") == "/expand?node=dataset:pg:raw&side=upstream"
    assert (badge.get("data-node-id"), badge.get("data-side")) == ("dataset:pg:raw", "upstream")
    assert "+3 more" in "".join(badge.itertext())


def test_a_more_badge_without_expand_href_is_plain_text() -> None:
    graph = pipeline()
    graph.nodes["dataset:pg:report"]["hidden_downstream"] = 2

    root = parse(render_svg(graph))

    (badge,) = [g for g in root.iter() if g.get("class") == "expand"]
    assert badge.tag == f"{SVG}g" and badge.get("data-side") == "downstream"
    assert "+2 more" in "".join(badge.itertext())


def test_highlighted_nodes_and_the_edges_between_them_carry_is_highlighted() -> None:
    root = parse(render_svg(pipeline(), highlight=["dataset:pg:raw", "job:air:load"]))

    lit_nodes = {node for node, g in nodes_by_id(root).items() if "is-highlighted" in classes(g)}
    lit_edges = {ends for ends, g in edges_by_ends(root).items() if "is-highlighted" in classes(g)}
    assert lit_nodes == {"dataset:pg:raw", "job:air:load"}
    assert lit_edges == {("dataset:pg:raw", "job:air:load")}


def test_column_edges_name_their_transformation() -> None:
    root = parse(render_svg(columns()))

    edges = [g for g in root.iter(f"{SVG}g") if g.get("class") == "edge edge--column"]
    assert len(edges) == 3
    assert {g.findtext(f"{SVG}title") for g in edges} == {"DIRECT / IDENTITY"}


def test_a_back_edge_still_renders_curving_back_left() -> None:
    graph = pipeline()
    graph.add_edge("dataset:pg:report", "job:air:load", kind="io")

    back = edges_by_ends(parse(render_svg(graph)))[("dataset:pg:report", "job:air:load")]

    path = child(back, "path").get("d", "").split()
    start_x, end_x = float(path[0][1:].split(",")[0]), float(path[-1].split(",")[0])
    assert end_x < start_x


def test_a_malicious_label_comes_out_escaped() -> None:
    graph = pipeline()
    evil = "<script>alert('x')</script> & \"q\""
    graph.nodes["dataset:pg:raw"].update(label=evil, title=evil, url='/x?a=1&b="2"')

    svg = render_svg(graph)

    assert "<script>" not in svg
    g = nodes_by_id(parse(svg))["dataset:pg:raw"]
    assert evil in "".join(g.itertext())
    assert child(g, "a").get("href") == '/x?a=1&b="2"'


def test_the_same_graph_gives_the_same_picture_whatever_the_insertion_order() -> None:
    graph = pipeline()
    shuffled = nx.DiGraph(**graph.graph)
    shuffled.add_nodes_from(reversed(list(graph.nodes(data=True))))
    shuffled.add_edges_from(reversed(list(graph.edges(data=True))))

    assert render_svg(graph) == render_svg(shuffled)


def test_an_empty_graph_still_draws() -> None:
    root = parse(render_svg(nx.DiGraph()))

    assert root.tag == f"{SVG}svg"


def test_standalone_output_embeds_the_stylesheet_and_parses_as_a_document() -> None:
    svg = render_svg(columns(), standalone=True)

    assert svg.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert 'xmlns:xlink="http://www.w3.org/1999/xlink"' in svg
    root = ET.parse(BytesIO(svg.encode())).getroot()
    style = child(root, "style").text or ""
    assert ".node-shape" in style
    assert style.strip() == STYLESHEET.read_text(encoding="utf-8").strip()
