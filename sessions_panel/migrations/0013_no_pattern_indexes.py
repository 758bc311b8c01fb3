"""Less disk and fewer index writes on PostgreSQL: no ``varchar_pattern_ops`` copies of
the session key's, the handle's and the short ID's B-trees.

Django adds such a ``*_like`` index beside the plain one for every ``CharField`` with
``unique`` or ``db_index`` on PostgreSQL, for ``LIKE 'prefix%'`` under a non-C
collation. The index table never looks these columns up that way: the key and the
handle by equality, the short ID by a range (``query/search.py``) or, for a prefix that
matches many rows, while walking the page's own index. ``bench/run.py --only indexes``
measured nothing slower without them, and they cost ~175 MB at 1,000,000 sessions and
three more index entries on every row version an IP change writes.

The model keeps its fields as they are (Django drops a ``_like`` index with ``IF
EXISTS`` when a field changes), and SQLite never had these indexes.
"""

from django.db import migrations

FIELDS = ("session_key", "handle", "short_id")


def _pattern_indexes(schema_editor, model):
    """The names of the pattern-ops indexes on those columns, as the database has them."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, a.attname FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_opclass o ON o.oid = x.indclass[0] "
            "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0] "
            "WHERE x.indrelid = %s::regclass AND x.indnatts = 1 "
            "AND o.opcname IN ('varchar_pattern_ops', 'text_pattern_ops')",
            [schema_editor.quote_name(model._meta.db_table)],
        )
        return [name for name, column in cursor.fetchall() if column in FIELDS]


def drop_pattern_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("sessions_panel", "SessionRecord")
    for name in _pattern_indexes(schema_editor, model):
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create_pattern_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("sessions_panel", "SessionRecord")
    if _pattern_indexes(schema_editor, model):
        return
    for field_name in FIELDS:
        like = schema_editor._create_like_index_sql(model, model._meta.get_field(field_name))
        if like is not None:
            schema_editor.execute(like)


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_panel", "0012_first_user_agent_and_fewer_indexes"),
    ]

    operations = [
        migrations.RunPython(drop_pattern_indexes, create_pattern_indexes, elidable=False),
    ]
