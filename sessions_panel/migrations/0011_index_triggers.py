"""Triggers on the index table: its row count (sessions_panel/tracking/index_count.py)
and the address history (sessions_panel/tracking/address_history.py)."""

import django.utils.timezone
from django.db import migrations, models


def install(apps, schema_editor):
    from sessions_panel.tracking import address_history, index_count

    index_count.install(schema_editor.connection.alias)
    address_history.install(schema_editor.connection.alias)


def uninstall(apps, schema_editor):
    from sessions_panel.tracking import address_history, index_count

    address_history.uninstall(schema_editor.connection.alias)
    index_count.uninstall(schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("sessions_panel", "0010_lockdown")]

    operations = [
        migrations.CreateModel(
            name="IndexCount",
            fields=[
                ("slot", models.PositiveSmallIntegerField(primary_key=True, serialize=False)),
                ("total", models.BigIntegerField(default=0)),
            ],
            options={"default_permissions": ()},
        ),
        migrations.CreateModel(
            name="Sweep",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("epoch", models.FloatField()),
                ("started", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={"default_permissions": ()},
        ),
        migrations.RunPython(install, uninstall),
    ]
