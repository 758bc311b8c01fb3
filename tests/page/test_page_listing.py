"""What the Sessions page lists: columns, search, chips, order, paging, query counts."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from urllib.parse import parse_qsl

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.formats import date_format

from sessions_panel.models import SessionRecord
from sessions_panel.query import liststate
from sessions_panel.query import search as search_module
from tests.keys import indexed
from tests.page_support import (
    HTMX,
    body,
    handles_in,
    own_record,
    page_url,
    row_cells,
    row_html,
)

pytestmark = pytest.mark.django_db


def record_of(session) -> SessionRecord:
    return SessionRecord.objects.get(session_key=indexed(session))


def search(client, q: str, **params) -> str:
    return body(client.get(page_url(), {"q": q, **params}, **HTMX))


@pytest.fixture
def people(django_user_model, make_session):
    """alice (two sessions), bob, and a guest, with distinct IPs and applications."""
    alice = django_user_model.objects.create_user(
        "alice", email="amartin@example.org", first_name="Alice", last_name="Martin"
    )
    bob = django_user_model.objects.create_user(
        "bob", email="bob@shop.test", first_name="Robert", last_name="Smith"
    )
    return {
        "alice": record_of(make_session(user=alice, ip="198.51.100.1")),
        "alice2": record_of(
            make_session(
                user=alice,
                ip="2001:db8::1",
                application="Shop",
                user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            )
        ),
        "bob": record_of(make_session(user=bob, ip="203.0.113.50", application="Blog")),
        "guest": record_of(make_session(ip="192.0.2.99", application="Shop")),
    }


# -- columns ----------------------------------------------------------------------------


def test_rows_show_user_short_id_application_status_ip_and_browser(admin_client, people):
    html = body(admin_client.get(page_url()))
    for header in ("User", "Application", "Expires", "Status", "IP address"):
        assert f'<th scope="col">{header}</th>' in html
    alice = row_html(html, people["alice"].handle)
    assert "alice" in alice
    assert people["alice"].short_id in alice
    assert "Alice Martin" in alice
    assert "Administration" in alice
    assert "Authenticated" in alice
    assert "198.51.100.1" in alice
    assert "Firefox 133 · Linux" in alice
    assert "Chrome 131 · Windows" in row_html(html, people["alice2"].handle)
    guest = row_html(html, people["guest"].handle)
    assert ">Guest<" in guest
    assert "sp-status-guest" in guest
    assert "Kill" in guest


def test_ip_badge_is_a_masked_toggle_button(admin_client, people):
    html = body(admin_client.get(page_url()))
    row = row_html(html, people["bob"].handle)
    # A plain button, blurred by the CSS until pressed: the JS makes it a toggle
    # (aria-pressed) named by the list's one label while blurred (checked in the browser).
    # It names no handle of its own: the JS reads the row's (``tr[data-handle]``).
    assert (
        '<td class="sp-ip-v4"><button type="button" class="sp-ip">'
        '<span class="sp-ip-value">203.0.113.50</span></button></td>'
    ) in row
    assert "aria-pressed" not in row and "aria-labelledby" not in row
    assert (
        html.count(
            '<span id="sp-ip-label" hidden><span id="sp-ip-word">IP address</span>, '
            "hidden, press to show</span>"
        )
        == 1
    )
    assert row_cells(row)[people["bob"].handle]["ip"] == "203.0.113.50"


def test_unknown_ip_and_unknown_browser_say_so(admin_client, make_session):
    record = record_of(make_session(ip=None, user_agent="", application=None))
    row = row_html(body(admin_client.get(page_url())), record.handle)
    assert "Unknown browser" in row
    assert 'class="sp-ip sp-ip-unknown">Unknown<' in row
    assert "—" in row  # no application


def test_admins_own_session_is_marked_and_warns_before_kill(admin_client, people):
    html = body(admin_client.get(page_url()))
    own = row_html(html, own_record(admin_client).handle)
    assert "This session" in own
    assert own.startswith('<tr class="sp-current" ')  # the Kill dialog's "your own session"
    assert row_cells(own)[own_record(admin_client).handle]["current"] is True
    assert html.count("sp-current") == 1
    assert "Logs you out" in own
    assert html.count("This session") == 1
    assert "ending it logs you out" in html  # the Kill dialog's warning
    # ...and the name the script gives its Kill (the list's format, once).
    assert html.count('data-label-own="Kill session %(id)s, your own session"') == 1


def test_expiry_is_shown_in_the_admins_timezone_and_relative(admin_client, people, settings):
    settings.TIME_ZONE = "Europe/Paris"
    expiry = (timezone.now() + timedelta(hours=2, minutes=1)).replace(microsecond=0)
    SessionRecord.objects.filter(pk=people["bob"].pk).update(expiry=expiry)
    row = row_html(body(admin_client.get(page_url())), people["bob"].handle)
    local = timezone.localtime(expiry, timezone.get_current_timezone())
    assert "+01:00" in local.isoformat() or "+02:00" in local.isoformat()
    # The date and time in Paris (not UTC's), then how long until then.
    in_paris = date_format(local, "DATETIME_FORMAT")
    in_utc = date_format(timezone.localtime(expiry, UTC), "DATETIME_FORMAT")
    assert in_paris != in_utc
    assert f'<td data-label="Expires"><span>{in_paris}</span> <span>in 2\xa0hours' in row
    assert in_utc not in row


def test_badge_counts_live_sessions_only(admin_client, people):
    SessionRecord.objects.filter(pk=people["guest"].pk).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )
    html = body(admin_client.get(page_url()))
    assert ">4 Active</span>" in html  # alice ×2, bob, the admin
    assert people["guest"].handle not in html


def test_kill_all_dialog_counts_every_session_but_the_admins_own(admin_client, people):
    html = body(admin_client.get(page_url()))
    assert "This ends <strong>4</strong> listed sessions." in html
    assert "Your own session stays signed in." in html


def test_rows_and_cards_come_from_one_table(admin_client, people):
    html = body(admin_client.get(page_url(), **HTMX))
    assert html.count("<table") == 1
    assert len(handles_in(html)) == 5


def test_page_carries_live_refresh_at_the_configured_interval(admin_client, people, settings):
    html = body(admin_client.get(page_url()))
    assert 'hx-trigger="every 15s, sp-refresh"' in html
    assert "Updated at " in html and "<time datetime=" in html
    settings.SESSIONS_PANEL = {"REFRESH_INTERVAL": 5}
    assert 'hx-trigger="every 5s, sp-refresh"' in body(admin_client.get(page_url()))
    settings.SESSIONS_PANEL = {"REFRESH_INTERVAL": 0}
    assert "sp-poller" not in body(admin_client.get(page_url()))


def test_poller_keeps_the_current_search(admin_client, people):
    html = search(admin_client, "alice", status="authenticated")
    assert 'hx-get="/admin/sessions_panel/sessionrecord/?q=alice&amp;status=authenticated"' in html


# -- search -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ALI", {"alice", "alice2"}),  # username, case-insensitive
        ("EXAMPLE.org", {"alice", "alice2"}),  # email
        ("robert", {"bob"}),  # first name
        ("SMITH", {"bob"}),  # last name
        ("203.0.", {"bob"}),  # IP prefix
        ("2001:DB8", {"alice2"}),  # IPv6 prefix, case-insensitive
        ("blog", {"bob"}),  # application
        ("shop", {"alice2", "guest", "bob"}),  # application, and bob's e-mail
    ],
)
def test_search_matches_user_fields_ip_prefix_and_application(admin_client, people, q, expected):
    html = search(admin_client, q)
    assert set(handles_in(html)) == {people[name].handle for name in expected}


def test_search_matches_the_start_of_an_ip_only(admin_client, people):
    assert handles_in(search(admin_client, "0.113.50")) == []


def test_search_matches_short_session_id_exactly_or_by_prefix(admin_client, people):
    record = people["bob"]
    assert people["bob"].handle in handles_in(search(admin_client, record.short_id))
    assert people["bob"].handle in handles_in(search(admin_client, record.short_id[:5].upper()))


def test_search_is_no_oracle_for_the_raw_session_key(admin_client, people):
    key = SessionRecord.objects.get(pk=people["bob"].pk).session_key
    assert people["bob"].handle not in handles_in(search(admin_client, key))
    assert people["bob"].handle not in handles_in(search(admin_client, key[:10]))


@pytest.mark.parametrize(
    ("username", "decoy", "q"),
    [("100%real", "100xreal", "100%"), ("a_b", "axb", "a_b"), ("c\\d", "cd", "c\\")],
)
def test_search_treats_like_wildcards_literally(
    admin_client, django_user_model, make_session, username, decoy, q
):
    match = record_of(make_session(user=django_user_model.objects.create_user(username)))
    other = record_of(make_session(user=django_user_model.objects.create_user(decoy)))
    handles = handles_in(search(admin_client, q))
    assert match.handle in handles
    assert other.handle not in handles


def test_unknown_search_shows_a_friendly_empty_state(admin_client, people):
    html = search(admin_client, "nobody-like-this")
    assert handles_in(html) == []
    assert "No sessions match “nobody-like-this”." in html
    assert "Clear search and filters" in html


def test_ten_kilobyte_search_is_capped_not_an_error(admin_client, people):
    response = admin_client.get(page_url(), {"q": "x" * 10_000})
    assert response.status_code == 200
    html = body(response)
    assert "shortened to 200 characters" in html
    assert 'value="' + "x" * 200 + '"' in html
    assert "x" * 201 not in html


def test_nul_in_search_gives_a_clear_message_and_no_rows(admin_client, people):
    response = admin_client.get(page_url(), {"q": "ali\x00ce"}, **HTMX)
    assert response.status_code == 200
    html = body(response)
    assert "contains a character that is not allowed" in html
    assert handles_in(html) == []


def test_search_finds_users_first_then_sessions_by_user_id(admin_client, people):
    """Never one JOIN with ``username LIKE '%x%'``: that walks the whole index."""
    with CaptureQueriesContext(connection) as queries:
        search(admin_client, "alice")
    session_queries = [
        q["sql"] for q in queries if 'FROM "sessions_panel_sessionrecord"' in q["sql"]
    ]
    assert session_queries
    for sql in session_queries:
        assert not re.search(r'"username" LIKE', sql), sql


def test_search_still_finds_everyone_when_very_many_users_match(admin_client, people, monkeypatch):
    monkeypatch.setattr(search_module, "USER_MATCH_LIMIT", 1)
    handles = set(handles_in(search(admin_client, "e")))  # alice, robert: >1 user
    assert {people["alice"].handle, people["alice2"].handle, people["bob"].handle} <= (handles)


# -- chips, order -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("authenticated", {"alice", "alice2", "bob", "admin"}),
        ("guest", {"guest"}),
        ("all", {"alice", "alice2", "bob", "guest", "admin"}),
        ("bogus", {"alice", "alice2", "bob", "guest", "admin"}),
    ],
)
def test_status_chips_filter_authenticated_and_guest(admin_client, people, status, expected):
    people = {**people, "admin": own_record(admin_client)}
    html = body(admin_client.get(page_url(), {"status": status}, **HTMX))
    assert set(handles_in(html)) == {people[name].handle for name in expected}


def test_chips_combine_with_search(admin_client, people):
    html = search(admin_client, "shop", status="guest")
    assert handles_in(html) == [people["guest"].handle]


def test_status_chips_are_radios_marking_the_current_one(admin_client, people):
    html = body(admin_client.get(page_url(), {"status": "guest"}))
    assert re.search(r'name="status" value="guest" checked', html)
    assert not re.search(r'name="status" value="all" checked', html)


def test_default_order_is_last_seen_newest_first_with_stable_ties(admin_client, people):
    admin_client.get(page_url())  # the admin's own "last seen" settles
    own = own_record(admin_client)
    base = timezone.now()
    SessionRecord.objects.exclude(pk=own.pk).update(last_seen=base - timedelta(hours=1))
    SessionRecord.objects.filter(pk=people["bob"].pk).update(last_seen=base + timedelta(minutes=1))
    handles = handles_in(body(admin_client.get(page_url(), **HTMX)))
    assert handles[:2] == [people["bob"].handle, own.handle]
    ids = dict(SessionRecord.objects.values_list("handle", "pk"))
    tied = [ids[h] for h in handles[2:]]
    assert tied == sorted(tied, reverse=True)
    assert handles_in(body(admin_client.get(page_url(), **HTMX))) == handles


def test_sort_by_expiry_shows_the_soonest_first(admin_client, people):
    soon = timezone.now() + timedelta(minutes=5)
    SessionRecord.objects.filter(pk=people["guest"].pk).update(expiry=soon)
    html = body(admin_client.get(page_url(), {"sort": "expiry"}, **HTMX))
    assert handles_in(html)[0] == people["guest"].handle


def test_sort_by_user_groups_a_users_sessions(admin_client, people):
    handles = handles_in(body(admin_client.get(page_url(), {"sort": "user"}, **HTMX)))
    alice = [handles.index(people[n].handle) for n in ("alice", "alice2")]
    assert abs(alice[0] - alice[1]) == 1
    assert handles[-1] == people["guest"].handle  # guests last


def test_sort_by_ip_and_unknown_sort_falls_back(admin_client, people):
    by_ip = handles_in(body(admin_client.get(page_url(), {"sort": "ip"}, **HTMX)))
    assert by_ip.index(people["guest"].handle) < by_ip.index(people["alice"].handle)
    bogus = admin_client.get(page_url(), {"sort": "session_key"}, **HTMX)
    assert bogus.status_code == 200
    assert bogus["HX-Replace-Url"] == page_url()


# -- paging -----------------------------------------------------------------------------


@pytest.fixture
def six_sessions(admin_client, make_session, settings):
    """Six sessions (the admin's and five guests), two per page."""
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 2}
    for _ in range(5):
        make_session()
    admin_client.get(page_url())  # the admin's own "last seen" settles
    return admin_client


