"""A demo data mesh, as the OpenLineage events its pipelines would have sent.

Five domains (customer, sales, marketing, finance, logistics) with their own databases,
warehouse schemas, lake prefixes and topics; 24 jobs (Airflow DAGs and tasks, dbt models,
a Spark job, a Flink streaming job) over 36 datasets; two weeks of daily runs with the
facets real producers send: schemas with PII columns and nested structs, descriptions,
ownership, tags, dataset types and sources, SQL, column lineage with transformation
types, data quality assertions and growing output statistics. The story has failures
with stack traces, a retried task, a late DAG run, a streaming job still running, a
schema change halfway, a table known through a symlink and a deprecated table dropped.

Events are generated, not recorded. The timeline ends at an *anchor* (the start of the
current hour, UTC, by default: yesterday's daily runs ended less than a day ago, as they
would in a live mesh) and everything else is deterministic: seeded randomness,
run ids derived with uuid5 from job and scheduled time. Generating twice with the same
anchor gives the same events byte for byte, so loading twice stores nothing new.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Count

from catalog.models import Dataset
from lineage.models import Job, LineageEvent, Run
from lineage.services import lineage_events_ingest

TOKEN_NAME = "demo"
DAYS = 14
SCHEMA_CHANGE_DAY = 7  # days before the anchor when sales orders gain two columns
DROP_DAY = 5  # days before the anchor when the deprecated table is dropped
RUN_NAMESPACE = uuid.UUID("2f0b5a3c-6f7e-4d41-9a3e-0c5d1e7a9b42")

_OL = "https://github.com/OpenLineage/OpenLineage/tree/1.26.0"
PRODUCERS = {
    "AIRFLOW": "https://github.com/apache/airflow/tree/providers-openlineage/1.14.0",
    "DBT": f"{_OL}/integration/dbt",
    "SPARK": f"{_OL}/integration/spark",
    "FLINK": f"{_OL}/integration/flink",
    "CRAWLER": "https://github.com/acme/metadata-crawler/tree/2.3.1",
}
ENGINES = {
    "AIRFLOW": ("Airflow", "2.10.4"),
    "DBT": ("dbt", "1.8.7"),
    "SPARK": ("spark", "3.5.1"),
    "FLINK": ("flink", "1.19.1"),
}
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/"

TEAMS = {
    "customer": ("team:customer-360", "user:lena.fischer@acme.example"),
    "sales": ("team:sales-data", "user:marco.rossi@acme.example"),
    "marketing": ("team:growth-analytics", "user:aisha.khan@acme.example"),
    "finance": ("team:finance-data", "user:tom.becker@acme.example"),
    "logistics": ("team:logistics-ops", "user:sofia.lindqvist@acme.example"),
}

# --- the mesh -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Col:
    name: str
    type: str
    description: str = ""
    fields: tuple[Col, ...] = ()
    pii: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    key: str
    namespace: str
    name: str
    kind: str  # datasetType: TABLE, VIEW, TOPIC, FILE
    domain: str
    description: str
    columns: tuple[Col, ...]
    rows: int  # at the start of the timeline
    growth: float  # per day
    source: tuple[str, str] = ("", "")  # dataSource name and uri
    added_columns: tuple[Col, ...] = ()  # appear SCHEMA_CHANGE_DAY days before the anchor
    symlink: tuple[str, str] | None = None  # (namespace, name) of a table over the files
    tags: tuple[tuple[str, str], ...] = ()

    def columns_on(self, day: int) -> tuple[Col, ...]:
        return self.columns + self.added_columns if day <= SCHEMA_CHANGE_DAY else self.columns


@dataclass(frozen=True)
class Edge:
    """An input field feeding an output field (or the whole output when ``to`` is "")."""

    source: str  # "<dataset key>.<field>"
    type: str = "DIRECT"
    subtype: str = "IDENTITY"
    description: str = ""
    masking: bool = False


@dataclass(frozen=True)
class JobSpec:
    namespace: str
    name: str
    integration: str  # AIRFLOW, DBT, SPARK, FLINK
    job_type: str  # DAG, TASK, MODEL, SQL_JOB, JOB
    domain: str
    description: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    sql: str = ""
    # Per output key: output field -> input edges; "" holds the dataset-wide ones.
    lineage: dict[str, dict[str, tuple[Edge, ...]]] = field(default_factory=dict)
    copies: tuple[tuple[str, str], ...] = ()  # (input key, output key) copied column by column
    assertions: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    minutes: tuple[int, int] = (2, 8)  # duration range
    processing: str = "BATCH"
    source_path: str = ""


def _pg(db: str) -> tuple[str, tuple[str, str]]:
    return f"postgres://{db}:5432", (db, f"postgresql://{db}:5432/{db.split('-')[0]}")


_SNOW = "snowflake://acme.eu-west-1"
_SNOW_SRC = ("snowflake", "snowflake://acme.eu-west-1.snowflakecomputing.com")
_LAKE = "s3://acme-lake"
_LAKE_SRC = ("acme-lake", "s3://acme-lake")
_KAFKA = "kafka://broker:9092"
_KAFKA_SRC = ("kafka", "kafka://broker:9092")
_LOADED = Col("_loaded_at", "TIMESTAMP_NTZ", "When the row was landed in the warehouse")

_CUSTOMER_COLS = (
    Col("customer_id", "BIGINT", "Surrogate key of the customer"),
    Col("email", "VARCHAR(320)", "Primary e-mail address", pii=True),
    Col("phone", "VARCHAR(32)", "Mobile phone number, E.164", pii=True),
    Col("first_name", "VARCHAR(100)", "Given name", pii=True),
    Col("last_name", "VARCHAR(100)", "Family name", pii=True),
    Col("birth_date", "DATE", "Date of birth", pii=True),
    Col("created_at", "TIMESTAMPTZ", "When the customer signed up"),
    Col("updated_at", "TIMESTAMPTZ", "Last change of the record"),
)
_ADDRESS = Col(
    "address",
    "STRUCT",
    "Primary postal address",
    fields=(
        Col("street", "VARCHAR", "Street and number", pii=True),
        Col("city", "VARCHAR", "City"),
        Col("postal_code", "VARCHAR", "Postal code", pii=True),
        Col("country_code", "CHAR(2)", "ISO 3166-1 alpha-2 country"),
    ),
)
_ORDER_COLS = (
    Col("order_id", "BIGINT", "Order number"),
    Col("customer_id", "BIGINT", "Customer who placed the order"),
    Col("order_ts", "TIMESTAMPTZ", "When the order was placed"),
    Col("status", "VARCHAR(16)", "placed, paid, shipped, completed, cancelled"),
    Col("currency", "CHAR(3)", "ISO 4217 currency of the amounts"),
    Col("total_amount", "NUMERIC(12,2)", "Order total including VAT"),
    Col("shipping_country", "CHAR(2)", "Destination country"),
)
_ORDER_ADDED = (
    Col("channel", "VARCHAR(16)", "web, app or store"),
    Col("discount_amount", "NUMERIC(12,2)", "Voucher and promotion discounts"),
)
_ITEM_COLS = (
    Col("order_id", "BIGINT", "Order the line belongs to"),
    Col("line_no", "INTEGER", "Position in the order"),
    Col("sku", "VARCHAR(32)", "Stock keeping unit"),
    Col("quantity", "INTEGER", "Units ordered"),
    Col("unit_price", "NUMERIC(12,2)", "Price per unit"),
)
_PRODUCT_COLS = (
    Col("sku", "VARCHAR(32)", "Stock keeping unit"),
    Col("product_name", "VARCHAR(200)", "Display name"),
    Col("category", "VARCHAR(64)", "Merchandising category"),
    Col("list_price", "NUMERIC(12,2)", "Current list price"),
    Col("is_active", "BOOLEAN", "Still sold"),
)
_REFUND_COLS = (
    Col("refund_id", "BIGINT", "Refund number"),
    Col("order_id", "BIGINT", "Refunded order"),
    Col("amount", "NUMERIC(12,2)", "Refunded amount, order currency"),
    Col("reason", "VARCHAR(64)", "Return reason code"),
    Col("refunded_at", "TIMESTAMPTZ", "When the money went back"),
)
_CONSENT_COLS = (
    Col("customer_id", "BIGINT", "Customer"),
    Col("channel", "VARCHAR(8)", "email, sms or push"),
    Col("granted", "BOOLEAN", "Consent currently given"),
    Col("granted_at", "TIMESTAMPTZ", "When consent was given or withdrawn"),
)
_CLICK_COLS = (
    Col("event_id", "STRING", "Unique id of the tracking event"),
    Col("session_id", "STRING", "Browser session"),
    Col("customer_id", "BIGINT", "Logged-in customer, if any"),
    Col("event_type", "STRING", "page_view, add_to_cart, checkout"),
    Col("page_url", "STRING", "Page where the event happened"),
    Col("utm_campaign", "STRING", "Campaign of the landing URL"),
    Col("ip_address", "STRING", "Client IP address", pii=True),
    Col(
        "device",
        "STRUCT",
        "Client device",
        fields=(
            Col("type", "STRING", "desktop, mobile or tablet"),
            Col("os", "STRING", "Operating system"),
            Col("browser", "STRING", "Browser family"),
        ),
    ),
    Col("event_ts", "TIMESTAMP", "Event time at the client"),
)
_CAMPAIGN_COLS = (
    Col("campaign_id", "INTEGER", "Campaign"),
    Col("name", "VARCHAR(200)", "Campaign name"),
    Col("channel", "VARCHAR(32)", "search, social, email, display"),
    Col("utm_campaign", "VARCHAR(100)", "Tracking code in landing URLs"),
    Col("budget_eur", "NUMERIC(12,2)", "Planned spend"),
    Col("start_date", "DATE", "First day"),
    Col("end_date", "DATE", "Last day"),
)
_SHIPMENT_COLS = (
    Col("shipment_id", "BIGINT", "Parcel"),
    Col("order_id", "BIGINT", "Shipped order"),
    Col("carrier_code", "VARCHAR(8)", "Carrier"),
    Col("recipient_name", "VARCHAR(200)", "Name on the label", pii=True),
    Col("recipient_phone", "VARCHAR(32)", "Phone for delivery notices", pii=True),
    Col("shipped_at", "TIMESTAMPTZ", "Handed to the carrier"),
    Col("delivered_at", "TIMESTAMPTZ", "Delivered to the recipient"),
    Col("status", "VARCHAR(16)", "in_transit, delivered, returned, lost"),
)
_CARRIER_COLS = (
    Col("carrier_code", "VARCHAR(8)", "Carrier"),
    Col("carrier_name", "VARCHAR(100)", "Name"),
    Col("sla_hours", "INTEGER", "Promised delivery time"),
)


def _landed(cols: tuple[Col, ...]) -> tuple[Col, ...]:
    return (*cols, _LOADED)


_CRM, _CRM_SRC = _pg("crm-db")
_SALES, _SALES_SRC = _pg("sales-db")
_MKT, _MKT_SRC = _pg("marketing-db")
_FIN, _FIN_SRC = _pg("finance-db")
_LOG, _LOG_SRC = _pg("logistics-db")

DATASETS: dict[str, DatasetSpec] = {
    d.key: d
    for d in (
        # customer
        DatasetSpec(
            "crm_customers",
            _CRM,
            "crm.public.customers",
            "TABLE",
            "customer",
            "Customers of the web shop, as the CRM keeps them.",
            _CUSTOMER_COLS,
            1_250_000,
            0.004,
            _CRM_SRC,
        ),
        DatasetSpec(
            "crm_addresses",
            _CRM,
            "crm.public.customer_addresses",
            "TABLE",
            "customer",
            "Postal addresses of customers; one is primary.",
            (
                Col("address_id", "BIGINT", "Address"),
                Col("customer_id", "BIGINT", "Customer"),
                *_ADDRESS.fields,
                Col("is_primary", "BOOLEAN", "Primary address"),
            ),
            1_600_000,
            0.004,
            _CRM_SRC,
        ),
        DatasetSpec(
            "crm_consents",
            _CRM,
            "crm.public.consents",
            "TABLE",
            "customer",
            "Marketing consents per channel (GDPR art. 7 evidence).",
            _CONSENT_COLS,
            2_900_000,
            0.003,
            _CRM_SRC,
        ),
        DatasetSpec(
            "raw_customers",
            _SNOW,
            "RAW.CUSTOMER.CUSTOMERS",
            "TABLE",
            "customer",
            "Daily copy of CRM customers with their primary address nested.",
            _landed((*_CUSTOMER_COLS[:6], _ADDRESS, *_CUSTOMER_COLS[6:])),
            1_250_000,
            0.004,
            _SNOW_SRC,
        ),
        DatasetSpec(
            "raw_consents",
            _SNOW,
            "RAW.CUSTOMER.CONSENTS",
            "TABLE",
            "customer",
            "Daily copy of CRM consents.",
            _landed(_CONSENT_COLS),
            2_900_000,
            0.003,
            _SNOW_SRC,
        ),
        DatasetSpec(
            "dim_customers",
            _SNOW,
            "ANALYTICS.CUSTOMER.DIM_CUSTOMERS",
            "TABLE",
            "customer",
            "One row per customer, pseudonymised: the customer data product's output port.",
            (
                Col("customer_key", "VARCHAR(32)", "Stable pseudonymous key"),
                Col("customer_id", "NUMBER(38,0)", "CRM customer id"),
                Col("email_sha256", "VARCHAR(64)", "SHA-256 of the lower-cased e-mail"),
                Col("country_code", "CHAR(2)", "Country of the primary address"),
                Col("city", "VARCHAR", "City of the primary address"),
                Col("age_band", "VARCHAR(8)", "18-24, 25-34, ... from the birth date"),
                Col("signup_date", "DATE", "Day of sign-up"),
                Col("is_email_marketable", "BOOLEAN", "E-mail consent granted"),
            ),
            1_240_000,
            0.004,
            _SNOW_SRC,
            tags=(("tier", "gold"),),
        ),
        # sales
        DatasetSpec(
            "sales_orders",
            _SALES,
            "sales.public.orders",
            "TABLE",
            "sales",
            "Orders of the web shop and the app.",
            _ORDER_COLS,
            8_400_000,
            0.006,
            _SALES_SRC,
            added_columns=_ORDER_ADDED,
        ),
        DatasetSpec(
            "sales_items",
            _SALES,
            "sales.public.order_items",
            "TABLE",
            "sales",
            "Order lines.",
            _ITEM_COLS,
            21_000_000,
            0.006,
            _SALES_SRC,
        ),
        DatasetSpec(
            "sales_products",
            _SALES,
            "sales.public.products",
            "TABLE",
            "sales",
            "Product catalogue.",
            _PRODUCT_COLS,
            48_000,
            0.001,
            _SALES_SRC,
        ),
        DatasetSpec(
            "sales_refunds",
            _SALES,
            "sales.public.refunds",
            "TABLE",
            "sales",
            "Refunds paid back to customers.",
            _REFUND_COLS,
            310_000,
            0.005,
            _SALES_SRC,
        ),
        DatasetSpec(
            "orders_cdc",
            _KAFKA,
            "sales.orders.cdc.v1",
            "TOPIC",
            "sales",
            "Debezium change events of sales.public.orders.",
            (
                Col("op", "STRING", "c, u or d"),
                Col("after", "STRUCT", "Row after the change", fields=tuple(_ORDER_COLS[:5])),
                Col("ts_ms", "LONG", "Commit time in the source database"),
            ),
            0,
            0.0,
            _KAFKA_SRC,
        ),
        DatasetSpec(
            "raw_orders",
            _SNOW,
            "RAW.SALES.ORDERS",
            "TABLE",
            "sales",
            "Daily copy of sales orders.",
            _landed(_ORDER_COLS),
            8_400_000,
            0.006,
            _SNOW_SRC,
            added_columns=_ORDER_ADDED,
        ),
        DatasetSpec(
            "raw_items",
            _SNOW,
            "RAW.SALES.ORDER_ITEMS",
            "TABLE",
            "sales",
            "Daily copy of order lines.",
            _landed(_ITEM_COLS),
            21_000_000,
            0.006,
            _SNOW_SRC,
        ),
        DatasetSpec(
            "raw_products",
            _SNOW,
            "RAW.SALES.PRODUCTS",
            "TABLE",
            "sales",
            "Daily copy of the product catalogue.",
            _landed(_PRODUCT_COLS),
            48_000,
            0.001,
            _SNOW_SRC,
        ),
        DatasetSpec(
            "raw_refunds",
            _SNOW,
            "RAW.SALES.REFUNDS",
            "TABLE",
            "sales",
            "Daily copy of refunds.",
            _landed(_REFUND_COLS),
            310_000,
            0.005,
            _SNOW_SRC,
        ),
        DatasetSpec(
            "stg_orders",
            _SNOW,
            "ANALYTICS.SALES.STG_ORDERS",
            "VIEW",
            "sales",
            "Orders cleaned and typed; test orders removed.",
            (
                Col("order_id", "NUMBER(38,0)", "Order number"),
                Col("customer_id", "NUMBER(38,0)", "Customer"),
                Col("order_date", "DATE", "Day the order was placed (UTC)"),
                Col("status", "VARCHAR", "Order status"),
                Col("currency", "CHAR(3)", "Currency"),
                Col("gross_amount", "NUMBER(12,2)", "Order total"),
                Col("shipping_country", "CHAR(2)", "Destination country"),
            ),
            8_390_000,
            0.006,
            _SNOW_SRC,
            added_columns=_ORDER_ADDED,
        ),
        DatasetSpec(
            "fct_orders",
            _SNOW,
            "ANALYTICS.SALES.FCT_ORDERS",
            "TABLE",
            "sales",
            "One row per order with its lines rolled up: the sales data product's output port.",
            (
                Col("order_id", "NUMBER(38,0)", "Order number"),
                Col("customer_key", "VARCHAR(32)", "Pseudonymous customer"),
                Col("order_date", "DATE", "Day the order was placed"),
                Col("status", "VARCHAR", "Order status"),
                Col("currency", "CHAR(3)", "Currency"),
                Col("item_count", "NUMBER(9,0)", "Units in the order"),
                Col("gross_amount", "NUMBER(12,2)", "Order total"),
                Col("shipping_country", "CHAR(2)", "Destination country"),
            ),
            8_390_000,
            0.006,
            _SNOW_SRC,
            tags=(("tier", "gold"),),
        ),
        # marketing
        DatasetSpec(
            "clickstream_topic",
            _KAFKA,
            "web.clickstream.v1",
            "TOPIC",
            "marketing",
            "Tracking events from the web shop and the app.",
            _CLICK_COLS,
            0,
            0.0,
            _KAFKA_SRC,
        ),
        DatasetSpec(
            "clickstream_raw",
            _LAKE,
            "raw/clickstream",
            "FILE",
            "marketing",
            "Clickstream landed as hourly Parquet files, partitioned by dt.",
            (*_CLICK_COLS, Col("dt", "STRING", "Partition day")),
            310_000_000,
            0.02,
            _LAKE_SRC,
            symlink=("hive://metastore:9083", "raw.clickstream_events"),
        ),
        DatasetSpec(
            "sessions",
            _LAKE,
            "curated/marketing/sessions",
            "FILE",
            "marketing",
            "Web sessions with their campaign and whether they converted.",
            (
                Col("session_id", "STRING", "Session"),
                Col("customer_id", "BIGINT", "Customer, when logged in"),
                Col("started_at", "TIMESTAMP", "First event"),
                Col("ended_at", "TIMESTAMP", "Last event"),
                Col("page_views", "INT", "Pages viewed"),
                Col("utm_campaign", "STRING", "Campaign of the landing page"),
                Col("converted", "BOOLEAN", "Ended with an order"),
                Col("dt", "STRING", "Partition day"),
            ),
            41_000_000,
            0.02,
            _LAKE_SRC,
        ),
        DatasetSpec(
            "mkt_campaigns",
            _MKT,
            "marketing.public.campaigns",
            "TABLE",
            "marketing",
            "Campaigns planned by the marketing team.",
            _CAMPAIGN_COLS,
            1_900,
            0.002,
            _MKT_SRC,
        ),
        DatasetSpec(
            "raw_campaigns",
            _SNOW,
            "RAW.MARKETING.CAMPAIGNS",
            "TABLE",
            "marketing",
            "Daily copy of campaigns.",
            _landed(_CAMPAIGN_COLS),
            1_900,
            0.002,
            _SNOW_SRC,
        ),
        DatasetSpec(
            "segments",
            _SNOW,
            "ANALYTICS.MARKETING.CUSTOMER_SEGMENTS",
            "TABLE",
            "marketing",
            "Customers by engagement segment, marketable ones only.",
            (
                Col("customer_key", "VARCHAR(32)", "Pseudonymous customer"),
                Col("segment", "VARCHAR(16)", "champion, loyal, at_risk, dormant"),
                Col("sessions_30d", "NUMBER(9,0)", "Sessions in the last 30 days"),
                Col("last_seen_at", "TIMESTAMP_NTZ", "Last session"),
                Col("country_code", "CHAR(2)", "Country"),
            ),
            690_000,
            0.003,
            _SNOW_SRC,
        ),
        DatasetSpec(
            "campaign_perf",
            _SNOW,
            "ANALYTICS.MARKETING.CAMPAIGN_PERFORMANCE",
            "TABLE",
            "marketing",
            "Sessions, orders and revenue per campaign and day.",
            (
                Col("campaign_id", "NUMBER(9,0)", "Campaign"),
                Col("report_date", "DATE", "Day"),
                Col("sessions", "NUMBER(12,0)", "Sessions landing from the campaign"),
                Col("orders", "NUMBER(12,0)", "Orders in those sessions"),
                Col("revenue", "NUMBER(14,2)", "Gross revenue of those orders"),
                Col("cost_per_order", "NUMBER(12,2)", "Budget spent per order"),
            ),
            52_000,
            0.01,
            _SNOW_SRC,
        ),
        DatasetSpec(
            "legacy_stats",
            _SNOW,
            "ANALYTICS.MARKETING.LEGACY_CAMPAIGN_STATS",
            "TABLE",
            "marketing",
            "DEPRECATED: replaced by CAMPAIGN_PERFORMANCE; dropped after the migration.",
            (
                Col("campaign_name", "VARCHAR", "Campaign"),
                Col("day", "DATE", "Day"),
                Col("clicks", "NUMBER(12,0)", "Clicks"),
                Col("conversions", "NUMBER(12,0)", "Orders"),
            ),
            48_000,
            0.0,
            _SNOW_SRC,
            tags=(("deprecated", "true"),),
        ),
        # finance
        DatasetSpec(
            "fx_files",
            _LAKE,
            "reference/fx_rates",
            "FILE",
            "finance",
            "ECB reference rates, one CSV file per day.",
            (
                Col("rate_date", "DATE", "Day"),
                Col("base_currency", "CHAR(3)", "Always EUR"),
                Col("quote_currency", "CHAR(3)", "Currency"),
                Col("rate", "DECIMAL(18,6)", "Units of quote currency per EUR"),
            ),
            9_800,
            0.003,
            _LAKE_SRC,
        ),
        DatasetSpec(
            "dim_fx",
            _SNOW,
            "ANALYTICS.FINANCE.DIM_FX_RATES",
            "TABLE",
            "finance",
            "Daily EUR conversion rates.",
            (
                Col("rate_date", "DATE", "Day"),
                Col("currency", "CHAR(3)", "Currency"),
                Col("eur_rate", "NUMBER(18,6)", "EUR per unit of currency"),
            ),
            9_800,
            0.003,
            _SNOW_SRC,
        ),
        DatasetSpec(
            "revenue_daily",
            _SNOW,
            "ANALYTICS.FINANCE.FCT_REVENUE_DAILY",
            "TABLE",
            "finance",
            "Recognised revenue per day and country in EUR, net of refunds: the "
            "finance data product's output port.",
            (
                Col("revenue_date", "DATE", "Day"),
                Col("shipping_country", "CHAR(2)", "Country"),
                Col("orders", "NUMBER(12,0)", "Completed orders"),
                Col("gross_revenue_eur", "NUMBER(14,2)", "Gross revenue"),
                Col("refunds_eur", "NUMBER(14,2)", "Refunds"),
                Col("net_revenue_eur", "NUMBER(14,2)", "Gross minus refunds"),
            ),
            21_000,
            0.002,
            _SNOW_SRC,
            tags=(("tier", "gold"), ("sox", "in-scope")),
        ),
        DatasetSpec(
            "revenue_region",
            _SNOW,
            "ANALYTICS.FINANCE.RPT_REVENUE_BY_REGION",
            "TABLE",
            "finance",
            "Monthly net revenue and active customers by region.",
            (
                Col("revenue_month", "DATE", "First day of the month"),
                Col("region", "VARCHAR", "DACH, Nordics, Benelux, South, Rest"),
                Col("net_revenue_eur", "NUMBER(14,2)", "Net revenue"),
                Col("customers", "NUMBER(12,0)", "Customers with an order"),
                Col(
                    "region_controller_email",
                    "VARCHAR",
                    "Work email of the controller who signs off the region's figures",
                    pii=True,
                ),
            ),
            360,
            0.0,
            _SNOW_SRC,
        ),
        DatasetSpec(
            "ledger",
            _FIN,
            "ledger.public.revenue_entries",
            "TABLE",
            "finance",
            "Revenue postings for the general ledger.",
            (
                Col("entry_id", "BIGINT", "Posting"),
                Col("posting_date", "DATE", "Booking day"),
                Col("account_code", "VARCHAR(10)", "GL account"),
                Col("amount_eur", "NUMERIC(14,2)", "Amount"),
                Col("source_ref", "VARCHAR(64)", "Row of the revenue table posted"),
            ),
            260_000,
            0.004,
            _FIN_SRC,
        ),
        # logistics
        DatasetSpec(
            "shipments",
            _LOG,
            "logistics.public.shipments",
            "TABLE",
            "logistics",
            "Parcels handed to carriers.",
            _SHIPMENT_COLS,
            7_900_000,
            0.006,
            _LOG_SRC,
        ),
        DatasetSpec(
            "carriers",
            _LOG,
            "logistics.public.carriers",
            "TABLE",
            "logistics",
            "Carriers and their promised delivery times.",
            _CARRIER_COLS,
            14,
            0.0,
            _LOG_SRC,
        ),
        DatasetSpec(
            "raw_shipments",
            _SNOW,
            "RAW.LOGISTICS.SHIPMENTS",
            "TABLE",
            "logistics",
            "Daily copy of shipments.",
            _landed(_SHIPMENT_COLS),
            7_900_000,
            0.006,
            _SNOW_SRC,
        ),
        DatasetSpec(
            "raw_carriers",
            _SNOW,
            "RAW.LOGISTICS.CARRIERS",
            "TABLE",
            "logistics",
            "Daily copy of carriers.",
            _landed(_CARRIER_COLS),
            14,
            0.0,
            _SNOW_SRC,
        ),
        DatasetSpec(
            "delivery_sla",
            _SNOW,
            "ANALYTICS.LOGISTICS.DELIVERY_SLA",
            "TABLE",
            "logistics",
            "Delivery time per order against the carrier's promise.",
            (
                Col("order_id", "NUMBER(38,0)", "Order"),
                Col("order_date", "DATE", "Day of the order"),
                Col("carrier_code", "VARCHAR(8)", "Carrier"),
                Col("delivery_hours", "NUMBER(9,1)", "Hours from order to delivery"),
                Col("within_sla", "BOOLEAN", "Delivered within the promised time"),
            ),
            7_700_000,
            0.006,
            _SNOW_SRC,
        ),
        DatasetSpec(
            "sla_export",
            _LAKE,
            "exports/logistics/delivery_sla",
            "FILE",
            "logistics",
            "Delivery SLA extract shared with carriers (CSV).",
            (
                Col("order_date", "DATE", "Day"),
                Col("carrier_code", "STRING", "Carrier"),
                Col("orders", "INT", "Orders"),
                Col("within_sla_pct", "DOUBLE", "Share within SLA"),
            ),
            4_200,
            0.01,
            _LAKE_SRC,
        ),
    )
}


def _copy(*pairs: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return pairs


_STATUS_FILTER = Edge("stg_orders.status", "INDIRECT", "FILTER", "status = 'completed'")

JOBS: tuple[JobSpec, ...] = (
    # customer: Airflow extracts, a dbt model
    JobSpec(
        "airflow://customer",
        "customer_sync",
        "AIRFLOW",
        "DAG",
        "customer",
        "Lands CRM customers and consents in the warehouse every night.",
        source_path="dags/customer_sync.py",
    ),
    JobSpec(
        "airflow://customer",
        "customer_sync.extract_customers",
        "AIRFLOW",
        "TASK",
        "customer",
        "Copies customers with their primary address.",
        ("crm_customers", "crm_addresses"),
        ("raw_customers",),
        sql="SELECT c.*, a.street, a.city, a.postal_code, a.country_code\n"
        "FROM public.customers c LEFT JOIN public.customer_addresses a\n"
        "  ON a.customer_id = c.customer_id AND a.is_primary",
        copies=_copy(("crm_customers", "raw_customers")),
        lineage={
            "raw_customers": {
                f"address.{f}": (Edge(f"crm_addresses.{f}"),)
                for f in ("street", "city", "postal_code", "country_code")
            }
            | {
                "": (
                    Edge("crm_addresses.is_primary", "INDIRECT", "FILTER"),
                    Edge("crm_addresses.customer_id", "INDIRECT", "JOIN"),
                )
            }
        },
        source_path="dags/customer_sync.py",
    ),
    JobSpec(
        "airflow://customer",
        "customer_sync.extract_consents",
        "AIRFLOW",
        "TASK",
        "customer",
        "Copies marketing consents.",
        ("crm_consents",),
        ("raw_consents",),
        sql="SELECT * FROM public.consents",
        copies=_copy(("crm_consents", "raw_consents")),
        source_path="dags/customer_sync.py",
    ),
    JobSpec(
        "dbt://customer",
        "analytics.customer.dim_customers",
        "DBT",
        "MODEL",
        "customer",
        "Pseudonymised customer dimension.",
        ("raw_customers", "raw_consents"),
        ("dim_customers",),
        sql="select md5(c.customer_id::varchar) as customer_key, c.customer_id,\n"
        "  sha2(lower(c.email), 256) as email_sha256,\n"
        "  c.address:country_code::char(2) as country_code, c.address:city as city,\n"
        "  {{ age_band('c.birth_date') }} as age_band,\n"
        "  c.created_at::date as signup_date,\n"
        "  coalesce(k.granted, false) as is_email_marketable\n"
        "from {{ ref('raw_customers') }} c\n"
        "left join {{ ref('raw_consents') }} k\n"
        "  on k.customer_id = c.customer_id and k.channel = 'email'",
        lineage={
            "dim_customers": {
                "customer_key": (
                    Edge(
                        "raw_customers.customer_id",
                        "DIRECT",
                        "TRANSFORMATION",
                        "md5 of the CRM id",
                        masking=True,
                    ),
                ),
                "customer_id": (Edge("raw_customers.customer_id"),),
                "email_sha256": (
                    Edge(
                        "raw_customers.email",
                        "DIRECT",
                        "TRANSFORMATION",
                        "sha2(lower(email))",
                        masking=True,
                    ),
                ),
                "country_code": (Edge("raw_customers.address.country_code"),),
                "city": (Edge("raw_customers.address.city"),),
                "age_band": (
                    Edge(
                        "raw_customers.birth_date",
                        "DIRECT",
                        "TRANSFORMATION",
                        "banded age",
                        masking=True,
                    ),
                ),
                "signup_date": (Edge("raw_customers.created_at", "DIRECT", "TRANSFORMATION"),),
                "is_email_marketable": (Edge("raw_consents.granted", "DIRECT", "TRANSFORMATION"),),
                "": (
                    Edge("raw_consents.customer_id", "INDIRECT", "JOIN"),
                    Edge("raw_consents.channel", "INDIRECT", "FILTER"),
                ),
            }
        },
        assertions={
            "raw_customers": (
                ("not_null", "customer_id"),
                ("unique", "customer_id"),
                ("not_null", "email"),
            )
        },
    ),
    # sales: Airflow extracts, two dbt models
    JobSpec(
        "airflow://sales",
        "sales_ingest",
        "AIRFLOW",
        "DAG",
        "sales",
        "Lands the shop database in the warehouse every night.",
        source_path="dags/sales_ingest.py",
    ),
    JobSpec(
        "airflow://sales",
        "sales_ingest.extract_orders",
        "AIRFLOW",
        "TASK",
        "sales",
        "Incremental copy of orders and order lines.",
        ("sales_orders", "sales_items"),
        ("raw_orders", "raw_items"),
        sql="SELECT * FROM public.orders WHERE updated_at >= '{{ data_interval_start }}'",
        copies=_copy(("sales_orders", "raw_orders"), ("sales_items", "raw_items")),
        source_path="dags/sales_ingest.py",
    ),
    JobSpec(
        "airflow://sales",
        "sales_ingest.extract_reference_data",
        "AIRFLOW",
        "TASK",
        "sales",
        "Full copy of products and refunds.",
        ("sales_products", "sales_refunds"),
        ("raw_products", "raw_refunds"),
        copies=_copy(("sales_products", "raw_products"), ("sales_refunds", "raw_refunds")),
        source_path="dags/sales_ingest.py",
    ),
    JobSpec(
        "dbt://sales",
        "analytics.sales.stg_orders",
        "DBT",
        "MODEL",
        "sales",
        "Typed orders without test orders.",
        ("raw_orders",),
        ("stg_orders",),
        sql="select order_id, customer_id, order_ts::date as order_date, status, currency,\n"
        "  total_amount as gross_amount, shipping_country\n"
        "from {{ source('raw_sales', 'orders') }}\nwhere customer_id <> 0",
        copies=_copy(("raw_orders", "stg_orders")),
        lineage={
            "stg_orders": {
                "order_date": (
                    Edge("raw_orders.order_ts", "DIRECT", "TRANSFORMATION", "cast to date"),
                ),
                "gross_amount": (Edge("raw_orders.total_amount"),),
                "": (Edge("raw_orders.customer_id", "INDIRECT", "FILTER", "test orders"),),
            }
        },
        assertions={
            "raw_orders": (
                ("not_null", "order_id"),
                ("unique", "order_id"),
                ("accepted_values", "status"),
            )
        },
    ),
    JobSpec(
        "dbt://sales",
        "analytics.sales.fct_orders",
        "DBT",
        "MODEL",
        "sales",
        "Orders with their lines rolled up, joined to the customer dimension.",
        ("stg_orders", "raw_items", "dim_customers"),
        ("fct_orders",),
        sql="select o.order_id, c.customer_key, o.order_date, o.status, o.currency,\n"
        "  sum(i.quantity) as item_count, o.gross_amount, o.shipping_country\n"
        "from {{ ref('stg_orders') }} o\n"
        "join {{ source('raw_sales', 'order_items') }} i using (order_id)\n"
        "join {{ ref('dim_customers') }} c using (customer_id)\n"
        "group by all",
        lineage={
            "fct_orders": {
                "order_id": (Edge("stg_orders.order_id"),),
                "customer_key": (Edge("dim_customers.customer_key"),),
                "order_date": (Edge("stg_orders.order_date"),),
                "status": (Edge("stg_orders.status"),),
                "currency": (Edge("stg_orders.currency"),),
                "item_count": (Edge("raw_items.quantity", "DIRECT", "AGGREGATION", "sum"),),
                "gross_amount": (Edge("stg_orders.gross_amount"),),
                "shipping_country": (Edge("stg_orders.shipping_country"),),
                "": (
                    Edge("raw_items.order_id", "INDIRECT", "JOIN"),
                    Edge("dim_customers.customer_id", "INDIRECT", "JOIN"),
                    Edge("stg_orders.order_id", "INDIRECT", "GROUP_BY"),
                ),
            }
        },
        assertions={"stg_orders": (("not_null", "customer_id"), ("relationships", "customer_id"))},
    ),
    # marketing: streaming ingest, Spark, Airflow, dbt
    JobSpec(
        "flink://marketing",
        "clickstream_to_lake",
        "FLINK",
        "JOB",
        "marketing",
        "Streams tracking events from Kafka to the lake, hourly files.",
        ("clickstream_topic",),
        ("clickstream_raw",),
        processing="STREAMING",
        copies=_copy(("clickstream_topic", "clickstream_raw")),
        source_path="jobs/clickstream_to_lake/src/main/java/ClickstreamToLake.java",
    ),
    JobSpec(
        "spark://marketing-emr",
        "sessionize_clicks",
        "SPARK",
        "SQL_JOB",
        "marketing",
        "Builds sessions from the clickstream (30 minutes of inactivity ends one).",
        ("clickstream_raw",),
        ("sessions",),
        minutes=(12, 25),
        sql="INSERT OVERWRITE curated.sessions PARTITION (dt)\n"
        "SELECT session_id, max(customer_id), min(event_ts), max(event_ts), count(*),\n"
        "  first(utm_campaign), max(event_type = 'checkout'), dt\n"
        "FROM raw.clickstream_events WHERE dt = '${ds}' GROUP BY session_id, dt",
        lineage={
            "sessions": {
                "session_id": (Edge("clickstream_raw.session_id"),),
                "customer_id": (Edge("clickstream_raw.customer_id", "DIRECT", "AGGREGATION"),),
                "started_at": (Edge("clickstream_raw.event_ts", "DIRECT", "AGGREGATION"),),
                "ended_at": (Edge("clickstream_raw.event_ts", "DIRECT", "AGGREGATION"),),
                "page_views": (Edge("clickstream_raw.event_id", "DIRECT", "AGGREGATION", "count"),),
                "utm_campaign": (Edge("clickstream_raw.utm_campaign", "DIRECT", "AGGREGATION"),),
                "converted": (Edge("clickstream_raw.event_type", "DIRECT", "AGGREGATION"),),
                "dt": (Edge("clickstream_raw.dt"),),
                "": (
                    Edge("clickstream_raw.dt", "INDIRECT", "FILTER"),
                    Edge("clickstream_raw.session_id", "INDIRECT", "GROUP_BY"),
                ),
            }
        },
    ),
    JobSpec(
        "airflow://marketing",
        "marketing_daily",
        "AIRFLOW",
        "DAG",
        "marketing",
        "Campaign data and housekeeping.",
        source_path="dags/marketing_daily.py",
    ),
    JobSpec(
        "airflow://marketing",
        "marketing_daily.extract_campaigns",
        "AIRFLOW",
        "TASK",
        "marketing",
        "Copies campaigns.",
        ("mkt_campaigns",),
        ("raw_campaigns",),
        copies=_copy(("mkt_campaigns", "raw_campaigns")),
        source_path="dags/marketing_daily.py",
    ),
    JobSpec(
        "airflow://marketing",
        "marketing_daily.drop_legacy_tables",
        "AIRFLOW",
        "TASK",
        "marketing",
        "Drops tables retired by the campaign reporting migration.",
        (),
        ("legacy_stats",),
        sql="DROP TABLE ANALYTICS.MARKETING.LEGACY_CAMPAIGN_STATS",
        source_path="dags/marketing_daily.py",
    ),
    JobSpec(
        "dbt://marketing",
        "analytics.marketing.customer_segments",
        "DBT",
        "MODEL",
        "marketing",
        "Engagement segments of marketable customers.",
        ("dim_customers", "sessions"),
        ("segments",),
        lineage={
            "segments": {
                "customer_key": (Edge("dim_customers.customer_key"),),
                "segment": (
                    Edge(
                        "sessions.session_id",
                        "DIRECT",
                        "AGGREGATION",
                        "sessions in 30 days, banded",
                    ),
                ),
                "sessions_30d": (Edge("sessions.session_id", "DIRECT", "AGGREGATION", "count"),),
                "last_seen_at": (Edge("sessions.ended_at", "DIRECT", "AGGREGATION", "max"),),
                "country_code": (Edge("dim_customers.country_code"),),
                "": (
                    Edge("dim_customers.is_email_marketable", "INDIRECT", "FILTER"),
                    Edge("sessions.customer_id", "INDIRECT", "JOIN"),
                ),
            }
        },
    ),
    JobSpec(
        "dbt://marketing",
        "analytics.marketing.campaign_performance",
        "DBT",
        "MODEL",
        "marketing",
        "Campaign results: sessions, orders, revenue and cost per order.",
        ("sessions", "fct_orders", "raw_campaigns"),
        ("campaign_perf",),
        lineage={
            "campaign_perf": {
                "campaign_id": (Edge("raw_campaigns.campaign_id"),),
                "report_date": (Edge("sessions.dt", "DIRECT", "TRANSFORMATION"),),
                "sessions": (Edge("sessions.session_id", "DIRECT", "AGGREGATION", "count"),),
                "orders": (Edge("fct_orders.order_id", "DIRECT", "AGGREGATION", "count"),),
                "revenue": (Edge("fct_orders.gross_amount", "DIRECT", "AGGREGATION", "sum"),),
                "cost_per_order": (
                    Edge("raw_campaigns.budget_eur", "DIRECT", "TRANSFORMATION"),
                    Edge("fct_orders.order_id", "DIRECT", "AGGREGATION"),
                ),
                "": (
                    Edge("sessions.utm_campaign", "INDIRECT", "JOIN"),
                    Edge("fct_orders.customer_key", "INDIRECT", "JOIN"),
                ),
            }
        },
    ),
    # finance: dbt models, an Airflow close
    JobSpec(
        "dbt://finance",
        "analytics.finance.fct_revenue_daily",
        "DBT",
        "MODEL",
        "finance",
        "Revenue per day and country in EUR, net of refunds.",
        ("fct_orders", "raw_refunds", "dim_fx"),
        ("revenue_daily",),
        sql="select o.order_date as revenue_date, o.shipping_country,\n"
        "  count(*) as orders, sum(o.gross_amount * fx.eur_rate) as gross_revenue_eur,\n"
        "  sum(coalesce(r.amount, 0) * fx.eur_rate) as refunds_eur,\n"
        "  gross_revenue_eur - refunds_eur as net_revenue_eur\n"
        "from {{ ref('fct_orders') }} o\n"
        "left join {{ source('raw_sales', 'refunds') }} r using (order_id)\n"
        "join {{ ref('dim_fx_rates') }} fx\n"
        "  on fx.currency = o.currency and fx.rate_date = o.order_date\n"
        "where o.status = 'completed'\ngroup by 1, 2",
        lineage={
            "revenue_daily": {
                "revenue_date": (Edge("fct_orders.order_date"),),
                "shipping_country": (Edge("fct_orders.shipping_country"),),
                "orders": (Edge("fct_orders.order_id", "DIRECT", "AGGREGATION", "count"),),
                "gross_revenue_eur": (
                    Edge("fct_orders.gross_amount", "DIRECT", "AGGREGATION", "sum in EUR"),
                    Edge("dim_fx.eur_rate", "DIRECT", "TRANSFORMATION"),
                ),
                "refunds_eur": (
                    Edge("raw_refunds.amount", "DIRECT", "AGGREGATION", "sum"),
                    Edge("dim_fx.eur_rate", "DIRECT", "TRANSFORMATION"),
                ),
                "net_revenue_eur": (
                    Edge("fct_orders.gross_amount", "DIRECT", "AGGREGATION"),
                    Edge("raw_refunds.amount", "DIRECT", "AGGREGATION"),
                ),
                "": (
                    Edge("fct_orders.status", "INDIRECT", "FILTER", "completed orders"),
                    Edge("fct_orders.currency", "INDIRECT", "JOIN"),
                    Edge("raw_refunds.order_id", "INDIRECT", "JOIN"),
                    Edge("fct_orders.order_date", "INDIRECT", "GROUP_BY"),
                ),
            }
        },
        assertions={
            "fct_orders": (
                ("not_null", "order_id"),
                ("unique", "order_id"),
                ("not_null", "gross_amount"),
            )
        },
    ),
    JobSpec(
        "dbt://finance",
        "analytics.finance.rpt_revenue_by_region",
        "DBT",
        "MODEL",
        "finance",
        "Monthly revenue by sales region.",
        ("revenue_daily", "dim_customers"),
        ("revenue_region",),
        lineage={
            "revenue_region": {
                "revenue_month": (
                    Edge(
                        "revenue_daily.revenue_date", "DIRECT", "TRANSFORMATION", "date_trunc month"
                    ),
                ),
                "region": (
                    Edge(
                        "revenue_daily.shipping_country",
                        "DIRECT",
                        "TRANSFORMATION",
                        "country to region",
                    ),
                ),
                "net_revenue_eur": (
                    Edge("revenue_daily.net_revenue_eur", "DIRECT", "AGGREGATION", "sum"),
                ),
                "customers": (
                    Edge("dim_customers.customer_key", "DIRECT", "AGGREGATION", "count distinct"),
                ),
                "": (
                    Edge("revenue_daily.revenue_date", "INDIRECT", "GROUP_BY"),
                    Edge("dim_customers.country_code", "INDIRECT", "JOIN"),
                ),
            }
        },
    ),
    JobSpec(
        "airflow://finance",
        "finance_close",
        "AIRFLOW",
        "DAG",
        "finance",
        "Daily close: FX rates in, revenue postings out.",
        source_path="dags/finance_close.py",
    ),
    JobSpec(
        "airflow://finance",
        "finance_close.load_fx_rates",
        "AIRFLOW",
        "TASK",
        "finance",
        "Loads the ECB reference rates file of the day.",
        ("fx_files",),
        ("dim_fx",),
        lineage={
            "dim_fx": {
                "rate_date": (Edge("fx_files.rate_date"),),
                "currency": (Edge("fx_files.quote_currency"),),
                "eur_rate": (Edge("fx_files.rate", "DIRECT", "TRANSFORMATION", "1 / rate"),),
            }
        },
        source_path="dags/finance_close.py",
    ),
    JobSpec(
        "airflow://finance",
        "finance_close.export_ledger",
        "AIRFLOW",
        "TASK",
        "finance",
        "Posts the day's revenue to the general ledger.",
        ("revenue_daily",),
        ("ledger",),
        lineage={
            "ledger": {
                "posting_date": (Edge("revenue_daily.revenue_date"),),
                "amount_eur": (Edge("revenue_daily.net_revenue_eur"),),
                "source_ref": (
                    Edge("revenue_daily.revenue_date", "DIRECT", "TRANSFORMATION"),
                    Edge("revenue_daily.shipping_country", "DIRECT", "TRANSFORMATION"),
                ),
            }
        },
        source_path="dags/finance_close.py",
    ),
    # logistics
    JobSpec(
        "airflow://logistics",
        "logistics_daily",
        "AIRFLOW",
        "DAG",
        "logistics",
        "Shipments in, delivery SLA out.",
        source_path="dags/logistics_daily.py",
    ),
    JobSpec(
        "airflow://logistics",
        "logistics_daily.extract_shipments",
        "AIRFLOW",
        "TASK",
        "logistics",
        "Copies shipments and carriers.",
        ("shipments", "carriers"),
        ("raw_shipments", "raw_carriers"),
        copies=_copy(("shipments", "raw_shipments"), ("carriers", "raw_carriers")),
        source_path="dags/logistics_daily.py",
    ),
    JobSpec(
        "airflow://logistics",
        "logistics_daily.build_delivery_sla",
        "AIRFLOW",
        "TASK",
        "logistics",
        "Delivery time per order against the carrier SLA, and a CSV export.",
        ("raw_shipments", "raw_carriers", "fct_orders"),
        ("delivery_sla", "sla_export"),
        minutes=(6, 14),
        lineage={
            "delivery_sla": {
                "order_id": (Edge("raw_shipments.order_id"),),
                "order_date": (Edge("fct_orders.order_date"),),
                "carrier_code": (Edge("raw_shipments.carrier_code"),),
                "delivery_hours": (
                    Edge("raw_shipments.delivered_at", "DIRECT", "TRANSFORMATION"),
                    Edge("fct_orders.order_date", "DIRECT", "TRANSFORMATION"),
                ),
                "within_sla": (
                    Edge("raw_carriers.sla_hours", "DIRECT", "TRANSFORMATION"),
                    Edge("raw_shipments.delivered_at", "DIRECT", "TRANSFORMATION"),
                ),
                "": (
                    Edge("raw_shipments.order_id", "INDIRECT", "JOIN"),
                    Edge("raw_shipments.status", "INDIRECT", "FILTER", "delivered"),
                ),
            },
            "sla_export": {
                "within_sla_pct": (Edge("delivery_sla.within_sla", "DIRECT", "AGGREGATION"),),
            },
        },
        source_path="dags/logistics_daily.py",
    ),
)
JOB_BY_NAME = {job.name: job for job in JOBS}

# When each pipeline runs (UTC), and what goes wrong when.
DAGS = {  # DAG -> (hour, minute, tasks in order)
    "customer_sync": (0, 30, ("customer_sync.extract_customers", "customer_sync.extract_consents")),
    "sales_ingest": (1, 0, ("sales_ingest.extract_orders", "sales_ingest.extract_reference_data")),
    "marketing_daily": (1, 15, ("marketing_daily.extract_campaigns",)),
    "logistics_daily": (
        1,
        30,
        ("logistics_daily.extract_shipments", "logistics_daily.build_delivery_sla"),
    ),
    "finance_close": (5, 0, ("finance_close.load_fx_rates", "finance_close.export_ledger")),
}
DBT_PROJECTS = {  # (hour, minute) -> models in dependency order
    (2, 0): ("analytics.customer.dim_customers",),
    (3, 0): ("analytics.sales.stg_orders", "analytics.sales.fct_orders"),
    (3, 40): ("analytics.marketing.customer_segments", "analytics.marketing.campaign_performance"),
    (4, 10): ("analytics.finance.fct_revenue_daily", "analytics.finance.rpt_revenue_by_region"),
}
SPARK_AT = (2, 30)

_PY_TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/opt/airflow/.venv/lib/python3.11/site-packages/airflow/models/taskinstance.py", '
    "line 767, in _execute_task\n    result = _execute_callable(context=context, **kwargs)\n"
    '  File "/opt/airflow/dags/{file}", line {line}, in {func}\n    {code}\n'
    "{error}\n"
)
_REVENUE_FAILURE = (
    "Database Error in model fct_revenue_daily (models/marts/fct_revenue_daily.sql)\n"
    "  100038 (22018): Numeric value 'N/A' is not recognized",
    "python",
    "Traceback (most recent call last):\n"
    '  File "/usr/local/lib/python3.11/site-packages/dbt/task/base.py", line 370, '
    "in safe_run\n    result = self.compile_and_execute(manifest, ctx)\n"
    '  File "/usr/local/lib/python3.11/site-packages/dbt/adapters/snowflake/connections.py",'
    " line 223, in exception_handler\n    raise DbtDatabaseError(msg)\n"
    "dbt.exceptions.DbtDatabaseError: Database Error in model fct_revenue_daily\n"
    "  100038 (22018): Numeric value 'N/A' is not recognized\n",
)
FAILURES: dict[tuple[str, int], tuple[str, str, str]] = {
    # (job, days before the anchor) -> (message, language, stack trace)
    ("sales_ingest.extract_orders", 11): (
        'connection to server at "sales-db" (10.20.4.17), port 5432 failed: timeout expired',
        "python",
        _PY_TRACE.format(
            file="sales_ingest.py",
            line=58,
            func="extract_orders",
            code="conn = PostgresHook('sales_db').get_conn()",
            error='psycopg2.OperationalError: connection to server at "sales-db" '
            "(10.20.4.17), port 5432 failed: timeout expired",
        ),
    ),
    # fct_revenue_daily fails again the last two days: its product breaches its SLOs.
    **{("analytics.finance.fct_revenue_daily", day): _REVENUE_FAILURE for day in (9, 2, 1)},
    ("sessionize_clicks", 6): (
        "Job aborted due to stage failure: Task 41 in stage 7.0 failed 4 times: "
        "ExecutorLostFailure (executor 12 exited caused by one of the running tasks) "
        "Reason: Container killed by YARN for exceeding memory limits. 11.1 GB of 11 GB "
        "physical memory used.",
        "scala",
        "org.apache.spark.SparkException: Job aborted due to stage failure: Task 41 in stage "
        "7.0 failed 4 times\n"
        "\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages"
        "(DAGScheduler.scala:2898)\n"
        "\tat org.apache.spark.scheduler.DAGScheduler.$anonfun$abortStage$2"
        "(DAGScheduler.scala:2834)\n"
        "\tat org.apache.spark.sql.execution.datasources.FileFormatWriter$.write"
        "(FileFormatWriter.scala:262)\n",
    ),
    **{
        ("logistics_daily.build_delivery_sla", day): (
            "KeyError: 'sla_hours'",
            "python",
            _PY_TRACE.format(
                file="logistics_daily.py",
                line=112,
                func="build_delivery_sla",
                code="promised = carrier['sla_hours']",
                error="KeyError: 'sla_hours'",
            ),
        )
        for day in (2, 1)
    },
}
RETRIED = {("sales_ingest.extract_orders", 11)}  # failed, then succeeded on the second try
LATE = {("finance_close", 1): timedelta(hours=3, minutes=45)}  # waited on an upstream sensor
FAILED_ASSERTION = ("raw_customers", "unique", "customer_id", 4)  # dataset, test, column, day


# --- events -------------------------------------------------------------------------------


def default_anchor(now: datetime | None = None) -> datetime:
    """The start of the current hour, UTC: the same events all hour long."""
    return (now or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _facet(producer: str, name: str, version: str = "1-0-1") -> dict[str, str]:
    return {
        "_producer": producer,
        "_schemaURL": f"https://openlineage.io/spec/facets/{version}/{name}.json#/$defs/{name}",
    }


def _run_id(job: str, at: datetime, attempt: int = 1) -> str:
    return str(uuid.uuid5(RUN_NAMESPACE, f"{job}@{_iso(at)}#{attempt}"))


def _fields(cols: tuple[Col, ...]) -> list[dict[str, Any]]:
    result = []
    for col in cols:
        item: dict[str, Any] = {"name": col.name, "type": col.type}
        if col.description:
            item["description"] = col.description
        if col.fields:
            item["fields"] = _fields(col.fields)
        result.append(item)
    return result


def _has_pii(cols: tuple[Col, ...]) -> bool:
    return any(c.pii or _has_pii(c.fields) for c in cols)


class DemoMesh:
    """Turns the specs above into events for the timeline ending at ``anchor``."""

    def __init__(self, anchor: datetime):
        self.anchor = anchor.astimezone(UTC)

    def day_start(self, day: int) -> datetime:
        return self.anchor - timedelta(days=day)

    # --- datasets --------------------------------------------------------------------

    def dataset_facets(self, ds: DatasetSpec, day: int, producer: str) -> dict[str, Any]:
        owner, steward = TEAMS[ds.domain]
        tags = [{"key": "domain", "value": ds.domain, "source": "MANUAL"}]
        if _has_pii(ds.columns):
            tags.append({"key": "pii", "value": "true", "source": "CLASSIFIER"})
        tags += [{"key": k, "value": v, "source": "MANUAL"} for k, v in ds.tags]
        facets: dict[str, Any] = {
            "schema": {
                **_facet(producer, "SchemaDatasetFacet", "1-1-1"),
                "fields": _fields(ds.columns_on(day)),
            },
            "dataSource": {
                **_facet(producer, "DatasourceDatasetFacet"),
                "name": ds.source[0],
                "uri": ds.source[1],
            },
            "documentation": {
                **_facet(producer, "DocumentationDatasetFacet"),
                "description": ds.description,
            },
            "datasetType": {
                **_facet(producer, "DatasetTypeDatasetFacet", "1-0-0"),
                "datasetType": ds.kind,
                "subType": "",
            },
            "ownership": {
                **_facet(producer, "OwnershipDatasetFacet"),
                "owners": [
                    {"name": owner, "type": "TEAM"},
                    {"name": steward, "type": "DATA_STEWARD"},
                ],
            },
            "tags": {**_facet(producer, "TagsDatasetFacet", "1-0-0"), "tags": tags},
        }
        if ds.symlink:
            facets["symlinks"] = {
                **_facet(producer, "SymlinksDatasetFacet"),
                "identifiers": [
                    {"namespace": ds.symlink[0], "name": ds.symlink[1], "type": "TABLE"}
                ],
            }
        return facets

    def rows(self, ds: DatasetSpec, at: datetime, rng: random.Random) -> int:
        days = (at - self.day_start(DAYS)).total_seconds() / 86400
        noise = rng.randint(0, max(1, int(ds.rows * ds.growth * 0.3)))
        return int(ds.rows * (1 + ds.growth) ** days) + noise

    def _input(self, job: JobSpec, key: str, day: int, full: bool) -> dict[str, Any]:
        ds = DATASETS[key]
        ref: dict[str, Any] = {"namespace": ds.namespace, "name": ds.name}
        if full:
            ref["facets"] = self.dataset_facets(ds, day, PRODUCERS[job.integration])
            checks = job.assertions.get(key)
            if checks:
                ref["inputFacets"] = {
                    "dataQualityAssertions": self._assertions(job, key, checks, day)
                }
        return ref

    def _assertions(
        self, job: JobSpec, key: str, checks: tuple[tuple[str, str], ...], day: int
    ) -> dict[str, Any]:
        failing = FAILED_ASSERTION[0] == key and FAILED_ASSERTION[3] == day
        return {
            **_facet(PRODUCERS[job.integration], "DataQualityAssertionsDatasetFacet"),
            "assertions": [
                {
                    "assertion": test,
                    "column": column,
                    "success": not (failing and (test, column) == FAILED_ASSERTION[1:3]),
                    "severity": "warn" if test == "unique" else "error",
                }
                for test, column in checks
            ],
        }

    def _output(
        self, job: JobSpec, key: str, day: int, at: datetime, full: bool, rng: random.Random
    ) -> dict[str, Any]:
        ds = DATASETS[key]
        ref: dict[str, Any] = {"namespace": ds.namespace, "name": ds.name}
        if not full:
            return ref
        facets = self.dataset_facets(ds, day, PRODUCERS[job.integration])
        lineage = self.column_lineage(job, key, day)
        if lineage:
            facets["columnLineage"] = lineage
        ref["facets"] = facets
        rows = self.rows(ds, at, rng)
        ref["outputFacets"] = {
            "outputStatistics": {
                **_facet(PRODUCERS[job.integration], "OutputStatisticsOutputDatasetFacet", "1-0-2"),
                "rowCount": rows,
                "size": rows * 160,
                **({"fileCount": max(1, rows // 2_000_000)} if ds.kind == "FILE" else {}),
            }
        }
        return ref

    def column_lineage(self, job: JobSpec, key: str, day: int) -> dict[str, Any] | None:
        edges: dict[str, tuple[Edge, ...]] = {}
        for source, target in job.copies:
            if target == key:
                names = {c.name for c in DATASETS[source].columns_on(day)}
                for col in DATASETS[target].columns_on(day):
                    if col.name in names:
                        edges[col.name] = (Edge(f"{source}.{col.name}"),)
        edges.update(job.lineage.get(key, {}))
        if not edges:
            return None
        fields = {
            name: {"inputFields": [self._input_field(e) for e in found]}
            for name, found in edges.items()
            if name
        }
        result: dict[str, Any] = {
            **_facet(PRODUCERS[job.integration], "ColumnLineageDatasetFacet", "1-2-0"),
            "fields": fields,
        }
        if edges.get(""):
            result["dataset"] = [self._input_field(e) for e in edges[""]]
        return result

    @staticmethod
    def _input_field(edge: Edge) -> dict[str, Any]:
        key, _, column = edge.source.partition(".")
        ds = DATASETS[key]
        transformation: dict[str, Any] = {"type": edge.type, "subtype": edge.subtype}
        if edge.description:
            transformation["description"] = edge.description
        if edge.masking:
            transformation["masking"] = True
        return {
            "namespace": ds.namespace,
            "name": ds.name,
            "field": column,
            "transformations": [transformation],
        }

    # --- jobs and runs ---------------------------------------------------------------

    def job_facets(self, job: JobSpec) -> dict[str, Any]:
        producer = PRODUCERS[job.integration]
        owner, _ = TEAMS[job.domain]
        facets: dict[str, Any] = {
            "jobType": {
                **_facet(producer, "JobTypeJobFacet", "2-0-3"),
                "processingType": job.processing,
                "integration": job.integration,
                "jobType": job.job_type,
            },
            "documentation": {
                **_facet(producer, "DocumentationJobFacet"),
                "description": job.description,
            },
            "ownership": {
                **_facet(producer, "OwnershipJobFacet"),
                "owners": [{"name": owner, "type": "TEAM"}],
            },
        }
        if job.sql:
            dialect = {"DBT": "snowflake", "SPARK": "spark"}.get(job.integration, "postgres")
            facets["sql"] = {
                **_facet(producer, "SQLJobFacet"),
                "query": job.sql,
                "dialect": dialect,
            }
        if job.source_path:
            repo = f"https://github.com/acme/{job.domain}-pipelines"
            facets["sourceCodeLocation"] = {
                **_facet(producer, "SourceCodeLocationJobFacet"),
                "type": "git",
                "url": f"{repo}/blob/main/{job.source_path}",
                "repoUrl": repo,
                "path": job.source_path,
                "branch": "main",
            }
        return facets

    def run_facets(
        self, job: JobSpec, nominal: datetime | None, parent: tuple[JobSpec, str] | None
    ) -> dict[str, Any]:
        producer = PRODUCERS[job.integration]
        name, version = ENGINES[job.integration]
        facets: dict[str, Any] = {
            "processing_engine": {
                **_facet(producer, "ProcessingEngineRunFacet", "1-1-1"),
                "name": name,
                "version": version,
                "openlineageAdapterVersion": "1.26.0",
            }
        }
        if nominal is not None:
            facets["nominalTime"] = {
                **_facet(producer, "NominalTimeRunFacet"),
                "nominalStartTime": _iso(nominal),
                "nominalEndTime": _iso(nominal + timedelta(days=1)),
            }
        if parent is not None:
            pjob, prun = parent
            ref = {"run": {"runId": prun}, "job": {"namespace": pjob.namespace, "name": pjob.name}}
            facets["parent"] = {**_facet(producer, "ParentRunFacet", "1-1-0"), **ref, "root": ref}
        return facets

    def event(
        self,
        event_type: str,
        at: datetime,
        job: JobSpec,
        run_id: str,
        run_facets: dict[str, Any],
        inputs: list[dict[str, Any]],
        outputs: list[dict[str, Any]],
    ) -> dict[str, Any]:
        return {
            "eventType": event_type,
            "eventTime": _iso(at),
            "producer": PRODUCERS[job.integration],
            "schemaURL": SCHEMA_URL + "RunEvent",
            "run": {"runId": run_id, "facets": run_facets},
            "job": {"namespace": job.namespace, "name": job.name, "facets": self.job_facets(job)},
            "inputs": inputs,
            "outputs": outputs,
        }

    def batch_run(
        self,
        job: JobSpec,
        day: int,
        start: datetime,
        *,
        nominal: datetime | None = None,
        parent: tuple[JobSpec, str] | None = None,
        attempt: int = 1,
    ) -> tuple[list[dict[str, Any]], datetime, bool]:
        """START and COMPLETE (or FAIL) of one run; returns the events, end and success."""
        rng = random.Random(f"{job.name}@{_iso(start)}#{attempt}")
        end = start + timedelta(minutes=rng.uniform(*job.minutes))
        run_id = _run_id(job.name, nominal or start, attempt)
        failure = FAILURES.get((job.name, day)) if attempt == 1 else None
        facets = self.run_facets(job, nominal, parent)
        events = [
            self.event(
                "START",
                start,
                job,
                run_id,
                facets,
                [self._input(job, k, day, False) for k in job.inputs],
                [self._output(job, k, day, start, False, rng) for k in job.outputs],
            )
        ]
        end_facets = dict(facets)
        if failure is not None:
            message, language, trace = failure
            end_facets["errorMessage"] = {
                **_facet(PRODUCERS[job.integration], "ErrorMessageRunFacet"),
                "message": message,
                "programmingLanguage": language,
                "stackTrace": trace,
            }
        outputs = (
            [] if failure else [self._output(job, k, day, end, True, rng) for k in job.outputs]
        )
        events.append(
            self.event(
                "FAIL" if failure else "COMPLETE",
                end,
                job,
                run_id,
                end_facets,
                [self._input(job, k, day, True) for k in job.inputs],
                outputs,
            )
        )
        return events, end, failure is None

    # --- the timeline ----------------------------------------------------------------

    def events(self) -> list[dict[str, Any]]:
        events = list(self._dataset_events())
        events += self._streaming()
        for day in range(DAYS, 0, -1):
            for dag in DAGS:
                events += self._dag_run(dag, day)
            for at, models in DBT_PROJECTS.items():
                events += self._dbt_run(models, day, at)
            spark = JOB_BY_NAME["sessionize_clicks"]
            start = self.day_start(day) + timedelta(hours=SPARK_AT[0], minutes=SPARK_AT[1])
            events += self.batch_run(spark, day, start, nominal=start)[0]
        events.sort(key=lambda e: e["eventTime"])
        return events

    def _dag_run(self, dag: str, day: int) -> list[dict[str, Any]]:
        hour, minute, task_names = DAGS[dag]
        nominal = self.day_start(day) + timedelta(hours=hour, minutes=minute)
        start = nominal + LATE.get((dag, day), timedelta(seconds=7))
        dag_job = JOB_BY_NAME[dag]
        dag_run = _run_id(dag, nominal)
        facets = self.run_facets(dag_job, nominal, None)
        events = [self.event("START", start, dag_job, dag_run, facets, [], [])]
        at, ok, failed = start + timedelta(seconds=20), True, ""
        tasks = list(task_names)
        if dag == "marketing_daily" and day == DROP_DAY:
            tasks.append("marketing_daily.drop_legacy_tables")
        for name in tasks:
            task = JOB_BY_NAME[name]
            if name.endswith("drop_legacy_tables"):
                events += self._drop(task, day, at, nominal, (dag_job, dag_run))
                continue
            run, at, ok = self.batch_run(task, day, at, nominal=nominal, parent=(dag_job, dag_run))
            events += run
            if not ok and (name, day) in RETRIED:
                at += timedelta(minutes=5)
                run, at, ok = self.batch_run(
                    task, day, at, nominal=nominal, parent=(dag_job, dag_run), attempt=2
                )
                events += run
            if not ok:
                failed = name
                break
            at += timedelta(seconds=15)
        end_facets = dict(facets)
        if failed:
            end_facets["errorMessage"] = {
                **_facet(PRODUCERS["AIRFLOW"], "ErrorMessageRunFacet"),
                "message": f"Task {failed.split('.', 1)[1]} failed; downstream tasks skipped",
                "programmingLanguage": "python",
            }
        events.append(
            self.event(
                "FAIL" if failed else "COMPLETE",
                at + timedelta(seconds=10),
                dag_job,
                dag_run,
                end_facets,
                [],
                [],
            )
        )
        return events

    def _dbt_run(
        self, models: tuple[str, ...], day: int, at: tuple[int, int]
    ) -> list[dict[str, Any]]:
        start = self.day_start(day) + timedelta(hours=at[0], minutes=at[1])
        events: list[dict[str, Any]] = []
        for name in models:
            run, start, ok = self.batch_run(JOB_BY_NAME[name], day, start)
            events += run
            if not ok:
                break  # dbt skips the models downstream of a failure
            start += timedelta(seconds=4)
        return events

    def _drop(
        self, job: JobSpec, day: int, at: datetime, nominal: datetime, parent: tuple[JobSpec, str]
    ) -> list[dict[str, Any]]:
        ds = DATASETS[job.outputs[0]]
        producer = PRODUCERS[job.integration]
        run_id = _run_id(job.name, nominal)
        facets = self.run_facets(job, nominal, parent)
        dropped = {
            "namespace": ds.namespace,
            "name": ds.name,
            "facets": {
                "lifecycleStateChange": {
                    **_facet(producer, "LifecycleStateChangeDatasetFacet"),
                    "lifecycleStateChange": "DROP",
                },
            },
        }
        return [
            self.event("START", at, job, run_id, facets, [], [dict(dropped, facets={})]),
            self.event("COMPLETE", at + timedelta(seconds=3), job, run_id, facets, [], [dropped]),
        ]

    def _streaming(self) -> list[dict[str, Any]]:
        """A Flink job started two weeks ago and still running: a START, then a RUNNING
        event each day with the rows written so far."""
        job = JOB_BY_NAME["clickstream_to_lake"]
        started = self.day_start(DAYS) + timedelta(minutes=1)
        run_id = _run_id(job.name, started)
        facets = self.run_facets(job, None, None)
        inputs = [self._input(job, "clickstream_topic", DAYS, True)]
        events = [
            self.event(
                "START",
                started,
                job,
                run_id,
                facets,
                inputs,
                [self._output(job, "clickstream_raw", DAYS, started, False, random.Random(0))],
            )
        ]
        for day in range(DAYS - 1, -1, -1):
            at = self.day_start(day) - timedelta(minutes=5)
            rng = random.Random(f"{job.name}@{_iso(at)}")
            output = self._output(job, "clickstream_raw", day, at, True, rng)
            events.append(self.event("RUNNING", at, job, run_id, facets, inputs, [output]))
        return events

    def _dataset_events(self) -> Iterator[dict[str, Any]]:
        """The metadata crawler describes the operational sources and the deprecated table
        once, before any pipeline ran."""
        at = self.day_start(DAYS)
        producer = PRODUCERS["CRAWLER"]
        for key in (
            "crm_customers",
            "crm_addresses",
            "crm_consents",
            "sales_orders",
            "sales_items",
            "sales_products",
            "sales_refunds",
            "orders_cdc",
            "mkt_campaigns",
            "shipments",
            "carriers",
            "legacy_stats",
        ):
            ds = DATASETS[key]
            yield {
                "eventTime": _iso(at),
                "producer": producer,
                "schemaURL": SCHEMA_URL + "DatasetEvent",
                "dataset": {
                    "namespace": ds.namespace,
                    "name": ds.name,
                    "facets": self.dataset_facets(ds, DAYS, producer),
                },
            }


def demo_events(anchor: datetime | None = None) -> list[dict[str, Any]]:
    """Every event of the demo mesh, oldest first, for the timeline ending at ``anchor``."""
    return DemoMesh(anchor or default_anchor()).events()


def demo_namespaces() -> set[str]:
    return (
        {d.namespace for d in DATASETS.values()}
        | {j.namespace for j in JOBS}
        | {d.symlink[0] for d in DATASETS.values() if d.symlink}
    )


# --- loading ------------------------------------------------------------------------------


@dataclass
class DemoLoad:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    skipped: bool = False


def demo_is_loaded() -> bool:
    """Whether the demo was loaded: its raw events, or, once ``purge_events`` trimmed
    those, the runs of its first job (a reload would post the whole history again)."""
    if LineageEvent.objects.filter(token_name=TOKEN_NAME).exists():
        return True
    first = JOBS[0]
    return Run.objects.filter(job__namespace__name=first.namespace, job__name=first.name).exists()


def demo_load(
    *,
    anchor: datetime | None = None,
    chunk: int = 200,
    progress: Callable[[int], object] | None = None,
) -> DemoLoad:
    """Post the demo events through the ingestion service, oldest first, in chunks.

    ``progress`` is called with the number of events of each chunk done.
    """
    events = demo_events(anchor)
    result = DemoLoad(received=len(events))
    for i in range(0, len(events), chunk):
        batch = lineage_events_ingest(payloads=events[i : i + chunk], token_name=TOKEN_NAME)
        result.accepted += batch.accepted
        result.duplicates += batch.duplicates
        result.failed += [{**f, "index": f["index"] + i} for f in batch.failed]
        if progress is not None:
            progress(len(events[i : i + chunk]))
    return result


def demo_summary() -> dict[str, Any]:
    """What the demo namespaces hold now: jobs, datasets, and runs by state."""
    namespaces = demo_namespaces()
    jobs = Job.objects.filter(namespace__name__in=namespaces)
    runs = Run.objects.filter(job__in=jobs).values("state").annotate(n=Count("id"))
    return {
        "namespaces": len(namespaces),
        "jobs": jobs.count(),
        "datasets": Dataset.objects.filter(namespace__name__in=namespaces).count(),
        "runs": {row["state"]: row["n"] for row in runs.order_by("state")},
    }


def anchor_from_date(value: date) -> datetime:
    return datetime.combine(value, time(0, 0), tzinfo=UTC)
