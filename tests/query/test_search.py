"""Search branches: each way of matching is exact and served by an index."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions_panel.models import SessionRecord
from sessions_panel.query import search
from tests.keys import indexed

pytestmark = pytest.mark.django_db

ADDRESSES = [
    "198.51.10.7",
    "198.51.100.7",
    "198.51.109.250",
    "198.51.110.1",
    "198.51.1.1",
    "203.0.113.5",
    "2001:db8::1",
    "2001:db8:10::1",
    "fe80::1",
    "f::1",
    "ff0:1::1",
    "e000::1",
]


def test_ipv4_text_prefix_becomes_address_ranges():
    assert search._ipv4_ranges("198.51.10") == [
        ("198.51.10.0", "198.51.10.255"),
        ("198.51.100.0", "198.51.109.255"),
    ]
    assert search._ipv4_ranges("198.51.") == [("198.51.0.0", "198.51.255.255")]
    assert search._ipv4_ranges("25") == [
        ("25.0.0.0", "25.255.255.255"),
        ("250.0.0.0", "255.255.255.255"),
    ]
    assert search._ipv4_ranges("2001:db8") is None
    assert search._ipv4_ranges("300.1") is None


@pytest.mark.parametrize(
    "prefix",
    [
        "198.51.10",
        "198.51.1",
        "198.51.",
        "2",
        "20",
        "2001",
        "203.0.113.5",
        "2001:db8:",
        "2001:db8:1",
        "f",
        "fe",
        "fe8",
        "fe80",
        "ff0",
        "e",
        "e0",
    ],
)
def test_ip_prefix_search_matches_exactly_the_addresses_that_start_with_it(make_session, prefix):
    for ip in ADDRESSES:
        make_session(ip=ip, application="")
    expected = sorted(ip for ip in ADDRESSES if ip.startswith(prefix))
    found = SessionRecord.objects.filter(search._ip(prefix)).values_list("ip", flat=True)
    assert sorted(str(ip) for ip in found) == expected


def test_a_new_application_is_searchable_at_once(make_session):
    make_session(application="Shop")
    assert SessionRecord.objects.filter(search.condition("sho")).count() == 1
    make_session(application="Help centre")  # after the names were cached
    assert SessionRecord.objects.filter(search.condition("help")).count() == 1


def test_a_search_nothing_can_match_runs_no_session_query(make_session):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_session(application="Shop")
    search.application_names()
    with CaptureQueriesContext(connection) as queries:
        assert not SessionRecord.objects.filter(search.condition("zzz-nothing")).exists()
    # The user lookup only: the empty condition never reaches the session index.
    assert not [q for q in queries if "sessions_panel_sessionrecord" in q["sql"]]


def test_address_like_search_skips_the_user_table_but_still_finds_addresses(
    make_session, django_user_model
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = django_user_model.objects.create_user("ops.10.0", email="ops@example.com")
    make_session(user=user, ip="10.0.0.9", application="")
    search.application_names()
    with CaptureQueriesContext(connection) as queries:  # no user lookup
        condition = search.condition("10.0")
    assert not any("usersearchtext" in q["sql"] or "auth_user" in q["sql"] for q in queries)
    assert SessionRecord.objects.filter(condition).count() == 1
    with CaptureQueriesContext(connection) as queries:  # a word does look among users
        search.condition("ops")
    assert any("usersearchtext" in q["sql"] or "auth_user" in q["sql"] for q in queries)


def test_a_long_hex_string_is_searched_as_a_session_id_not_an_address(make_session):
    session = make_session(ip="2001:db8::1", application="")
    short_id = SessionRecord.objects.get(session_key=indexed(session)).short_id
    assert len(search.branches(short_id)) == 1  # only the short-ID range
    assert SessionRecord.objects.filter(search.condition(short_id)).count() == 1
    assert len(search.branches("2001")) == 2  # an IPv6 prefix and a short-ID prefix


def test_a_page_with_a_search_looks_users_up_once(make_session, django_user_model):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tests.page_support import HTMX, page_url

    admin = django_user_model.objects.create_superuser("root", "r@example.com", "pw")
    make_session(user=django_user_model.objects.create_user("alice"))
    client = Client()
    client.force_login(admin)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(page_url(), {"q": "alice"}, **HTMX)
    assert response.status_code == 200
    # The trigram index (MATCH on SQLite, LIKE on PostgreSQL) or, without one, a scan.
    lookups = [q for q in queries if " MATCH " in q["sql"] or " LIKE " in q["sql"]]
    assert len(lookups) == 1  # the page and the "Kill N matching" preview share it


def test_application_names_are_found_by_index_seeks_each_distinct_name_once(make_session):
    """Every distinct, non-empty name, read one index seek per name (a recursive
    query) instead of a scan of every row."""
    from django.core.cache import caches

    for name in ["Shop", "shop", "Blog", "", "Zürich", "Shop", "a b", "Blog"]:
        make_session(application=name)
    caches["default"].clear()
    with CaptureQueriesContext(connection) as queries:
        names = search.application_names()
    assert names == sorted({"Shop", "shop", "Blog", "Zürich", "a b"})
    assert len(queries) == 1 and "RECURSIVE" in queries[0]["sql"]
