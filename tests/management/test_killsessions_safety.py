"""``killsessions`` is a tool for an operator at a terminal, and one that can end every
session of a site: it asks before ending more than one session (as Django's ``flush``
does), refuses to guess an answer when nobody is there to give one, records who ran it,
takes only a real IP address, and never prints raw control characters from its input or
from the database (they would drive the operator's terminal)."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import CommandError

from sessions_panel.management.commands import killsessions
from sessions_panel.models import AuditEntry, SessionRecord
from sessions_panel.sites import AuditEntryAdmin
from sessions_panel.termination import audit
from tests.keys import indexed

pytestmark = pytest.mark.django_db

SYSTEM = "the system"


class Terminal(io.StringIO):
    """A stdin that is a terminal: the command may ask."""

    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    """A stdin that is not a terminal (cron, CI, ``< /dev/null``)."""

    def isatty(self) -> bool:
        return False


#: ``prompts``' default stdin: a terminal.
TERMINAL = object()


def closed_file() -> io.StringIO:
    """A closed stdin: ``isatty()`` raises ``ValueError``."""
    stream = io.StringIO()
    stream.close()
    return stream


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[str]]:
    """Makes stdin a terminal (or what is given) that answers ``answer``; returns the
    list the prompts asked are appended to."""

    def setup(answer: str | BaseException = "yes", stdin: Any = TERMINAL) -> list[str]:
        asked: list[str] = []

        def fake_input(prompt: str = "") -> str:
            asked.append(prompt)
            if isinstance(answer, BaseException):
                raise answer
            return answer

        monkeypatch.setattr("builtins.input", fake_input)
        monkeypatch.setattr("sys.stdin", Terminal() if stdin is TERMINAL else stdin)
        return asked

    return setup


@pytest.fixture
def os_user(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr("getpass.getuser", lambda: "deploy")
    return "deploy"


def run(*args: str, **options: Any) -> str:
    out = io.StringIO()
    call_command("killsessions", *args, stdout=out, **options)
    return out.getvalue()


def alive(sessions: list[Any]) -> int:
    return SessionRecord.objects.filter(session_key__in=[indexed(s) for s in sessions]).count()


# -- confirmation ------------------------------------------------------------------------


def test_all_asks_and_ends_everything_on_yes(prompts, make_session):
    asked = prompts("yes")
    sessions = [make_session(), make_session()]
    output = run("--all")
    assert len(asked) == 1 and "'yes'" in asked[0]
    assert "Ended 2 session(s)" in output
    assert alive(sessions) == 0


@pytest.mark.parametrize("answer", ["no", "", "y", "YES please", EOFError()])
def test_anything_but_yes_cancels_and_ends_nothing(prompts, make_session, answer):
    asked = prompts(answer)
    sessions = [make_session(), make_session()]
    output = run("--all")
    assert len(asked) == 1
    assert "nothing was ended" in output
    assert alive(sessions) == 2
    assert not AuditEntry.objects.exists()


def test_ctrl_c_at_the_prompt_ends_nothing(prompts, make_session):
    prompts(KeyboardInterrupt())
    sessions = [make_session(), make_session()]
    with pytest.raises(CommandError, match="nothing was ended"):
        run("--all")
    assert alive(sessions) == 2
    assert not AuditEntry.objects.exists()


def test_all_asks_even_when_it_would_end_nothing_indexed(prompts):
    """Kill All also ends sessions the index never saw: the count cannot say "only one"."""
    asked = prompts("no")
    run("--all")
    assert len(asked) == 1


@pytest.mark.parametrize(
    "stdin",
    [Pipe(""), Pipe("yes\n"), None, closed_file()],
    ids=["pipe", "piped-yes", "none", "closed"],
)
def test_without_a_terminal_it_refuses_and_ends_nothing(prompts, make_session, stdin):
    asked = prompts("yes", stdin=stdin)  # None: ``<&-``, where Python's sys.stdin is None
    sessions = [make_session(), make_session()]
    with pytest.raises(CommandError, match="--noinput") as raised:
        run("--all")
    assert "nothing was ended" in str(raised.value)
    assert asked == []
    assert alive(sessions) == 2
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("args", "options"),
    [(["--noinput"], {}), (["--no-input"], {}), ([], {"interactive": False})],
    ids=["--noinput", "--no-input", "interactive=False"],
)
def test_noinput_ends_without_asking_even_without_a_terminal(prompts, make_session, args, options):
    asked = prompts("no", stdin=Pipe(""))
    sessions = [make_session(), make_session()]
    output = run("--all", *args, **options)
    assert asked == []
    assert "Ended 2 session(s)" in output
    assert alive(sessions) == 0


def test_dry_run_never_asks(prompts, make_session):
    asked = prompts("no", stdin=Pipe(""))
    sessions = [make_session(), make_session()]
    assert "Dry run: nothing was ended." in run("--all", "--dry-run")
    assert "Dry run: nothing was ended." in run("--ip", "203.0.113.7", "--dry-run")
    assert asked == []
    assert alive(sessions) == 2


def test_an_ip_with_several_sessions_asks_one_session_does_not(prompts, make_session):
    asked = prompts("yes", stdin=Pipe(""))
    many = [make_session(ip="192.0.2.66"), make_session(ip="192.0.2.66")]
    one = make_session(ip="192.0.2.77")
    with pytest.raises(CommandError, match="--noinput"):
        run("--ip", "192.0.2.66")
    assert alive(many) == 2
    assert "Ended 1 session(s)" in run("--ip", "192.0.2.77")  # one session: no question
    assert alive([one]) == 0
    assert asked == []


def test_a_user_with_several_sessions_asks(prompts, make_session, django_user_model):
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    asked = prompts("yes")
    alices = [make_session(user=alice), make_session(user=alice)]
    bobs = [make_session(user=bob)]
    assert "Ended 1 session(s)" in run("--user", "bob")
    assert asked == []
    assert "Ended 2 session(s)" in run("--user", "alice")
    assert len(asked) == 1
    assert alive(alices) == alive(bobs) == 0


# -- who ran it --------------------------------------------------------------------------


def test_the_audit_entry_names_the_os_user(prompts, make_session, os_user):
    prompts("yes")
    make_session()
    run("--all")
    entry = AuditEntry.objects.get()
    assert entry.actor is None
    assert os_user in entry.actor_repr and "killsessions" in entry.actor_repr
    assert AuditEntryAdmin(AuditEntry, admin.site).by(entry) == entry.actor_repr != SYSTEM


def test_the_audit_entry_names_the_given_actor_cleaned_and_bounded(make_session, os_user):
    make_session()
    run("--all", "--noinput", "--actor", "Ann\x1b[31m on\ncall\u202e" + "x" * 500)
    entry = AuditEntry.objects.get()
    label = entry.actor_repr
    assert label.startswith("Ann [31m on call")
    assert os_user in label  # the bound cuts the free text, never who ran it
    assert len(label) <= 150
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in label)


@pytest.mark.parametrize("error", [OSError("no name"), KeyError("uid")])
def test_an_unknown_os_user_does_not_stop_the_command(make_session, monkeypatch, error):
    def fail() -> str:
        raise error

    monkeypatch.setattr("getpass.getuser", fail)
    session = make_session()
    run("--all", "--noinput", "--actor", "Ann")
    assert alive([session]) == 0
    entry = AuditEntry.objects.get()
    assert entry.actor_repr.startswith("Ann") and "killsessions" in entry.actor_repr


def test_the_output_says_what_the_audit_entry_will_record(prompts, make_session, os_user):
    prompts("no")
    make_session()
    output = run("--all", "--actor", "Ann", "--reason", "breach")
    assert "Ann" in output and os_user in output and "breach" in output


def test_a_label_is_recorded_as_a_name_without_a_user():
    assert audit._actor_fields("ops (killsessions)") == {
        "actor": None,
        "actor_repr": "ops (killsessions)",
    }
    assert len(audit._actor_fields("x" * 400)["actor_repr"]) == 150
    assert audit._actor_fields(None) == {"actor": None, "actor_repr": ""}


def test_the_audit_list_shows_the_label_not_the_system(admin_client, make_session, os_user):
    make_session(ip="192.0.2.99")  # not --all: that would end the admin's session too
    run("--ip", "192.0.2.99", "--actor", "Ann")
    label = AuditEntry.objects.get().actor_repr
    html = admin_client.get("/admin/sessions_panel/auditentry/").content.decode()
    assert label in html
    assert SYSTEM not in html


# -- strict IP addresses -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "[::1]junk",
        "[::1]",
        "[192.0.2.66]:80",
        "::1%eth0",
        "fe80::1%lo0",
        "192.0.2.66:80",
        "192.0.2.0/24",
        "192.0.2.66 junk",
        "192.0.2.66\x00",
        "1.2.3.4.5",
        "not-an-ip",
        "",
    ],
)
def test_ip_takes_an_address_and_nothing_else(make_session, value):
    sessions = [make_session(ip="::1"), make_session(ip="192.0.2.66")]
    with pytest.raises(CommandError, match="not an IP address") as raised:
        run("--ip", value)
    assert killsessions.shown(value.strip()) in str(raised.value)
    assert alive(sessions) == 2
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("value", "shown_as"),
    [
        (" 192.0.2.66\n", "192.0.2.66"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0::1", "2001:db8::1"),
        ("::ffff:192.0.2.66", "192.0.2.66"),
    ],
)
def test_ip_takes_an_address_with_surrounding_space(make_session, value, shown_as):
    ip = shown_as
    make_session(ip=ip)
    output = run("--ip", value)  # one session: no question
    assert f"IP {shown_as}." in output
    assert "Ended 1 session(s)" in output


# -- control characters ------------------------------------------------------------------


def test_shown_escapes_control_and_format_characters():
    assert killsessions.shown("a\x1b[2Jb\x07\x00\x7f\u202ec\u200b\ud800") == (
        "a\\x1b[2Jb\\x07\\x00\\x7f\\u202ec\\u200b\\ud800"
    )
    assert killsessions.shown("Zoë 日本 née") == "Zoë 日本 née"
    assert killsessions.shown(42) == "42"


def raw_controls(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) in ("Cc", "Cf") and c != "\n"]


def test_a_bad_ip_is_named_escaped(make_session):
    with pytest.raises(CommandError) as raised:
        run("--ip", "\x1b]0;pwned\x07192.0.2.1")
    message = str(raised.value)
    assert "\\x1b]0;pwned\\x07192.0.2.1" in message
    assert raw_controls(message) == []


def test_a_user_name_from_the_database_is_printed_escaped(make_session, django_user_model):
    eve = django_user_model.objects.create_user("eve\x1b[2J\u202e")
    make_session(user=eve)
    output = run("--user", str(eve.pk), "--dry-run")
    assert "user eve\\x1b[2J\\u202e." in output
    assert raw_controls(output) == []


def test_reasons_and_actors_are_printed_escaped(prompts, make_session, os_user):
    prompts("no")
    make_session()
    output = run("--all", "--reason", "ok\u202egnp.exe\x1b[2J", "--actor", "Ann\u200f")
    assert "reason: ok\\u202egnp.exe [2J." in output  # stored: controls as spaces
    assert raw_controls(output) == []


def test_the_signal_keeps_its_contract_actor_is_a_user_or_none(make_session, os_user):
    """Receivers may call ``actor.get_username()``: the command's label is never sent as
    ``actor`` (it would raise after the sessions ended), but as ``actor_repr``."""
    from sessions_panel.signals import session_killed

    received: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    session_killed.connect(receiver, dispatch_uid="test-contract")
    try:
        make_session()
        run("--all", "--noinput", "--actor", "Ann")
    finally:
        session_killed.disconnect(dispatch_uid="test-contract")
    assert len(received) == 1
    assert received[0]["actor"] is None
    assert received[0]["actor_repr"].startswith("Ann (killsessions, OS user ")
