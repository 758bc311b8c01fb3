"""Edited "load more" tokens (issue 14): whatever the ``after`` parameter holds, the page
answers 200, from the top with a notice when the token is not one of ours, and never
shows a row the viewer's filters or permissions leave out."""

from __future__ import annotations

import base64
import json
import re
import string
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from sessions_panel.models import SessionRecord
from sessions_panel.query import cursor
from tests.page_support import HTMX, body, handles_in, logged_in, make_staff, page_url

pytestmark = pytest.mark.django_db

FROM_THE_TOP = "The list is shown from the top again."


def encode(values: Any) -> str:
    """A token as :func:`sessions_panel.query.cursor.token` writes one, from any JSON value."""
    text = json.dumps(values, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.fixture
def listed(django_user_model: Any, make_session: Any, settings: Any) -> None:
    """Signed-in users and guests, with and without addresses, two rows per page."""
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 2}
    users = [django_user_model.objects.create_user(f"user{n}") for n in range(3)]
    for n in range(7):
        make_session(
            user=users[n % 3] if n % 3 else None,
            ip=None if n == 4 else ("2001:db8::7" if n == 5 else f"198.51.100.{n}"),
        )


@pytest.fixture
def viewer(django_user_model: Any) -> Client:
    """Staff who may only look: no full addresses, no kills."""
    return logged_in(make_staff(django_user_model, "viewer", "view_sessionrecord"))


def assert_from_the_top(client: Client, sort: str, after: str) -> None:
    client.get(page_url())  # the viewer's own address and last seen settle
    top = handles_in(body(client.get(page_url(), {"sort": sort}, **HTMX)))
    response = client.get(page_url(), {"sort": sort, "page": "2", "after": after}, **HTMX)
    assert response.status_code == 200
    html = body(response)
    assert FROM_THE_TOP in html
    assert handles_in(html)[:2] == top[:2]


# -- the cases measured in issue 14 -------------------------------------------------------

_USER_CASES = {
    "text-user": ["abc", {"t": 0}, 1],
    "fraction-user": ["1.5", {"t": 0}, 1],
    "30-digit-user": ["1" * 30, {"t": 0}, 1],
}


@pytest.mark.parametrize("values", list(_USER_CASES.values()), ids=list(_USER_CASES))
@pytest.mark.parametrize("who", ["superuser", "viewer"])
def test_an_edited_user_in_a_user_order_token_starts_at_the_top(
    request: pytest.FixtureRequest, listed: None, who: str, values: Any
) -> None:
    client = request.getfixturevalue("admin_client" if who == "superuser" else "viewer")
    assert_from_the_top(client, "user", encode(values))


@pytest.mark.parametrize("address", ["zzz", "1.2.3.4/8"], ids=["not-an-address", "a-network"])
def test_an_edited_address_in_an_ip_order_token_starts_at_the_top(
    admin_client: Client, listed: None, address: str
) -> None:
    assert_from_the_top(admin_client, "ip", encode([address, {"t": 0}, 1]))


# -- other values a column cannot hold ----------------------------------------------------

#: Microseconds since the epoch of the last moment Python can represent.
_MAX_MICROS = 253402300799999999

_OTHER_CASES = {
    "ip-as-number": ("ip", [5, {"t": 0}, 1]),
    "ip-with-zone": ("ip", ["fe80::1%eth0", {"t": 0}, 1]),
    "ip-with-nul": ("ip", ["1.2.3.4\x00", {"t": 0}, 1]),
    "user-with-nul": ("user", ["1\x00", {"t": 0}, 1]),
    "user-lone-surrogate": ("user", ["\ud800", {"t": 0}, 1]),
    "user-as-text-digits": ("user", ["7", {"t": 0}, 1]),
    "user-as-list": ("user", [[1], {"t": 0}, 1]),
    "user-as-true": ("user", [True, {"t": 0}, 1]),
    "user-past-64-bits": ("user", [2**63, {"t": 0}, 1]),
    "id-as-text": ("expiry", [{"t": 0}, "1"]),
    "id-as-float": ("expiry", [{"t": 0}, 1.0]),
    "id-past-64-bits": ("last_seen", [{"t": 0}, -(2**63) - 1]),
    "time-at-python-max": ("last_seen", [{"t": _MAX_MICROS}, 1]),
    "time-past-python-max": ("last_seen", [{"t": _MAX_MICROS + 1}, 1]),
    "time-before-year-one": ("expiry", [{"t": -(10**17)}, 1]),
    "time-as-text": ("expiry", ["2025-01-01", 1]),
    "time-extra-key": ("expiry", [{"t": 0, "u": 1}, 1]),
    "null-time": ("user", [None, None, 1]),
    "null-id": ("ip", [None, {"t": 0}, None]),
}


@pytest.mark.parametrize(("sort", "values"), list(_OTHER_CASES.values()), ids=list(_OTHER_CASES))
def test_a_value_its_column_cannot_hold_starts_at_the_top(
    admin_client: Client, listed: None, sort: str, values: Any
) -> None:
    assert_from_the_top(admin_client, sort, encode(values))


# -- any token, any viewer: property-based ------------------------------------------------

