"""Risk flags: each one true and false, as badges with a reason, as filter chips, and at
a fixed number of queries per page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions_panel.models import SeenAddress, SessionRecord
from sessions_panel.query import flags
from sessions_panel.tracking import index_writer
from sessions_panel.tracking.client import ClientInfo
from tests.keys import indexed
from tests.page_support import HTMX, body, handles_in, page_url, row_html

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def record_of(session) -> SessionRecord:
    return SessionRecord.objects.get(session_key=indexed(session))


def codes_of(record: SessionRecord) -> list[str]:
    record = SessionRecord.objects.get(pk=record.pk)
    return [flag.code for flag in flags.flags_for([record])[record.pk]]


def filtered(code: str) -> set[int]:
    return set(flags.filter_rows(SessionRecord.objects.live(), code).values_list("pk", flat=True))


def age_history(user, days: int = 30) -> None:
    """The user's address history so far dates from ``days`` ago."""
    then = timezone.now() - timedelta(days=days)
    SeenAddress.objects.filter(user=user).update(first_seen=then, last_seen=then)


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob")


# -- multiple sessions ------------------------------------------------------------------


def test_multiple_sessions_flags_every_session_of_a_user_with_more_than_one(
    alice, bob, make_session
):
    first, second = record_of(make_session(user=alice)), record_of(make_session(user=alice))
    single = record_of(make_session(user=bob))
    assert flags.MULTIPLE in codes_of(first)
    assert flags.MULTIPLE in codes_of(second)
    assert flags.MULTIPLE not in codes_of(single)
    assert filtered(flags.MULTIPLE) == {first.pk, second.pk}
    label = flags.flags_for([first])[first.pk][0]
    assert label.label == "Multiple sessions (2)"
    assert label.why == ""  # the label says it all: no reason to disclose


