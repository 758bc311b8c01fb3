"""The weight of the list (issue 17): at most 1 KB of HTML a row, a page of 50 rows at
most 60 KB, whole or as the htmx results fragment. What every row repeated (its own
kill form, CSRF token and dialog data, hidden duplicates of what it shows) is the
list's, once."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django.utils.timesince import timeuntil
from django.utils.translation import override

from sessions_panel.models import SessionRecord
from sessions_panel.page import row_markup
from sessions_panel.query.flags import Flag
from sessions_panel.query.listing import Row
from sessions_panel.tracking.useragent import describe
from tests.page_support import (
    HTMX,
    body,
    handles_in,
    kill_button,
    logged_in,
    make_staff,
    page_url,
    row_cells,
    row_html,
)

#: Issue 17's budgets, in bytes of UTF-8.
ROW_BUDGET = 1024
PAGE_BUDGET = 60 * 1024
PAGE_SIZE = 50

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86"
)
V4 = "203.0.113.195"
V6 = "2001:db8:85a3::8a2e:370:7334"


def size(html: str) -> int:
    return len(html.encode())


# -- one row, rendered alone -----------------------------------------------------------


def realistic_row(**changes: Any) -> Row:
    """A staff member's session as most rows are: a 10-character username, a full name,
    Chrome on Windows, an application, expiring in days."""
    now = timezone.now()
    expiry = now + timedelta(days=13, hours=5)
    values: dict[str, Any] = {
        "handle": "Mfi8mZqxNsWG-SMnnX0zCQ",  # 22 URL-safe characters, as handles are
        "short_id": "72afdd7a",
        "user_id": 1234,
        "username": "jdupont_42",
        "full_name": "Jeanne Dupont",
        "ip": V4,
        "application": "Administration",
        "user_agent": CHROME,
        "browser": describe(CHROME),
        "expiry": expiry,
        "expires_in": timeuntil(expiry, now, depth=1),
        "last_seen": now - timedelta(minutes=3),
        "is_current": False,
    }
    values.update(changes)
    return Row(**values)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"ip": V6},
        {"ip": V6, "user_id": 98765, "username": "a.lefevre_12"},
    ],
    ids=["ipv4", "ipv6", "ipv6-longer-user"],
)
def test_a_realistic_row_is_at_most_1_kb(changes):
    """(The admin's own row says more, once a page: the page's budget counts it.)"""
    row = realistic_row(**changes)
    assert row.browser == "Chrome 131 · Windows"
    with override("en"):
        html = str(row_markup.render_rows([row], can_kill=True))
    assert handles_in(html) == [row.handle]
    assert size(html) <= ROW_BUDGET, (size(html), html)


MULTIPLE = Flag("multiple", "Multiple sessions (2)")  # its label says it all: no reason
NEW_IP = Flag("new-ip", "New IP", "This user had never used this IP address before this session.")


def test_a_flagged_row_costs_only_its_flags():
    """A flag adds its label, and its reason (a disclosure) when it has one: nothing
    repeated besides. "Multiple sessions (N)", on most rows of a busy page, is its label
    alone: "This user has N live sessions at once" only said it again."""
    with override("en"):
        plain = str(row_markup.render_rows([realistic_row()], can_kill=True))
        multiple, new_ip, both = (
            str(row_markup.render_rows([realistic_row(flags=flags)], can_kill=True))
            for flags in ((MULTIPLE,), (NEW_IP,), (MULTIPLE, NEW_IP))
        )
    # The list of flags (named "Risk flags" for screen readers), then one item a flag.
    assert size(multiple) - size(plain) <= 90 + size(MULTIPLE.label), multiple
    assert '<li data-sp-flag="multiple">Multiple sessions (2)</li>' in multiple
    assert "<details" not in multiple
    assert size(new_ip) - size(plain) <= 130 + size(NEW_IP.label) + size(NEW_IP.why), new_ip
    assert f"<summary>New IP</summary>{NEW_IP.why}</details>" in new_ip
    assert size(both) - size(new_ip) <= 40 + size(MULTIPLE.label), both
    for html in (multiple, new_ip, both):
        assert html.count("<ul") <= 1 and html.count("Risk flags") == 1
        assert html.count(MULTIPLE.label) == (MULTIPLE.label in html)
        assert html.count(NEW_IP.why) == (NEW_IP.why in html)
    # ...and a realistic row with both stays within the budget.
    assert size(both) <= ROW_BUDGET, size(both)


def test_rows_repeat_nothing_of_the_list():
    """No form, CSRF token, list address or dialog data in a row; the handle twice at
    most (the row and its Kill button's value), what each row shows once."""
    rows = [
        realistic_row(
            handle=f"Row{n}-Mfi8mZqxNsWG-SMnnX",
            short_id=f"ab{n:06x}",
            user_id=n,
            ip=f"198.51.100.{n + 10}",
        )
        for n in range(1, 6)
    ]
    with override("en"):
        html = str(row_markup.render_rows(rows, can_kill=True))
    for old in (
        "<form",
        "<input",
        "csrfmiddlewaretoken",
        "data-user",
        "data-ip",
        "title=",
        "aria-label",
    ):
        assert old not in html, old
    assert "/admin/" not in html  # the user link is a query alone: "?user=ID"
    for row in rows:
        assert html.count(row.handle) == 2, row.handle
        assert html.count(row.short_id) == 1  # shown; the script names the Kill from it
        assert html.count(f"{row.ip}<") == 1  # shown once, no hidden copy
    assert html.count("Chrome 131 · Windows") == len(rows)


# -- a page of 50 rows, through the view -----------------------------------------------

FIRST = ["Jeanne", "Thomas", "Amélie", "Lucas", "Chloé", "Hugo", "Léa", "Nathan", "Emma", "Louis"]
LAST = ["Dupont", "Martin", "Bernard", "Durand", "Lefèvre", "Moreau", "Fournier", "Girard"]
AGENTS = [CHROME, FIREFOX, SAFARI, EDGE]
APPLICATIONS = ["Administration", "Shop", "Customer portal"]


@pytest.fixture
def seeded(django_user_model, make_session) -> list[SessionRecord]:
    """51 live sessions (52 with the staff's own): 40 users, 5 of them on two devices
    (flagged), and 6 guests; IPv4 and IPv6, four browsers, three applications, expiring
    in days."""
    records = []
    for n in range(40):
        first, last = FIRST[n % len(FIRST)], LAST[n % len(LAST)]
        user = django_user_model.objects.create_user(
            f"{first[0].lower()}{last.lower()}{n:02d}"[:12],
            email=f"user{n}@example.org",
            first_name=first,
            last_name=last,
        )
        for device in range(2 if n < 5 else 1):
            ip = f"2001:db8:{n:x}::{device + 1:x}" if n % 3 == 0 else f"198.51.100.{n + 10}"
            session = make_session(
                user=user,
                ip=ip,
                user_agent=AGENTS[(n + device) % len(AGENTS)],
                application=APPLICATIONS[n % len(APPLICATIONS)],
            )
            records.append(SessionRecord.objects.get(session_key=session.session_key))
    for n in range(6):
        session = make_session(ip=f"192.0.2.{n + 20}", user_agent=CHROME, application="Shop")
        records.append(SessionRecord.objects.get(session_key=session.session_key))
    return records


@pytest.fixture
def staff(django_user_model):
    """Staff who may see, end and reveal sessions: every control a row can have."""
    user = make_staff(
        django_user_model, "staffer", "view_sessionrecord", "delete_sessionrecord", "reveal_ip"
    )
    return logged_in(user)


def rows_of(html: str) -> list[str]:
    return [row_html(html, handle) for handle in handles_in(html)]


@pytest.mark.django_db
def test_a_page_of_50_rows_is_at_most_60_kb(staff, seeded):
    page = body(staff.get(page_url()))
    fragment = body(staff.get(page_url(), **HTMX))
    sizes = {}
    for name, html in (("page", page), ("fragment", fragment)):
        rows = rows_of(html)
        assert len(rows) == PAGE_SIZE
        assert all(kill_button(row) is not None for row in rows)  # every control there
        assert any("sp-flags" in row for row in rows)  # the 5 users on two devices
        assert any("2001:db8:" in row for row in rows)
        assert any("198.51.100." in row for row in rows)
        sizes[name] = size(html)
        # Flagged rows carry their flags' text besides: the rows average the budget.
        sizes[f"{name} rows, average"] = sum(map(size, rows)) // len(rows)
    budgets = {name: ROW_BUDGET if "rows" in name else PAGE_BUDGET for name in sizes}
    assert {name: sizes[name] for name in sizes if sizes[name] > budgets[name]} == {}, sizes


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_the_csrf_token_is_written_once_whatever_the_rows(staff, make_session, htmx):
    """One kill form for the list: one token, for 1 row as for 50."""
    counts = []
    for total in (1, PAGE_SIZE):
        while SessionRecord.objects.count() < total:
            make_session(ip="198.51.100.9", user_agent=CHROME)
        html = body(staff.get(page_url(), **(HTMX if htmx else {})))
        # The results: the whole fragment, or the page's from its results to the list's end.
        results = html if htmx else html[html.index('id="sp-results"') :]
        results = results if htmx else results[: results.index('id="sp-footer"')]
        assert len(handles_in(results)) == min(SessionRecord.objects.count(), PAGE_SIZE)
        counts.append(results.count("csrfmiddlewaretoken"))
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', results)
        assert token is not None
        assert results.count(token.group(1)) == 1
        # ...in the list's kill form, which holds the table: every row's Kill submits it.
        forms = re.findall(r'<form id="sp-kill-form"[^>]*>.*?</form>', results, re.S)
        assert len(forms) == 1 and token.group(0) in forms[0], forms
        assert handles_in(forms[0]) == handles_in(results)
    assert counts == [1, 1]


@pytest.mark.django_db
def test_each_handle_is_written_at_most_twice(staff, seeded):
    for html in (body(staff.get(page_url())), body(staff.get(page_url(), **HTMX))):
        handles = handles_in(html)
        assert len(handles) == PAGE_SIZE
        counts = Counter({handle: html.count(handle) for handle in handles})
        assert max(counts.values()) <= 2, counts.most_common(3)
        # ...and those two are the row and its Kill button, posting the list's form: the
        # one that holds the table, so no button names it.
        (form,) = re.findall(r'<form id="sp-kill-form"[^>]*>.*?</form>', html, re.S)
        assert handles_in(form) == handles
        for handle in handles:
            cells = row_cells(row_html(html, handle))[handle]
            assert cells["kill"]["value"] == handle
            assert "form" not in cells["kill"]


@pytest.mark.django_db
def test_the_peer_benchs_row_count_is_the_rows_on_the_page(staff, seeded):
    """``bench/peers`` refuses to measure a page it finds no rows on: its way of
    counting them must follow the row markup (it missed every row once, after the
    rows lost their class)."""
    from bench.peers import rows

    for html in (body(staff.get(page_url())), body(staff.get(page_url(), **HTMX))):
        assert rows.count(html.encode()) == len(handles_in(html))
        assert len(handles_in(html)) == PAGE_SIZE


# -- the bench's page 1: most rows flagged -------------------------------------------------

#: Names as the bench's users have them ("mateo.rossi137740", "Mateo Rossi").
BENCH_FIRST = ["mateo", "fatima", "wei", "olga", "kwame", "sofia", "arjun", "ingrid", "yusuf"]
BENCH_LAST = ["rossi", "tran", "simon", "novak", "mensah", "garcia", "patel", "larsen", "demir"]
BENCH_AGENTS = [
    CHROME,
    FIREFOX,
    SAFARI,
    EDGE,
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:130.0) Gecko/20100101 Firefox/130.0",
]
BENCH_APPLICATIONS = ["Administration", "API", "Newsletter", "Shop"]


