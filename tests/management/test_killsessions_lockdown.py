"""``killsessions --lockdown [--user USER] [--minutes N] [--lift]``: the page's lockdown
for when the admin itself is out of reach. It follows the command's rules: it says what
it will do, asks for a typed "yes" (``--noinput`` does not ask; without a terminal it
refuses), names who ran it in the audit trail, escapes what it prints; and the
service's: no second lockdown, nobody locked out who could lift it."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from sessions_panel.models import AuditEntry, Lockdown, SessionRecord
from sessions_panel.tracking import lockdowns
from tests.management.test_killsessions_safety import (  # noqa: F401 (fixtures)
    Pipe,
    os_user,
    prompts,
)

pytestmark = pytest.mark.django_db

PASSWORD = "pw"


def run(*args: str, **options: Any) -> str:
    out = io.StringIO()
    call_command("killsessions", *args, stdout=out, **options)
    return out.getvalue()


def alive(sessions: list[Any]) -> int:
    return SessionRecord.objects.filter(session_key__in=[s.session_key for s in sessions]).count()


@pytest.fixture
def root(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)


# -- the site ----------------------------------------------------------------------------


def test_lockdown_asks_then_ends_every_session_and_refuses_sign_in(
    prompts: Any,  # noqa: F811
    os_user: str,  # noqa: F811
    root: Any,
    alice: Any,
    make_session: Any,
) -> None:
    asked = prompts("yes")
    sessions = [make_session(user=root), make_session(user=alice), make_session()]

    output = run("--lockdown", "--reason", "incident 9")

    assert len(asked) == 1 and "'yes'" in asked[0]
    assert "Will lock the site down: end every session (3 indexed session(s) of 2 user(s)" in output
    assert "then refuse every sign-in until it is lifted." in output
    assert "Only superusers can sign in." in output
    assert "Audit trail: by killsessions, OS user deploy; reason: incident 9." in output
    assert "Site locked down until lifted. Ended 3 session(s); 0 could not be ended." in output
    assert "manage.py killsessions --lockdown --lift" in output
    assert alive(sessions) == 0  # the command keeps no session of its own
    lockdown = Lockdown.objects.get()
    assert (lockdown.scope, lockdown.until, lockdown.actor_repr) == (
        "site",
        None,
        "killsessions, OS user deploy",
    )
    entry = AuditEntry.objects.get(scope=AuditEntry.SCOPE_LOCKDOWN)
    assert (entry.actor_repr, entry.reason, entry.killed) == (
        "killsessions, OS user deploy",
        "incident 9",
        3,
    )
    refused = Client()
    refused.login(username="alice", password=PASSWORD)  # the password is right...
    assert refused.get("/admin/").status_code == 302  # ...and the session anonymous


def test_minutes_set_when_it_runs_out(prompts: Any, root: Any) -> None:  # noqa: F811
    prompts("yes")
    output = run("--lockdown", "--minutes", "30", "--noinput")
    lockdown = Lockdown.objects.get()
    assert lockdown.until is not None
    assert timedelta(minutes=29) < lockdown.until - timezone.now() <= timedelta(minutes=30)
    assert "then refuse every sign-in for 30 minutes." in output
    local = timezone.localtime(lockdown.until).strftime("%Y-%m-%d %H:%M")
    assert f"Site locked down until {local}" in output


@pytest.mark.parametrize("answer", ["no", "", EOFError()])
def test_anything_but_yes_changes_nothing(
    prompts: Any,  # noqa: F811
    root: Any,
    make_session: Any,
    answer: Any,
) -> None:
    prompts(answer)
    sessions = [make_session(), make_session()]
    assert "Cancelled: nothing was changed." in run("--lockdown")
    assert alive(sessions) == 2
    assert not Lockdown.objects.exists()
    assert not AuditEntry.objects.exists()


def test_without_a_terminal_it_refuses_unless_noinput(
    prompts: Any,  # noqa: F811
    root: Any,
    make_session: Any,
) -> None:
    asked = prompts("yes", stdin=Pipe(""))
    sessions = [make_session()]
    with pytest.raises(CommandError, match="--noinput"):
        run("--lockdown")
    assert not Lockdown.objects.exists() and alive(sessions) == 1
    run("--lockdown", "--noinput")
    assert asked == []
    assert Lockdown.objects.count() == 1 and alive(sessions) == 0


def test_dry_run_changes_nothing_and_never_asks(
    prompts: Any,  # noqa: F811
    root: Any,
    alice: Any,
    make_session: Any,
) -> None:
    asked = prompts("yes", stdin=Pipe(""))
    sessions = [make_session(user=alice)]
    assert "Dry run: nothing was changed." in run("--lockdown", "--dry-run")
    assert "Dry run: nothing was changed." in run("--lockdown", "--user", "alice", "--dry-run")
    assert asked == []
    assert alive(sessions) == 1
    assert not Lockdown.objects.exists()


def test_a_second_site_lockdown_is_refused(prompts: Any, root: Any) -> None:  # noqa: F811
    prompts("yes")
    run("--lockdown", "--noinput")
    with pytest.raises(CommandError, match="already locked down.*Nothing was changed"):
        run("--lockdown", "--noinput")
    assert Lockdown.objects.count() == 1


def test_nobody_to_lift_it_is_refused_before_asking(
    prompts: Any,  # noqa: F811
    alice: Any,
) -> None:
    """No superuser: nobody could sign in to lift it (the command can, but it says so
    rather than lock every admin out)."""
    asked = prompts("yes")
    with pytest.raises(CommandError, match="Nobody on the lockdown’s allow-list"):
        run("--lockdown", "--noinput")
    assert asked == []
    assert not Lockdown.objects.exists()


def test_lift(prompts: Any, os_user: str, root: Any, alice: Any) -> None:  # noqa: F811
    asked = prompts("no")
    run("--lockdown", "--noinput")

    output = run("--lockdown", "--lift", "--actor", "Ann")

    assert asked == []  # a lift ends nothing: no question
    assert "Will lift the site's lockdown (since " in output
    assert "Lifted the site's lockdown: sign-in is open again." in output
    assert lockdowns.site() is None
    entry = AuditEntry.objects.get(scope=AuditEntry.SCOPE_LIFTED)
    assert (entry.actor_repr, entry.detail) == (
        "Ann (killsessions, OS user deploy)",
        "site lockdown lifted",
    )
    assert Client().login(username="alice", password=PASSWORD)
    # Nothing left to lift: said, and nothing recorded.
    assert "No lockdown to lift: the site's lockdown is not in force." in run(
        "--lockdown", "--lift"
    )
    assert AuditEntry.objects.filter(scope=AuditEntry.SCOPE_LIFTED).count() == 1


# -- one user ----------------------------------------------------------------------------


def test_a_users_lockdown_with_an_unusable_password(
    prompts: Any,  # noqa: F811
    root: Any,
    alice: Any,
    make_session: Any,
) -> None:
    prompts("yes")
    theirs = [make_session(user=alice)]
    others = [make_session(user=root)]

    output = run("--lockdown", "--user", "alice", "--minutes", "60", "--unusable-password")

    assert "Will lock down user alice: end every session of theirs (1 indexed" in output
    assert "Their password will be made unusable: they must set a new one." in output
    assert "User alice locked down until " in output
    assert "--lockdown --lift --user alice" in output
    assert alive(theirs) == 0 and alive(others) == 1
    alice.refresh_from_db()
    assert not alice.has_usable_password()
    assert lockdowns.of_user(alice.pk) is not None

    output = run("--lockdown", "--lift", "--user", str(alice.pk))
    assert "Lifted the lockdown of user alice: sign-in is open again." in output
    assert "Their password is still unusable" in output
    assert lockdowns.of_user(alice.pk) is None


def test_the_last_admin_is_not_locked_down(prompts: Any, root: Any) -> None:  # noqa: F811
    prompts("yes")
    with pytest.raises(CommandError, match="root is the last account"):
        run("--lockdown", "--user", "root", "--noinput")
    assert not Lockdown.objects.exists()


def test_an_unknown_user_is_said_so(prompts: Any, root: Any) -> None:  # noqa: F811
    prompts("yes")
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        run("--lockdown", "--user", "nobody", "--noinput")


# -- what it refuses to guess ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lockdown", "--ip", "192.0.2.1"], "takes no --ip, --all or --except-staff"),
        (["--lockdown", "--all"], "takes no --ip, --all or --except-staff"),
        (["--lockdown", "--except-staff"], "takes no --ip, --all or --except-staff"),
        (["--lockdown", "--minutes", "0"], "from 1 to 527040"),
        (["--lockdown", "--minutes", "-5"], "from 1 to 527040"),
        (["--lockdown", "--minutes", "527041"], "from 1 to 527040"),
        (["--lockdown", "--lift", "--minutes", "5"], "--lift takes no --minutes"),
        (["--lockdown", "--unusable-password"], "--unusable-password needs --user"),
        (["--minutes", "5", "--all"], "go with --lockdown"),
        (["--lift", "--all"], "go with --lockdown"),
        ([], "Say which sessions to end: --user, --ip or --all (or --lockdown)."),
    ],
)
def test_what_does_not_go_together_changes_nothing(
    prompts: Any,  # noqa: F811
    root: Any,
    make_session: Any,
    args: list[str],
    message: str,
) -> None:
    prompts("yes")
    sessions = [make_session()]
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(*args, "--noinput")
    assert alive(sessions) == 1
    assert not Lockdown.objects.exists()


def test_printed_values_are_escaped(
    prompts: Any,  # noqa: F811
    root: Any,
    django_user_model: Any,
) -> None:
    prompts("yes")
    django_user_model.objects.create_user("mal\x1b[2Jory", password=PASSWORD)
    output = run("--lockdown", "--user", "mal\x1b[2Jory", "--reason", "bell\x07", "--dry-run")
    assert "\x1b" not in output and "\x07" not in output
    assert "mal\\x1b[2Jory" in output
