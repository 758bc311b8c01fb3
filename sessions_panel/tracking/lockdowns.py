"""Lockdowns: whether a sign-in is refused, and what the admin pages say meanwhile.

A lockdown (:class:`~sessions_panel.models.Lockdown`) refuses sign-in for everyone
but an allow-list (the site's) or for one user, until a set time or until lifted.
This module decides: which lockdowns are in force, who is on the allow-list, who
would still be able to sign in to the admin, and the words a refused sign-in and the
admin's banner use. :mod:`sessions_panel.termination.lockdown` starts and lifts them
and refuses the logins; the middleware shows the site's on every admin page.

"In force" is decided by the database's clock, in the query that reads them
(``Lockdown.objects.in_force()``): one small indexed query, at each login and on each
admin page of a staff user, and none elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import router
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from sessions_panel.conf import conf
from sessions_panel.models import Lockdown
from sessions_panel.tracking import clock

#: The durations the page offers, in minutes (``None``: until lifted).
DURATIONS: tuple[int | None, ...] = (15, 60, 240, None)
#: The longest lockdown the command takes (``--minutes``): a year.
MAX_MINUTES = 366 * 24 * 60


def using() -> str:
    """Decisions are read from the database the router writes to."""
    return router.db_for_write(Lockdown)


def in_force() -> QuerySet[Lockdown]:
    return Lockdown.objects.using(using()).in_force()


def site() -> Lockdown | None:
    """The site's lockdown in force, if any (one query)."""
    return in_force().filter(scope=Lockdown.SITE).order_by("-created", "-pk").first()


#: Where :func:`site_for` keeps its answer on the request.
_ON_REQUEST = "_sessions_panel_site_lockdown"


def site_for(request: Any) -> Lockdown | None:
    """:func:`site`, asked once per request (the page and the banner both ask)."""
    if not hasattr(request, _ON_REQUEST):
        setattr(request, _ON_REQUEST, site())
    found: Lockdown | None = getattr(request, _ON_REQUEST)
    return found


def of_user(user_pk: Any) -> Lockdown | None:
    """The lockdown of one user in force, if any (one query)."""
    return (
        in_force().filter(scope=Lockdown.USER, user_id=user_pk).order_by("-created", "-pk").first()
    )


def until_for(minutes: int | None) -> datetime | None:
    """When a lockdown of ``minutes`` started now runs out, by the database's clock."""
    if minutes is None:
        return None
    return datetime.fromtimestamp(clock.now(using()), tz=UTC) + timedelta(minutes=minutes)


# -- who may sign in ---------------------------------------------------------------------


def _has_field(name: str) -> bool:
    try:
        field = get_user_model()._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return bool(getattr(field, "concrete", False) or getattr(field, "many_to_many", False))


def allow_group() -> str | None:
    return conf.LOCKDOWN_ALLOW_GROUP


