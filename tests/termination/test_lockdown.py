"""Lockdowns, the service (``sessions_panel.termination.lockdown``): the site's ends every
session but the caller's and refuses every sign-in but the allow-list's (superusers, or
``LOCKDOWN_ALLOW_GROUP``); a user's ends their sessions and refuses their sign-in,
optionally making their password unusable. Until a set time or until lifted, on the
record; never locking out the last admin who could lift it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from sessions_panel import termination
from sessions_panel.models import AuditEntry, Lockdown
from sessions_panel.termination import LockdownRefused
from sessions_panel.tracking import lockdowns
from tests.policy_support import (
    PASSWORD,
    killed_signals,  # noqa: F401 (a fixture)
    log_in,
    whoami,
)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_lockdown")]

SITE_UNTIL = "Sign-in is paused: the site is locked down until "
SITE_LIFTED = "Sign-in is paused: the site is locked down until an administrator lifts it."
ACCOUNT = "This account is locked; contact an administrator."


@pytest.fixture
def root(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)


@pytest.fixture
def bob(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("bob", password=PASSWORD)


def signed_in(username: str) -> Client:
    client = Client()
    response = log_in(client, username)
    assert response.status_code == 302 and response["Location"] == "/admin/", response
    assert whoami(client) == username.encode()
    return client


def refused_on_admin_login(username: str) -> str:
    """Log in through the admin's form; it must be refused. Returns the form's text."""
    client = Client()
    response = log_in(client, username)
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"  # the form, not /admin/
    assert whoami(client) == b""
    return str(client.get(response["Location"]).content.decode())


def entries(scope: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(scope=scope).order_by("pk"))


def run_out(lockdown: Lockdown) -> None:
    """Time passes: the lockdown's end is behind the database's clock now."""
    Lockdown.objects.filter(pk=lockdown.pk).update(until=timezone.now() - timedelta(seconds=1))


# -- the site ----------------------------------------------------------------------------


def test_a_site_lockdown_ends_every_session_but_the_callers_and_refuses_sign_in(
    engine: str,
    root: Any,
    alice: Any,
    bob: Any,
    make_session: Any,
    store_class: Any,
    killed_signals: list[dict[str, Any]],  # noqa: F811
) -> None:
    mine = make_session(user=root)
    theirs = [make_session(user=alice), make_session(user=bob), make_session()]

    outcome = termination.lock_site(actor=root, minutes=60, reason="incident 42", keep=mine)

    assert store_class()().exists(mine.session_key)
    assert not any(store_class()().exists(s.session_key) for s in theirs)
    assert outcome.kill.killed == 3 and outcome.kill.ok
    lockdown = outcome.lockdown
    assert (lockdown.scope, lockdown.actor_id, lockdown.reason) == ("site", root.pk, "incident 42")
    assert lockdown.until is not None
    assert timedelta(minutes=59) < lockdown.until - timezone.now() <= timedelta(minutes=60)
    [entry] = entries(AuditEntry.SCOPE_LOCKDOWN)
    assert (entry.actor_id, entry.reason, entry.killed) == (root.pk, "incident 42", 3)
    assert entry.detail.startswith("site locked down until ")
    assert entry.detail.endswith("; allow-list: superusers")
    assert [s["scope"] for s in killed_signals] == ["lockdown"]

    form = refused_on_admin_login("alice")
    assert SITE_UNTIL + lockdowns.moment(lockdown.until) + "." in form
    signed_in("root")  # a superuser: on the allow-list


def test_a_refused_sign_in_is_on_the_record(engine: str, root: Any, alice: Any) -> None:
    termination.lock_site(actor="cli")

    assert SITE_LIFTED in refused_on_admin_login("alice")

    refused = [e for e in entries(AuditEntry.SCOPE_LOCKDOWN) if e.actor_repr == ""]
    [entry] = refused
    assert entry.reason == "login refused: site locked down"
    assert entry.detail == "user alice: login refused"
    assert entry.user_ids == [str(alice.pk)]
    assert (entry.requested, entry.killed) == (1, 1)


def test_a_site_lockdown_runs_out_at_its_time(engine: str, root: Any, alice: Any) -> None:
    lockdown = termination.lock_site(actor=root, minutes=15).lockdown
    refused_on_admin_login("alice")
    assert lockdowns.site() is not None

    run_out(lockdown)

    assert lockdowns.site() is None
    signed_in("alice")


def test_lifting_opens_sign_in_again_on_the_record(root: Any, alice: Any) -> None:
    lockdown = termination.lock_site(actor=root).lockdown
    refused_on_admin_login("alice")

    assert termination.lift_lockdown(lockdown, actor=root) == 1

    signed_in("alice")
    lockdown.refresh_from_db()
    assert lockdown.lifted is not None and lockdown.lifted_by_id == root.pk
    [entry] = entries(AuditEntry.SCOPE_LIFTED)
    assert (entry.actor_id, entry.detail, entry.killed) == (root.pk, "site lockdown lifted", 0)
    # Lifted already: nothing more to lift, nothing more on the record.
    assert termination.lift_lockdown(lockdown, actor=root) == 0
    assert len(entries(AuditEntry.SCOPE_LIFTED)) == 1


def test_a_site_lockdown_in_force_is_not_started_again(root: Any) -> None:
    termination.lock_site(actor=root)
    with pytest.raises(LockdownRefused, match="already locked down"):
        termination.lock_site(actor=root)
    assert Lockdown.objects.count() == 1


def test_an_admin_off_the_allow_list_cannot_lock_the_site_down(
    root: Any, alice: Any, make_session: Any, store_class: Any
) -> None:
    victim = make_session(user=root)
    with pytest.raises(LockdownRefused, match="not on the lockdown’s allow-list"):
        termination.lock_site(actor=alice)
    assert not Lockdown.objects.exists()
    assert store_class()().exists(victim.session_key)  # nothing ended


def test_nobody_left_to_lift_it_refuses_the_site_lockdown(
    alice: Any, make_session: Any, store_class: Any
) -> None:
    """No superuser at all (the command acts for nobody on the list)."""
    victim = make_session(user=alice)
    with pytest.raises(LockdownRefused, match="Nobody on the lockdown’s allow-list"):
        termination.lock_site(actor="killsessions, OS user ops")
    assert not Lockdown.objects.exists()
    assert store_class()().exists(victim.session_key)


def test_an_inactive_superuser_is_nobody_to_lift_it(django_user_model: Any) -> None:
    django_user_model.objects.create_superuser("gone", "g@example.com", PASSWORD, is_active=False)
    with pytest.raises(LockdownRefused, match="Nobody"):
        termination.lock_site(actor="cli")


def test_a_group_allow_list(
    settings: Any, root: Any, alice: Any, bob: Any, django_user_model: Any
) -> None:
    """With LOCKDOWN_ALLOW_GROUP its members sign in, and only they: superusers outside
    it too are refused, and one of them may not start what would lock them out."""
    settings.SESSIONS_PANEL = {"LOCKDOWN_ALLOW_GROUP": "incident"}
    responders = Group.objects.create(name="incident")
    alice.groups.add(responders)

    with pytest.raises(LockdownRefused, match="Only members of the group “incident” can sign in."):
        termination.lock_site(actor=root)

    outcome = termination.lock_site(actor=alice, minutes=60)

    assert outcome.lockdown.actor_id == alice.pk
    assert entries(AuditEntry.SCOPE_LOCKDOWN)[0].detail.endswith('allow-list: group "incident"')
    signed_in("alice")
    assert SITE_UNTIL in refused_on_admin_login("root")
    # Not staff: through the site's own login view.
    client = Client()
    response = log_in(client, "bob", url="/accounts/login/", next="/private/")
    assert response["Location"] == "/accounts/login/?next=/private/"
    assert SITE_UNTIL in client.get(response["Location"]).content.decode()


def test_a_lesser_admin_on_the_allow_list_spares_superusers_sessions(
    engine: str,
    settings: Any,
    root: Any,
    alice: Any,
    bob: Any,
    make_session: Any,
    store_class: Any,
) -> None:
    settings.SESSIONS_PANEL = {"LOCKDOWN_ALLOW_GROUP": "incident"}
    alice.groups.add(Group.objects.create(name="incident"))
    roots, bobs = make_session(user=root), make_session(user=bob)

    outcome = termination.lock_site(actor=alice, spare_superusers=True)

    assert store_class()().exists(roots.session_key)
    assert not store_class()().exists(bobs.session_key)
    assert (outcome.kill.killed, outcome.kill.spared) == (1, 1)


# -- one user ----------------------------------------------------------------------------


def test_a_user_lockdown_ends_their_sessions_and_refuses_their_sign_in(
    engine: str,
    root: Any,
    alice: Any,
    bob: Any,
    make_session: Any,
    store_class: Any,
    killed_signals: list[dict[str, Any]],  # noqa: F811
) -> None:
    alices = [make_session(user=alice), make_session(user=alice)]
    bobs = make_session(user=bob)

    outcome = termination.lock_user(alice, actor=root, reason="phished")

    assert not any(store_class()().exists(s.session_key) for s in alices)
    assert store_class()().exists(bobs.session_key)
    assert outcome.kill.killed == 2
    assert outcome.lockdown.until is None
    [entry] = entries(AuditEntry.SCOPE_LOCKDOWN)
    assert entry.detail == "user alice: locked down until lifted"
    assert (entry.user_ids, entry.reason, entry.killed) == ([str(alice.pk)], "phished", 2)
    assert [s["scope"] for s in killed_signals] == ["lockdown"]

    form = refused_on_admin_login("alice")
    assert ACCOUNT in form
    signed_in("root")
    assert lockdowns.site() is None  # the site is open


def test_a_user_lockdown_holds_during_and_after_a_site_lockdown(root: Any, alice: Any) -> None:
    """A superuser locked down is refused even though superusers are on the allow-list."""
    other = type(root).objects.create_superuser("root2", "r2@example.com", PASSWORD)
    termination.lock_user(other, actor=root)
    termination.lock_site(actor=root)
    assert ACCOUNT in refused_on_admin_login("root2")
    termination.lift_lockdown(lockdowns.site(), actor=root)  # type: ignore[arg-type]
    assert ACCOUNT in refused_on_admin_login("root2")


def test_a_user_lockdown_runs_out_and_lifts(root: Any, alice: Any) -> None:
    lockdown = termination.lock_user(alice, actor=root, minutes=15).lockdown
    refused_on_admin_login("alice")
    run_out(lockdown)
    signed_in("alice")

    again = termination.lock_user(alice, actor=root).lockdown  # ran out: may start again
    refused_on_admin_login("alice")
    assert termination.lift_lockdown(again, actor="cli") == 1
    signed_in("alice")
    [entry] = entries(AuditEntry.SCOPE_LIFTED)
    assert (entry.detail, entry.actor_repr, entry.user_ids) == (
        "user alice: lockdown lifted",
        "cli",
        [str(alice.pk)],
    )


def test_nobody_locks_down_their_own_account(root: Any) -> None:
    with pytest.raises(LockdownRefused, match="your own account"):
        termination.lock_user(root, actor=root)
    assert not Lockdown.objects.exists()


def test_a_user_locked_down_is_not_locked_down_again(root: Any, alice: Any) -> None:
    termination.lock_user(alice, actor=root)
    with pytest.raises(LockdownRefused, match="alice is already locked down"):
        termination.lock_user(alice, actor=root)


def test_the_last_admin_who_could_lift_it_is_not_locked_down(root: Any, alice: Any) -> None:
    """From the command (no admin acting): root is the only superuser. Outside a site
    lockdown alice (staff) could still lift it; during one, nobody could."""
    termination.lock_site(actor=root)
    with pytest.raises(LockdownRefused, match="root is the last account"):
        termination.lock_user(root, actor="cli")
    assert not Lockdown.objects.filter(scope=Lockdown.USER).exists()
    termination.lift_lockdown(lockdowns.site(), actor="cli")  # type: ignore[arg-type]

    termination.lock_user(root, actor="cli")  # alice is left (staff, active)
    with pytest.raises(LockdownRefused, match="alice is the last account"):
        termination.lock_user(alice, actor="cli")
    # A user who cannot sign in to the admin anyway is no admin to keep.
    bob = type(root).objects.create_user("bob", password=PASSWORD)
    termination.lock_user(bob, actor="cli")


def test_a_locked_down_password_can_be_made_unusable(
    engine: str, settings: Any, root: Any, alice: Any, make_session: Any
) -> None:
    """With END_SESSIONS_ON_PASSWORD_CHANGE the password's save ends nothing more: the
    lockdown's entry keeps the count."""
    settings.SESSIONS_PANEL = {"END_SESSIONS_ON_PASSWORD_CHANGE": True}
    make_session(user=alice)

    outcome = termination.lock_user(alice, actor=root, unusable_password=True)

    alice.refresh_from_db()
    assert not alice.has_usable_password()
    assert outcome.lockdown.password_unusable
    [entry] = entries(AuditEntry.SCOPE_LOCKDOWN)
    assert entry.killed == 1
    assert entry.detail.endswith("; password made unusable")
    termination.lift_lockdown(outcome.lockdown, actor=root)
    response = log_in(Client(), "alice")
    assert response.status_code == 200  # the form again: the old password is refused
    assert ACCOUNT not in response.content.decode()


def test_a_lockdown_needs_a_tracked_engine(settings: Any, root: Any, alice: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    with pytest.raises(termination.NotTracked):
        termination.lock_site(actor=root)
    with pytest.raises(termination.NotTracked):
        termination.lock_user(alice, actor=root)
    assert not Lockdown.objects.exists()


@pytest.mark.parametrize("minutes", [0, -5, 366 * 24 * 60 + 1, 1.5, True])
def test_a_duration_is_whole_minutes(root: Any, minutes: Any) -> None:
    with pytest.raises(ValueError):
        termination.lock_site(actor=root, minutes=minutes)
    assert not Lockdown.objects.exists()


def test_in_force_is_one_small_query_and_none_elsewhere(
    root: Any, alice: Any, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        assert lockdowns.refusal(alice) is None
    termination.lock_site(actor=root)
    with django_assert_num_queries(1):
        found = lockdowns.refusal(alice)
    assert found is not None and found.lockdown.scope == "site"
    with django_assert_num_queries(1):
        assert lockdowns.refusal(root) is None  # a superuser: no more to ask
