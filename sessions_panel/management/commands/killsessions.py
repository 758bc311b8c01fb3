"""End sessions from the command line: a user's, an IP's, or all of them; or lock the
site or one user down (``--lockdown``), and lift it (``--lockdown --lift``), for when
the admin itself is out of reach."""

from __future__ import annotations

import getpass
import ipaddress
import os
import sys
import unicodedata
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sessions_panel import termination
from sessions_panel.management.progress import Progress
from sessions_panel.query import liststate
from sessions_panel.termination import audit
from sessions_panel.termination import lockdown as lockdown_service
from sessions_panel.tracking import lockdowns
from sessions_panel.tracking.client import parse_ip

#: Characters printed as escapes: controls (ESC, BEL, CR... would drive the operator's
#: terminal: clear it, retitle it, hide what follows), format characters (bidi
#: overrides that reorder a line on screen, zero-width ones), lone surrogates (an
#: undecodable argument, which would make the write itself fail) and line separators.
ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

#: Bounds of the audit label's parts: ``actor_repr`` holds 150 characters, and the
#: command's own part (who ran it) must survive whatever free text comes before it.
ACTOR_MAX = 80
OS_USER_MAX = 32


def shown(value: object) -> str:
    """``value`` as text safe to print: every character of :data:`ESCAPED_CATEGORIES`
    replaced by its ``\\xNN`` / ``\\uNNNN`` escape, everything else as is.

    Whatever the command prints that came from its arguments or the database goes
    through this: a user name, an IP, a reason are not the command's own text, and
    may carry escape sequences meant for whoever reads the output.
    """
    text = str(value)
    if text.isprintable():  # the usual case: nothing to escape, nothing to build
        return text
    return "".join(_escape(c) if unicodedata.category(c) in ESCAPED_CATEGORIES else c for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def one_line(value: str, limit: int) -> str:
    """``value`` as one line of at most ``limit`` characters, for the audit trail: the
    characters :func:`shown` escapes become spaces (stored, they would be replayed to
    every later reader), runs of space become one."""
    text = "".join(" " if unicodedata.category(c) in ESCAPED_CATEGORIES else c for c in value)
    return " ".join(text.split())[:limit].strip()


def os_user() -> str:
    """The operating-system user running the command, for the audit trail.

    ``getpass.getuser()`` fails when neither the environment nor the password database
    names the user (a container running under an arbitrary uid): the kill must not fail
    for that, so the uid stands in, or "unknown" where there is no uid.
    """
    try:
        name = one_line(getpass.getuser(), OS_USER_MAX)
    except Exception:  # OSError on Python 3.13+, KeyError before
        name = ""
    if name:
        return name
    getuid = getattr(os, "getuid", None)
    return f"uid {getuid()}" if getuid is not None else "unknown"


def audit_label(actor: str, system_user: str) -> str:
    """The audit trail's "by" for a run of this command: the ``--actor`` text, if any,
    then who ran it.

    Stored as data, in English like the entry's other recorded details: it is what was
    true when the command ran, not text for the reader's language. Never the bare free
    text, so ``--actor admin`` cannot pass for the panel user "admin".
    """
    if actor:
        return f"{actor} (killsessions, OS user {system_user})"
    return f"killsessions, OS user {system_user}"


def strict_ip(value: str) -> str:
    """The address ``--ip`` names, as the index stores it; refuses anything but one
    IPv4 or IPv6 address (surrounding whitespace aside).

    The page's parser is lenient on purpose (it reads proxy headers: "[v6]:port",
    zones); a command that ends sessions takes what the operator typed or nothing,
    so that "[::1]junk" is not read as ``::1``.
    """
    text = value.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        address = None
    scoped = isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None
    normal = parse_ip(text) if address is not None and not scoped else None
    if normal is None:
        raise CommandError(
            _(
                '"%(value)s" is not an IP address: --ip takes one IPv4 or IPv6 address, '
                "such as 192.0.2.1 or 2001:db8::1. Nothing was ended."
            )
            % {"value": shown(text[:100])}
        )
    return str(normal)  # an IPv4-mapped IPv6 address is stored as the IPv4 one


def is_terminal(stream: Any) -> bool:
    """Whether someone can answer on ``stream``: ``None`` when stdin is closed
    (``<&-``), and a closed file raises rather than answer."""
    try:
        return stream is not None and bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def find_user(value: str) -> Any:
    """The user ``value`` names: their ``USERNAME_FIELD`` value (a username, an email:
    whatever the model logs in with), else their primary key (an integer, a UUID).

    A value that is one user's login and another user's key is refused: a command that
    ends sessions must not guess whose.
    """
    model = get_user_model()
    manager = model._default_manager
    by_login = None
    if hasattr(manager, "get_by_natural_key"):
        try:
            by_login = manager.get_by_natural_key(value)
        except model.DoesNotExist:
            by_login = None
    else:
        by_login = manager.filter(**{model.USERNAME_FIELD: value}).first()
    pk, invalid = liststate.parse_user_id(value)
    by_pk = manager.filter(pk=pk).first() if pk and not invalid else None
    if by_login is not None and by_pk is not None and by_login.pk != by_pk.pk:
        raise CommandError(
            _(
                "%(value)r is the %(field)s of one user and the ID of another; "
                "nothing was ended. Give the other user's %(field)s instead."
            )
            % {"value": value, "field": model.USERNAME_FIELD}
        )
    found = by_login if by_login is not None else by_pk
    if found is None:
        raise CommandError(
            _("No user named %(value)r. --user takes a user's %(field)s or ID.")
            % {"value": value, "field": model.USERNAME_FIELD}
        )
    return found


class Command(BaseCommand):
    help = (
        "End sessions through the panel's kill service (audited, confirmed by the store). "
        "Prints what it will do first, then asks before ending more than one session "
        "(--noinput: does not ask); --dry-run stops after the plan. --lockdown ends every "
        "session (or --user's) and refuses sign-in until --lift or --minutes have passed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        # One of them is required, unless --lockdown (the site's, without --user).
        target = parser.add_mutually_exclusive_group()
        target.add_argument(
            "--user",
            metavar="USER",
            help=_("End every session of this user (their %(field)s, or their ID).")
            % {"field": get_user_model().USERNAME_FIELD},
        )
        target.add_argument(
            "--ip", metavar="ADDR", help="End every session from this IP (one address)."
        )
        target.add_argument("--all", action="store_true", help="End every session.")
        parser.add_argument(
            "--except-staff", action="store_true", help="Spare sessions of staff users."
        )
        parser.add_argument("--dry-run", action="store_true", help="Only say what would end.")
        parser.add_argument("--reason", default="", help="Recorded in the audit trail.")
        parser.add_argument(
            "--actor",
            default="",
            metavar="TEXT",
            help=_(
                "Who is acting (an on-call name, a ticket): recorded in the audit trail "
                "with the operating-system user that ran the command."
            ),
        )
        parser.add_argument(
            "--lockdown",
            action="store_true",
            help=_(
                "Lock down: end every session (with --user: that user's), then refuse "
                "every sign-in but the allow-list's (with --user: that user's) until "
                "lifted or --minutes have passed."
            ),
        )
        parser.add_argument(
            "--minutes",
            type=int,
            metavar="N",
            help=_("With --lockdown: lift it by itself after N minutes (default: until lifted)."),
        )
        parser.add_argument(
            "--lift",
            action="store_true",
            help=_("With --lockdown: lift the site's lockdown (with --user: that user's)."),
        )
        parser.add_argument(
            "--unusable-password",
            action="store_true",
            help=_(
                "With --lockdown --user: also make their password unusable, so that they "
                "must set a new one."
            ),
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help=_(
                "Do not ask for confirmation before ending more than one session "
                "(for scripts and cron)."
            ),
        )

    def handle(
        self,
        *args: Any,
        user: str | None,
        ip: str | None,
        all: bool,
        except_staff: bool,
        dry_run: bool,
        reason: str,
        actor: str = "",
        interactive: bool = True,
        lockdown: bool = False,
        minutes: int | None = None,
        lift: bool = False,
        unusable_password: bool = False,
        **options: Any,
    ) -> None:
        if lockdown:
            if ip is not None or all or except_staff:
                raise CommandError(
                    _(
                        "--lockdown locks down the site, or one user with --user; it takes "
                        "no --ip, --all or --except-staff. Nothing was changed."
                    )
                )
            self.lockdown(
                user=user,
                minutes=minutes,
                lift=lift,
                unusable_password=unusable_password,
                dry_run=dry_run,
                reason=reason,
                actor=actor,
                interactive=interactive,
            )
            return
        if minutes is not None or lift or unusable_password:
            raise CommandError(
                _(
                    "--minutes, --lift and --unusable-password go with --lockdown. Nothing was ended."
                )
            )
        if user is None and ip is None and not all:
            raise CommandError(
                _("Say which sessions to end: --user, --ip or --all (or --lockdown).")
            )
        target_user = find_user(user) if user is not None else None
        address = strict_ip(ip) if ip is not None else None
        criteria: dict[str, Any] = {
            "user": target_user,
            "ip": address,
            "all": all,
            "except_staff": except_staff,
        }
        try:
            plan = termination.kill_sessions(**criteria, dry_run=True)
        except ValueError as error:
            raise CommandError(shown(error)) from None
        assert isinstance(plan, termination.Preview)
        scope = (
            f"user {shown(target_user.get_username())}"
            if target_user is not None
            else f"IP {shown(address)}"
            if address
            else "all sessions"
        )
        if except_staff:
            scope += " except staff"
        self.stdout.write(
            f"Will end {plan.sessions:,} indexed session(s) of {plan.users:,} user(s) "
            f"and {plan.guests:,} guest(s): {scope}."
        )
        if (all or user) and not ip and not except_staff:
            self.stdout.write(
                "Sessions not yet in the index end too (they are refused on their next request)."
            )
        label = audit_label(one_line(actor, ACTOR_MAX), os_user())
        recorded = audit.clean_reason(reason)
        self.stdout.write(
            _("Audit trail: by %(actor)s; reason: %(reason)s.")
            % {"actor": shown(label), "reason": shown(recorded) if recorded else "—"}
        )
        if dry_run:
            self.stdout.write("Dry run: nothing was ended.")
            return
        # Kill All also ends sessions the index never saw: its count cannot say "one".
        if interactive and (all or plan.sessions > 1) and not self.confirmed():
            self.stdout.write(_("Cancelled: nothing was ended."))
            return
        progress = Progress(self.stdout, plan.sessions, "Ending")
        result = termination.kill_sessions(
            **criteria, actor=label, reason=reason, progress=progress.advance
        )
        assert isinstance(result, termination.KillResult)
        if plan.sessions > 0 and progress.done:
            progress.finish()
        summary = (
            f"Ended {result.killed:,} session(s); {result.already_ended:,} had already "
            f"ended; {result.failed:,} could not be ended."
        )
        if result.failed:
            raise CommandError(summary + " See the log; run again to retry.")
        self.stdout.write(self.style.SUCCESS(summary))

    # -- --lockdown ------------------------------------------------------------------------

    def lockdown(
        self,
        *,
        user: str | None,
        minutes: int | None,
        lift: bool,
        unusable_password: bool,
        dry_run: bool,
        reason: str,
        actor: str,
        interactive: bool,
    ) -> None:
        """Lock the site (or ``user``) down, or lift it: the page's action, for when
        the admin cannot be reached. Asks for a typed "yes" before a lockdown (it ends
        sessions); a lift ends nothing and does not ask."""
        if lift and (minutes is not None or unusable_password):
            raise CommandError(
                _("--lift takes no --minutes or --unusable-password. Nothing was changed.")
            )
        if unusable_password and user is None:
            raise CommandError(
                _("--unusable-password needs --user: whose password? Nothing was changed.")
            )
        if minutes is not None and not 1 <= minutes <= lockdowns.MAX_MINUTES:
            raise CommandError(
                _(
                    "--minutes takes a whole number of minutes from 1 to %(max)d (leave it "
                    "out to lock down until lifted). Nothing was changed."
                )
                % {"max": lockdowns.MAX_MINUTES}
            )
        target = find_user(user) if user is not None else None
        label = audit_label(one_line(actor, ACTOR_MAX), os_user())
        recorded = audit.clean_reason(reason)
        if lift:
            self.lift(target, label, reason, dry_run)
            return
        try:
            if target is None:
                lockdown_service.check_site(label)
            else:
                lockdown_service.check_user(target, label)
        except lockdown_service.LockdownRefused as refusal:
            raise CommandError(f"{shown(refusal)} {_('Nothing was changed.')}") from None
        how_long = (
            _("until it is lifted")
            if minutes is None
            else ngettext("for %(count)d minute", "for %(count)d minutes", minutes)
            % {"count": minutes}
        )
        if target is None:
            plan = termination.preview(termination.matching())
            self.stdout.write(
                _(
                    "Will lock the site down: end every session (%(sessions)s indexed "
                    "session(s) of %(users)s user(s) and %(guests)s guest(s); sessions not "
                    "yet in the index end too), then refuse every sign-in %(how_long)s."
                )
                % {
                    "sessions": f"{plan.sessions:,}",
                    "users": f"{plan.users:,}",
                    "guests": f"{plan.guests:,}",
                    "how_long": how_long,
                }
            )
            self.stdout.write(shown(lockdowns.allowed_text()))
        else:
            plan = termination.preview(termination.matching(user=target))
            self.stdout.write(
                _(
                    "Will lock down user %(user)s: end every session of theirs (%(sessions)s "
                    "indexed; sessions not yet in the index end too), then refuse their "
                    "sign-in %(how_long)s."
                )
                % {
                    "user": shown(target.get_username()),
                    "sessions": f"{plan.sessions:,}",
                    "how_long": how_long,
                }
            )
            if unusable_password:
                self.stdout.write(
                    _("Their password will be made unusable: they must set a new one.")
                )
        self.stdout.write(
            _("Audit trail: by %(actor)s; reason: %(reason)s.")
            % {"actor": shown(label), "reason": shown(recorded) if recorded else "—"}
        )
        if dry_run:
            self.stdout.write(_("Dry run: nothing was changed."))
            return
        if interactive and not self.confirmed():
            self.stdout.write(_("Cancelled: nothing was changed."))
            return
        try:
            if target is None:
                outcome = termination.lock_site(actor=label, minutes=minutes, reason=reason)
            else:
                outcome = termination.lock_user(
                    target,
                    actor=label,
                    minutes=minutes,
                    reason=reason,
                    unusable_password=unusable_password,
                )
        except lockdown_service.LockdownRefused as refusal:  # changed meanwhile
            raise CommandError(f"{shown(refusal)} {_('Nothing was changed.')}") from None
        result = outcome.kill
        until = outcome.lockdown.until
        when = (
            _("until lifted")
            if until is None
            else _("until %(time)s")
            % {"time": timezone.localtime(until).strftime("%Y-%m-%d %H:%M %Z")}
        )
        done = (
            _("Site locked down %(when)s.") % {"when": when}
            if target is None
            else _("User %(user)s locked down %(when)s.")
            % {"user": shown(target.get_username()), "when": when}
        )
        summary = _(
            "%(done)s Ended %(killed)s session(s); %(failed)s could not be ended. Lift it "
            "with: manage.py killsessions --lockdown --lift%(user)s"
        ) % {
            "done": done,
            "killed": f"{result.killed:,}",
            "failed": f"{result.failed:,}",
            "user": "" if target is None else f" --user {shown(user)}",
        }
        if result.failed:
            raise CommandError(
                summary + " " + _("Sign-in is refused; see the log and run Kill All to retry.")
            )
        self.stdout.write(self.style.SUCCESS(summary))

    def lift(self, target: Any, label: str, reason: str, dry_run: bool) -> None:
        row = lockdowns.site() if target is None else lockdowns.of_user(target.pk)
        what = (
            _("the site's lockdown")
            if target is None
            else _("the lockdown of user %(user)s") % {"user": shown(target.get_username())}
        )
        if row is None:
            self.stdout.write(_("No lockdown to lift: %(what)s is not in force.") % {"what": what})
            return
        self.stdout.write(
            _("Will lift %(what)s (since %(since)s). Audit trail: by %(actor)s.")
            % {
                "what": what,
                "since": timezone.localtime(row.created).strftime("%Y-%m-%d %H:%M %Z"),
                "actor": shown(label),
            }
        )
        if dry_run:
            self.stdout.write(_("Dry run: nothing was changed."))
            return
        if not termination.lift_lockdown(row, actor=label, reason=reason):
            self.stdout.write(_("It had run out or been lifted meanwhile."))
            return
        message = _("Lifted %(what)s: sign-in is open again.") % {"what": what}
        if row.password_unusable:
            message += " " + _("Their password is still unusable: they must set a new one.")
        self.stdout.write(self.style.SUCCESS(message))

    def confirmed(self) -> bool:
        """Ask, as Django's ``flush`` does, for a typed "yes".

        With no terminal to ask on (cron, CI, a closed or piped stdin) this refuses
        rather than proceed: a script that means it says ``--noinput``, and one that
        does not must not end every session of a site because nobody was there.
        """
        if not is_terminal(sys.stdin):
            raise CommandError(
                _(
                    "Ending these sessions needs a confirmation, and stdin is not a terminal "
                    "to answer on: nothing was ended. Use --noinput to end them without asking."
                )
            )
        try:
            # Translators: keep 'yes' in English: the answer is compared with "yes".
            answer = input(_("Type 'yes' to end them, or anything else to cancel: "))
        except EOFError:
            return False
        except KeyboardInterrupt:
            raise CommandError(_("Cancelled: nothing was ended.")) from None
        return answer.strip() == "yes"
