"""Automatic revocation (deactivation, deletion, optional password change), the
``kill_sessions`` API and the ``killsessions`` command."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from sessions_panel import termination
from sessions_panel.models import AuditEntry, SessionRecord
from tests.keys import indexed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_probe")]

WHOAMI = "/probe/whoami/"
#: Accepts inactive users: only the panel's receiver can log a deactivated user out.
ALLOW_ALL = "django.contrib.auth.backends.AllowAllUsersModelBackend"


@pytest.fixture
def allow_all(settings):
    settings.AUTHENTICATION_BACKENDS = [ALLOW_ALL]


def browser(user) -> Client:
    client = Client()
    client.force_login(user, backend=ALLOW_ALL)
    assert client.get(WHOAMI).content.decode() == user.get_username()
    return client


def whoami(client: Client) -> str:
    return str(client.get(WHOAMI).content.decode())


# -- automatic revocation ---------------------------------------------------------------


def test_deactivating_a_user_ends_their_sessions_on_every_engine(
    engine, allow_all, django_user_model, store_class
):
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    phone, laptop, bystander = browser(alice), browser(alice), browser(bob)
    keys = [c.session.session_key for c in (phone, laptop)]

    alice.is_active = False
    alice.save()

    for key in keys:
        assert not store_class()().exists(key)  # a fresh read of the real store
    assert not SessionRecord.objects.filter(user=alice).exists()
    assert whoami(phone) == ""  # their next request is anonymous
    assert whoami(laptop) == ""
    assert whoami(bystander) == "bob"
    audit = AuditEntry.objects.get()
    assert (audit.scope, audit.killed, audit.reason, audit.actor) == (
        "user",
        2,
        "user deactivated",
        None,
    )


def test_other_changes_to_a_user_end_nothing(allow_all, django_user_model):
    alice = django_user_model.objects.create_user("alice")
    phone = browser(alice)
    alice.first_name = "Alice"
    alice.save()
    assert whoami(phone) == "alice"  # other changes end nothing
    alice.save(update_fields=["last_login"])
    assert whoami(phone) == "alice"
    assert not AuditEntry.objects.exists()


def test_deactivating_in_the_admin_ends_the_sessions(allow_all, admin_user, django_user_model):
    alice = django_user_model.objects.create_user("alice", is_staff=True)
    phone, admin = browser(alice), browser(admin_user)
    response = admin.post(
        f"/admin/auth/user/{alice.pk}/change/",
        {
            "username": "alice",
            "is_active": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/auth/user/"
    assert whoami(phone) == ""
    assert whoami(admin) == "admin"


def test_deleting_a_user_ends_their_sessions_on_every_engine(
    engine, allow_all, django_user_model, store_class
):
    alice = django_user_model.objects.create_user("alice")
    phone = browser(alice)
    key = phone.session.session_key
    alice.delete()
    assert not store_class()().exists(key)
    assert not SessionRecord.objects.filter(session_key=indexed(key)).exists()
    assert whoami(phone) == ""


@pytest.mark.parametrize("setting", [True, False])
def test_a_password_change_ends_the_sessions_at_once_only_when_asked(
    settings, allow_all, django_user_model, store_class, setting
):
    """Django refuses them on their next request anyway (the session auth hash); the
    setting ends them at once, so the panel stops listing them."""
    settings.SESSIONS_PANEL = {"END_SESSIONS_ON_PASSWORD_CHANGE": setting}
    alice = django_user_model.objects.create_user("alice", password="old password")
    phone = browser(alice)
    key = phone.session.session_key
    alice.set_password("new password 123")
    alice.save()
    assert store_class()().exists(key) is not setting
    assert SessionRecord.objects.filter(session_key=indexed(key)).exists() is not setting
    assert whoami(phone) == ""


# -- the API ----------------------------------------------------------------------------


def test_kill_sessions_needs_a_criterion_and_a_valid_ip():
    with pytest.raises(ValueError, match="say which sessions"):
        termination.kill_sessions()
    with pytest.raises(ValueError, match="not an IP address"):
        termination.kill_sessions(ip="nope", dry_run=True)


def test_kill_sessions_dry_run_previews_and_ends_nothing(
    engine, django_user_model, make_session, store_class
):
    alice = django_user_model.objects.create_user("alice")
    sessions = [make_session(user=alice), make_session(user=alice), make_session()]
    preview = termination.kill_sessions(all=True, dry_run=True)
    assert preview == termination.Preview(sessions=3, users=1, guests=1)
    assert termination.kill_sessions(user=alice, dry_run=True) == termination.Preview(2, 1, 0)
    assert all(store_class()().exists(s.session_key) for s in sessions)
    assert not AuditEntry.objects.exists()


def test_kill_sessions_by_ip_spares_staff_when_asked(django_user_model, make_session):
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    alice = django_user_model.objects.create_user("alice")
    keep = make_session(user=staff, ip="203.0.113.5")
    end = [make_session(user=alice, ip="203.0.113.5"), make_session(ip="203.0.113.5")]
    other = make_session(ip="203.0.113.6")
    result = termination.kill_sessions(ip="203.0.113.5", except_staff=True, reason="licence")
    assert isinstance(result, termination.KillResult)
    assert (result.killed, result.scope) == (2, "filter")
    remaining = set(SessionRecord.objects.values_list("session_key", flat=True))
    assert remaining == {indexed(keep), indexed(other)}
    assert not remaining & {indexed(s) for s in end}


# -- the command ------------------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command("killsessions", *args, stdout=out)
    return out.getvalue()


def test_command_dry_run_says_what_would_end_and_ends_nothing(
    engine, django_user_model, make_session, store_class
):
    alice = django_user_model.objects.create_user("alice")
    sessions = [make_session(user=alice), make_session(user=alice), make_session()]
    output = run("--user", "alice", "--dry-run")
    assert "Will end 2 indexed session(s) of 1 user(s) and 0 guest(s): user alice." in output
    assert "Dry run: nothing was ended." in output
    assert all(store_class()().exists(s.session_key) for s in sessions)  # fresh reads
    assert SessionRecord.objects.count() == 3
    assert not AuditEntry.objects.exists()
    assert "Dry run: nothing was ended." in run("--all", "--dry-run")
    assert all(store_class()().exists(s.session_key) for s in sessions)


def test_command_real_run_prints_the_plan_a_summary_and_audits(
    engine, django_user_model, make_session, store_class
):
    alice = django_user_model.objects.create_user("alice")
    sessions = [make_session(user=alice), make_session(user=alice)]
    guest = make_session()
    output = run("--user", "alice", "--noinput", "--reason", "plan expired\nFAKE LOG LINE")
    assert "Will end 2 indexed session(s) of 1 user(s) and 0 guest(s): user alice." in output
    assert "Ended 2 session(s); 0 had already ended; 0 could not be ended." in output
    assert not any(store_class()().exists(s.session_key) for s in sessions)
    assert store_class()().exists(guest.session_key)
    audit = AuditEntry.objects.get()
    assert (audit.scope, audit.killed, audit.reason) == ("user", 2, "plan expired FAKE LOG LINE")


def test_command_ip_run_shows_progress_and_summary(make_session):
    for _ in range(3):
        make_session(ip="192.0.2.66")
    output = run("--ip", "192.0.2.66", "--except-staff", "--noinput")
    assert (
        "Will end 3 indexed session(s) of 0 user(s) and 3 guest(s): IP 192.0.2.66 except staff."
        in output
    )
    assert "Ending [" in output and "3/3" in output
    assert "Ended 3 session(s); 0 had already ended; 0 could not be ended." in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nobody"], "No user named 'nobody'."),
        (["--ip", "not-an-ip"], "not an IP address"),
    ],
)
def test_command_refuses_unknown_targets(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
