"""The demo data products (``catalog/demo_products``): valid descriptors whose output ports
are datasets of the demo mesh, registered by ``load_demo``."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command

from catalog.descriptors import parse_bundle
from catalog.descriptors.binding import bind_product
from catalog.descriptors.model import Product, Property
from catalog.management.commands.register_products import find_bundles, read_bundle
from catalog.models import DataProduct, Dataset, PortBinding, ProductRevision
from catalog.selectors import product_feeds
from lineage.demo import DATASETS, DatasetSpec
from lineage.management.commands.load_demo import DEMO_PRODUCTS

ANCHOR = datetime(2025, 3, 14, tzinfo=UTC)
BUNDLES = find_bundles([DEMO_PRODUCTS])
DEMO_DATASETS = {(d.namespace, d.name): d for d in DATASETS.values()}


def parsed(label: str) -> Product:
    bundle = next(b for b in BUNDLES if b.label == label)
    return parse_bundle(read_bundle(bundle))


def bound_objects(product: Product) -> list[tuple[DatasetSpec, list[Property], str]]:
    """(demo dataset, properties of the contract object bound to it, contract format)."""
    bindings, _ = bind_product(product)
    out = []
    for binding in bindings:
        contract = product.contract(binding.contract_id)
        assert contract is not None
        obj = next(o for o in contract.objects if o.name == binding.object_name)
        out.append(
            (DEMO_DATASETS[(binding.namespace, binding.name)], obj.properties, contract.format)
        )
    return out


def load_demo() -> str:
    out = StringIO()
    call_command("load_demo", "--anchor", ANCHOR.date().isoformat(), "--no-progress", stdout=out)
    return out.getvalue()


labels = pytest.mark.parametrize("label", [b.label for b in BUNDLES])


def test_there_are_about_ten_products_in_three_domains_with_every_status() -> None:
    products = [parsed(b.label) for b in BUNDLES]

    assert 9 <= len(products) <= 12
    assert {p.domain for p in products} == {"customer", "sales", "finance"}
    assert sorted(p.status for p in products if p.status != "active") == ["deprecated", "draft"]
    assert {c.format for p in products for c in p.contracts} == {"odcs", "dcs"}


@labels
def test_each_demo_product_parses_without_warnings(label: str) -> None:
    product = parsed(label)

    assert product.format == "odps" and product.format_version == "v1.0.0"
    assert product.warnings == []
    assert product.team.members and product.support and product.purpose


@labels
def test_each_output_port_binds_to_a_dataset_of_the_demo_mesh(label: str) -> None:
    product = parsed(label)
    bindings, issues = bind_product(product)

    assert issues == []
    assert {b.port_name for b in bindings} == {p.name for p in product.output_ports}
    assert all((b.namespace, b.name) in DEMO_DATASETS for b in bindings)
    assert {b.source for b in bindings} == {"derived"}


@labels
def test_contracts_mirror_the_columns_of_the_datasets_they_bind(label: str) -> None:
    for dataset, properties, fmt in bound_objects(parsed(label)):
        columns = dataset.columns + dataset.added_columns
        assert [p.name for p in properties] == [c.name for c in columns]
        if fmt == "odcs":  # a DCS field has a DCS type; the column's is in config
            assert [p.physical_type for p in properties] == [c.type for c in columns]
        for prop, column in zip(properties, columns, strict=True):
            assert [f.name for f in prop.properties] == [f.name for f in column.fields]


@labels
def test_personal_columns_are_classified_as_pii(label: str) -> None:
    for dataset, properties, _ in bound_objects(parsed(label)):
        columns = dataset.columns + dataset.added_columns
        pairs = [
            (p, c)
            for prop, col in zip(properties, columns, strict=True)
            for p, c in [(prop, col), *zip(prop.properties, col.fields, strict=True)]
        ]
        assert [p.name for p, c in pairs if c.pii] == [p.name for p, _ in pairs if p.pii]


@labels
def test_each_contract_has_sla_and_quality_rules(label: str) -> None:
    for contract in parsed(label).contracts:
        assert {s.kind for s in contract.sla} >= {"latency", "frequency", "availability"}
        rules = [q for o in contract.objects for q in o.quality] + [
            q for o in contract.objects for p in o.properties for q in p.quality
        ]
        assert rules, contract.id


@pytest.mark.django_db
def test_load_demo_registers_the_products_bound_to_its_datasets() -> None:
    output = load_demo()

    assert f"{len(BUNDLES)} bundles: {len(BUNDLES)} created" in output
    products = DataProduct.objects.all()
    assert products.count() == len(BUNDLES)
    assert set(ProductRevision.objects.values_list("source", flat=True)) == {"demo"}
    for product in products:
        bindings = PortBinding.objects.filter(port__product=product)
        assert bindings.exists(), product.external_id
        for binding in bindings:
            dataset = Dataset.objects.filter(namespace__name=binding.namespace, name=binding.name)
            assert dataset.exists(), (product.external_id, binding.namespace, binding.name)


@pytest.mark.django_db
def test_demo_products_feed_each_other_across_domains() -> None:
    load_demo()

    upstream, _ = product_feeds(product=DataProduct.objects.get(external_id="sales-orders"))
    assert {p.external_id for p in upstream} == {"shop-orders", "customer-profiles"}
    upstream, _ = product_feeds(product=DataProduct.objects.get(external_id="revenue-daily"))
    assert {p.domain.slug for p in upstream if p.domain} == {"sales", "finance"}


@pytest.mark.django_db
def test_loading_the_demo_again_leaves_the_products_unchanged() -> None:
    load_demo()
    revisions = ProductRevision.objects.count()

    output = load_demo()

    assert "demo mesh already loaded" in output
    assert f"{len(BUNDLES)} unchanged" in output
    assert ProductRevision.objects.count() == revisions