def bench_ip(n: int) -> str:
    """Public-looking addresses, one in four IPv6 (as the bench's networks)."""
    if n % 4 == 3:
        return f"2a01:cb00:{n * 37 % 65536:x}:{n * 101 % 65536:x}::{n % 200 + 1:x}"
    return f"{78 + n % 100}.{(n * 53) % 256}.{(n * 97) % 256}.{n % 250 + 2}"


@pytest.fixture
def mostly_flagged(django_user_model, make_session) -> dict[str, int]:
    """The bench's page 1 (1,000,000 sessions, issue 17): 14 users on three devices each
    (42 sessions flagged "Multiple sessions", 24 of them "New IP" as well: the user's
    history is a month old and the address is new), 12 guests, and the staff's own
    session; more than a page, so "Load more" shows."""
    from sessions_panel.models import SeenAddress

    made = {"multiple": 0, "new-ip": 0}
    now = timezone.now()
    seen = now
    for n in range(14):
        first, last = BENCH_FIRST[n % len(BENCH_FIRST)], BENCH_LAST[(n * 5) % len(BENCH_LAST)]
        username = f"{first}.{last}{137740 + n * 1709}"
        user = django_user_model.objects.create_user(
            username,
            email=f"{username}@example.org",
            first_name=first.capitalize() if n % 5 else "",
            last_name=last.capitalize() if n % 5 else "",
        )
        for device in range(3):
            if device == 1 and n % 7 != 6:
                # A month of history, then two sessions from addresses never seen before.
                then = now - timedelta(days=30)
                SeenAddress.objects.filter(user=user).update(first_seen=then, last_seen=then)
            made["new-ip"] += device > 0 and n % 7 != 6
            session = make_session(
                user=user,
                ip=bench_ip(n * 3 + device),
                user_agent=BENCH_AGENTS[(n + device) % len(BENCH_AGENTS)],
                application=BENCH_APPLICATIONS[(n + device) % len(BENCH_APPLICATIONS)],
            )
            seen -= timedelta(seconds=20)
            SessionRecord.objects.filter(session_key=indexed_key(session)).update(last_seen=seen)
            made["multiple"] += 1
    for n in range(12):
        session = make_session(
            ip=bench_ip(100 + n),
            user_agent=BENCH_AGENTS[n % len(BENCH_AGENTS)],
            application=BENCH_APPLICATIONS[n % len(BENCH_APPLICATIONS)],
        )
        seen -= timedelta(seconds=20)
        SessionRecord.objects.filter(session_key=indexed_key(session)).update(last_seen=seen)
    return made


