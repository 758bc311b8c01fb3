"""The lockdown actions: lock the site or one user down (:func:`lock_down`), and lift a
lockdown (:func:`lift`, one click from the banner on any admin page).

Both need the kill permission (``delete`` on sessions), as Kill All does. Locking down
asks for the password again as every multi-session kill does (``REAUTH_WINDOW``);
lifting ends nothing and is one click, on the record. They are plain form posts
answered with a redirect: a lockdown changes every admin page (its banner), not only
the list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from sessions_panel import termination
from sessions_panel.models import Lockdown, SessionRecord
from sessions_panel.page.actions import (
    action_state,
    password_confirmed,
    posted_reason,
    refused_here,
    require_kill_permission,
    spared_text,
    store_fault,
)
from sessions_panel.page.mount import list_url, panel_urls, wants_fragment
from sessions_panel.query import liststate, privacy
from sessions_panel.termination import protection, sweep
from sessions_panel.tracking import lockdowns

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

#: The durations the dialogs offer: the posted value, and minutes (``None``: until
#: lifted).
UNTIL_LIFTED = "lifted"
DURATIONS: dict[str, int | None] = {
    (str(minutes) if minutes is not None else UNTIL_LIFTED): minutes
    for minutes in lockdowns.DURATIONS
}


def duration_choices(default: str) -> list[tuple[str, str, bool]]:
    """The dialogs' duration select: (value, label, selected)."""
    labels = {
        "15": _("15 minutes"),
        "60": _("1 hour"),
        "240": _("4 hours"),
        UNTIL_LIFTED: _("Until lifted"),
    }
    return [(value, labels[value], value == default) for value in DURATIONS]


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    if wants_fragment(request):
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


def _label(request: HttpRequest, user: Any) -> str:
    """A user as the page names them: "User #N" for an account the admin may not see
    and the list does not show (no live session)."""
    named = (
        privacy.can_view_users(request)
        or SessionRecord.objects.live().filter(user_id=user.pk).exists()
    )
    return user.get_username() if named else privacy.user_label(user.pk)


def _until(lockdown: Lockdown) -> str:
    return lockdowns.moment(lockdown.until) if lockdown.until is not None else ""


@require_POST
def lock_down(request: HttpRequest, model_admin: ModelAdmin[Any]) -> HttpResponse:
    """Lock the site down (``scope=site``), or one user (``scope=user``, ``user``)."""
    require_kill_permission(request, model_admin)
    state = action_state(request)
    back = list_url(model_admin, state)
    if refused_here(request):
        return _redirect(request, back)
    scope = str(request.POST.get("scope", ""))
    duration = str(request.POST.get("duration", ""))
    if scope not in (Lockdown.SITE, Lockdown.USER):
        messages.warning(request, _("Say what to lock down: the site or a user."))
        return _redirect(request, back)
    if duration not in DURATIONS:
        messages.error(request, _("Choose how long the lockdown lasts. Nothing was changed."))
        return _redirect(request, back)
    minutes = DURATIONS[duration]
    if scope == Lockdown.SITE:
        _lock_site(request, minutes)
        # Its Kill All's clean-up runs once the answer is sent (termination/sweep.py).
        return sweep.after_response(_redirect(request, back))  # type: ignore[no-any-return]
    _lock_user(request, minutes)
    return _redirect(request, back)


def _lock_site(request: HttpRequest, minutes: int | None) -> None:
    if not password_confirmed(request, "lockdown"):
        return
    try:
        outcome = termination.lock_site(
            actor=request.user,
            minutes=minutes,
            reason=posted_reason(request),
            keep=request.session,
            spare_superusers=protection.applies(request.user),
            purge_seconds=0,
        )
    except termination.LockdownRefused as refusal:
        messages.error(request, f"{refusal} {_('Nothing was changed.')}")
        return
    result = outcome.kill
    if outcome.lockdown.until is None:
        text = _("The site is locked down until you lift it.")
    else:
        text = _("The site is locked down until %(time)s.") % {"time": _until(outcome.lockdown)}
    text += " " + ngettext(
        "Ended %(count)d session. Your own session was kept.",
        "Ended %(count)d sessions. Your own session was kept.",
        result.killed,
    ) % {"count": result.killed}
    text += spared_text(result)
    text += " " + lockdowns.allowed_text()
    if result.ok:
        messages.success(request, text)
    else:
        messages.error(
            request,
            _("Some sessions could not be ended; end them with Kill All.") + " " + text,
        )
    store_fault(request, result)