def test_multiple_sessions_ignores_guests_and_expired_sessions(alice, make_session):
    guests = [record_of(make_session()) for _ in range(3)]
    live = record_of(make_session(user=alice))
    expired = record_of(make_session(user=alice))
    SessionRecord.objects.filter(pk=expired.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert flags.MULTIPLE not in codes_of(live)
    assert all(flags.MULTIPLE not in codes_of(guest) for guest in guests)
    assert filtered(flags.MULTIPLE) == set()


# -- new IP -----------------------------------------------------------------------------


def test_new_ip_flags_an_address_the_user_never_used_before(alice, make_session):
    known = record_of(make_session(user=alice, ip="198.51.100.1"))
    age_history(alice)
    again = record_of(make_session(user=alice, ip="198.51.100.1"))
    fresh = record_of(make_session(user=alice, ip="203.0.113.9"))
    assert flags.NEW_IP in codes_of(fresh)
    assert flags.NEW_IP not in codes_of(again)  # seen a month ago
    assert flags.NEW_IP not in codes_of(known)
    assert filtered(flags.NEW_IP) == {fresh.pk}
    why = [f.why for f in flags.flags_for([fresh])[fresh.pk] if f.code == flags.NEW_IP]
    assert why == ["This user had never used this IP address before this session."]


def test_new_ip_is_not_raised_for_a_users_very_first_sessions(alice, make_session):
    """No history yet: every address is new, so none is worth a flag."""
    first = record_of(make_session(user=alice, ip="198.51.100.1"))
    other = record_of(make_session(user=alice, ip="203.0.113.9"))
    assert flags.NEW_IP not in codes_of(first)
    assert flags.NEW_IP not in codes_of(other)
    assert filtered(flags.NEW_IP) == set()


def test_new_ip_is_never_raised_for_guests_or_unknown_addresses(alice, make_session):
    make_session(user=alice, ip="198.51.100.1")
    age_history(alice)
    guest = record_of(make_session(ip="203.0.113.9"))
    unknown = record_of(make_session(user=alice, ip=None))
    assert flags.NEW_IP not in codes_of(guest)
    assert flags.NEW_IP not in codes_of(unknown)


# -- guest swarm ------------------------------------------------------------------------


def test_guest_swarm_flags_more_than_the_threshold_of_guests_from_one_ip(make_session):
    swarm = [record_of(make_session(ip="192.0.2.66")) for _ in range(6)]
    few = [record_of(make_session(ip="192.0.2.7")) for _ in range(5)]
    assert all(flags.SWARM in codes_of(r) for r in swarm)
    assert all(flags.SWARM not in codes_of(r) for r in few)  # 5 is not more than 5
    assert filtered(flags.SWARM) == {r.pk for r in swarm}
    flag = next(f for f in flags.flags_for(swarm[:1])[swarm[0].pk] if f.code == flags.SWARM)
    assert flag.label == "Guest swarm (6)"
    assert flag.why == "6 guest sessions from this IP address (more than 5)."


def test_guest_swarm_follows_its_setting_and_ignores_signed_in_users(settings, alice, make_session):
    settings.SESSIONS_PANEL = {"GUEST_SWARM_THRESHOLD": 2}
    users = [record_of(make_session(user=alice, ip="192.0.2.66")) for _ in range(3)]
    guests = [record_of(make_session(ip="192.0.2.66")) for _ in range(2)]
    assert all(flags.SWARM not in codes_of(r) for r in users + guests)
    third = record_of(make_session(ip="192.0.2.66"))
    assert flags.SWARM in codes_of(third)
    assert filtered(flags.SWARM) == {r.pk for r in [*guests, third]}


# -- IP or browser changed --------------------------------------------------------------


def touch_from(record: SessionRecord, ip: str | None, user_agent: str) -> None:
    """What the middleware does when a request of that session comes from elsewhere."""
    index_writer.recently_seen.clear()
    changed = index_writer.touch(
        record.session_key,
        {},
        lambda: record.expiry,
        ClientInfo(ip=ip, user_agent=user_agent),
        interval=60,
    )
    assert changed


@pytest.mark.parametrize(
    ("ip", "user_agent"),
    [("203.0.113.200", FIREFOX), ("203.0.113.7", "curl/8.5.0"), (None, FIREFOX)],
    ids=["ip", "browser", "ip-lost"],
)
def test_changed_flags_a_session_whose_ip_or_browser_changed(make_session, ip, user_agent):
    moved = record_of(make_session(ip="203.0.113.7", user_agent=FIREFOX))
    still = record_of(make_session(ip="203.0.113.7", user_agent=FIREFOX))
    touch_from(moved, ip, user_agent)
    assert flags.CHANGED in codes_of(moved)
    assert flags.CHANGED not in codes_of(still)
    assert filtered(flags.CHANGED) == {moved.pk}


def test_changed_is_not_raised_for_a_session_indexed_without_a_client(store_class):
    """Backfilled, or made outside a request: the first client seen is the baseline."""
    session = store_class()()
    session.create()  # no client: no IP, no user agent on the row
    record = record_of(session)
    touch_from(record, "203.0.113.7", FIREFOX)
    assert codes_of(record) == []
    SessionRecord.objects.filter(pk=record.pk).update(
        last_seen=timezone.now() - timedelta(minutes=5)
    )
    touch_from(record, "203.0.113.8", FIREFOX)
    assert codes_of(record) == [flags.CHANGED]


def test_changed_is_not_raised_by_a_plain_touch_from_the_same_client(make_session):
    record = record_of(make_session(ip="203.0.113.7", user_agent=FIREFOX))
    SessionRecord.objects.filter(pk=record.pk).update(
        last_seen=timezone.now() - timedelta(minutes=5)
    )
    touch_from(record, "203.0.113.7", FIREFOX)
    assert codes_of(record) == []
    assert filtered(flags.CHANGED) == set()


# -- on the page ------------------------------------------------------------------------


@pytest.fixture
def flagged(django_user_model, make_session):
    """alice on two devices, one from a new IP; a guest swarm; bob, whose browser changed."""
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    home = record_of(make_session(user=alice, ip="198.51.100.1"))
    age_history(alice)
    travel = record_of(make_session(user=alice, ip="203.0.113.9"))
    swarm = [record_of(make_session(ip="192.0.2.66", application="Shop")) for _ in range(6)]
    moved = record_of(make_session(user=bob, ip="198.51.100.20", application="Blog"))
    touch_from(moved, "198.51.100.20", "curl/8.5.0")
    plain = record_of(make_session(ip="192.0.2.1", application="Blog"))
    return {"home": home, "travel": travel, "swarm": swarm, "moved": moved, "plain": plain}


def test_rows_carry_flag_badges_that_disclose_their_reason(admin_client, flagged):
    html = body(admin_client.get(page_url()))
    handle = flagged["travel"].handle
    travel = row_html(html, handle)
    # A reason is a disclosure (keyboard and touch reach it), read once: no title, no
    # hidden copy. A label that says it all is the flag alone, no disclosure.
    assert '<li data-sp-flag="multiple">Multiple sessions (2)</li>' in travel
    assert (
        '<li data-sp-flag="new-ip"><details><summary>New IP</summary>'
        "This user had never used this IP address before this session.</details></li>"
    ) in travel
    assert "title=" not in travel
    assert 'data-sp-flag="new-ip"' not in row_html(html, flagged["home"].handle)
    assert (
        '<li data-sp-flag="swarm"><details><summary>Guest swarm (6)</summary>'
        "6 guest sessions from this IP address (more than 5).</details></li>"
    ) in row_html(html, flagged["swarm"][0].handle)
    assert (
        "<summary>IP or browser changed</summary>"
        "The IP address or browser changed during this session.</details>"
    ) in row_html(html, flagged["moved"].handle)
    assert "sp-flags" not in row_html(html, flagged["plain"].handle)


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("multiple", {"home", "travel"}),
        ("new-ip", {"travel"}),
        ("swarm", {"swarm"}),
        ("changed", {"moved"}),
    ],
)
def test_flag_chips_filter_the_list(admin_client, flagged, flag, expected):
    admin_client.get(page_url())  # the admin's own session meets its first client
    response = admin_client.get(page_url(), {"flag": flag}, **HTMX)
    wanted = set()
    for name in expected:
        value = flagged[name]
        wanted |= {r.handle for r in value} if isinstance(value, list) else {value.handle}
    assert set(handles_in(body(response))) == wanted
    assert response["HX-Replace-Url"] == f"{page_url()}?flag={flag}"