def load_more_url(html: str) -> str:
    """The htmx address of the "Load more" link (what a click requests)."""
    found = re.search(r'hx-get="([^"]*after=[^"]*)"', html)
    assert found, "no load-more link"
    return found.group(1).replace("&amp;", "&")


def followed_to_the_end(client, params: dict[str, str]) -> list[str]:
    """The handles shown by page 1 and every "load more" after it, in order."""
    html = body(client.get(page_url(), params, **HTMX))
    seen = handles_in(html)
    while "Load more" in html:
        html = body(client.get(load_more_url(html), **HTMX))
        seen += handles_in(html)
    return seen


def test_first_page_is_bounded_with_a_load_more_link(six_sessions):
    html = body(six_sessions.get(page_url()))
    assert len(handles_in(html)) == 2
    # Without JavaScript the link widens the list; with htmx it asks for what follows.
    assert 'href="/admin/sessions_panel/sessionrecord/?page=2"' in html
    assert load_more_url(html).startswith(page_url() + "?page=2&after=")
    assert "Load more" in html


def test_load_more_appends_only_the_next_rows(six_sessions):
    first = body(six_sessions.get(page_url(), **HTMX))
    response = six_sessions.get(load_more_url(first), **HTMX)
    more = body(response)
    assert response.templates[0].name == "sessions_panel/more.html"
    appended = handles_in(more)
    assert len(appended) == 2
    assert not set(appended) & set(handles_in(first))
    # A reload or the live refresh shows everything shown so far, from the top.
    assert response["HX-Replace-Url"] == page_url() + "?page=2"
    assert 'id="sp-poller"' in more and f'hx-get="{page_url()}?page=2"' in more
    assert '<input type="hidden" name="page" value="2">' in more
    widened = handles_in(body(six_sessions.get(page_url(), {"page": "2"}, **HTMX)))
    assert handles_in(first) + appended == widened
    last = six_sessions.get(load_more_url(more), **HTMX)
    assert len(handles_in(body(last))) == 2
    assert "Load more" not in body(last)


