"""Lockdowns: end sessions, then refuse sign-in until lifted or run out.

- :func:`lock_site`: Kill All, then every new sign-in is refused except for the
  allow-list (superusers, or the members of ``LOCKDOWN_ALLOW_GROUP``);
- :func:`lock_user`: every session of one user ends, then their sign-in is refused
  (optionally their password is made unusable, so that they must set a new one);
- :func:`lift`: sign-in is allowed again, on the record;
- :func:`on_login`: Django's ``user_logged_in``, so every path that calls
  ``django.contrib.auth.login()`` is covered (the admin's login, ``LoginView``, a
  third-party app's views, the test client): the refused login is logged out again at
  once, with a message for the login form, as ``MAX_SESSIONS_ACTION = "refuse"`` does
  (the middleware sends the view's redirect back to the form).

The lockdown is written before its kill: a login racing it is either refused by it or
issued its session key before the kill's epoch, which then ends it.

Rules, for every caller: a lockdown in force is not started again (lift it first); an
actor who is a user may not lock down their own account, nor lock down the site unless
they are on its allow-list themselves; and no lockdown may leave nobody able to sign in
to the admin (active staff, not locked down, on the allow-list while the site is
locked down), since nobody could lift it there. ``PROTECT_SUPERUSERS`` is the page's
rule, as for kills (the views check it, and pass ``spare_superusers``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import DatabaseError, router, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from sessions_panel.models import AuditEntry, Lockdown, short_id_for
from sessions_panel.termination.audit import Actor, KillResult, _actor_fields, clean_reason, finish
from sessions_panel.termination.epochs import kill_all, kill_user
from sessions_panel.termination.guard import ensure_tracked
from sessions_panel.tracking import lockdowns, policies

logger = logging.getLogger("sessions_panel")


class LockdownRefused(Exception):
    """A lockdown that must not start (or a lift that cannot happen): nothing was
    changed; ``str()`` says why, in the active language."""


@dataclass
class LockdownResult:
    """A lockdown started: its record, and what its kill ended."""

    lockdown: Lockdown
    kill: KillResult


def _user_actor(actor: Actor) -> Any:
    """The actor if it is a signed-in user (the page, the API acting for one)."""
    if isinstance(actor, str) or actor is None or not getattr(actor, "is_authenticated", False):
        return None
    return actor


def check_minutes(minutes: Any) -> None:
    if minutes is None:
        return
    if (
        not isinstance(minutes, int)
        or isinstance(minutes, bool)
        or not 1 <= minutes <= lockdowns.MAX_MINUTES
    ):
        raise ValueError(
            f"minutes must be None (until lifted) or a whole number from 1 to "
            f"{lockdowns.MAX_MINUTES}, not {minutes!r}"
        )


def _until_text(row: Lockdown) -> str:
    """For the audit trail (stored, in English)."""
    if row.until is None:
        return "until lifted"
    return f"until {row.until.isoformat(timespec='seconds')}"


def _record(
    scope: str, user: Any, minutes: int | None, actor: Actor, reason: str, unusable: bool = False
) -> Lockdown:
    fields = _actor_fields(actor)
    return Lockdown.objects.using(lockdowns.using()).create(
        scope=scope,
        user=user,
        until=lockdowns.until_for(minutes),
        actor=fields["actor"],
        actor_repr=fields["actor_repr"],
        reason=clean_reason(reason),
        password_unusable=unusable,
    )


def check_site(actor: Actor = None) -> None:
    """Raise :class:`LockdownRefused` if the site may not be locked down now: it is
    already, the acting user is not on the allow-list (it would lock them out), or
    nobody on it could sign in to the admin to lift it."""
    current = lockdowns.site()
    if current is not None:
        raise LockdownRefused(
            _("The site is already locked down (since %(since)s): lift it first to change it.")
            % {"since": lockdowns.moment(current.created)}
        )
    user = _user_actor(actor)
    if user is not None and not lockdowns.on_allow_list(user):
        raise LockdownRefused(
            _("You are not on the lockdown’s allow-list, so it would lock you out.")
            + " "
            + lockdowns.allowed_text()
        )
    if not lockdowns.admins_left(site_locked=True):
        raise LockdownRefused(
            _(
                "Nobody on the lockdown’s allow-list could sign in to the admin to lift it "
                "(no active staff account is on it)."
            )
            + " "
            + lockdowns.allowed_text()
        )


def check_user(user: Any, actor: Actor = None) -> None:
    """Raise :class:`LockdownRefused` if ``user`` may not be locked down now: it is the
    acting user, it is locked down already, or it is the last account that could sign
    in to the admin (on the allow-list, while the site is locked down)."""
    acting = _user_actor(actor)
    if acting is not None and str(acting.pk) == str(user.pk):
        raise LockdownRefused(_("You cannot lock down your own account."))
    current = lockdowns.of_user(user.pk)
    if current is not None:
        raise LockdownRefused(
            _("%(user)s is already locked down (since %(since)s): lift it first to change it.")
            % {"user": user.get_username(), "since": lockdowns.moment(current.created)}
        )
    site_locked = lockdowns.site() is not None
    counts = lockdowns.can_admin(user) and (not site_locked or lockdowns.on_allow_list(user))
    if counts and not lockdowns.admins_left(site_locked=site_locked, without=user):
        raise LockdownRefused(
            _(
                "%(user)s is the last account that can sign in to the admin: locking it "
                "down would leave nobody to lift it."
            )
            % {"user": user.get_username()}
        )


def lock_site(
    *,
    actor: Actor = None,
    minutes: int | None = None,
    reason: str = "",
    keep: Any = None,
    spare_superusers: bool = False,
    purge_seconds: float | None = -1.0,
) -> LockdownResult:
    """Lock the site down: Kill All (except ``keep``, the caller's own session, and
    with ``spare_superusers`` superusers' sessions), then refuse every sign-in but the
    allow-list's for ``minutes`` (``None``: until lifted).

    Raises :class:`LockdownRefused` (nothing changed) when the site is locked down
    already, when the acting user is not on the allow-list, or when nobody on it could
    sign in to the admin; :class:`~sessions_panel.termination.NotTracked` when kills
    cannot hold here.
    """
    check_minutes(minutes)
    ensure_tracked()
    check_site(actor)
    row = _record(Lockdown.SITE, None, minutes, actor, reason)
    group = lockdowns.allow_group()
    allowed = "superusers" if group is None else f'group "{group}"'
    detail = f"site locked down {_until_text(row)}; allow-list: {allowed}"
    result = kill_all(
        actor=actor,
        reason=reason,
        keep=keep,
        spare_superusers=spare_superusers,
        scope=AuditEntry.SCOPE_LOCKDOWN,
        detail=detail,
        purge_seconds=purge_seconds,
    )
    return LockdownResult(row, result)


def lock_user(
    user: Any,
    *,
    actor: Actor = None,
    minutes: int | None = None,
    reason: str = "",
    unusable_password: bool = False,
) -> LockdownResult:
    """Lock one user down: every session of theirs ends, then their sign-in is refused
    for ``minutes`` (``None``: until lifted); with ``unusable_password`` their password
    is made unusable too (they must set a new one, lifted or not).

    Raises :class:`LockdownRefused` (nothing changed) for the actor's own account, a
    user locked down already, or the last account that could sign in to the admin.
    """
    check_minutes(minutes)
    ensure_tracked()
    check_user(user, actor)
    row = _record(Lockdown.USER, user, minutes, actor, reason, unusable_password)
    detail = f"user {user.get_username()}: locked down {_until_text(row)}"
    if unusable_password:
        detail += "; password made unusable"
    result = kill_user(
        user, actor=actor, reason=reason, scope=AuditEntry.SCOPE_LOCKDOWN, detail=detail
    )
    if unusable_password:
        # After the kill: with END_SESSIONS_ON_PASSWORD_CHANGE the save ends the user's
        # sessions again (none left), and its entry does not take the lockdown's count.
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return LockdownResult(row, result)


def lift(lockdown: Lockdown, *, actor: Actor = None, reason: str = "") -> int:
    """Lift ``lockdown`` (and any other in force of the same scope and user, so one
    click lifts the site's): sign-in is allowed again, on the record. Returns how many
    were lifted; 0 when it had been lifted or had run out already (nothing recorded).
    """
    fields = _actor_fields(actor)
    using = lockdowns.using()
    same = Lockdown.objects.using(using).in_force().filter(scope=lockdown.scope)
    if lockdown.user_id is None:
        same = same.filter(user__isnull=True)
    else:
        same = same.filter(user_id=lockdown.user_id)
    lifted = same.update(
        lifted=timezone.now(), lifted_by=fields["actor"], lifted_by_repr=fields["actor_repr"]
    )
    if not lifted:
        return 0
    if lockdown.user_id is not None:
        user = get_user_model()._default_manager.filter(pk=lockdown.user_id).first()
        name = user.get_username() if user is not None else f"#{lockdown.user_id}"
        detail = f"user {name}: lockdown lifted"
    else:
        detail = "site lockdown lifted"
    _record_lift(lockdown, actor, reason, detail)
    return lifted


def _record_lift(lockdown: Lockdown, actor: Actor, reason: str, detail: str) -> None:
    """The audit entry, "Recent actions" entry and log line of a lift (no kill: no
    ``session_killed``)."""
    fields = _actor_fields(actor)
    reason = clean_reason(reason)
    try:
        with transaction.atomic(using=router.db_for_write(AuditEntry)):
            entry = AuditEntry.objects.create(
                scope=AuditEntry.SCOPE_LIFTED,
                reason=reason,
                user_ids=[] if lockdown.user_id is None else [str(lockdown.user_id)],
                detail=detail,
                **fields,
            )
            if fields["actor"] is not None:
                from django.contrib.admin.models import CHANGE, LogEntry
                from django.contrib.contenttypes.models import ContentType

                LogEntry.objects.create(
                    user_id=fields["actor"].pk,
                    content_type=ContentType.objects.get_for_model(AuditEntry),
                    object_id=str(entry.pk),
                    object_repr=f"Lockdown lifted ({lockdown.scope})"[:200],
                    action_flag=CHANGE,
                    change_message=detail[:200],
                )
    except DatabaseError:
        logger.exception("could not write the audit entry of a lifted lockdown")
    logger.info("lockdown lifted: %s actor=%r", detail, fields["actor_repr"])


# -- at login ----------------------------------------------------------------------------


def on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_in``: a login a lockdown refuses is undone at once.

    Its session is logged out again (Django's ``logout()``: ``user_logged_out`` is
    sent, the session flushed), a message says why, the middleware sends the login
    view's redirect back to the login form, and the audit trail has it. Later
    receivers see an anonymous request (the session cap does nothing then).
    """
    if request is None or getattr(user, "pk", None) is None:
        return
    if getattr(request, policies.REFUSED_LOGIN, False):
        return
    found = lockdowns.refusal(user)
    if found is None:
        return
    from django.contrib.auth import logout

    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    logout(request)
    if hasattr(request, "auser"):  # alogin() set it to the user: the rest of this request
        from django.contrib.auth.models import AnonymousUser

        async def anonymous() -> AnonymousUser:
            return AnonymousUser()

        request.auser = anonymous
    setattr(request, policies.REFUSED_LOGIN, True)
    messages.error(request, found.message, fail_silently=True)
    result = KillResult(
        scope=AuditEntry.SCOPE_LOCKDOWN,
        requested=1,
        killed=1,
        short_ids=[] if key is None else [short_id_for(key)],
        user_ids=[user.pk],
    )
    finish(result, None, found.reason, detail=f"user {user.get_username()}: login refused")