def test_flag_chips_are_radios_and_combine_with_search_and_status(admin_client, flagged):
    html = body(admin_client.get(page_url(), {"flag": "changed"}))
    assert 'name="flag" value="changed" checked' in html
    assert 'name="flag" value="" checked' not in html
    assert set(handles_in(body(admin_client.get(page_url(), {"flag": "multiple", "q": "alice"}))))
    assert (
        handles_in(
            body(admin_client.get(page_url(), {"flag": "multiple", "status": "guest"}, **HTMX))
        )
        == []
    )
    shop_swarm = body(admin_client.get(page_url(), {"flag": "swarm", "q": "shop"}, **HTMX))
    assert set(handles_in(shop_swarm)) == {r.handle for r in flagged["swarm"]}
    blog_swarm = body(admin_client.get(page_url(), {"flag": "swarm", "q": "blog"}, **HTMX))
    assert handles_in(blog_swarm) == []
    assert "No sessions match “blog”." in blog_swarm


def test_unknown_flag_filters_nothing_and_empty_flag_says_so(admin_client, flagged):
    admin_client.get(page_url())  # settles the admin's own "last seen"
    everyone = handles_in(body(admin_client.get(page_url(), **HTMX)))
    response = admin_client.get(page_url(), {"flag": "bogus"}, **HTMX)
    assert handles_in(body(response)) == everyone
    assert response["HX-Replace-Url"] == page_url()
    SessionRecord.objects.filter(pk=flagged["moved"].pk).delete()
    html = body(admin_client.get(page_url(), {"flag": "changed"}, **HTMX))
    assert "No sessions carry the flag “IP or browser changed” right now." in html
    assert "Clear search and filters" in html


@pytest.fixture
def crowd(admin_client, django_user_model, make_session):
    """150 sessions, every flag present among the newest 10 as among the newest 100."""
    users = [django_user_model.objects.create_user(f"user{n}") for n in range(30)]
    for user in users:
        make_session(user=user, ip="198.51.100.1")
    age_history_all = timezone.now() - timedelta(days=30)
    SeenAddress.objects.update(first_seen=age_history_all, last_seen=age_history_all)
    for number in range(120):
        if number % 4 == 0:
            make_session(ip="192.0.2.66")  # the swarm
        elif number % 4 == 1:
            make_session(ip=f"192.0.2.{number % 250}")
        else:
            moved = record_of(make_session(user=users[number % 30], ip=f"10.0.0.{number}"))
            if number % 8 == 2:
                touch_from(moved, "10.9.9.9", FIREFOX)
    admin_client.get(page_url())  # settles the admin's own "last seen"
    return admin_client


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"flag": "multiple"},
        {"flag": "new-ip"},
        {"flag": "swarm"},
        {"flag": "changed"},
        {"flag": "multiple", "q": "user1", "status": "authenticated"},
    ],
)
def test_a_page_with_flags_costs_the_same_queries_for_ten_and_a_hundred_rows(
    crowd, settings, django_assert_num_queries, params
):
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 10}
    crowd.get(page_url(), params, **HTMX)  # warm the short-lived caches (count, app names)
    with CaptureQueriesContext(connection) as queries:
        small = body(crowd.get(page_url(), params, **HTMX))
    assert "<li data-sp-flag=" in small
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 100}
    with django_assert_num_queries(len(queries)):
        large = body(crowd.get(page_url(), params, **HTMX))
    assert large.count("<li data-sp-flag=") > small.count("<li data-sp-flag=")


def test_the_whole_page_with_flags_costs_the_same_for_ten_and_a_hundred_rows(
    crowd, settings, django_assert_num_queries
):
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 10}
    crowd.get(page_url())  # warm the short-lived caches (count, app names)
    with CaptureQueriesContext(connection) as queries:
        crowd.get(page_url())
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 100}
    with django_assert_num_queries(len(queries)):
        html = body(crowd.get(page_url()))
    for code in ("multiple", "new-ip", "swarm", "changed"):
        assert f'data-sp-flag="{code}"' in html, code


def test_flags_take_at_most_four_queries_whatever_the_page_size(crowd):
    rows = list(SessionRecord.objects.live().defer("session_key"))
    with CaptureQueriesContext(connection) as queries:
        found = flags.flags_for(rows)
    assert len(queries) <= 4  # three lookups and the Kill All epoch
    # The address history is read by user alone: an "ip IN (...)" beside "user_id IN
    # (...)" made the database probe every user × address pair.
    history = [q["sql"] for q in queries.captured_queries if "seenaddress" in q["sql"]]
    assert len(history) == 1 and '"ip" IN' not in history[0]
    assert {f.code for fs in found.values() for f in fs} == {
        "multiple",
        "new-ip",
        "swarm",
        "changed",
    }
