"""Dedupe raw events on ``(event_time, hash)``; drop foreign-key indexes that another
index of the same table already leads with.

Written so that a large SQLite store is rebuilt once, not once per operation: Django's
SQLite backend copies the whole table for every altered field and every added
constraint, and a store of a million events holds ~10 GB in these tables. Here only
``lineage_lineageevent`` is copied (its column-level UNIQUE cannot be dropped any other
way); the unique key is a ``CREATE UNIQUE INDEX`` on SQLite and the foreign-key indexes are
dropped by name, which is all ``db_index=False`` changes in the database.
"""

from django.db import migrations, models

EVENT_KEY = models.UniqueConstraint(fields=("event_time", "hash"), name="event_time_hash_uniq")

# (model, field, target, on_delete, related_name, index Django named when it made the
# column): the foreign keys as they were, but for the index.
FOREIGN_KEYS = [
    (
        "columnlineage",
        "input_dataset",
        "catalog.dataset",
        "CASCADE",
        "column_outputs",
        "lineage_columnlineage_input_dataset_id_4e697772",
    ),
    (
        "columnlineage",
        "output_dataset",
        "catalog.dataset",
        "CASCADE",
        "column_inputs",
        "lineage_columnlineage_output_dataset_id_f6cd5ce4",
    ),
    (
        "dataqualityassertion",
        "dataset",
        "catalog.dataset",
        "CASCADE",
        "assertions",
        "lineage_dataqualityassertion_dataset_id_dd38fbef",
    ),
    (
        "dataqualityassertion",
        "run",
        "lineage.run",
        "CASCADE",
        "assertions",
        "lineage_dataqualityassertion_run_id_5fd8de05",
    ),
    (
        "datasetstatistics",
        "dataset",
        "catalog.dataset",
        "CASCADE",
        "statistics",
        "lineage_datasetstatistics_dataset_id_a0a7786c",
    ),
    (
        "datasetstatistics",
        "run",
        "lineage.run",
        "CASCADE",
        "statistics",
        "lineage_datasetstatistics_run_id_511dae59",
    ),
    (
        "job",
        "namespace",
        "catalog.namespace",
        "PROTECT",
        "jobs",
        "lineage_job_namespace_id_59e12c95",
    ),
    (
        "jobdataset",
        "dataset",
        "catalog.dataset",
        "CASCADE",
        "job_edges",
        "lineage_jobdataset_dataset_id_df836046",
    ),
    (
        "jobdataset",
        "job",
        "lineage.job",
        "CASCADE",
        "dataset_edges",
        "lineage_jobdataset_job_id_86a797d0",
    ),
    ("run", "job", "lineage.job", "CASCADE", "runs", "lineage_run_job_id_80730682"),
    (
        "rundataset",
        "dataset",
        "catalog.dataset",
        "CASCADE",
        "run_io",
        "lineage_rundataset_dataset_id_e37493c9",
    ),
    ("rundataset", "run", "lineage.run", "CASCADE", "io", "lineage_rundataset_run_id_d17325a7"),
]


def _unindexed(target: str, on_delete: str, related_name: str) -> models.ForeignKey:
    return models.ForeignKey(
        target, on_delete=getattr(models, on_delete), related_name=related_name, db_index=False
    )


def add_event_key(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            'CREATE UNIQUE INDEX "event_time_hash_uniq" '
            'ON "lineage_lineageevent" ("event_time", "hash")'
        )
    else:
        schema_editor.add_constraint(apps.get_model("lineage", "LineageEvent"), EVENT_KEY)


def remove_event_key(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute('DROP INDEX IF EXISTS "event_time_hash_uniq"')
    else:
        schema_editor.remove_constraint(apps.get_model("lineage", "LineageEvent"), EVENT_KEY)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0009_login_failures"),
        ("lineage", "0003_change_outbox"),
    ]

    operations = [
        migrations.AlterField(
            model_name="lineageevent",
            name="hash",
            field=models.CharField(max_length=64),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddConstraint(model_name="lineageevent", constraint=EVENT_KEY)
            ],
            database_operations=[migrations.RunPython(add_event_key, remove_event_key)],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name=model, name=field, field=_unindexed(target, on_delete, related)
                )
                for model, field, target, on_delete, related, _ in FOREIGN_KEYS
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX "{index}" ON "lineage_{model}" ("{field}_id")',
                )
                for model, field, *_, index in FOREIGN_KEYS
            ],
        ),
    ]
