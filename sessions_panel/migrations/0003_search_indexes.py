"""Search indexes: the user search's own table and its trigram index (filled from the user
table), and sessions by application in page order."""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def create_index(apps: Any, schema_editor: Any) -> None:
    from sessions_panel import trigram

    trigram.create(schema_editor.connection)  # no index: the search scans, as before


def drop_index(apps: Any, schema_editor: Any) -> None:
    from sessions_panel import trigram

    trigram.drop(schema_editor.connection)


def fill(apps: Any, schema_editor: Any) -> None:
    from sessions_panel import usertext

    usertext.rebuild(
        apps.get_model(settings.AUTH_USER_MODEL),
        apps.get_model("sessions_panel", "UserSearchText"),
        using=schema_editor.connection.alias,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_panel", "0002_ip_expiry_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="UserSearchText",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("text", models.TextField()),
                (
                    "user",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"default_permissions": ()},
        ),
        # Filled before the index is built: one bulk build instead of 200,000 updates.
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RunPython(create_index, drop_index),
        migrations.AddIndex(
            model_name="sessionrecord",
            index=models.Index(
                fields=["application", "last_seen", "id"], name="sessions_pa_app_seen_idx"
            ),
        ),
    ]
