from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import migrations, models

#: Sessions indexed before this migration carried their creation time in their data;
#: the index's ``created`` is the best issue time left for them (so an upgrade logs
#: nobody out that the old stamp would have kept).
EPOCH_OF_CREATED = {
    "sqlite": "(julianday(created) - 2440587.5) * 86400.0",
    "postgresql": "EXTRACT(EPOCH FROM created)",
}


def issued_from_created(apps: Any, schema_editor: Any) -> None:
    record = apps.get_model("sessions_panel", "SessionRecord")
    connection = schema_editor.connection
    expression = EPOCH_OF_CREATED.get(connection.vendor)
    if expression is not None:
        table = connection.ops.quote_name(record._meta.db_table)
        schema_editor.execute(f"UPDATE {table} SET issued = {expression}")
        return
    for row in record.objects.using(connection.alias).only("pk", "created").iterator():
        record.objects.using(connection.alias).filter(pk=row.pk).update(
            issued=row.created.timestamp()
        )


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_panel", "0003_search_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="sessionrecord",
            name="issued",
            field=models.FloatField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="sessionrecord",
            name="verified",
            field=models.FloatField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(issued_from_created, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="sessionrecord",
            index=models.Index(fields=["issued"], name="sessions_pa_issued_idx"),
        ),
    ]
