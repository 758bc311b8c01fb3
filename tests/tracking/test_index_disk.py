"""The index table's B-trees are the ones its queries use (issue 17: "drop or narrow
what does not pay for itself"). On PostgreSQL, Django would add a ``varchar_pattern_ops``
copy of the session key's, the handle's and the short ID's indexes, which no query of
the panel uses: migration 0013 drops them, and its reverse puts them back."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from sessions_panel.models import SessionRecord
from sessions_panel.query import search

postgresql_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="Django adds pattern indexes on PostgreSQL only"
)


def pattern_indexes() -> dict[str, str]:
    """Each ``*_pattern_ops`` index on the index table, by name: its column."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, a.attname FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_opclass o ON o.oid = x.indclass[0] "
            "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0] "
            "WHERE x.indrelid = %s::regclass "
            "AND o.opcname IN ('varchar_pattern_ops', 'text_pattern_ops')",
            [connection.ops.quote_name(SessionRecord._meta.db_table)],
        )
        return dict(cursor.fetchall())


@postgresql_only
@pytest.mark.django_db
def test_the_index_table_has_no_pattern_copies_of_its_indexes():
    assert pattern_indexes() == {}
    # The plain ones stay: lookups by key and handle, the short ID's range.
    constraints = connection.introspection.get_constraints(
        connection.cursor(), SessionRecord._meta.db_table
    )
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"] or c["unique"]}
    assert {("session_key",), ("handle",), ("short_id",)} <= indexed


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_migration_0013_reverses_to_djangos_pattern_indexes_and_back():
    try:
        call_command("migrate", "sessions_panel", "0012", verbosity=0)
        assert sorted(pattern_indexes().values()) == ["handle", "session_key", "short_id"]
    finally:
        call_command("migrate", "sessions_panel", verbosity=0)
    assert pattern_indexes() == {}


@pytest.mark.django_db
@pytest.mark.parametrize("prefix_length", [1, 3, 8])
def test_a_short_id_prefix_still_finds_its_sessions(make_session, monkeypatch, prefix_length):
    """Short and long prefixes, walked (LIKE) and sought (range), without pattern indexes."""
    sessions = [make_session() for _ in range(6)]
    target = SessionRecord.objects.get(session_key=sessions[0].session_key)
    needle = target.short_id[:prefix_length]
    expected = {
        pk
        for pk, short_id in SessionRecord.objects.values_list("pk", "short_id")
        if short_id.startswith(needle)
    }
    for share in (0.0, 1.1):  # every branch walked (LIKE), or none (the range)
        monkeypatch.setattr(search, "WALK_SHARE", share)
        monkeypatch.setattr(search, "COUNT_WALK_SHARE", share)
        found = [b for b in search.branches(needle) if "short_id" in str(b)]
        assert found, needle
        matched = set(
            SessionRecord.objects.filter(search.any_of(found)).values_list("pk", flat=True)
        )
        assert target.pk in matched
        assert matched == expected
