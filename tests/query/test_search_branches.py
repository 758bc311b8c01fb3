"""How each search branch reaches the index: applications one by one in page order, a
branch that matches a large share walked in last-seen order for the page while counts
keep the range, and every form of a branch matching exactly the same sessions."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from sessions_panel.models import SessionRecord
from sessions_panel.query import listing, liststate, search

pytestmark = pytest.mark.django_db

sqlite_only = pytest.mark.skipif(
    "connection.vendor != 'sqlite'", reason="SQLite's planner, without statistics"
)


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def page_query(branch):
    """What ``listing.fetch`` asks of one branch for the first page."""
    now = timezone.now()
    rows = listing._unsearched(liststate.ListState(q="x"), now).filter(branch)
    return rows.select_related("user").order_by(*liststate.SORTS["last_seen"])[:51]


def ids(condition) -> set[int]:
    return set(SessionRecord.objects.filter(condition).values_list("pk", flat=True))


@pytest.fixture
def crowd(django_user_model, make_session):
    """Sessions of users, guests, applications, IPv4 and IPv6 addresses."""
    for n in range(6):
        user = django_user_model.objects.create_user(f"user{n}", email=f"u{n}@example.com")
        make_session(user=user, ip=f"20.0.0.{n}", application="Shop")
        make_session(user=user, ip=f"2001:db8::{n}", application="Shopfront")
    for n in range(4):
        make_session(ip=f"198.51.100.{n}", application="Support desk")
    search.application_names()


def test_each_matching_application_is_its_own_branch(crowd):
    found = search.branches("shop")
    assert [str(b) for b in found] == [
        "(AND: ('application', 'Shop'))",
        "(AND: ('application', 'Shopfront'))",
    ]
    assert SessionRecord.objects.filter(search.any_of(found)).count() == 12


@sqlite_only
def test_an_application_is_read_in_page_order_from_its_own_index(crowd):
    found = plan(page_query(search.branches("support")[0]))
    assert "sessions_pa_app_seen_idx" in found, found
    assert "TEMP B-TREE" not in found, found  # no sort of every session of the app


@pytest.mark.parametrize("q", ["e", "2", "20", "u", "user", "example", "shop", "2001:db8"])
def test_the_page_and_the_count_forms_match_the_same_sessions(crowd, monkeypatch, q):
    monkeypatch.setattr(search, "USER_MATCH_LIMIT", 1)  # users matched by a subquery
    for share in (0.0, 1.1):  # every branch walked, or none
        monkeypatch.setattr(search, "WALK_SHARE", share)
        monkeypatch.setattr(search, "COUNT_WALK_SHARE", share)
        found = search.branches(q)
        page = set().union(*(ids(branch) for branch in found))
        assert page == ids(search.any_of(found)), (q, share)
        expected = {
            r.pk
            for r in SessionRecord.objects.select_related("user")
            if (r.user and q in f"{r.user.username}\n{r.user.email}")
            or q in r.application.lower()
            or (r.ip and str(r.ip).startswith(q))
            or r.short_id.startswith(q)
        }
        assert page == expected, (q, share)


def test_a_branch_matching_a_large_share_is_walked_for_the_page_only(crowd, monkeypatch):
    monkeypatch.setattr(search, "USER_MATCH_LIMIT", 1)
    found = search.branches("user")  # every user
    (users,) = found
    assert "Exists" in str(users)  # the page: each session's user tested
    assert "Exists" in str(found.counting[0])  # and the count too: all users match
    monkeypatch.setattr(search, "COUNT_WALK_SHARE", 1.1)
    assert "user_id__in" in str(search.branches("user").counting[0])
    monkeypatch.setattr(search, "WALK_SHARE", 1.1)
    assert "user_id__in" in str(search.branches("user")[0])


def test_a_short_id_of_one_character_is_walked_and_longer_ones_are_ranges():
    (page,) = search.branches("7")[1:]  # after the IP prefix "7"
    assert "short_id__startswith" in str(page)
    assert "short_id__gte" in str(search.branches("7").counting[1])
    assert "short_id__gte" in str(search.branches("7f")[-1])


@sqlite_only
def test_a_crowded_address_prefix_walks_the_last_seen_index(crowd, monkeypatch):
    found = search.branches("20")  # 12 of 16 addresses start with "20"
    ip_page = next(b for b in found if "ip__" in str(b))
    ip_count = next(b for b in found.counting if "ip__" in str(b))
    assert "ip__startswith" in str(ip_page)
    assert "sessions_pa_seen_idx" in plan(page_query(ip_page))
    assert "sessions_pa_ip_expiry_idx" in plan(SessionRecord.objects.filter(ip_count)[:1001])
    monkeypatch.setattr(search, "WALK_SHARE", 1.1)
    assert "ip__gte" in str(next(b for b in search.branches("20") if "ip__" in str(b)))


@sqlite_only
@pytest.mark.parametrize("q", ["2001:db8:", "20.0."])
def test_a_crowded_network_prefix_walks_the_last_seen_index(crowd, monkeypatch, q):
    """A network's prefix can be a crowd too (one operator's customers): 6 of 16 here."""
    found = search.branches(q)
    ip_page = next(b for b in found if "ip__" in str(b))
    assert "ip__startswith" in str(ip_page)
    assert "sessions_pa_seen_idx" in plan(page_query(ip_page))
    assert "TEMP B-TREE" not in plan(page_query(ip_page))
    monkeypatch.setattr(search, "WALK_SHARE", 1.1)
    assert "ip__gte" in str(next(b for b in search.branches(q) if "ip__" in str(b)))


@sqlite_only
def test_a_few_matching_users_are_read_by_the_user_index(crowd):
    (users,) = search.branches("user3")
    found = plan(page_query(users))
    assert "sessions_pa_user_seen_idx" in found, found


@sqlite_only
def test_a_walked_user_branch_reads_the_last_seen_index_in_order(crowd, monkeypatch):
    monkeypatch.setattr(search, "USER_MATCH_LIMIT", 1)
    monkeypatch.setattr(search, "WALK_SHARE", 0.0)
    (users,) = search.branches("user")
    found = plan(page_query(users))
    assert "sessions_pa_seen_idx" in found, found
    assert "TEMP B-TREE" not in found, found
