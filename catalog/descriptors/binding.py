"""Which OpenLineage datasets a product's output ports publish, and what its input ports read.

A binding ties one object of an output port's contract to one OpenLineage dataset
``(namespace, name)``, so lineage events about that dataset can be attributed to the port.

Explicit bindings (they win over anything derived):

- on a schema object, the custom properties ``openlineage.namespace`` and
  ``openlineage.name`` (both, or the object is derived and a warning says why);
- on an output port, the custom property ``openlineage.datasets``: a list of objects
  ``{"namespace": ..., "name": ..., "object": ...}`` (or that list as a JSON string, for
  formats whose custom property values are strings). ``object`` names the contract object
  the dataset holds and may be left out when the contract has one object. A port that
  declares datasets is bound to exactly those: nothing is derived for it.

Derived bindings come from the contract's servers and each object's ``physical_name``
(else its ``name``), after the OpenLineage dataset naming conventions
(``spec/Naming.md`` and https://openlineage.io/docs/spec/naming/), rendered with the
helpers of ``openlineage.client.naming`` where the client has one. See ``_DERIVERS`` for
the table. Rules:

- a physical name that is already qualified (``schema.table``, ``db.schema.table``) only
  takes the missing leading parts from the server, never a second copy;
- a server with environment (else name) ``prod``/``production`` is preferred; without one,
  every server is bound and a warning says so;
- hosts and Snowflake account identifiers are lowercased; names are kept as written;
- a binding that cannot be derived (unknown server type, missing attribute) is skipped
  with a warning :class:`Issue` naming the path, e.g. ``contracts[c1].servers[db].host``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from openlineage.client.naming import dataset as ol

from catalog.descriptors.diff import port_key
from catalog.descriptors.model import Contract, Issue, Port, Product, SchemaObject, Server

NAMESPACE_PROPERTY = "openlineage.namespace"
NAME_PROPERTY = "openlineage.name"
DATASETS_PROPERTY = "openlineage.datasets"
PRODUCTION = frozenset({"prod", "production", "prd"})


@dataclass(frozen=True)
class Binding:
    port_name: str
    port_version: str
    contract_id: str
    object_name: str
    namespace: str
    name: str
    source: Literal["explicit", "derived"]
    server: str = ""  # the server it was derived from; "" when explicit


@dataclass(frozen=True)
class InputLink:
    """An input port's pointer at another product's output port, unresolved."""

    port_name: str
    port_version: str
    contract_id: str
    source_product: str
    source_port: str


def bind_product(product: Product) -> tuple[list[Binding], list[Issue]]:
    """Bindings of every output port, and warnings for what could not be bound."""
    bindings: list[Binding] = []
    issues: list[Issue] = []
    for port in product.output_ports:
        bindings += _bind_port(product, port, issues)
    unique_issues = {(i.path, i.message): i for i in issues}  # ports may share a contract
    return list(dict.fromkeys(bindings)), list(unique_issues.values())


def input_links(product: Product) -> list[InputLink]:
    """Input ports that say what they read (a product/port, or a contract id)."""
    return [
        InputLink(p.name, p.version, p.contract_id, p.source_product, p.source_port)
        for p in product.input_ports
        if p.source_product or p.source_port or p.contract_id
    ]


# --- ports and explicit bindings --------------------------------------------------------------


def _bind_port(product: Product, port: Port, issues: list[Issue]) -> list[Binding]:
    port_path = f"output_ports[{port_key(port.name, port.version)}]"
    contract = product.contract(port.contract_id) if port.contract_id else None
    if DATASETS_PROPERTY in port.custom_properties:
        return _port_datasets(port, contract, port_path, issues)
    if not port.contract_id:
        issues.append(Issue(f"{port_path}.contract_id", "no contract: nothing to bind"))
        return []
    if contract is None:
        issues.append(
            Issue(
                f"{port_path}.contract_id", f"contract {port.contract_id!r} is not in the product"
            )
        )
        return []
    return [b for obj in contract.objects for b in _bind_object(port, contract, obj, issues)]


def _port_datasets(
    port: Port, contract: Contract | None, port_path: str, issues: list[Issue]
) -> list[Binding]:
    path = f"{port_path}.custom_properties.{DATASETS_PROPERTY}"
    entries = _json_list(port.custom_properties[DATASETS_PROPERTY])
    if entries is None:
        issues.append(Issue(path, 'expected a list of {"namespace": ..., "name": ...}'))
        return []
    only_object = contract.objects[0].name if contract and len(contract.objects) == 1 else ""
    out = []
    for i, entry in enumerate(entries):
        if not (isinstance(entry, dict) and entry.get("namespace") and entry.get("name")):
            issues.append(Issue(f"{path}[{i}]", "needs both namespace and name"))
            continue
        obj = str(entry.get("object") or only_object)
        out.append(_binding(port, obj, str(entry["namespace"]), str(entry["name"]), "explicit"))
    return out


def _json_list(value: Any) -> list[Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, list) else None


def _binding(
    port: Port,
    obj: str,
    namespace: str,
    name: str,
    source: Literal["explicit", "derived"],
    server: str = "",
) -> Binding:
    return Binding(port.name, port.version, port.contract_id, obj, namespace, name, source, server)


def _bind_object(
    port: Port, contract: Contract, obj: SchemaObject, issues: list[Issue]
) -> Iterator[Binding]:
    namespace = str(obj.custom_properties.get(NAMESPACE_PROPERTY) or "")
    name = str(obj.custom_properties.get(NAME_PROPERTY) or "")
    if namespace and name:
        yield _binding(port, obj.name, namespace, name, "explicit")
        return
    obj_path = f"contracts[{contract.id}].objects[{obj.name}]"
    if namespace or name:
        missing = NAME_PROPERTY if namespace else NAMESPACE_PROPERTY
        issues.append(
            Issue(f"{obj_path}.custom_properties.{missing}", "explicit binding is incomplete")
        )
    for server in _servers_to_bind(contract, issues):
        derived = _derive(contract, server, obj, issues)
        if derived is not None:
            yield _binding(port, obj.name, *derived, "derived", server.name)


def _servers_to_bind(contract: Contract, issues: list[Issue]) -> list[Server]:
    path = f"contracts[{contract.id}].servers"
    if not contract.servers:
        issues.append(Issue(path, "no server to derive an OpenLineage dataset from"))
        return []
    prod = [s for s in contract.servers if (s.environment or s.name).lower() in PRODUCTION]
    if prod or len(contract.servers) == 1:
        return prod or contract.servers
    issues.append(
        Issue(path, f"{len(contract.servers)} servers and none is production: bound to each")
    )
    return contract.servers


# --- derivation -------------------------------------------------------------------------------


class _Missing(Exception):
    """A server attribute the naming convention needs is absent."""

    def __init__(self, attribute: str, why: str = "") -> None:
        super().__init__(attribute)
        self.attribute = attribute
        self.why = why


@dataclass(frozen=True)
class _Named:
    """A namespace/name pair for stores the client has no naming helper for."""

    namespace: str
    name: str

    def get_namespace(self) -> str:
        return self.namespace

    def get_name(self) -> str:
        return self.name


def _derive(
    contract: Contract, server: Server, obj: SchemaObject, issues: list[Issue]
) -> tuple[str, str] | None:
    path = f"contracts[{contract.id}].servers[{server.name}]"
    deriver = _DERIVERS.get(_TYPE_ALIASES.get(server.type.lower(), server.type.lower()))
    if deriver is None:
        issues.append(
            Issue(
                f"{path}.type",
                f"no OpenLineage naming convention for server type {server.type!r}; declare"
                f" {NAMESPACE_PROPERTY} and {NAME_PROPERTY} on the objects",
            )
        )
        return None
    try:
        named = deriver(server, obj)
    except _Missing as missing:
        issues.append(
            Issue(
                f"{path}.{missing.attribute}",
                missing.why or f"needed to name the {server.type} datasets of this server",
            )
        )
        return None
    except ValueError as error:  # the client's naming helpers reject empty parts
        issues.append(Issue(f"contracts[{contract.id}].objects[{obj.name}]", str(error)))
        return None
    return named.get_namespace(), named.get_name()


def _attr(server: Server, *names: str, default: Any = None) -> str:
    """The first non-empty attribute among ``names`` (spellings vary by format)."""
    for name in names:
        value = server.attributes.get(name)
        if value not in (None, ""):
            return str(value)
    if default is not None:
        return str(default)
    raise _Missing(names[0])


def _host_port(server: Server, default_port: int | None) -> tuple[str, str]:
    """Host (lowercased) and port; ``host:port`` and a list of hosts take the first."""
    host = _attr(server, "host", "server").split(",")[0].strip().lower()
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host).rstrip("/")
    port = server.attributes.get("port")
    if ":" in host:
        host, _, written = host.rpartition(":")
        port = port or written
    if port in (None, ""):
        if default_port is None:
            raise _Missing("port")
        port = default_port
    return host, str(port)


def _table(obj: SchemaObject) -> str:
    return obj.physical_name or obj.name


def _qualified(server: Server, obj: SchemaObject, levels: tuple[str, ...]) -> list[str]:
    """``[qualifier..., table]``: the physical name's own qualifiers, the missing leading
    ones from the server attributes ``levels`` (outermost first)."""
    parts = _table(obj).split(".")
    if len(parts) > len(levels):
        # Already fully qualified (extra dots stay in the table part).
        return [*parts[: len(levels)], ".".join(parts[len(levels) :])]
    missing = len(levels) + 1 - len(parts)
    return [_attr(server, *_ALIASES.get(level, (level,))) for level in levels[:missing]] + parts


# Attribute spellings across ODCS, DCS and hand-written descriptors.
_ALIASES: dict[str, tuple[str, ...]] = {
    "database": ("database", "db"),
    "schema": ("schema",),
    "project": ("project", "projectId", "project_id"),
    "dataset": ("dataset",),
    "catalog": ("catalog",),
    "serviceName": ("serviceName", "service_name", "sid"),
    "keyspace": ("keyspace",),
}


def _postgres(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    host, port = _host_port(server, 5432)
    database, schema, table = _qualified(server, obj, ("database", "schema"))
    return ol.Postgres(host=host, port=port, database=database, schema=schema, table=table)


def _mysql(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    host, port = _host_port(server, 3306)
    database, table = _qualified(server, obj, ("database",))
    return ol.MySQL(host=host, port=port, database=database, table=table)


def _sqlserver(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    # The spec only lists Azure Synapse; producers (Airflow's MSSQL provider, the dbt
    # integration) emit mssql://host:port with database.schema.table.
    host, port = _host_port(server, 1433)
    name = ".".join(_qualified(server, obj, ("database", "schema")))
    return _Named(f"mssql://{host}:{port}", name)


def _synapse(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    host, port = _host_port(server, 1433)
    schema, table = _qualified(server, obj, ("schema",))
    return ol.AzureSynapse(host=host, port=port, schema=schema, table=table)


def _oracle(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    host, port = _host_port(server, 1521)
    service, schema, table = _qualified(server, obj, ("serviceName", "schema"))
    return ol.Oracle(host=host, port=port, service_name=service, schema=schema, table=table)


def _db2(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    host, port = _host_port(server, 50000)
    database, schema, table = _qualified(server, obj, ("database", "schema"))
    return ol.DB2(host=host, port=port, database=database, schema=schema, table=table)


def _hive(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    host, port = _host_port(server, 10000)
    database, table = _qualified(server, obj, ("database",))
    return ol.Hive(host=host, port=port, database=database, table=table)


def _cassandra(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    host, port = _host_port(server, 9042)
    keyspace, table = _qualified(server, obj, ("keyspace",))
    return ol.Cassandra(host=host, port=port, keyspace=keyspace, table=table)


def _teradata(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    host, port = _host_port(server, 1025)
    database, table = _qualified(server, obj, ("database",))
    return ol.Teradata(host=host, port=port, database=database, table=table)


def _trino(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    host, port = _host_port(server, 8080)
    catalog, schema, table = _qualified(server, obj, ("catalog", "schema"))
    return ol.Trino(host=host, port=port, catalog=catalog, schema=schema, table=table)


_SNOWFLAKE_HOST = re.compile(r"^(?P<account>[^.]+(?:\.[^.]+)*?)\.snowflakecomputing\.com$")


def _snowflake(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    name = ".".join(_qualified(server, obj, ("database", "schema")))
    return _Named(f"snowflake://{_snowflake_account(server)}", name)


def _snowflake_account(server: Server) -> str:
    """``{organization}-{account}`` as written, lowercased; taken from the host
    (``org-acct.snowflakecomputing.com``) when no account is given."""
    try:
        account = _attr(server, "account", "accountIdentifier", "account_identifier")
    except _Missing:
        host = str(server.attributes.get("host") or "").lower()
        match = _SNOWFLAKE_HOST.match(re.sub(r"^https?://", "", host).rstrip("/"))
        if not match:
            raise
        account = match["account"]
    account = re.sub(r"^https?://", "", account.strip().lower()).rstrip("/")
    return account.removesuffix(".snowflakecomputing.com")


def _bigquery(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    project, dataset, table = _qualified(server, obj, ("project", "dataset"))
    return ol.BigQuery(project_id=project, dataset_name=dataset, table_name=table)


_REDSHIFT_HOST = re.compile(
    r"^(?P<cluster>[^.]+)\.[^.]+\.(?P<region>[^.]+)\.redshift\.amazonaws\.com$"
)


def _redshift(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    database, schema, table = _qualified(server, obj, ("database", "schema"))
    host = str(server.attributes.get("host") or "").lower()
    match = _REDSHIFT_HOST.match(host.split(":")[0])
    if match:
        cluster, region = match["cluster"], match["region"]
        port = _host_port(server, 5439)[1]
    else:
        cluster = _attr(server, "clusterIdentifier", "cluster_identifier", "cluster")
        region = _attr(server, "region", "regionName")
        port = _attr(server, "port", default=5439)
    return ol.Redshift(
        cluster_identifier=cluster,
        region=region,
        port=port,
        database=database,
        schema=schema,
        table=table,
    )


def _athena(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    region = _attr(server, "regionName", "region")
    catalog = _attr(server, "catalog", default="awsdatacatalog")  # ODCS's default
    database, table = _qualified(server, obj, ("schema",))
    return ol.Athena(region_name=region, catalog=catalog, database=database, table=table)


def _glue(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    region = _attr(server, "region", "regionName")
    account = _attr(server, "account", "accountId")
    database, table = _qualified(server, obj, ("database",))
    return ol.AWSGlue(
        region_name=region, account_id=account, database_name=database, table_name=table
    )


def _databricks(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    # No spec entry; this is what the OpenLineage dbt integration emits for Databricks.
    host = _host_port(server, 443)[0]
    name = ".".join(_qualified(server, obj, ("catalog", "schema")))
    return _Named(f"databricks://{host}", name)


def _duckdb(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    # The dbt integration's convention: duckdb://{database file}; the name is qualified
    # by the catalog DuckDB gives an attached file (its stem) and the schema, "main" unless said.
    database = _attr(server, "database", "path")
    schema = _attr(server, "schema", default="main")
    parts = _table(obj).split(".")
    qualifiers = [PurePosixPath(database).stem, schema][: max(0, 3 - len(parts))]
    return _Named(f"duckdb://{database}", ".".join([*qualifiers, *parts]))


def _kafka(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    host, port = _host_port(server, 9092)
    topic = obj.physical_name or _attr(server, "topic", default=obj.name)
    return ol.Kafka(bootstrap_server_host=host, port=port, topic=topic)


def _pubsub(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    project = _attr(server, "project", "projectId")
    topic = obj.physical_name or _attr(server, "topic", default=obj.name)
    return ol.PubSubNaming(
        resource_type=ol.PubSubResourceType.TOPIC, project_id=project, resource_id=topic
    )


# --- file and object stores -----------------------------------------------------------------


_GLOB = re.compile(r"[*?\[{]")


def _object_key(path: str, obj: SchemaObject) -> str:
    """The dataset name under a bucket, container or file root: ``{model}`` filled in,
    trailing glob segments dropped (``/v2/{model}/*.json`` → ``v2/orders``), and the
    object's physical name appended to an empty path or, without ``{model}``, to a folder
    (a path ending in ``/``)."""
    folder = path.endswith("/") and "{model}" not in path
    segments = [s for s in path.replace("{model}", obj.name).split("/") if s]
    while segments and _GLOB.search(segments[-1]):
        segments.pop()
    if folder or not segments:
        segments.append(_table(obj))
    return "/".join(segments)


def _location(server: Server, schemes: tuple[str, ...]) -> tuple[str, str, str]:
    """``(scheme, authority, path)`` of the server's location URL."""
    location = _attr(server, "location", "path", "url")
    parts = urlsplit(location)
    if parts.scheme.lower() not in schemes or not parts.netloc:
        raise _Missing("location", f"expected a {'/'.join(schemes)} URL, got {location!r}")
    return parts.scheme.lower(), parts.netloc, parts.path


def _s3(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    _, bucket, path = _location(server, ("s3", "s3a", "s3n"))
    return ol.S3(bucket_name=bucket, object_key=_object_key(path, obj))


def _gcs(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    _, bucket, path = _location(server, ("gs", "gcs"))
    return ol.GCS(bucket_name=bucket, object_key=_object_key(path, obj))


def _azure(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    scheme, authority, path = _location(server, ("abfss", "abfs", "wasbs", "wasb", "az"))
    if scheme == "az" or "@" not in authority:
        raise _Missing(
            "location",
            "az:// locations do not name the storage account; write"
            " abfss://{container}@{account}.dfs.core.windows.net/{path}",
        )
    scheme = "abfss" if scheme.startswith("abfs") else "wasbs"
    return _Named(f"{scheme}://{authority.lower()}", _object_key(path, obj))


def _local(server: Server, obj: SchemaObject) -> ol.DatasetNaming:
    path = _attr(server, "path", "location").removeprefix("file://")
    root = "/" if path.startswith("/") else ""
    return ol.LocalFileSystem(path=root + _object_key(path, obj))


Deriver = Callable[[Server, SchemaObject], ol.DatasetNaming]

# Server type → naming convention. Namespaces and names (default port in brackets):
#   postgres    postgres://{host}:{port|5432}          {database}.{schema}.{table}
#   mysql       mysql://{host}:{port|3306}             {database}.{table}
#   sqlserver   mssql://{host}:{port|1433}             {database}.{schema}.{table}
#   synapse     sqlserver://{host}:{port|1433}         {schema}.{table}
#   oracle      oracle://{host}:{port|1521}            {serviceName}.{schema}.{table}
#   db2         db2://{host}:{port|50000}              {database}.{schema}.{table}
#   hive        hive://{host}:{port|10000}             {database}.{table}
#   cassandra   cassandra://{host}:{port|9042}         {keyspace}.{table}
#   teradata    teradata://{host}:{port|1025}          {database}.{table}
#   trino       trino://{host}:{port|8080}             {catalog}.{schema}.{table}
#   snowflake   snowflake://{org}-{account}            {database}.{schema}.{table}
#   bigquery    bigquery                               {project}.{dataset}.{table}
#   redshift    redshift://{cluster}.{region}:{port|5439} {database}.{schema}.{table}
#   athena      awsathena://athena.{region}.amazonaws.com {catalog}.{schema}.{table}
#   glue        arn:aws:glue:{region}:{account}        table/{database}/{table}
#   databricks  databricks://{host}                    {catalog}.{schema}.{table}
#   duckdb      duckdb://{database file}               {file stem}.{schema|main}.{table}
#   kafka       kafka://{host}:{port|9092}             {topic}
#   pubsub      pubsub                                 topic:{project}:{topic}
#   s3          s3://{bucket}                          {key}
#   gcs         gs://{bucket}                          {key}
#   azure       abfss://{container}@{account}.dfs.core.windows.net   {path}
#   local       file                                   {path}
_DERIVERS: dict[str, Deriver] = {
    "postgres": _postgres,
    "mysql": _mysql,
    "sqlserver": _sqlserver,
    "synapse": _synapse,
    "oracle": _oracle,
    "db2": _db2,
    "hive": _hive,
    "cassandra": _cassandra,
    "teradata": _teradata,
    "trino": _trino,
    "snowflake": _snowflake,
    "bigquery": _bigquery,
    "redshift": _redshift,
    "athena": _athena,
    "glue": _glue,
    "databricks": _databricks,
    "duckdb": _duckdb,
    "kafka": _kafka,
    "pubsub": _pubsub,
    "s3": _s3,
    "gcs": _gcs,
    "azure": _azure,
    "local": _local,
}

_TYPE_ALIASES: dict[str, str] = {
    "postgresql": "postgres",
    "mssql": "sqlserver",
    "azuresql": "sqlserver",
    "mariadb": "mysql",
    "ibmdb2": "db2",
    "gs": "gcs",
    "abfss": "azure",
    "adls": "azure",
    "file": "local",
    "awsathena": "athena",
}
