"""Re-authentication before every multi-session kill (kill-user, kill matching, Kill All).

An admin who logged in (or re-entered their password) within ``REAUTH_WINDOW``
seconds is not asked again; ``REAUTH_WINDOW = 0`` turns the question off.

When that was is kept on the session's index row (``SessionRecord.verified``), not in
the session data: the panel adds nothing to what the application sees in
``request.session``, on the admin's logins or anyone else's.

The prompt is a password check a stolen session can reach, so it is throttled and on
the record (:func:`confirm`):

- ``REAUTH_MAX_FAILURES`` wrong passwords within ``REAUTH_LOCKOUT`` seconds lock it for
  ``REAUTH_LOCKOUT`` seconds, during which every password is refused unchecked (a
  check would tell the right one). The count is per admin account, shared by all of
  its sessions and every app server: it lives in the database
  (:class:`~sessions_panel.models.ReauthThrottle`), as a cache may be per process.
- Each failure is a warning on the ``sessions_panel`` logger and an audit entry of
  scope "re-authentication" (``requested = killed = 0``), never with the password.
- Each failure sends Django's ``user_login_failed``: ``authenticate()`` sends it for a
  wrong password; a password refused unchecked (locked out, or too long to hash) gets
  one sent here. So django-axes and the like count the prompt with the login form.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.db import DatabaseError, IntegrityError, router, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import ngettext

from sessions_panel.conf import conf
from sessions_panel.models import AuditEntry, ReauthThrottle, SessionRecord
from sessions_panel.tracking import clock
from sessions_panel.tracking.keys import index_key

logger = logging.getLogger("sessions_panel")

#: Where versions before 0.2 kept the time, inside the session data (dropped on load).
LEGACY_KEY = "_sessions_panel_authenticated_at"
#: Longer is never a password worth hashing: refused unchecked, as a failure.
PASSWORD_MAX_LENGTH = 4096
#: What ``user_login_failed`` receivers get for the password (Django's own mask).
CLEANSED = "********************"


def mark_authenticated(request: HttpRequest) -> None:
    key = index_key(request.session)
    if key is not None:
        SessionRecord.objects.filter(session_key=key).update(verified=time.time())


def verified_at(request: HttpRequest) -> float | None:
    """When this session's user last proved their password, if the index knows."""
    key = index_key(request.session)
    if key is None:
        return None
    return SessionRecord.objects.filter(session_key=key).values_list("verified", flat=True).first()


def needs_password(request: HttpRequest) -> bool:
    window = conf.REAUTH_WINDOW
    if window <= 0:
        return False
    at = verified_at(request)
    return at is None or time.time() - at > window


@dataclass(frozen=True)
class Outcome:
    """What became of one password at the prompt."""

    ok: bool
    #: The prompt is locked until then (seconds since the Unix epoch, database clock).
    locked_until: float | None = None
    #: Seconds of the lock-out left, by the same clock.
    remaining: float = 0.0
    #: This attempt's wrong password is the one that locked it.
    locked_now: bool = False

    @property
    def locked(self) -> bool:
        return self.locked_until is not None

    @property
    def until(self) -> datetime | None:
        if self.locked_until is None:
            return None
        return datetime.fromtimestamp(self.locked_until, tz=UTC)


def confirm(request: HttpRequest, password: str, *, action: str = "") -> Outcome:
    """Check ``password`` as the current admin's, under the throttle.

    A right password outside a lock-out restarts the window and clears the count;
    anything else is a failure: counted, logged, audited and signalled. ``action``
    (``"kill-all"``…) goes into the log line and the audit entry.
    """
    user: Any = request.user
    if not user.is_authenticated:
        return Outcome(ok=False)
    using = router.db_for_write(ReauthThrottle)
    now = clock.now(using)
    row = ReauthThrottle.objects.using(using).filter(user_id=user.pk).first()
    if row is not None and row.locked_until is not None and row.locked_until > now:
        _login_failed(request, user)
        _record(user, f"refused: locked out until {_iso(row.locked_until)}", action)
        return Outcome(ok=False, locked_until=row.locked_until, remaining=row.locked_until - now)
    if len(password) > PASSWORD_MAX_LENGTH:
        _login_failed(request, user)  # not hashed, so authenticate() sends nothing
    elif _authenticates(request, user, password):
        if row is not None:
            ReauthThrottle.objects.using(using).filter(user_id=user.pk).delete()
        mark_authenticated(request)
        return Outcome(ok=True)
    failures, locked_until, now = _count_failure(using, user.pk)
    limit = conf.REAUTH_MAX_FAILURES
    detail = f"wrong password ({failures} of {limit})" if limit else f"wrong password ({failures})"
    if locked_until is not None:
        detail += f"; locked out until {_iso(locked_until)}"
    _record(user, detail, action)
    if locked_until is None:
        return Outcome(ok=False)
    return Outcome(
        ok=False, locked_until=locked_until, remaining=locked_until - now, locked_now=True
    )


