"""``?user=N`` cannot be used to list every account (issue 14, point 3).

A user's name is shown to a viewer who may see users (the ``view`` permission on the
user model) or when that user has live sessions, which the viewer's list shows with
their names anyway. Anyone else reads "User #N", the same whether account N exists or
not, on the page, in the kill-user dialog and its message, and in the audit trail.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sessions_panel.models import AuditEntry
from sessions_panel.query import privacy
from tests.page_support import HTMX, action_url, body, handles_in, logged_in, make_staff, page_url

pytestmark = pytest.mark.django_db

UNKNOWN = "999999"


def may_view_users(user: Any) -> Any:
    opts = get_user_model()._meta
    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label=opts.app_label, codename=f"view_{opts.model_name}"
        )
    )
    return user


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def scope_text(html: str) -> str:
    """What the page says about the user filter: its title and its empty state, with
    the user's id written as N (so two ids can be compared)."""
    title = re.search(
        r'<p class="sp-scope-title">(.*?)<a href="[^"]*" class="sp-scope-clear"', html, re.S
    )
    empty = re.search(r'<p class="sp-empty-title">(.*?)</p>', html, re.S)
    dialog = re.search(r'<h2 id="sp-kill-user-title">(.*?)</h2>', html, re.S)
    parts = [m.group(1).strip() if m else "" for m in (title, empty, dialog)]
    return re.sub(r"#\d+", "#N", " | ".join(parts))


@pytest.fixture
def accounts(django_user_model: Any, make_session: Any) -> dict[str, Any]:
    """alice has a live session; carol has none."""
    alice = django_user_model.objects.create_user("alice")
    carol = django_user_model.objects.create_user("carol")
    make_session(user=alice)
    return {"alice": alice, "carol": carol}


@pytest.fixture
def viewer(django_user_model: Any) -> Client:
    return logged_in(make_staff(django_user_model, "viewer", "view_sessionrecord"))


@pytest.fixture
def killer(django_user_model: Any) -> Client:
    user = make_staff(django_user_model, "killer", "view_sessionrecord", "delete_sessionrecord")
    return logged_in(user)


@pytest.fixture
def user_viewer(django_user_model: Any) -> Client:
    user = make_staff(django_user_model, "people", "view_sessionrecord", "delete_sessionrecord")
    return logged_in(may_view_users(user))


# -- the page ---------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [False, True])
def test_without_view_user_an_account_without_sessions_is_user_n(
    viewer: Client, accounts: dict[str, Any], htmx: bool
) -> None:
    carol = accounts["carol"]
    response = viewer.get(page_url(), {"user": carol.pk}, **(HTMX if htmx else {}))
    assert response.status_code == 200
    html = body(response)
    assert "carol" not in html
    assert f"Sessions of User #{carol.pk}" in html
    assert f"No live sessions of User #{carol.pk} match." in html
    assert f"/auth/user/{carol.pk}/change/" not in html


def test_the_kill_user_dialog_and_button_use_the_same_label(
    killer: Client, accounts: dict[str, Any]
) -> None:
    carol = accounts["carol"]
    html = body(killer.get(page_url(), {"user": carol.pk}))
    assert "carol" not in html
    assert 'data-sp-open="sp-kill-user-dialog"' not in html  # nothing to end
    assert f"Kill all sessions of User #{carol.pk}?" in html
    assert f"Kill all sessions of User #{carol.pk}</button>" in html


@pytest.mark.parametrize("who", ["viewer", "killer"])
def test_without_view_user_an_unknown_id_reads_like_an_account_without_sessions(
    request: pytest.FixtureRequest, accounts: dict[str, Any], who: str
) -> None:
    """Otherwise ``?user=N`` would still tell which accounts exist."""
    client: Client = request.getfixturevalue(who)
    known = scope_text(body(client.get(page_url(), {"user": accounts["carol"].pk})))
    unknown = scope_text(body(client.get(page_url(), {"user": UNKNOWN})))
    assert "User #N" in known
    assert known == unknown
    assert "No user has the ID" not in unknown


@pytest.mark.parametrize("who", ["viewer", "killer"])
def test_a_user_with_live_sessions_is_named_to_every_viewer(
    request: pytest.FixtureRequest, accounts: dict[str, Any], who: str
) -> None:
    client: Client = request.getfixturevalue(who)
    alice = accounts["alice"]
    html = body(client.get(page_url(), {"user": alice.pk}))
    assert f'Sessions of <a href="/admin/auth/user/{alice.pk}/change/">alice</a>' in html
    assert len(handles_in(html)) == 1
    if who == "killer":
        assert ">Kill all sessions of alice</a>" in html
        assert "Kill all sessions of alice?" in html


