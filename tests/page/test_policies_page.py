"""The Sessions page and the policies: each row says WHEN the idle timeout or the
lifetime will end it (a moment, so the live refresh still finds an unchanged list
unchanged as time passes), users at their cap carry a flag, and a page costs the same
queries with every policy on."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import formats, timezone

from sessions_panel.models import SessionRecord
from sessions_panel.query import flags
from sessions_panel.tracking import policies
from tests.keys import indexed
from tests.page_support import HTMX, body, handles_in, page_url, row_html
from tests.policy_support import idle_for, logged_in_for, move_back

pytestmark = pytest.mark.django_db

IDLE = 1800
LIFETIME = 12 * 3600
POLL: dict[str, Any] = {**HTMX, "HTTP_HX_TRIGGER": "sp-poller"}
EVERY_POLICY = {
    "IDLE_TIMEOUT": IDLE,
    "ABSOLUTE_LIFETIME": LIFETIME,
    "MAX_SESSIONS_PER_USER": 3,
}


@pytest.fixture
def users(django_user_model: Any) -> list[Any]:
    return [django_user_model.objects.create_user(f"user{i}") for i in range(3)]


def record(session: Any) -> SessionRecord:
    return SessionRecord.objects.get(session_key=indexed(session))


def shown(moment: float) -> str:
    """How the page writes a moment of today or another day (local time)."""
    local = timezone.localtime(datetime.fromtimestamp(moment, tz=UTC))
    if local.date() == timezone.localtime(timezone.now()).date():
        return str(formats.date_format(local, "TIME_FORMAT"))
    return str(formats.date_format(local, "SHORT_DATETIME_FORMAT"))


def expires_cell(html: str, handle: str) -> str:
    """The row's fourth cell, Expires (cells are known by position: no class)."""
    cells = re.findall(r"<td[ >].*?</td>", row_html(html, handle), re.S)
    cell = cells[3] if len(cells) > 3 else ""
    assert not cell or cell.startswith('<td data-label="Expires">'), cell
    return cell


# -- when a policy ends a row -------------------------------------------------------------


def test_each_row_says_when_idle_and_lifetime_will_end_it(
    admin_client: Client, settings: Any, users: list[Any], make_session: Any
) -> None:
    settings.SESSIONS_PANEL = {"IDLE_TIMEOUT": IDLE, "ABSOLUTE_LIFETIME": LIFETIME}
    session = make_session(user=users[0])
    logged_in_for(session.session_key, 3600)
    idle_for(session.session_key, 600)
    row = record(session)
    assert row.seen is not None and row.issued is not None

    cell = expires_cell(body(admin_client.get(page_url(), **HTMX)), row.handle)

    idle_out = row.seen + IDLE
    life_end = row.issued + LIFETIME  # no login() here: the issue time stands in
    assert (
        f'<span class="sp-policy-end sp-policy-idle">idle-out <time datetime="'
        f"{datetime.fromtimestamp(idle_out, tz=UTC).astimezone(timezone.get_current_timezone()).isoformat()}"
    ) in cell
    assert f">{shown(idle_out)}</time></span>" in cell
    assert '<span class="sp-policy-end sp-policy-lifetime">lifetime ends <time' in cell
    assert f">{shown(life_end)}</time></span>" in cell
    assert "in " not in cell.split("sp-policy-end")[1]  # a moment, never "in 25 minutes"


def test_a_guest_row_has_no_lifetime_and_nothing_shows_with_the_policies_off(
    admin_client: Client, settings: Any, make_session: Any, users: list[Any]
) -> None:
    guest = record(make_session())
    member = record(make_session(user=users[0]))
    html = body(admin_client.get(page_url(), **HTMX))
    assert "sp-policy-end" not in html
    settings.SESSIONS_PANEL = {"IDLE_TIMEOUT": IDLE, "ABSOLUTE_LIFETIME": LIFETIME}
    html = body(admin_client.get(page_url(), **HTMX))
    assert "sp-policy-idle" in expires_cell(html, guest.handle)
    assert "sp-policy-lifetime" not in expires_cell(html, guest.handle)
    assert "sp-policy-lifetime" in expires_cell(html, member.handle)


def test_an_end_after_the_expiry_is_not_shown(
    admin_client: Client, settings: Any, make_session: Any, users: list[Any]
) -> None:
    settings.SESSIONS_PANEL = {"IDLE_TIMEOUT": 30 * 86400, "ABSOLUTE_LIFETIME": 30 * 86400}
    member = record(make_session(user=users[0]))  # expires in two weeks
    assert "sp-policy-end" not in expires_cell(
        body(admin_client.get(page_url(), **HTMX)), member.handle
    )


def test_minutes_passing_leave_the_list_unchanged_with_the_policies_on(
    admin_client: Client,
    settings: Any,
    users: list[Any],
    make_session: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.SESSIONS_PANEL = EVERY_POLICY
    for user in users:
        make_session(user=user)
    assert admin_client.get(page_url()).status_code == 200  # the admin's own row settles
    first = admin_client.get(page_url(), **POLL)
    assert "sp-policy-idle" in body(first)
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(minutes=7))

    again = admin_client.get(page_url(), HTTP_IF_NONE_MATCH=first["ETag"], **POLL)

    assert again.status_code == 304