def test_load_more_costs_the_same_queries_however_deep(admin_client, make_session, settings):
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 2}
    for _ in range(9):
        make_session()
    html = body(admin_client.get(page_url(), **HTMX))
    counts = []
    for _ in range(3):
        url = load_more_url(html)
        with CaptureQueriesContext(connection) as queries:
            html = body(admin_client.get(url, **HTMX))
        counts.append(len(queries))
        # No offset: the rows query seeks to the position instead.
        rows_query = [q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"]]
        assert rows_query and all("OFFSET" not in sql for sql in rows_query)
    assert counts[0] == counts[1] == counts[2]


@pytest.mark.parametrize("sort", sorted(liststate.SORTS))
@pytest.mark.parametrize("status", ["all", "guest"])
def test_load_more_pages_add_up_to_the_whole_list_in_every_order(
    admin_client, make_session, settings, django_user_model, sort, status
):
    """Ties on every sort column, guests (NULL user) and unknown IPs (NULL ip) included:
    following "load more" to the end shows each row once, in the list's order."""
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 3}
    users = [django_user_model.objects.create_user(f"u{n}") for n in range(3)]
    for n in range(14):
        make_session(
            user=users[n % 3] if n % 4 else None,
            ip=None if n % 5 == 0 else f"198.51.100.{n % 3}",
        )
    same = timezone.now().replace(microsecond=0)
    # Half of them share one last-seen and one expiry: only the id breaks the tie.
    SessionRecord.objects.filter(
        pk__in=SessionRecord.objects.order_by("pk")[:7].values("pk")
    ).update(last_seen=same, expiry=same + timedelta(days=1))
    admin_client.get(page_url())  # the admin's own address and last seen settle
    params = {"sort": sort, "status": status}
    everything = handles_in(body(admin_client.get(page_url(), {**params, "page": "99"}, **HTMX)))
    assert followed_to_the_end(admin_client, params) == everything
    assert len(everything) == (15 if status == "all" else 4)  # the admin's own included


