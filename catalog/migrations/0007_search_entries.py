"""The tables of the PostgreSQL search backend (``catalog.search.postgres_backend``).

The three models exist on every database, so that the migration history is one; what
only PostgreSQL can index — the ``tsvector`` of terms, the facet values as ``text[]``,
their GIN indexes and the trigram index of the terms typos are corrected to — is added
on PostgreSQL alone. The backend refuses to start on another database.
"""

from typing import Any

from django.db import migrations, models


class PostgresOnly(migrations.RunSQL):
    """SQL that runs on PostgreSQL and is skipped elsewhere; with ``last``, after the
    statements Django defers to the end of the migration."""

    def __init__(self, *args: Any, last: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last = last

    def database_forwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        if self.last:
            schema_editor.deferred_sql.extend(self.sql)
        else:
            super().database_forwards(app_label, schema_editor, *args)

    def database_backwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, *args)


FORWARDS = [
    # pg_trgm is a trusted extension: a database owner may create it.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """ALTER TABLE catalog_searchentry
        ADD COLUMN terms tsvector NOT NULL DEFAULT '',
        ADD COLUMN facet_terms text[] NOT NULL DEFAULT '{}',
        ADD COLUMN lengths real[] NOT NULL DEFAULT '{}',
        ALTER COLUMN sort_name TYPE text COLLATE "C"
    """,
    # Rows stay uncompressed up to 8 kB, and terms are the last to be compressed: scoring
    # tests a match's terms a dozen times, and would decompress them for each test.
    "ALTER TABLE catalog_searchentry SET (toast_tuple_target = 8160)",
    "ALTER TABLE catalog_searchentry ALTER COLUMN terms SET STORAGE MAIN",
    "CREATE INDEX search_entry_terms ON catalog_searchentry USING gin (terms)",
    "CREATE INDEX search_entry_facets ON catalog_searchentry USING gin (facet_terms)",
    # Byte order, so that a prefix is a range of the primary key (``LIKE 'p:cu%'``).
    'ALTER TABLE catalog_searchterm ALTER COLUMN term TYPE text COLLATE "C"',
    """CREATE INDEX search_term_similar ON catalog_searchterm
        USING gist (substr(term, 3) gist_trgm_ops)
        WHERE left(term, 2) IN ('n:', 'c:') AND substr(term, 3) !~ '[^[:alpha:]]'
    """,
]
# Django's pattern-ops twins of the text primary keys, which it creates last: nothing
# here matches ids with LIKE, and terms are in byte order already. Fewer indexes to write.
LAST = [
    """DO $$ DECLARE twin text; BEGIN
        FOR twin IN SELECT indexname FROM pg_indexes WHERE tablename IN
            ('catalog_searchentry', 'catalog_searchterm', 'catalog_searchlabel')
            AND indexname LIKE '%\\_like'
        LOOP EXECUTE format('DROP INDEX %I', twin); END LOOP;
    END $$"""
]
BACKWARDS = [
    "DROP INDEX IF EXISTS search_term_similar",
    "ALTER TABLE catalog_searchterm ALTER COLUMN term TYPE text",
    "DROP INDEX IF EXISTS search_entry_facets",
    "DROP INDEX IF EXISTS search_entry_terms",
    "ALTER TABLE catalog_searchentry RESET (toast_tuple_target)",
    """ALTER TABLE catalog_searchentry
        DROP COLUMN IF EXISTS terms,
        DROP COLUMN IF EXISTS facet_terms,
        DROP COLUMN IF EXISTS lengths,
        ALTER COLUMN sort_name TYPE text
    """,
]


class Migration(migrations.Migration):
    dependencies = [("catalog", "0006_stewards_group")]

    operations = [
        migrations.CreateModel(
            name="SearchEntry",
            fields=[
                ("id", models.CharField(max_length=300, primary_key=True, serialize=False)),
                ("type", models.CharField(max_length=16)),
                ("name", models.TextField()),
                ("sort_name", models.TextField()),
                ("document", models.JSONField(default=dict)),
                ("fingerprint", models.CharField(max_length=32)),
                ("rank", models.FloatField(default=1.0)),
                ("updated", models.BigIntegerField(default=0)),
            ],
            options={
                "verbose_name_plural": "search entries",
                "indexes": [
                    models.Index(fields=["-rank"], name="search_entry_rank"),
                    models.Index(fields=["sort_name", "id"], name="search_entry_name"),
                    models.Index(fields=["-updated"], name="search_entry_updated"),
                    models.Index(fields=["type"], name="search_entry_type"),
                ],
            },
        ),
        migrations.CreateModel(
            name="SearchLabel",
            fields=[
                ("value", models.TextField(primary_key=True, serialize=False)),
                ("label", models.TextField()),
            ],
        ),
        migrations.CreateModel(
            name="SearchTerm",
            fields=[
                ("term", models.TextField(primary_key=True, serialize=False)),
                ("docs", models.IntegerField(default=0)),
                ("length", models.BigIntegerField(default=0)),
            ],
        ),
        PostgresOnly(FORWARDS, BACKWARDS),
        PostgresOnly(LAST, migrations.RunSQL.noop, last=True),
    ]