def indexed_key(session: Any) -> str:
    from tests.keys import indexed

    return str(indexed(session))


@pytest.mark.django_db
def test_the_benchs_page_of_mostly_flagged_rows_is_at_most_60_kb(staff, mostly_flagged):
    """35 and more of the 50 rows carry "Multiple sessions (N)", some "New IP" too: a
    flag whose reason adds nothing to its label is written once, as its label."""
    with override("en"):
        page = body(staff.get(page_url()))
        fragment = body(staff.get(page_url(), **HTMX))
    sizes = {}
    for name, html in (("page", page), ("fragment", fragment)):
        rows = rows_of(html)
        assert len(rows) == PAGE_SIZE
        assert 'data-sp-more="50"' in html  # a full page, more behind it
        multiple = [row for row in rows if 'data-sp-flag="multiple"' in row]
        new_ip = [row for row in rows if 'data-sp-flag="new-ip"' in row]
        assert len(multiple) >= 35, len(multiple)
        assert 15 <= len(new_ip) < len(multiple), len(new_ip)
        assert any("2a01:cb00:" in row for row in rows)
        assert any('class="sp-ip-v4"' in row for row in rows)
        assert all(kill_button(row) is not None for row in rows)
        sizes[name] = size(html)
        sizes[f"{name} rows, average"] = sum(map(size, rows)) // len(rows)
    budgets = {name: ROW_BUDGET if "rows" in name else PAGE_BUDGET for name in sizes}
    assert {name: sizes[name] for name in sizes if sizes[name] > budgets[name]} == {}, sizes