def test_load_more_after_a_search_merges_its_branches(admin_client, make_session, settings):
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 2}
    for n in range(4):
        make_session(ip=f"10.9.0.{n}")
        make_session(ip="192.0.2.1", application="Orders")
    # "or" matches the application, "10.9" would not: a two-branch search needs both.
    admin_client.get(page_url())
    params = {"q": "o"}
    everything = handles_in(body(admin_client.get(page_url(), {**params, "page": "99"}, **HTMX)))
    assert followed_to_the_end(admin_client, params) == everything
    assert len(everything) >= 4


@pytest.mark.parametrize(
    "after",
    ["nonsense", "e30", "W10", "W251bGwsMV0", "WzEsMl0", "x" * 5000, "W3sidCI6dHJ1ZX0sMV0"],
    ids=["garbage", "object", "empty-list", "null-time", "no-times", "huge", "bool-time"],
)
def test_a_bad_load_more_position_shows_the_list_from_the_top(six_sessions, after):
    top = handles_in(body(six_sessions.get(page_url(), **HTMX)))
    response = six_sessions.get(page_url(), {"page": "2", "after": after}, **HTMX)
    assert response.status_code == 200
    html = body(response)
    assert "The list is shown from the top again." in html
    assert handles_in(html)[:2] == top


def test_a_position_from_another_order_is_not_used(six_sessions):
    html = body(six_sessions.get(page_url(), **HTMX))
    url = load_more_url(html).replace("?page=2", "?sort=ip&page=2")
    response = body(six_sessions.get(url, **HTMX))
    assert "The list is shown from the top again." in response


