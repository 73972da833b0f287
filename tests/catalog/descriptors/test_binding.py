"""Output ports bound to OpenLineage datasets; input ports' links (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from catalog.descriptors.binding import Binding, bind_product, input_links
from catalog.descriptors.model import Contract, Port, Product, SchemaObject, Server


def server(type_: str, name: str = "prod", environment: str = "", **attributes: Any) -> Server:
    return Server(name=name, type=type_, environment=environment, attributes=attributes)


def product(
    *servers: Server,
    objects: list[SchemaObject] | None = None,
    port: Port | None = None,
) -> Product:
    """Port ``orders@1.0.0`` serving contract ``c1`` (one table ``orders`` by default)."""
    return Product(
        id="sales",
        format="odps",
        output_ports=[port or Port(name="orders", version="1.0.0", contract_id="c1")],
        contracts=[
            Contract(
                id="c1",
                format="odcs",
                objects=objects if objects is not None else [SchemaObject(name="orders")],
                servers=list(servers),
            )
        ],
    )


def table(name: str, physical_name: str = "", **custom: Any) -> SchemaObject:
    return SchemaObject(name=name, physical_name=physical_name, custom_properties=custom)


def datasets(p: Product) -> list[tuple[str, str]]:
    bindings, _ = bind_product(p)
    return [(b.namespace, b.name) for b in bindings]


def issue_paths(p: Product) -> list[str]:
    return [i.path for i in bind_product(p)[1]]


# --- derived, per server type ---------------------------------------------------------------


def test_it_derives_postgres_namespace_and_name() -> None:
    p = product(server("postgres", host="DB.example.com", database="dwh", schema="sales"))
    (binding,), issues = bind_product(p)
    assert binding == Binding(
        port_name="orders",
        port_version="1.0.0",
        contract_id="c1",
        object_name="orders",
        namespace="postgres://db.example.com:5432",
        name="dwh.sales.orders",
        source="derived",
        server="prod",
    )
    assert issues == []


def test_it_keeps_a_written_port_and_uses_the_physical_name() -> None:
    p = product(
        server("postgresql", host="db", port=6543, database="dwh", schema="sales"),
        objects=[table("orders", "orders_tbl")],
    )
    assert datasets(p) == [("postgres://db:6543", "dwh.sales.orders_tbl")]


@pytest.mark.parametrize(
    ("physical_name", "expected"),
    [
        ("orders_tbl", "dwh.sales.orders_tbl"),
        ("staging.orders_tbl", "dwh.staging.orders_tbl"),
        ("other_db.staging.orders_tbl", "other_db.staging.orders_tbl"),
    ],
)
def test_a_qualified_physical_name_is_not_qualified_twice(
    physical_name: str, expected: str
) -> None:
    p = product(
        server("postgres", host="db", database="dwh", schema="sales"),
        objects=[table("orders", physical_name)],
    )
    assert datasets(p) == [("postgres://db:5432", expected)]


def test_a_qualified_physical_name_needs_no_server_schema() -> None:
    p = product(server("postgres", host="db", database="dwh"), objects=[table("o", "sales.o")])
    assert datasets(p) == [("postgres://db:5432", "dwh.sales.o")]
    assert issue_paths(p) == []


def test_it_derives_snowflake_namespace_and_name() -> None:
    p = product(
        server("snowflake", account="MyOrg-Analytics", database="PROD_DB", schema="PUBLIC"),
        objects=[table("orders", "ORDERS")],
    )
    assert datasets(p) == [("snowflake://myorg-analytics", "PROD_DB.PUBLIC.ORDERS")]


def test_it_takes_the_snowflake_account_from_the_host() -> None:
    p = product(
        server(
            "snowflake",
            host="https://myorg-analytics.snowflakecomputing.com",
            database="DB",
            schema="S",
        )
    )
    assert datasets(p) == [("snowflake://myorg-analytics", "DB.S.orders")]


def test_it_derives_bigquery_namespace_and_name() -> None:
    p = product(server("bigquery", project="acme-prod", dataset="sales"))
    assert datasets(p) == [("bigquery", "acme-prod.sales.orders")]


def test_it_derives_s3_bucket_and_key_from_a_dcs_location() -> None:
    location = "s3://datacontract-example-orders-latest/v2/{model}/*.json"
    p = product(server("s3", location=location))
    assert datasets(p) == [("s3://datacontract-example-orders-latest", "v2/orders")]


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("s3://bucket", "orders"),
        ("s3://bucket/landing/", "landing/orders"),
        ("s3a://bucket/landing/orders.parquet", "landing/orders.parquet"),
    ],
)
def test_s3_keys(location: str, expected: str) -> None:
    assert datasets(product(server("s3", location=location))) == [("s3://bucket", expected)]


def test_it_derives_kafka_namespace_and_topic() -> None:
    host = "pkc-7xoy1.eu-central-1.aws.confluent.cloud:9092"
    p = product(server("kafka", host=host), objects=[table("orders", "orders.avro.v1")])
    assert datasets(p) == [
        ("kafka://pkc-7xoy1.eu-central-1.aws.confluent.cloud:9092", "orders.avro.v1")
    ]


def test_kafka_defaults_to_port_9092_and_the_first_bootstrap_server() -> None:
    p = product(server("kafka", host="b1.example.com,b2.example.com", topic="orders-topic"))
    assert datasets(p) == [("kafka://b1.example.com:9092", "orders-topic")]


@pytest.mark.parametrize(
    ("srv", "expected"),
    [
        (server("mysql", host="db", database="shop"), ("mysql://db:3306", "shop.orders")),
        (
            server("sqlserver", host="sql.example.com", database="dwh", schema="dbo"),
            ("mssql://sql.example.com:1433", "dwh.dbo.orders"),
        ),
        (
            server("synapse", host="ws.sql.azuresynapse.net", port=1433, schema="dbo"),
            ("sqlserver://ws.sql.azuresynapse.net:1433", "dbo.orders"),
        ),
        (
            server(
                "redshift",
                host="examplecluster.abc123xyz789.us-west-2.redshift.amazonaws.com",
                database="dev",
                schema="public",
            ),
            ("redshift://examplecluster.us-west-2:5439", "dev.public.orders"),
        ),
        (
            server("trino", host="trino", catalog="hive", schema="sales"),
            ("trino://trino:8080", "hive.sales.orders"),
        ),
        (
            server("athena", regionName="eu-west-1", schema="sales", stagingDir="s3://x/"),
            ("awsathena://athena.eu-west-1.amazonaws.com", "awsdatacatalog.sales.orders"),
        ),
        (
            server("glue", account="123456789012", region="eu-west-1", database="sales"),
            ("arn:aws:glue:eu-west-1:123456789012", "table/sales/orders"),
        ),
        (
            server("databricks", host="adb-1.azuredatabricks.net", catalog="main", schema="s"),
            ("databricks://adb-1.azuredatabricks.net", "main.s.orders"),
        ),
        (
            server("oracle", host="ora", serviceName="ORCL", schema="SALES"),
            ("oracle://ora:1521", "ORCL.SALES.orders"),
        ),
        (
            server("duckdb", database="/data/warehouse.duckdb", schema="sales"),
            ("duckdb:///data/warehouse.duckdb", "warehouse.sales.orders"),
        ),
        (server("gcs", location="gs://lake/raw/{model}/"), ("gs://lake", "raw/orders")),
        (
            server("azure", location="abfss://raw@acmelake.dfs.core.windows.net/sales/{model}"),
            ("abfss://raw@acmelake.dfs.core.windows.net", "sales/orders"),
        ),
        (server("local", path="data.csv"), ("file", "data.csv")),
        (server("local", path="/srv/data/{model}.csv"), ("file", "/srv/data/orders.csv")),
        (server("pubsub", project="acme"), ("pubsub", "topic:acme:orders")),
    ],
    ids=lambda v: v.type if isinstance(v, Server) else "",
)
def test_naming_conventions(srv: Server, expected: tuple[str, str]) -> None:
    p = product(srv)
    assert issue_paths(p) == []
    assert datasets(p) == [expected]


# --- explicit -------------------------------------------------------------------------------


def test_explicit_binding_wins() -> None:
    explicit = table(
        "orders",
        "orders_tbl",
        **{"openlineage.namespace": "postgres://warehouse:5432", "openlineage.name": "x.y.z"},
    )
    p = product(server("postgres", host="db", database="dwh", schema="s"), objects=[explicit])
    (binding,), issues = bind_product(p)
    assert (binding.namespace, binding.name, binding.source, binding.server) == (
        "postgres://warehouse:5432",
        "x.y.z",
        "explicit",
        "",
    )
    assert issues == []


def test_explicit_binding_needs_no_server() -> None:
    explicit = table(
        "orders", **{"openlineage.namespace": "kafka://k:9092", "openlineage.name": "t"}
    )
    assert bind_product(product(objects=[explicit])) == (
        [Binding("orders", "1.0.0", "c1", "orders", "kafka://k:9092", "t", "explicit")],
        [],
    )


def test_incomplete_explicit_binding_warns_and_falls_back_to_derivation() -> None:
    half = table("orders", **{"openlineage.namespace": "postgres://warehouse:5432"})
    p = product(server("postgres", host="db", database="dwh", schema="s"), objects=[half])
    assert datasets(p) == [("postgres://db:5432", "dwh.s.orders")]
    assert issue_paths(p) == ["contracts[c1].objects[orders].custom_properties.openlineage.name"]


def test_port_datasets_replace_derivation() -> None:
    port = Port(
        name="orders",
        version="1.0.0",
        contract_id="c1",
        custom_properties={
            "openlineage.datasets": [
                {"namespace": "s3://lake", "name": "orders", "object": "orders"},
                {"namespace": "s3://lake", "name": "orders_archive"},
            ]
        },
    )
    p = product(server("postgres", host="db", database="d", schema="s"), port=port)
    bindings, issues = bind_product(p)
    assert [(b.object_name, b.namespace, b.name, b.source) for b in bindings] == [
        ("orders", "s3://lake", "orders", "explicit"),
        ("orders", "s3://lake", "orders_archive", "explicit"),  # the contract's only object
    ]
    assert issues == []


def test_port_datasets_may_be_a_json_string_and_bad_entries_are_reported() -> None:
    port = Port(
        name="orders",
        contract_id="c1",
        custom_properties={
            "openlineage.datasets": '[{"namespace": "s3://lake", "name": "o"}, {"name": "x"}]'
        },
    )
    p = product(port=port)
    assert datasets(p) == [("s3://lake", "o")]
    assert issue_paths(p) == ["output_ports[orders].custom_properties.openlineage.datasets[1]"]


# --- servers and warnings -------------------------------------------------------------------


def test_unbindable_server_gives_warning_naming_the_path() -> None:
    p = product(server("postgres", name="my-db", database="dwh", schema="s"))
    bindings, (issue,) = bind_product(p)
    assert bindings == []
    assert issue.path == "contracts[c1].servers[my-db].host"
    assert "postgres" in issue.message


def test_a_missing_attribute_is_reported_once_for_all_objects() -> None:
    p = product(server("snowflake", account="o-a", database="D"), objects=[table("a"), table("b")])
    assert issue_paths(p) == ["contracts[c1].servers[prod].schema"]


def test_unknown_server_type_gives_warning_naming_the_type() -> None:
    p = product(server("kinesis", region="eu-west-1"))
    bindings, (issue,) = bind_product(p)
    assert bindings == []
    assert issue.path == "contracts[c1].servers[prod].type"
    assert "openlineage.namespace" in issue.message


def test_az_location_without_storage_account_is_reported() -> None:
    (issue,) = bind_product(product(server("azure", location="az://my-data-location")))[1]
    assert issue.path == "contracts[c1].servers[prod].location"
    assert "abfss://" in issue.message


def test_it_prefers_the_production_server() -> None:
    p = product(
        server("postgres", name="dev", environment="dev", host="dev-db", database="d", schema="s"),
        server(
            "postgres", name="main", environment="Production", host="db", database="d", schema="s"
        ),
    )
    bindings, issues = bind_product(p)
    assert [(b.server, b.namespace) for b in bindings] == [("main", "postgres://db:5432")]
    assert issues == []


def test_a_server_named_production_counts_as_production() -> None:
    p = product(
        server("snowflake", name="staging", account="o-a", database="D", schema="S"),
        server("snowflake", name="production", account="o-b", database="D", schema="S"),
    )
    assert datasets(p) == [("snowflake://o-b", "D.S.orders")]


def test_without_a_production_server_it_binds_each_and_says_so() -> None:
    p = product(
        server("postgres", name="a", environment="dev", host="a", database="d", schema="s"),
        server("postgres", name="b", environment="test", host="b", database="d", schema="s"),
        objects=[table("orders"), table("lines")],
    )
    bindings, issues = bind_product(p)
    assert [(b.object_name, b.server) for b in bindings] == [
        ("orders", "a"),
        ("orders", "b"),
        ("lines", "a"),
        ("lines", "b"),
    ]
    assert [(i.path, i.message) for i in issues] == [
        ("contracts[c1].servers", "2 servers and none is production: bound to each")
    ]


def test_contract_without_servers_is_reported_once() -> None:
    p = product(objects=[table("orders"), table("lines")])
    assert issue_paths(p) == ["contracts[c1].servers"]


def test_port_whose_contract_is_missing_is_reported() -> None:
    p = product(port=Port(name="orders", version="2", contract_id="nope"))
    assert bind_product(p)[0] == []
    assert issue_paths(p) == ["output_ports[orders@2].contract_id"]


def test_two_ports_on_one_contract_are_each_bound() -> None:
    p = product(server("bigquery", project="p", dataset="d"))
    p.output_ports.append(Port(name="orders-v2", version="2.0.0", contract_id="c1"))
    assert [(b.port_name, b.port_version, b.name) for b in bind_product(p)[0]] == [
        ("orders", "1.0.0", "p.d.orders"),
        ("orders-v2", "2.0.0", "p.d.orders"),
    ]


# --- input ports ----------------------------------------------------------------------------


def test_input_links() -> None:
    p = product()
    p.input_ports = [
        Port(name="customers", version="1", source_product="crm", source_port="customers"),
        Port(name="rates", contract_id="fx-rates-v1"),
        Port(name="unlinked"),
    ]
    assert [
        (i.port_name, i.contract_id, i.source_product, i.source_port) for i in input_links(p)
    ] == [
        ("customers", "", "crm", "customers"),
        ("rates", "fx-rates-v1", "", ""),
    ]
