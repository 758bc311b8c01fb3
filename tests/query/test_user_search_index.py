"""User search through the panel's own copy of the searched fields and its trigram
index: found by any field, in step with renames and deletions, literal, short text too,
and the plain scan of the user table wherever the index cannot answer."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions_panel.models import SessionRecord, UserSearchText
from sessions_panel.query import search, trigram, usertext

pytestmark = pytest.mark.django_db


def found(q: str) -> set[str]:
    """Usernames of the sessions the search ``q`` matches."""
    rows = SessionRecord.objects.filter(search.condition(q), user__isnull=False)
    return set(rows.values_list("user__username", flat=True))


def lookups(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries if " MATCH " in q["sql"] or " LIKE " in q["sql"]]


@pytest.fixture
def people(django_user_model, make_session):
    """olivia and oliver (who share "oliv"), and zoe; one session each."""
    made = {
        "olivia": django_user_model.objects.create_user(
            "olivia.petit", email="o.petit@acme.example", first_name="Olivia", last_name="Petit"
        ),
        "oliver": django_user_model.objects.create_user(
            "oliver.nowak", email="nowak@example.net", first_name="Oliver", last_name="Nowak"
        ),
        "zoe": django_user_model.objects.create_user(
            "zoe.martin", email="zm@example.org", first_name="Zoë", last_name="Martin"
        ),
    }
    for user in made.values():
        make_session(user=user, application="")
    return made


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("petit", {"olivia.petit"}),  # username
        ("ACME.exa", {"olivia.petit"}),  # email, any case
        ("Olivia", {"olivia.petit"}),  # first name
        ("nowak", {"oliver.nowak"}),  # last name (and username)
        ("zoë", {"zoe.martin"}),  # beyond ASCII
        ("ZOË", {"zoe.martin"}),
        ("oliv", {"olivia.petit", "oliver.nowak"}),
        ("ol", {"olivia.petit", "oliver.nowak"}),  # too short for trigrams
        ("z", {"zoe.martin"}),
        ("zqxjv", set()),
    ],
)
def test_a_user_is_found_by_any_searched_field(people, q, expected):
    assert found(q) == expected


def test_text_of_three_characters_or_more_is_looked_up_in_the_index(people):
    assert trigram.usable() == (connection.vendor in ("sqlite", "postgresql"))
    with CaptureQueriesContext(connection) as queries:
        found("petit")
    assert lookups(queries)
    assert all("auth_user" not in sql for sql in lookups(queries))  # no scan of the users


def test_the_lookup_is_served_by_the_trigram_index(people):
    sql, params = trigram.user_ids("petit").query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
            assert "VIRTUAL TABLE INDEX" in plan, plan
        elif connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # three rows: a scan is cheaper
            cursor.execute("EXPLAIN " + sql, params)
            plan = " ".join(str(row[0]) for row in cursor.fetchall())
            assert trigram.PG_INDEX in plan, plan
        else:
            pytest.skip("no trigram index on this database")


@pytest.mark.parametrize("q", ["a%b", "a_b", "a\\b", "%", "_", "\\"])
def test_percent_underscore_and_backslash_are_literal(django_user_model, make_session, q):
    for name in ["a%b", "a_b", "a\\b", "axb", "a\\\\b"]:
        make_session(user=django_user_model.objects.create_user(name), application="")
    expected = {name for name in ["a%b", "a_b", "a\\b", "axb", "a\\\\b"] if q in name}
    assert found(q) == expected


def test_a_quote_in_the_text_is_literal_too(django_user_model, make_session):
    make_session(user=django_user_model.objects.create_user('o"brien'), application="")
    make_session(user=django_user_model.objects.create_user("obrien"), application="")
    assert found('o"b') == {'o"brien'}
    assert found('"') == {'o"brien'}


def test_a_renamed_user_is_found_by_the_new_name_only(people):
    user = people["olivia"]
    user.username = "olivia.durand"
    user.last_name = "Durand"
    user.save()
    assert found("petit") == {"olivia.durand"}  # still in the email
    assert found("durand") == {"olivia.durand"}
    user.email = "od@example.net"
    user.save(update_fields=["email"])
    assert found("petit") == set()


def test_a_deleted_user_takes_the_search_text_along(people):
    pk = people["oliver"].pk
    people["oliver"].delete()
    assert not UserSearchText.objects.filter(user_id=pk).exists()
    assert found("oliver") == set()
    assert found("oliv") == {"olivia.petit"}


def test_a_save_of_other_fields_writes_no_search_text(people):
    with CaptureQueriesContext(connection) as queries:
        people["zoe"].save(update_fields=["last_login"])
    assert not [q for q in queries if "usersearchtext" in q["sql"]]


def test_a_failing_search_text_write_never_fails_the_users_save(people, monkeypatch):
    from django.db import DatabaseError

    def broken(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(UserSearchText.objects, "using", broken)
    people["zoe"].first_name = "Zoé"
    people["zoe"].save()  # no exception
    people["zoe"].refresh_from_db()
    assert people["zoe"].first_name == "Zoé"


def test_without_the_index_the_user_table_is_scanned(people, monkeypatch):
    monkeypatch.setattr(trigram, "available", lambda alias: False)
    with CaptureQueriesContext(connection) as queries:
        assert found("petit") == {"olivia.petit"}
        assert found("ol") == {"olivia.petit", "oliver.nowak"}
    assert lookups(queries)
    assert all("auth_user" in sql and "usersearchtext" not in sql for sql in lookups(queries))


def test_users_written_without_signals_are_searched_in_the_user_table_until_reindexed(
    people, django_user_model, make_session
):
    """bulk_create sends no post_save: the copy lacks the user, which its row count shows,
    so the search scans the user table (found, slowly) until ``reindexusers``."""
    (imported,) = django_user_model.objects.bulk_create([django_user_model(username="imported")])
    make_session(user=imported, application="")
    assert not usertext.in_step()
    assert found("imported") == {"imported"}
    out = io.StringIO()
    call_command("reindexusers", stdout=out)
    assert "Rewrote 1 user search texts, dropped 0." in out.getvalue()
    assert usertext.in_step()
    with CaptureQueriesContext(connection) as queries:
        assert found("imported") == {"imported"}
    assert all("auth_user" not in sql for sql in lookups(queries))


def test_reindexusers_catches_up_with_a_rename_that_sent_no_signal(people, django_user_model):
    django_user_model.objects.filter(pk=people["zoe"].pk).update(username="zoe.bernard")
    assert found("bernard") == set()  # behind: the copy still says zoe.martin
    call_command("reindexusers", stdout=io.StringIO())
    assert found("bernard") == {"zoe.bernard"}


def test_a_user_deleted_without_signals_is_noticed_and_reindexusers_drops_the_row(
    people, django_user_model
):
    django_user_model.objects.filter(pk=people["oliver"].pk)._raw_delete(connection.alias)
    assert not usertext.in_step()  # one row too many: the search scans the user table
    assert found("oliv") == {"olivia.petit"}
    out = io.StringIO()
    call_command("reindexusers", stdout=out)
    assert "dropped 1." in out.getvalue()
    assert not UserSearchText.objects.filter(user_id=people["oliver"].pk).exists()
    assert UserSearchText.objects.count() == django_user_model.objects.count()


def test_the_copy_holds_the_searched_fields_lower_cased(people):
    text = UserSearchText.objects.get(user=people["zoe"]).text
    assert text == "zoe.martin\nzm@example.org\nzoë\nmartin"
    assert usertext.search_fields() == ["username", "email", "first_name", "last_name"]
