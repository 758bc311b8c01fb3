"""The re-authentication throttle (one row per admin account), the audit trail's
"re-authentication" scope for wrong passwords, and its count of superusers' sessions a
lesser admin's kill spared (``PROTECT_SUPERUSERS``)."""

from __future__ import annotations

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_panel", "0006_auditentry_filters"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="spared",
            field=models.PositiveIntegerField(
                default=0, verbose_name="superusers' sessions spared"
            ),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="scope",
            field=models.CharField(
                choices=[
                    ("session", "one session"),
                    ("user", "all sessions of a user"),
                    ("all", "all sessions"),
                    ("filter", "sessions matching a filter"),
                    ("reauth", "re-authentication"),
                ],
                max_length=10,
                verbose_name="scope",
            ),
        ),
        migrations.CreateModel(
            name="ReauthThrottle",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("failures", models.PositiveIntegerField(default=0)),
                ("since", models.FloatField()),
                ("locked_until", models.FloatField(blank=True, null=True)),
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
    ]