def prune_throttle() -> int:
    """Forget the throttle rows that no longer count: not locked, and their failures
    older than ``REAUTH_LOCKOUT`` (the next failure would start again anyway)."""
    using = router.db_for_write(ReauthThrottle)
    now = clock.now(using)
    stale = ReauthThrottle.objects.using(using).filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now),
        since__lt=now - conf.REAUTH_LOCKOUT,
    )
    deleted, _ = stale.delete()
    return deleted


def check_password(request: HttpRequest, password: str) -> bool:
    """Whether ``password`` is the current admin's (throttled, as :func:`confirm`);
    success restarts the window."""
    return bool(password) and confirm(request, password).ok


def _authenticates(request: HttpRequest, user: Any, password: str) -> bool:
    again = authenticate(
        request, **{user.USERNAME_FIELD: user.get_username(), "password": password}
    )
    return again is not None and again.pk == user.pk


def _count_failure(using: str, user_pk: Any) -> tuple[int, float | None, float]:
    """Count one wrong password; returns the count, the lock-out's end if it is now
    locked, and the database's now.

    In one transaction with the row locked, so that concurrent failures from several
    sessions (or servers) each count. A count older than ``REAUTH_LOCKOUT``, or one a
    lock-out has run out on, starts again from this failure.
    """
    limit, lockout = conf.REAUTH_MAX_FAILURES, conf.REAUTH_LOCKOUT
    rows = ReauthThrottle.objects.using(using)
    with transaction.atomic(using=using):
        now = clock.now(using)
        row = rows.select_for_update().filter(user_id=user_pk).first()
        if row is None:
            try:
                with transaction.atomic(using=using):
                    row = rows.create(user_id=user_pk, failures=0, since=now)
            except IntegrityError:  # another request made it meanwhile
                row = rows.select_for_update().get(user_id=user_pk)
        still_locked = row.locked_until is not None and row.locked_until > now
        if not still_locked and (row.locked_until is not None or now - row.since > lockout):
            row.failures, row.since, row.locked_until = 0, now, None
        row.failures += 1
        if limit and row.failures >= limit and not still_locked:
            row.locked_until = now + lockout
        row.save(using=using, update_fields=["failures", "since", "locked_until"])
    return row.failures, row.locked_until, now


def _login_failed(request: HttpRequest, user: Any) -> None:
    """``user_login_failed`` for a password refused without ``authenticate()``, with
    the credentials Django's own would carry (the password masked)."""
    credentials = {user.USERNAME_FIELD: user.get_username(), "password": CLEANSED}
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)


def _record(user: Any, detail: str, action: str) -> None:
    """The warning and the audit entry of one failure (never the password)."""
    if action:
        detail = f"{detail}; {action}"
    name = user.get_username()
    logger.warning("re-authentication failed: user=%r %s", name, detail)
    try:
        # A savepoint: a failed audit insert must not poison the caller's transaction.
        with transaction.atomic(using=router.db_for_write(AuditEntry)):
            AuditEntry.objects.create(
                scope=AuditEntry.SCOPE_REAUTH,
                actor=user,
                actor_repr=name[:150],
                detail=detail,
            )
    except DatabaseError:
        logger.exception("could not write the audit entry of a failed re-authentication")


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=UTC).isoformat(timespec="seconds")


def on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        mark_authenticated(request)


def locked_out_text(outcome: Outcome) -> str:
    """ "Too many wrong passwords: try again at 14:05 (in 5 minutes). Nothing was ended."
    The words of every prompt (the admin page's, "Your sessions"): one translation."""
    minutes = max(1, math.ceil(outcome.remaining / 60))
    until = outcome.until
    at = time_format(timezone.localtime(until), "TIME_FORMAT") if until is not None else ""
    return ngettext(
        "Too many wrong passwords: try again at %(time)s (in %(count)d minute). Nothing was ended.",
        "Too many wrong passwords: try again at %(time)s (in %(count)d minutes). "
        "Nothing was ended.",
        minutes,
    ) % {"time": at, "count": minutes}
