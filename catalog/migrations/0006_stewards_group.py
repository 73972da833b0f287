"""The ``Stewards`` group: its members govern the mesh (see ``catalog.roles``)."""

from typing import Any

from django.db import migrations

STEWARDS_GROUP = "Stewards"


def create(apps: Any, schema_editor: Any) -> None:
    apps.get_model("auth", "Group").objects.get_or_create(name=STEWARDS_GROUP)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("catalog", "0005_ownership_backfill"),
    ]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
