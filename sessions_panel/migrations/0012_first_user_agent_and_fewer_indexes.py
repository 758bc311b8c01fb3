"""Less disk: the first user agent stored only once it differs
(sessions_panel/tracking/first_user_agent.py), and no index that another already
serves (the history tables' user, which their unique constraints lead with) or that
only ``prune`` read (the address history's last seen).

SQLite remakes a table to alter a column, and its triggers go with it: all of the
index table's triggers are dropped first and created again last."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _trigger_modules(with_first_user_agent):
    from sessions_panel.tracking import address_history, first_user_agent, index_count

    modules = [address_history, index_count]
    return [*modules, first_user_agent] if with_first_user_agent else modules


def drop_triggers(apps, schema_editor):
    for module in _trigger_modules(True):
        module.uninstall(schema_editor.connection.alias)


def create_old_triggers(apps, schema_editor):
    for module in _trigger_modules(False):
        module.install(schema_editor.connection.alias)


def create_triggers(apps, schema_editor):
    for module in _trigger_modules(True):
        module.install(schema_editor.connection.alias)


def forget_repeated_user_agents(apps, schema_editor):
    SessionRecord = apps.get_model("sessions_panel", "SessionRecord")
    rows = SessionRecord.objects.using(schema_editor.connection.alias)
    rows.filter(initial_user_agent=models.F("user_agent")).update(initial_user_agent=None)


def write_repeated_user_agents(apps, schema_editor):
    SessionRecord = apps.get_model("sessions_panel", "SessionRecord")
    rows = SessionRecord.objects.using(schema_editor.connection.alias)
    rows.filter(initial_user_agent__isnull=True).update(initial_user_agent=models.F("user_agent"))


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_panel", "0011_index_triggers"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(drop_triggers, create_old_triggers),
        migrations.AlterField(
            model_name="seenaddress",
            name="last_seen",
            field=models.DateTimeField(),
        ),
        migrations.AlterField(
            model_name="seenaddress",
            name="user",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="seenbrowser",
            name="user",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="sessionrecord",
            name="initial_user_agent",
            field=models.CharField(blank=True, max_length=512, null=True),
        ),
        migrations.RunPython(forget_repeated_user_agents, write_repeated_user_agents),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