@pytest.mark.parametrize(
    ("page", "rows"),
    [("-1", 2), ("0", 2), ("abc", 2), ("", 2), ("1e3", 2), ("10" * 30, 6), ("9" * 5000, 2)],
)
def test_bad_page_numbers_are_clamped_never_an_error(six_sessions, page, rows):
    response = six_sessions.get(page_url(), {"page": page})
    assert response.status_code == 200
    assert len(handles_in(body(response))) == rows


def test_load_more_stops_at_the_row_cap_and_says_so(six_sessions, monkeypatch):
    monkeypatch.setattr(liststate, "MAX_ROWS", 4)
    html = body(six_sessions.get(page_url(), {"page": "99"}))
    assert len(handles_in(html)) == 4
    assert "Load more" not in html
    assert "Showing the first 4 sessions. Search or filter to find the others." in html


def test_appending_stops_at_the_row_cap_and_says_so(six_sessions, monkeypatch):
    monkeypatch.setattr(liststate, "MAX_ROWS", 4)
    html = body(six_sessions.get(page_url(), **HTMX))
    more = body(six_sessions.get(load_more_url(html), **HTMX))
    assert len(handles_in(more)) == 2
    assert "Load more" not in more
    assert "Showing the first 4 sessions. Search or filter to find the others." in more