def test_a_last_seen_write_moves_the_idle_out_and_changes_the_list(
    admin_client: Client, settings: Any, users: list[Any], make_session: Any
) -> None:
    settings.SESSIONS_PANEL = {"IDLE_TIMEOUT": IDLE}
    session = make_session(user=users[0])
    first = admin_client.get(page_url(), **POLL)
    move_back(session.session_key, 900, "seen")

    again = admin_client.get(page_url(), HTTP_IF_NONE_MATCH=first["ETag"], **POLL)

    assert again.status_code == 200
    assert expires_cell(body(again), record(session).handle) != expires_cell(
        body(first), record(session).handle
    )


def test_ends_are_fixed_moments_whatever_the_time(
    settings: Any, users: list[Any], make_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.SESSIONS_PANEL = {"IDLE_TIMEOUT": IDLE, "ABSOLUTE_LIFETIME": LIFETIME}
    row = record(make_session(user=users[0]))
    before = policies.ends(row)
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(hours=3))
    assert policies.ends(row) == before
    assert all(moment is not None for moment in before)


# -- the cap flag -------------------------------------------------------------------------


def test_users_at_their_cap_carry_a_flag_and_can_be_filtered(
    admin_client: Client, settings: Any, users: list[Any], make_session: Any
) -> None:
    settings.SESSIONS_PANEL = {"MAX_SESSIONS_PER_USER": 2}
    full = [record(make_session(user=users[0])) for _ in range(2)]
    room = record(make_session(user=users[1]))
    guests = [record(make_session(ip="192.0.2.9")) for _ in range(3)]

    found = flags.flags_for([*full, room, *guests])

    at_cap = [f for f in found[full[0].pk] if f.code == flags.AT_CAP]
    assert [f.label for f in at_cap] == ["Session limit reached (2/2)"]
    assert at_cap[0].why == (
        "This user has 2 live sessions, the most allowed is 2 "
        "(a new login ends the oldest or is refused)."
    )
    assert all(f.code != flags.AT_CAP for f in found[room.pk])
    assert all(f.code != flags.AT_CAP for g in guests for f in found[g.pk])
    html = body(admin_client.get(page_url(), {"flag": flags.AT_CAP}, **HTMX))
    assert 'data-sp-flag="at-cap"' in html
    assert set(handles_in(html)) == {r.handle for r in full}
    assert 'value="at-cap"' in body(admin_client.get(page_url()))


def test_no_cap_no_flag_and_no_chip(
    admin_client: Client, users: list[Any], make_session: Any
) -> None:
    rows = [record(make_session(user=users[0])) for _ in range(3)]
    assert all(f.code != flags.AT_CAP for f in flags.flags_for(rows)[rows[0].pk])
    assert 'value="at-cap"' not in body(admin_client.get(page_url()))


def cap_of_one_for_user0(user: Any) -> int | None:
    return 1 if user.get_username() == "user0" else None


def test_a_resolver_flags_by_each_users_own_cap_without_a_chip(
    admin_client: Client, settings: Any, users: list[Any], make_session: Any
) -> None:
    settings.SESSIONS_PANEL = {
        "MAX_SESSIONS_PER_USER": 5,
        "MAX_SESSIONS_RESOLVER": "tests.page.test_policies_page.cap_of_one_for_user0",
    }
    one = record(make_session(user=users[0]))
    two = [record(make_session(user=users[1])) for _ in range(2)]
    found = flags.flags_for(
        list(
            SessionRecord.objects.filter(pk__in=[one.pk, *(r.pk for r in two)]).select_related(
                "user"
            )
        )
    )
    assert [f.label for f in found[one.pk] if f.code == flags.AT_CAP] == [
        "Session limit reached (1/1)"
    ]
    assert all(f.code != flags.AT_CAP for f in found[two[0].pk])
    assert 'value="at-cap"' not in body(admin_client.get(page_url()))  # no SQL filter for it


# -- cost ---------------------------------------------------------------------------------


def test_a_page_costs_the_same_queries_with_every_policy_on(
    admin_client: Client, settings: Any, users: list[Any], make_session: Any
) -> None:
    for user in users:
        for _ in range(3):
            make_session(user=user)
    for _ in range(5):
        make_session()
    # Compared with the database check: with the policies off, a shared session cache
    # would keep the admin's revocation state and save a query the policies need.
    settings.SESSIONS_PANEL = {"REVOCATION_CACHE": False}

    def cost(**params: str) -> int:
        admin_client.get(page_url(), params, **HTMX)  # warm the short-lived caches
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(page_url(), params, **HTMX).status_code == 200
        return len(queries)

    off = cost(), cost(flag="multiple")
    settings.SESSIONS_PANEL = {**EVERY_POLICY, "PAGE_SIZE": 100, "REVOCATION_CACHE": False}
    assert (cost(), cost(flag="multiple"), cost(flag="at-cap")) == (*off, off[1])
    settings.SESSIONS_PANEL = {**EVERY_POLICY, "PAGE_SIZE": 2, "REVOCATION_CACHE": False}
    assert (cost(), cost(flag="at-cap")) == (off[0], off[1])