_VIEWERS = {
    # name: permissions; the superuser has them all.
    "superuser": None,
    "revealer": ("view_sessionrecord", "reveal_ip"),
    "killer": ("view_sessionrecord", "delete_sessionrecord"),
    "viewer": ("view_sessionrecord",),
}
_STATUSES = ("all", "authenticated", "guest")
_AFTER = re.compile(r'hx-get="[^"]*[?;]after=([^"&]+)')


def real_tokens(client: Client) -> dict[str, str]:
    """Every "load more" token the page hands out, in every order and status: the order
    each belongs to, by token."""
    found = {}
    for sort in sorted(cursor.ORDERS):
        for status in _STATUSES:
            html = body(client.get(page_url(), {"sort": sort, "status": status}, **HTMX))
            while match := _AFTER.search(html):
                found[match.group(1)] = sort
                params = {"sort": sort, "status": status, "page": "2", "after": match.group(1)}
                html = body(client.get(page_url(), params, **HTMX))
    return found


def visible(status: str, user: str) -> set[str]:
    """Handles of the rows a list with this status and user filter may show."""
    rows = SessionRecord.objects.live(timezone.now())
    if status == "authenticated":
        rows = rows.filter(user_id__isnull=False)
    elif status == "guest":
        rows = rows.filter(user_id__isnull=True)
    if user:
        rows = rows.filter(user_id=user)
    return set(rows.values_list("handle", flat=True))


@pytest.mark.parametrize("who", list(_VIEWERS))
def test_no_token_gives_an_error_or_a_row_the_viewer_may_not_see(
    admin_client: Client, django_user_model: Any, listed: None, who: str
) -> None:
    """Random JSON, random bytes and edits of the page's own tokens, in every order and
    status, with and without a user filter: always a 200, only rows the filters allow,
    no full address without ``reveal_ip``, no Kill button without ``delete``."""
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings
    from hypothesis import strategies as st

    # A few rows that ended: no position may bring them back.
    SessionRecord.objects.filter(
        pk__in=SessionRecord.objects.order_by("pk").values("pk")[:2]
    ).update(expiry=timezone.now() - timedelta(days=1))
    tokens = real_tokens(admin_client)
    own = sorted(tokens)
    assert tokens, "the page handed out no token to edit"
    perms = _VIEWERS[who]
    client = (
        admin_client
        if perms is None
        else logged_in(make_staff(django_user_model, who, *perms), REMOTE_ADDR="192.0.2.250")
    )
    reveals = perms is None or "reveal_ip" in perms
    kills = perms is None or "delete_sessionrecord" in perms
    addresses = {ip for ip in SessionRecord.objects.values_list("ip", flat=True) if ip}
    users = [str(pk) for pk in django_user_model.objects.values_list("pk", flat=True)]

    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(2**64), max_value=2**64),
        st.floats(),
        st.text(max_size=20),
        st.ip_addresses().map(str),
        st.from_regex(r"\A[0-9a-f:.]{1,12}/[0-9]{1,3}\Z"),
        st.fixed_dictionaries({"t": st.integers()}),
        st.fixed_dictionaries({"t": st.integers(min_value=-(10**18), max_value=10**18)}),
    )
    json_values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=8,
    )

    @st.composite
    def edited_values(draw: st.DrawFn) -> str:
        values = json.loads(base64.urlsafe_b64decode(draw(st.sampled_from(own)) + "=="))
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            edit = draw(st.sampled_from(["replace", "drop", "add"]))
            if edit == "replace" or (edit == "drop" and not values):
                index = draw(st.integers(min_value=0, max_value=max(0, len(values) - 1)))
                values[index : index + 1] = [draw(json_values)]
            elif edit == "drop":
                values.pop(draw(st.integers(min_value=0, max_value=len(values) - 1)))
            else:
                values.insert(draw(st.integers(0, len(values))), draw(json_values))
        return encode(values)

    @st.composite
    def edited_text(draw: st.DrawFn) -> str:
        text = draw(st.sampled_from(own))
        index = draw(st.integers(min_value=0, max_value=len(text) - 1))
        new = draw(st.text(alphabet=string.ascii_letters + string.digits + "-_=", max_size=3))
        return text[:index] + new + text[index + draw(st.integers(0, 3)) :]

    afters = st.one_of(
        st.sampled_from(own),  # the page's own: must go on working
        edited_values(),
        edited_text(),
        json_values.map(encode),
        st.binary(max_size=300).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
        st.text(max_size=50),
    )

    @hypothesis_settings(
        max_examples=100,
        deadline=None,
        database=None,  # no .hypothesis/ directory in the working tree
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        sort=st.sampled_from(sorted(cursor.ORDERS)),
        status=st.sampled_from(_STATUSES),
        user=st.sampled_from(["", *users]),
        after=afters,
    )
    def check(sort: str, status: str, user: str, after: str) -> None:
        params = {"sort": sort, "status": status, "page": "2", "after": after}
        if user:
            params["user"] = user
        response = client.get(page_url(), params, **HTMX)
        assert response.status_code == 200
        html = body(response)
        assert set(handles_in(html)) <= visible(status, user)
        if tokens.get(after) == sort:
            assert FROM_THE_TOP not in html
        if not reveals:
            assert not [address for address in addresses if address in html]
            assert "sort=ip" not in response["HX-Replace-Url"]
        if not kills:
            assert "sp-kill-form" not in html

    check()
