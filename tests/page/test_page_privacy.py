"""The reveal-IP permission, enforced on the server: without it the page never carries a
full address (rows, dialogs, data attributes), cannot toggle one, and its search and
sort cannot be used to find out the hidden part."""

from __future__ import annotations

import re

import pytest

from sessions_panel.models import SessionRecord
from sessions_panel.query import privacy
from tests.keys import indexed
from tests.page_support import (
    HTMX,
    action_url,
    body,
    handles_in,
    logged_in,
    make_staff,
    page_url,
    parse_tags,
    row_cells,
    row_html,
)

pytestmark = pytest.mark.django_db

V4 = "198.51.100.77"
V6 = "2001:db8:85a3::8a2e:370:7334"


@pytest.fixture
def sessions(django_user_model, make_session):
    alice = django_user_model.objects.create_user("alice")
    return {
        "v4": SessionRecord.objects.get(session_key=indexed(make_session(user=alice, ip=V4))),
        "v6": SessionRecord.objects.get(session_key=indexed(make_session(ip=V6))),
    }


@pytest.fixture
def masked(django_user_model):
    """Staff who may see and end sessions, but not reveal IP addresses."""
    user = make_staff(django_user_model, "masked", "view_sessionrecord", "delete_sessionrecord")
    return logged_in(user, REMOTE_ADDR="192.0.2.250")


@pytest.fixture
def revealer(django_user_model):
    user = make_staff(
        django_user_model, "revealer", "view_sessionrecord", "delete_sessionrecord", "reveal_ip"
    )
    return logged_in(user)


# Random tokens that may contain an address fragment by chance ("…85a3…"): handles
# (22 URL-safe characters) and short session IDs (8 hex digits). No address has either.
_TOKENS = re.compile(r"(?<![A-Za-z0-9_-])(?:[A-Za-z0-9_-]{22}|[0-9a-f]{8})(?![A-Za-z0-9_-])")


def assert_nothing_revealed(html: str) -> None:
    html = _TOKENS.sub("<token>", html)
    for address in (V4, V6, "198.51.100", "100.77", "85a3", "7334", "192.0.2.250"):
        assert address not in html, address


# -- masking ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("198.51.100.7", "198.51.•••.•••"),
        ("10.0.0.1", "10.0.•••.•••"),
        ("2001:db8::1", "2001:db8:•••"),
        ("2001:0db8:0000::1", "2001:db8:•••"),
        ("::1", "0:0:•••"),
        ("fe80::1", "fe80:0:•••"),
        ("not an ip", "•••"),
        (None, None),
        ("", ""),
    ],
)
def test_mask_ip_keeps_the_network_part_only(address, shown):
    assert privacy.mask_ip(address) == shown


@pytest.mark.parametrize(
    ("needle", "visible"),
    [
        ("198", True),
        ("198.51", True),
        ("198.51.", True),
        ("198.51.1", False),
        ("198.51.100.77", False),
        ("2001:db8", True),
        ("2001:db8:", True),
        ("2001:db8:85a3", False),
        ("2001::", False),
    ],
)
def test_an_ip_prefix_is_visible_only_within_the_mask(needle, visible):
    assert privacy.prefix_is_visible(needle) is visible


# -- without the permission -------------------------------------------------------------


def test_without_the_permission_the_page_holds_only_masked_addresses(masked, sessions):
    response = masked.get(page_url())
    assert response.status_code == 200
    html = body(response)
    assert_nothing_revealed(html)
    v4 = row_html(html, sessions["v4"].handle)
    assert '<span class="sp-ip-value">198.51.•••.•••</span>' in v4
    # What the Kill dialog shows: the row's IP, as the row shows it.
    assert row_cells(v4)[sessions["v4"].handle]["ip"] == "198.51.•••.•••"
    assert "data-ip" not in html
    assert '<span class="sp-ip-value">2001:db8:•••</span>' in row_html(html, sessions["v6"].handle)


def test_without_the_permission_there_is_nothing_to_toggle(masked, sessions):
    tags = parse_tags(body(masked.get(page_url())))
    assert not [a for t, a in tags.tags if t == "button" and "sp-ip" in (a.get("class") or "")]
    assert not [a for t, a in tags.tags if a.get("id") == "sp-reveal-all"]
    assert [a for t, a in tags.tags if "sp-ip-masked" in (a.get("class") or "")]


def test_without_the_permission_fragments_and_actions_stay_masked(masked, sessions):
    assert_nothing_revealed(body(masked.get(page_url(), {"q": "alice"}, **HTMX)))
    response = masked.post(action_url("kill"), {"handle": sessions["v6"].handle}, **HTMX)
    html = body(response)
    assert "was ended" in html
    assert_nothing_revealed(html)


def test_without_the_permission_search_works_up_to_the_visible_part(masked, sessions):
    assert handles_in(body(masked.get(page_url(), {"q": "198.51"}, **HTMX))) == [
        sessions["v4"].handle
    ]
    assert handles_in(body(masked.get(page_url(), {"q": "2001:db8:"}, **HTMX))) == [
        sessions["v6"].handle
    ]
    hidden = body(masked.get(page_url(), {"q": "198.51.100.7"}, **HTMX))
    assert handles_in(hidden) == []
    assert "IP addresses are searched only as far as they are shown to you" in hidden
    assert handles_in(body(masked.get(page_url(), {"q": "2001:db8:85a3"}, **HTMX))) == []


def test_without_the_permission_the_ip_order_is_not_offered(masked, sessions):
    html = body(masked.get(page_url(), {"sort": "ip"}))
    assert '<option value="ip"' not in html
    response = masked.get(page_url(), {"sort": "ip"}, **HTMX)
    assert response["HX-Replace-Url"] == page_url()


def test_without_the_permission_a_load_more_position_in_the_ip_order_starts_at_the_top(
    masked, sessions
):
    """An IP-order position (three values) must not reach the last-seen order (two)."""
    from sessions_panel.query import cursor

    record = SessionRecord.objects.get(pk=sessions["v4"].pk)
    token = cursor.token(record, "ip")
    response = masked.get(page_url(), {"sort": "ip", "page": "2", "after": token}, **HTMX)
    assert response.status_code == 200
    assert sessions["v4"].handle in handles_in(body(response))


def test_without_the_permission_a_filter_kill_ends_what_the_masked_search_showed(masked, sessions):
    """The hidden part of an address cannot select sessions to end either."""
    response = masked.post(action_url("kill_matching"), {"q": "198.51.100.77"})
    assert response.status_code == 302
    assert SessionRecord.objects.filter(pk=sessions["v4"].pk).exists()


# -- with the permission ----------------------------------------------------------------


@pytest.mark.parametrize("who", ["revealer", "superuser"])
def test_with_the_permission_the_badge_holds_the_address_and_toggles(
    request, admin_client, sessions, who
):
    client = admin_client if who == "superuser" else request.getfixturevalue("revealer")
    html = body(client.get(page_url()))
    v4 = row_html(html, sessions["v4"].handle)
    # A button (the JS makes it a toggle, named by the list's "IP address, hidden" while
    # blurred), the address in it.
    assert (
        f'<button type="button" class="sp-ip"><span class="sp-ip-value">{V4}</span></button>'
    ) in v4
    assert 'id="sp-ip-label"' in html
    assert row_cells(v4)[sessions["v4"].handle]["ip"] == V4  # what the Kill dialog shows
    assert 'id="sp-reveal-all"' in html
    assert handles_in(body(client.get(page_url(), {"q": "198.51.100.7"}, **HTMX))) == [
        sessions["v4"].handle
    ]
    assert '<option value="ip"' in html