def on_allow_list(user: Any) -> bool:
    """Whether ``user`` may still sign in during the site's lockdown: a superuser, or
    with ``LOCKDOWN_ALLOW_GROUP`` a member of that group (one query) — and only them."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    group = allow_group()
    if group is None:
        return getattr(user, "is_superuser", False) is True
    groups = getattr(user, "groups", None)
    if groups is None or not _has_field("groups"):
        return False
    return bool(groups.filter(name=group).exists())


def allowed_users() -> Q:
    """The allow-list as a filter on the user model (nobody when it cannot say)."""
    group = allow_group()
    if group is None:
        return Q(is_superuser=True) if _has_field("is_superuser") else Q(pk__in=[])
    return Q(groups__name=group) if _has_field("groups") else Q(pk__in=[])


def admin_users() -> Q:
    """Accounts that can sign in to the admin: active and staff (as far as the user
    model has those fields)."""
    condition = Q()
    for name in ("is_active", "is_staff"):
        if _has_field(name):
            condition &= Q(**{name: True})
    return condition


def can_admin(user: Any) -> bool:
    return bool(getattr(user, "is_active", True) and getattr(user, "is_staff", True))


def admins_left(*, site_locked: bool, without: Any = None) -> bool:
    """Whether some account could still sign in to the admin (and so lift a lockdown
    there): active staff, not locked down themselves, on the allow-list while the
    site is locked down; ``without`` (a user) left out. One query."""
    users = get_user_model()._default_manager.using(using()).filter(admin_users())
    if site_locked:
        users = users.filter(allowed_users())
    locked = in_force().filter(scope=Lockdown.USER).values("user_id")
    users = users.exclude(pk__in=locked)
    if without is not None:
        users = users.exclude(pk=without.pk)
    return bool(users.exists())


# -- the words ---------------------------------------------------------------------------


def moment(value: datetime) -> str:
    """ "14:05" today, else the short date and "14:05" (the viewer's time zone).

    A 24-hour clock whatever the language: English's "2:05 p.m." would end the
    sentences it closes ("…locked down until 2:05 p.m..") with two full stops."""
    local = timezone.localtime(value)
    clock_time = date_format(local, "H:i")
    if local.date() == timezone.localdate():
        return clock_time
    return f"{date_format(local, 'SHORT_DATE_FORMAT')} {clock_time}"


def site_refused_message(lockdown: Lockdown) -> str:
    """What the login form says to everyone the site's lockdown refuses."""
    if lockdown.until is None:
        return _("Sign-in is paused: the site is locked down until an administrator lifts it.")
    return _("Sign-in is paused: the site is locked down until %(time)s.") % {
        "time": moment(lockdown.until)
    }


def user_refused_message() -> str:
    """What the login form says to a locked-down account (nothing about how long)."""
    return _("This account is locked; contact an administrator.")


def allowed_text() -> str:
    group = allow_group()
    if group is None:
        return _("Only superusers can sign in.")
    return _("Only members of the group “%(group)s” can sign in.") % {"group": group}


def site_banner_text(lockdown: Lockdown) -> str:
    """ "Site lockdown in effect since 14:05, until 15:05. Only superusers can sign in." """
    since = moment(lockdown.created)
    if lockdown.until is None:
        text = _("Site lockdown in effect since %(since)s, until lifted.") % {"since": since}
    else:
        text = _("Site lockdown in effect since %(since)s, until %(until)s.") % {
            "since": since,
            "until": moment(lockdown.until),
        }
    return f"{text} {allowed_text()}"


def user_banner_text(lockdown: Lockdown, label: str) -> str:
    since = moment(lockdown.created)
    if lockdown.until is None:
        text = _("%(user)s is locked down since %(since)s, until lifted: sign-in is refused.") % {
            "user": label,
            "since": since,
        }
    else:
        text = _(
            "%(user)s is locked down since %(since)s, until %(until)s: sign-in is refused."
        ) % {"user": label, "since": since, "until": moment(lockdown.until)}
    if lockdown.password_unusable:
        text += " " + _("Their password was made unusable: they must set a new one.")
    return text


@dataclass(frozen=True)
class Refusal:
    """A sign-in a lockdown refuses: which lockdown, and what the login form says."""

    lockdown: Lockdown
    message: str
    #: For the audit trail (stored in English, as every recorded reason).
    reason: str


def refusal(user: Any) -> Refusal | None:
    """Whether ``user``'s sign-in is refused now, and why: their own lockdown first,
    then the site's unless they are on the allow-list. One query (two with an allow
    group, during a site lockdown)."""
    found = list(
        in_force()
        .filter(Q(scope=Lockdown.SITE) | Q(scope=Lockdown.USER, user_id=user.pk))
        .order_by("-created", "-pk")
    )
    own = next((row for row in found if row.scope == Lockdown.USER), None)
    if own is not None:
        return Refusal(own, user_refused_message(), "login refused: account locked down")
    site_row = next((row for row in found if row.scope == Lockdown.SITE), None)
    if site_row is not None and not on_allow_list(user):
        return Refusal(site_row, site_refused_message(site_row), "login refused: site locked down")
    return None
