import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0008_audit_entries"),
    ]

    operations = [
        migrations.CreateModel(
            name="LoginFailure",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("username", models.CharField(blank=True, max_length=150)),
                ("ip", models.CharField(blank=True, max_length=45)),
                ("at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "indexes": [
                    models.Index(fields=["username", "at"], name="login_failure_user_idx"),
                    models.Index(fields=["ip", "at"], name="login_failure_ip_idx"),
                    models.Index(fields=["at"], name="login_failure_at_idx"),
                ],
            },
        ),
    ]