def test_paging_keeps_search_and_filters(six_sessions):
    html = body(six_sessions.get(page_url(), {"status": "guest", "sort": "expiry"}))
    assert "?status=guest&amp;sort=expiry&amp;page=2" in html


# -- full page vs fragment --------------------------------------------------------------


def test_normal_request_gets_the_whole_page(admin_client, people):
    response = admin_client.get(page_url())
    html = body(response)
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert "/static/django_htmx/htmx-2.min.js" in html
    assert 'hx-history="false"' in html
    assert "X-CSRFToken" in html
    assert "Vary" in response and "HX-Request" in response["Vary"]
    assert "no-store" in response["Cache-Control"]


def test_htmx_request_gets_only_the_rows_and_out_of_band_badge(admin_client, people):
    response = admin_client.get(page_url(), {"q": "alice"}, **HTMX)
    html = body(response)
    assert "<html" not in html
    assert 'id="header"' not in html
    assert html.startswith('<div id="sp-results"')
    # Of the five live sessions, alice's two match: the badge says both.
    assert '<span id="sp-badge" class="sp-badge" hx-swap-oob="true">2 of 5 Active</span>' in html
    assert 'id="sp-kill-all-summary" hx-swap-oob="true"' in html
    assert 'id="sp-messages"' not in html  # a refresh leaves the messages alone
    assert response["HX-Replace-Url"] == page_url() + "?q=alice"
    assert "HX-Request" in response["Vary"]
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    "headers",
    [
        {**HTMX, "HTTP_HX_BOOSTED": "true"},
        {**HTMX, "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"},
    ],
)
def test_boosted_and_history_restore_requests_get_the_whole_page(admin_client, people, headers):
    html = body(admin_client.get(page_url(), **headers))
    assert "<!DOCTYPE html>" in html


def test_search_form_is_live_debounced_and_queues_only_the_latest_request(admin_client):
    html = body(admin_client.get(page_url()))
    search_input = re.search(r'<input type="search" id="sp-q"[^>]*>', html, re.S)
    assert search_input
    tag = search_input.group(0)
    assert 'hx-trigger="input changed delay:200ms, search"' in tag
    # Queued, not replaced: replacing aborts the request out, a console error in htmx.
    assert 'hx-sync="closest form:queue last"' in tag
    assert 'maxlength="200"' in tag
    assert 'hx-sync="this:queue last"' in html  # on the form


# -- queries ----------------------------------------------------------------------------


