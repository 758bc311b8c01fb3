"""Session policies (issue 16): when a session was last used and when its user logged
in, both by the database's clock, and the audit trail's "session policy" scope.

No data is rewritten: an existing row gets its ``seen`` at its next "last seen" write,
and its issue time stands in for ``logged_in`` (see ``sessions_panel.policies``).
"""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("sessions_panel", "0007_reauth_throttle_and_spared")]

    operations = [
        migrations.AddField(
            model_name="sessionrecord",
            name="seen",
            field=models.FloatField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="sessionrecord",
            name="logged_in",
            field=models.FloatField(blank=True, editable=False, null=True),
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
                    ("policy", "session policy"),
                ],
                max_length=10,
                verbose_name="scope",
            ),
        ),
    ]
