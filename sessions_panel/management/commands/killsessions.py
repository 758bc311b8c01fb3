"""End sessions from the command line: a user's, an IP's, or all of them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from sessions_panel import listing, termination
from sessions_panel.progress import Progress


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
    pk, invalid = listing.parse_user_id(value)
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
        "Prints what it will do first; --dry-run stops there."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument(
            "--user",
            metavar="USER",
            help=_("End every session of this user (their %(field)s, or their ID).")
            % {"field": get_user_model().USERNAME_FIELD},
        )
        target.add_argument("--ip", metavar="ADDR", help="End every session from this IP.")
        target.add_argument("--all", action="store_true", help="End every session.")
        parser.add_argument(
            "--except-staff", action="store_true", help="Spare sessions of staff users."
        )
        parser.add_argument("--dry-run", action="store_true", help="Only say what would end.")
        parser.add_argument("--reason", default="", help="Recorded in the audit trail.")

    def handle(
        self,
        *args: Any,
        user: str | None,
        ip: str | None,
        all: bool,
        except_staff: bool,
        dry_run: bool,
        reason: str,
        **options: Any,
    ) -> None:
        target_user = find_user(user) if user is not None else None
        criteria: dict[str, Any] = {
            "user": target_user,
            "ip": ip,
            "all": all,
            "except_staff": except_staff,
        }
        try:
            plan = termination.kill_sessions(**criteria, dry_run=True)
        except ValueError as error:
            raise CommandError(str(error)) from None
        assert isinstance(plan, termination.Preview)
        scope = (
            f"user {target_user.get_username()}"
            if target_user is not None
            else f"IP {ip}"
            if ip
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
        if dry_run:
            self.stdout.write("Dry run: nothing was ended.")
            return
        progress = Progress(self.stdout, plan.sessions, "Ending")
        result = termination.kill_sessions(**criteria, reason=reason, progress=progress.advance)
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
