"""Only a superuser may end a superuser’s sessions (``PROTECT_SUPERUSERS``, on by default).

Measured (issue 14, point 5): staff with the kill permission could log superusers out,
one session at a time, all of a superuser’s sessions, or with Kill All. Now a lesser
admin's kill of a superuser's session, or of all of a superuser’s sessions, is refused
(nothing ends, and the page says why); Kill All and kill-matching by a lesser admin end
everything else and spare superusers' sessions, saying how many; the page offers no
Kill button on a superuser's row to them. ``killsessions`` acts as the system: not
restricted.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.checks import run_checks
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sessions_panel.models import AuditEntry, Revocation, SessionRecord
from sessions_panel.tracking import revocation
from tests.keys import indexed
from tests.page_support import (
    HTMX,
    action_url,
    body,
    kill_button,
    logged_in,
    make_staff,
    own_record,
    page_url,
    row_html,
)

pytestmark = pytest.mark.django_db

SPARED_MANY = "%d sessions of superusers were spared: only a superuser can end them."
REFUSED_ONE = "Session %s of admin was not ended: only a superuser can end a superuser’s sessions."
REFUSED_USER = (
    "The sessions of admin were not ended: only a superuser can end a superuser’s sessions."
)
NOTE = "Only a superuser can end this session."


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def record_of(session: Any) -> SessionRecord:
    return SessionRecord.objects.get(session_key=indexed(session))


def markers_now() -> list[Any]:
    """Every revocation there is (the signed-cookie engine writes one at each login, for
    the anonymous cookie it re-keys: a refused kill must add none)."""
    return list(Revocation.objects.order_by("pk").values_list("kind", "target", "not_before"))


def is_logged_in(client: Client) -> bool:
    return client.get(page_url()).status_code == 200


@pytest.fixture
def lesser(django_user_model: Any) -> Client:
    """Staff who may list and kill sessions, but no superuser (just logged in)."""
    user = make_staff(django_user_model, "lesser", "view_sessionrecord", "delete_sessionrecord")
    return logged_in(user)


@pytest.fixture
def world(admin_user: Any, django_user_model: Any, make_session: Any) -> dict[str, Any]:
    """The superuser "admin" (a browser and two more sessions), bob (two), a guest; all
    in the Shop."""
    bob = django_user_model.objects.create_user("bob")
    return {
        "root": admin_user,
        "root_browser": logged_in(admin_user),
        "root_sessions": [make_session(user=admin_user, application="Shop") for _ in range(2)],
        "bob": bob,
        "bob_sessions": [make_session(user=bob, application="Shop") for _ in range(2)],
        "guest": make_session(application="Shop"),
    }


def root_alive(world: dict[str, Any], store_class: Any) -> bool:
    """Every session of the superuser still loads, logged in, and nothing refuses it."""
    root = world["root"]
    for session in world["root_sessions"]:
        key = session.session_key
        if SESSION_KEY not in store_class()(key).load():
            return False
        if revocation.refusal(indexed(key) or "", root.pk) is not None:
            return False
    return is_logged_in(world["root_browser"])


def bob_gone(world: dict[str, Any], store_class: Any) -> bool:
    return not any(store_class()().exists(s.session_key) for s in world["bob_sessions"])


# -- one session --------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
def test_a_lesser_admin_cannot_end_a_superusers_session(
    engine: str, lesser: Client, world: dict[str, Any], store_class: Any, htmx: bool
) -> None:
    record = record_of(world["root_sessions"][0])
    markers = markers_now()
    response = lesser.post(action_url("kill"), {"handle": record.handle}, **(HTMX if htmx else {}))
    assert response.status_code == (200 if htmx else 302)
    assert messages_of(response) == [REFUSED_ONE % record.short_id]
    if htmx:
        assert 'class="error"' in body(response)
    assert [m.level_tag for m in get_messages(response.wsgi_request)] in ([], ["error"])
    assert root_alive(world, store_class)
    assert SessionRecord.objects.filter(pk=record.pk).exists()
    assert not AuditEntry.objects.exists()
    assert markers_now() == markers  # nothing revoked


def test_a_lesser_admin_still_ends_anyone_elses_session(
    lesser: Client, world: dict[str, Any], store_class: Any
) -> None:
    record = record_of(world["bob_sessions"][0])
    response = lesser.post(action_url("kill"), {"handle": record.handle})
    assert messages_of(response) == [f"Session {record.short_id} of bob was ended."]


# -- all of a superuser’s sessions -------------------------------------------------------


@pytest.mark.parametrize("by", ["user", "handle"])
def test_a_lesser_admin_cannot_kill_a_superusers_sessions(
    engine: str, lesser: Client, world: dict[str, Any], store_class: Any, by: str
) -> None:
    target = (
        {"user": str(world["root"].pk)}
        if by == "user"
        else {"handle": record_of(world["root_sessions"][0]).handle}
    )
    response = lesser.post(action_url("kill_user"), target)
    assert response.status_code == 302
    assert messages_of(response) == [REFUSED_USER]
    assert root_alive(world, store_class)
    assert not Revocation.objects.filter(kind=Revocation.USER).exists()  # no epoch either
    assert not AuditEntry.objects.exclude(scope="reauth").exists()


def test_a_superuser_without_live_sessions_is_named_as_the_page_names_them(
    lesser: Client, django_user_model: Any
) -> None:
    """No name the page would not show: "User #N" to an admin who may not see users."""
    root = django_user_model.objects.create_superuser("quiet-root", password="pw")
    markers = markers_now()
    response = lesser.post(action_url("kill_user"), {"user": str(root.pk)})
    assert messages_of(response) == [
        f"The sessions of User #{root.pk} were not ended: only a superuser can end a "
        "superuser’s sessions."
    ]
    assert markers_now() == markers


# -- Kill All and kill matching spare them -----------------------------------------------


def test_kill_all_by_a_lesser_admin_spares_superusers_sessions(
    engine: str, lesser: Client, world: dict[str, Any], store_class: Any
) -> None:
    response = lesser.post(action_url("kill_all"), {"reason": "incident"})
    assert messages_of(response) == [
        "Ended 3 sessions. Your own session was kept. " + SPARED_MANY % 3
    ]
    assert root_alive(world, store_class)
    assert bob_gone(world, store_class)
    assert not store_class()().exists(world["guest"].session_key)
    assert is_logged_in(lesser)
    # Their index rows stay listed (and searchable), with no one else's.
    left = set(SessionRecord.objects.values_list("user__username", flat=True))
    assert left == {"admin", "lesser"}
    entry = AuditEntry.objects.get()
    assert (entry.scope, entry.killed, entry.spared) == ("all", 3, 3)


def test_after_a_lesser_kill_all_a_superuser_can_still_end_them(
    engine: str, lesser: Client, world: dict[str, Any], store_class: Any, django_user_model: Any
) -> None:
    lesser.post(action_url("kill_all"))
    other_root = logged_in(django_user_model.objects.create_superuser("root2", password="pw"))
    response = other_root.post(action_url("kill_all"))
    assert messages_of(response) == ["Ended 4 sessions. Your own session was kept."]
    assert not is_logged_in(world["root_browser"])
    assert not any(store_class()().exists(s.session_key) for s in world["root_sessions"])


def test_kill_matching_by_a_lesser_admin_spares_superusers_sessions(
    engine: str, lesser: Client, world: dict[str, Any], store_class: Any
) -> None:
    # The dialog counted five matching sessions: the two spared are no "change".
    response = lesser.post(action_url("kill_matching"), {"q": "shop", "expected": "5"})
    assert messages_of(response) == [
        "Ended 3 sessions matching the search and filters. " + SPARED_MANY % 2
    ]
    assert root_alive(world, store_class)
    assert bob_gone(world, store_class)
    entry = AuditEntry.objects.get()
    assert (entry.scope, entry.killed, entry.spared) == ("filter", 3, 2)


def test_one_spared_session_is_said_in_the_singular(lesser: Client, world: dict[str, Any]) -> None:
    response = lesser.post(action_url("kill_matching"), {"q": "shop", "status": "guest"})
    assert messages_of(response)[0] == "Ended 1 session matching the search and filters."
    lesser.get(page_url())  # shows (so uses up) that message
    SessionRecord.objects.filter(user=world["root"]).exclude(
        session_key=indexed(world["root_sessions"][0])
    ).delete()
    response = lesser.post(action_url("kill_all"))
    assert messages_of(response)[0].endswith(
        "1 session of a superuser was spared: only a superuser can end it."
    )


def test_the_audit_trail_shows_what_was_spared(
    lesser: Client, admin_client: Client, world: dict[str, Any]
) -> None:
    lesser.post(action_url("kill_all"))
    entry = AuditEntry.objects.get()
    html = body(
        admin_client.get(reverse("admin:sessions_panel_auditentry_change", args=[entry.pk]))
    )
    assert "Superusers&#x27; sessions spared:" in html
    assert '<div class="readonly">3</div>' in html


# -- superusers, and the setting ---------------------------------------------------------


@pytest.mark.parametrize("name", ["kill", "kill_user", "kill_all"])
def test_a_superuser_ends_a_superusers_sessions(
    world: dict[str, Any], store_class: Any, django_user_model: Any, name: str
) -> None:
    root2 = logged_in(django_user_model.objects.create_superuser("root2", password="pw"))
    record = record_of(world["root_sessions"][0])
    response = root2.post(action_url(name), {"handle": record.handle})
    assert "superuser" not in " ".join(messages_of(response))
    assert not store_class()().exists(record.session_key)


@pytest.mark.parametrize("name", ["kill", "kill_user", "kill_all"])
def test_with_the_setting_off_lesser_staff_end_superusers_sessions(
    lesser: Client, world: dict[str, Any], store_class: Any, settings: Any, name: str
) -> None:
    settings.SESSIONS_PANEL = {"PROTECT_SUPERUSERS": False}
    record = record_of(world["root_sessions"][0])
    response = lesser.post(action_url(name), {"handle": record.handle})
    assert "superuser" not in " ".join(messages_of(response))
    assert not store_class()().exists(record.session_key)
    html = body(lesser.get(page_url()))
    assert NOTE not in html


def test_killsessions_acts_as_the_system_and_is_not_restricted(
    world: dict[str, Any], store_class: Any
) -> None:
    out = StringIO()
    call_command("killsessions", "--all", "--noinput", stdout=out)
    assert not any(store_class()().exists(s.session_key) for s in world["root_sessions"])
    assert not is_logged_in(world["root_browser"])


# -- what the page offers ----------------------------------------------------------------


def test_lesser_staff_get_no_kill_button_on_a_superusers_row(
    lesser: Client, admin_client: Client, world: dict[str, Any]
) -> None:
    html = body(lesser.get(page_url()))
    root_row = row_html(html, record_of(world["root_sessions"][0]).handle)
    bob_row = row_html(html, record_of(world["bob_sessions"][0]).handle)
    assert root_row and bob_row
    assert kill_button(root_row) is None
    assert 'name="handle"' not in root_row  # no Kill button at all, not a hidden one
    assert NOTE in root_row
    assert kill_button(bob_row) is not None
    assert NOTE not in bob_row
    own = row_html(html, own_record(lesser).handle)
    assert kill_button(own) is not None
    # A superuser gets every button.
    html = body(admin_client.get(page_url()))
    root_handle = record_of(world["root_sessions"][0]).handle
    assert kill_button(row_html(html, root_handle)) is not None
    assert NOTE not in html


def test_lesser_staff_get_no_kill_user_button_for_a_superuser(
    lesser: Client, admin_client: Client, world: dict[str, Any]
) -> None:
    html = body(lesser.get(page_url(), {"user": world["root"].pk}))
    assert 'data-sp-open="sp-kill-user-dialog"' not in html
    assert '<dialog id="sp-kill-user-dialog"' not in html
    assert "Only a superuser can end a superuser’s sessions." in html
    fragment = body(lesser.get(page_url(), {"user": world["root"].pk}, **HTMX))
    assert "sp-kill-user-summary" not in fragment
    html = body(admin_client.get(page_url(), {"user": world["root"].pk}))
    assert 'data-sp-open="sp-kill-user-dialog"' in html


def test_a_superusers_admin_page_does_not_promise_lesser_staff_a_kill(
    django_user_model: Any, world: dict[str, Any]
) -> None:
    user = make_staff(django_user_model, "lesser", "view_sessionrecord", "delete_sessionrecord")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="auth", codename="view_user")
    )
    client = logged_in(user)
    html = body(client.get(f"/admin/auth/user/{world['root'].pk}/change/"))
    assert "sp-user-sessions" in html
    assert "you can end them all there" not in html
    html = body(client.get(f"/admin/auth/user/{world['bob'].pk}/change/"))
    assert "you can end them all there" in html


def test_the_big_dialogs_tell_lesser_staff_that_superusers_are_spared(
    lesser: Client, admin_client: Client, world: dict[str, Any]
) -> None:
    text = "Sessions of superusers are spared: only a superuser can end them."
    html = body(lesser.get(page_url(), {"q": "shop"}))
    assert html.count(text) == 2  # Kill All and kill matching
    assert text not in body(admin_client.get(page_url(), {"q": "shop"}))


def test_the_page_costs_the_same_queries_with_superusers_on_it(
    lesser: Client, make_session: Any, django_user_model: Any
) -> None:
    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert lesser.get(page_url(), **HTMX).status_code == 200
        return len(queries)

    bob = django_user_model.objects.create_user("bob")
    for _ in range(3):
        make_session(user=bob)
    cost()  # warm the short-lived caches
    before = cost()
    for number in range(5):
        root = django_user_model.objects.create_superuser(f"root{number}", password="pw")
        make_session(user=root)
    cost()
    assert cost() == before


# -- the setting and its check ----------------------------------------------------------


def panel_ids() -> list[str]:
    return sorted(m.id for m in run_checks() if m.id and m.id.startswith("sessions_panel."))


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_e007_protect_superusers_must_be_a_bool(settings: Any, value: Any) -> None:
    settings.SESSIONS_PANEL = {"PROTECT_SUPERUSERS": value}
    messages = [m for m in run_checks() if m.id == "sessions_panel.E007"]
    assert len(messages) == 1 and "'PROTECT_SUPERUSERS'" in messages[0].msg
    assert panel_ids() == ["sessions_panel.E007"]


@pytest.mark.parametrize("value", [True, False])
def test_protect_superusers_accepts_a_bool(settings: Any, value: bool) -> None:
    settings.SESSIONS_PANEL = {"PROTECT_SUPERUSERS": value}
    assert panel_ids() == []


def test_superusers_are_protected_by_default() -> None:
    from sessions_panel.conf import DEFAULTS, conf

    assert DEFAULTS["PROTECT_SUPERUSERS"] is True
    assert conf.PROTECT_SUPERUSERS is True