def test_with_view_user_every_account_is_named(
    user_viewer: Client, accounts: dict[str, Any]
) -> None:
    carol = accounts["carol"]
    html = body(user_viewer.get(page_url(), {"user": carol.pk}))
    assert f'Sessions of <a href="/admin/auth/user/{carol.pk}/change/">carol</a>' in html
    assert "No live sessions of carol match." in html
    assert "Kill all sessions of carol?" in html
    unknown = body(user_viewer.get(page_url(), {"user": UNKNOWN}))
    assert f"No user has the ID “{UNKNOWN}”: it may have been deleted." in unknown


def test_the_permission_is_that_of_the_configured_user_model() -> None:
    opts = get_user_model()._meta
    assert privacy.view_users_permission() == f"{opts.app_label}.view_{opts.model_name}"
    assert privacy.view_users_permission() == "auth.view_user"


def count_queries(client: Client, **params: Any) -> int:
    client.get(page_url(), params, **HTMX)  # warm the short-lived caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(page_url(), params, **HTMX)
    assert response.status_code == 200
    return len(queries)


def test_the_rule_costs_no_query(
    viewer: Client, killer: Client, user_viewer: Client, accounts: dict[str, Any]
) -> None:
    """The permission comes from the cache the page's own checks filled, and whether the
    user has live sessions from the one query that looks the user up."""
    alice, carol = accounts["alice"].pk, accounts["carol"].pk
    assert count_queries(viewer, user=carol) == count_queries(viewer, user=UNKNOWN)
    # A killer: the kill-user count is needed only for a user it may name.
    assert count_queries(killer, user=alice) == count_queries(user_viewer, user=alice)
    assert count_queries(killer, user=carol) == count_queries(killer, user=UNKNOWN)
    assert count_queries(killer, user=carol) < count_queries(user_viewer, user=carol)


# -- the kill-user action ---------------------------------------------------------------


def test_kill_user_says_user_n_for_an_account_without_sessions(
    killer: Client, accounts: dict[str, Any]
) -> None:
    carol = accounts["carol"]
    response = killer.post(action_url("kill_user"), {"user": str(carol.pk)})
    assert messages_of(response) == [f"Ended 0 sessions of User #{carol.pk}."]
    response = killer.post(action_url("kill_user"), {"user": str(accounts["alice"].pk)})
    assert messages_of(response)[-1] == "Ended 1 session of alice."


def test_kill_user_names_the_account_to_those_who_may_see_it(
    user_viewer: Client, accounts: dict[str, Any]
) -> None:
    response = user_viewer.post(action_url("kill_user"), {"user": str(accounts["carol"].pk)})
    assert messages_of(response) == ["Ended 0 sessions of carol."]


# -- the audit trail --------------------------------------------------------------------


def change_url(entry: AuditEntry) -> str:
    return reverse("admin:sessions_panel_auditentry_change", args=[entry.pk])


def test_the_audit_trail_names_an_account_without_sessions_only_to_who_may_see_it(
    killer: Client, django_user_model: Any, accounts: dict[str, Any]
) -> None:
    carol = accounts["carol"]
    killer.post(action_url("kill_user"), {"user": str(carol.pk)})
    entry = AuditEntry.objects.get()
    assert (entry.scope, entry.killed, entry.user_ids) == ("user", 0, [str(carol.pk)])
    auditor = logged_in(make_staff(django_user_model, "auditor", "view_auditentry"))
    html = body(auditor.get(change_url(entry)))
    assert "carol" not in html
    assert html.count(f"User #{carol.pk}") == 2  # its users and its detail
    people = logged_in(may_view_users(make_staff(django_user_model, "hr", "view_auditentry")))
    html = body(people.get(change_url(entry)))
    assert f"carol (#{carol.pk})" in html
    assert "user carol" in html


def test_the_audit_trail_names_users_whose_sessions_were_ended(
    killer: Client, django_user_model: Any, accounts: dict[str, Any]
) -> None:
    alice = accounts["alice"]
    killer.post(action_url("kill_user"), {"user": str(alice.pk)})
    entry = AuditEntry.objects.get()
    assert entry.killed == 1
    auditor = logged_in(make_staff(django_user_model, "auditor", "view_auditentry"))
    html = body(auditor.get(change_url(entry)))
    assert f"alice (#{alice.pk})" in html
    assert "user alice" in html