def _lock_user(request: HttpRequest, minutes: int | None) -> None:
    values = {str(v) for v in request.POST.getlist("user")}
    pk, error = liststate.parse_user_id(values.pop() if len(values) == 1 else "")
    user = get_user_model()._default_manager.filter(pk=pk).first() if pk and not error else None
    if user is None:
        messages.warning(request, _("Say which user to lock down. Nothing was changed."))
        return
    if protection.protects(request.user, user):
        protection.refused(request.user, user, "a lockdown")
        messages.error(
            request,
            _("%(user)s was not locked down: only a superuser can lock down a superuser.")
            % {"user": _label(request, user)},
        )
        return
    if not password_confirmed(request, "lockdown-user"):
        return
    unusable = request.POST.get("unusable_password") == "on"
    try:
        outcome = termination.lock_user(
            user,
            actor=request.user,
            minutes=minutes,
            reason=posted_reason(request),
            unusable_password=unusable,
        )
    except termination.LockdownRefused as refusal:
        messages.error(request, f"{refusal} {_('Nothing was changed.')}")
        return
    result = outcome.kill
    # Named as the page names them: "User #N" for an account the admin may not see
    # that had no session to end (a posted id is no licence to learn a name).
    named = privacy.can_view_users(request) or result.requested > 0
    label = user.get_username() if named else privacy.user_label(user.pk)
    details = {"user": label, "time": _until(outcome.lockdown), "count": result.killed}
    if outcome.lockdown.until is None:
        text = ngettext(
            "%(user)s is locked down until you lift it: ended %(count)d session.",
            "%(user)s is locked down until you lift it: ended %(count)d sessions.",
            result.killed,
        )
    else:
        text = ngettext(
            "%(user)s is locked down until %(time)s: ended %(count)d session.",
            "%(user)s is locked down until %(time)s: ended %(count)d sessions.",
            result.killed,
        )
    text %= details
    if unusable:
        text += " " + _("Their password is unusable now: they must set a new one.")
    if result.ok:
        messages.success(request, text)
    else:
        messages.error(request, _("Some sessions could not be ended; try again.") + " " + text)
    store_fault(request, result)


def _next(request: HttpRequest, default: str) -> str:
    """Back to the admin page the lift was clicked on, if it is one of this site's."""
    target = str(request.POST.get("next", ""))
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@require_POST
def lift(request: HttpRequest, model_admin: ModelAdmin[Any]) -> HttpResponse:
    """Lift a lockdown (``lockdown``: its id): one click, no password, on the record."""
    require_kill_permission(request, model_admin)
    back = _next(request, panel_urls(model_admin)["changelist"])
    raw = str(request.POST.get("lockdown", ""))
    row = (
        Lockdown.objects.using(lockdowns.using()).select_related("user").filter(pk=int(raw)).first()
        if raw.isascii() and raw.isdecimal() and len(raw) < 19
        else None
    )
    if row is None or row.lifted is not None:
        messages.info(request, _("That lockdown had already been lifted."))
        return _redirect(request, back)
    if row.user is not None and protection.protects(request.user, row.user):
        protection.refused(request.user, row.user, "the lockdown")
        messages.error(
            request, _("The lockdown was not lifted: only a superuser can lift a superuser’s.")
        )
        return _redirect(request, back)
    if not termination.lift_lockdown(row, actor=request.user):
        messages.info(request, _("That lockdown had already run out or been lifted."))
        return _redirect(request, back)
    if row.scope == Lockdown.SITE:
        messages.success(request, _("The site’s lockdown was lifted: everyone can sign in again."))
    else:
        label = _label(request, row.user) if row.user is not None else _("a deleted user")
        text = _("The lockdown of %(user)s was lifted: they can sign in again.") % {"user": label}
        if row.password_unusable:
            text += " " + _("Their password is still unusable: they must set a new one first.")
        messages.success(request, text)
    return _redirect(request, back)