@pytest.fixture
def many_sessions(admin_client, make_session, django_user_model):
    for number in range(110):
        user = (
            django_user_model.objects.create_user(f"user{number}", email=f"u{number}@x.test")
            if number % 3
            else None
        )
        make_session(user=user, ip=f"10.0.{number // 250}.{number % 250}")
    admin_client.get(page_url())  # settles the admin's own "last seen"
    return admin_client


def count_queries(client, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(page_url(), params, **HTMX)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    "params", [{}, {"q": "user"}, {"status": "guest"}, {"sort": "expiry", "q": "10.0"}]
)
def test_a_page_costs_a_fixed_number_of_queries_whatever_its_size(
    many_sessions, settings, django_assert_num_queries, params
):
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 10}
    count_queries(many_sessions, **params)  # warm the short-lived caches (count, app names)
    expected = count_queries(many_sessions, **params)
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 100}
    with django_assert_num_queries(expected):
        response = many_sessions.get(page_url(), params, **HTMX)
    if not params:
        assert len(handles_in(body(response))) == 100


def test_the_page_itself_needs_at_most_six_index_queries(many_sessions, settings):
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 100}
    with CaptureQueriesContext(connection) as queries:
        many_sessions.get(page_url(), {"q": "user"}, **HTMX)
    ours = [
        q
        for q in queries
        if '"sessions_panel_sessionrecord"."expiry" >' in q["sql"]
        or ('FROM "auth_user"' in q["sql"] and "LIKE" in q["sql"])
    ]
    # users matching the search, the rows (with their users), the count, the own row,
    # the "Kill N matching" preview (a search is on) and the "Multiple sessions" flag
    assert len(ours) <= 6


def test_whole_page_costs_the_same_for_ten_and_a_hundred_rows(
    many_sessions, settings, django_assert_num_queries
):
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 10}
    with CaptureQueriesContext(connection) as queries:
        many_sessions.get(page_url())
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 100}
    with django_assert_num_queries(len(queries)):
        many_sessions.get(page_url())


# -- state parsing ----------------------------------------------------------------------


def test_list_state_round_trips_through_its_query_string():
    state = liststate.ListState.from_params(
        {"q": " a&b ", "status": "guest", "sort": "ip", "page": "3"}, 10
    )
    assert state.query == "q=a%26b&status=guest&sort=ip&page=3"
    assert liststate.ListState.from_params(dict(parse_qsl(state.query)), 10) == state
    assert liststate.ListState.from_params({}, 10).query == ""


def test_breadcrumbs_name_the_app_as_the_admins_own_lists_do(admin_client):
    html = body(admin_client.get(page_url()))
    crumbs = html[html.index('class="breadcrumbs"') :].split("</ol>")[0].split("</div>")[0]
    assert '<a href="/admin/">Home</a>' in crumbs
    assert '<a href="/admin/sessions_panel/">Sessions panel</a>' in crumbs
    assert crumbs.index("Sessions panel") < crumbs.rindex("Sessions")


def test_a_search_says_how_many_sessions_match_in_a_polite_live_region(admin_client, people):
    page = body(admin_client.get(page_url()))
    assert '<p id="sp-match-count" class="sp-match-count" role="status" aria-live="polite">' in page
    fragment = body(admin_client.get(page_url(), {"q": "alice"}, **HTMX))
    assert re.search(
        r'<p id="sp-match-count" hx-swap-oob="innerHTML">\d+ sessions? match', fragment
    )
    empty = body(admin_client.get(page_url(), {"q": "nobody-at-all"}, **HTMX))
    assert '<p id="sp-match-count" hx-swap-oob="innerHTML">No sessions match.</p>' in empty


def test_the_live_refresh_does_not_re_announce_the_count(admin_client, people):
    refresh = body(
        admin_client.get(page_url(), {"q": "alice"}, HTTP_HX_TRIGGER="sp-poller", **HTMX)
    )
    assert "sp-match-count" not in refresh
