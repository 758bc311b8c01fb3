from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_panel", "0005_audit_trail_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="filters",
            field=models.JSONField(blank=True, default=dict, editable=False),
        ),
    ]
