"""The Sessions page and its actions, mounted in the admin by ``SessionRecordAdmin``.

Every view runs behind ``admin_site.admin_view`` (active staff, ``never_cache``, CSRF)
and checks the model permissions itself: ``view`` to see and search, ``view`` and
``delete`` to kill, ``reveal_ip`` to see full IP addresses. The ``HX-Request`` header
only picks the template (the whole page or the results fragment), never the
authorisation. Sessions are ended through :mod:`sessions_panel.termination` and nowhere
else; every multi-session kill (kill-user, filter-wide kills, Kill All) asks for the admin's
password again when :func:`sessions_panel.reauth.needs_password` says so, and a lesser
admin's kills leave superusers' sessions alone (:mod:`sessions_panel.protection`).
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import django
from django.contrib import messages
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model, logout
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.formats import number_format, time_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, replace_url

from sessions_panel import (
    flags,
    freshness,
    health,
    listing,
    privacy,
    protection,
    reauth,
    search,
    termination,
)
from sessions_panel.conf import conf
from sessions_panel.models import AuditEntry, SessionRecord

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.admin import ModelAdmin

PAGE_TEMPLATE = "sessions_panel/sessions.html"
UPDATE_TEMPLATE = "sessions_panel/update.html"
MORE_TEMPLATE = "sessions_panel/more.html"
#: Handles are ``secrets.token_urlsafe`` output; anything else is not worth a query.
HANDLE = re.compile(r"[A-Za-z0-9_-]{1,64}")
REASON_MAX_LENGTH = 500
#: Longer is never a password worth hashing (refused unchecked, as a failure).
PASSWORD_MAX_LENGTH = reauth.PASSWORD_MAX_LENGTH
URL_NAMES = ("changelist", "kill", "kill_user", "kill_all", "kill_matching")


def url_name(model_admin: ModelAdmin[Any], name: str) -> str:
    opts = model_admin.opts
    return f"{opts.app_label}_{opts.model_name}_{name}"


def panel_urls(model_admin: ModelAdmin[Any]) -> dict[str, str]:
    """The page's URLs on the site that mounts it (a custom ``AdminSite`` too)."""
    site = model_admin.admin_site.name
    return {
        name: reverse(f"{site}:{url_name(model_admin, name)}", current_app=site)
        for name in URL_NAMES
    }


def wants_fragment(request: HttpRequest) -> bool:
    """An htmx swap wants the fragment; boosts and history restores want the page."""
    htmx = getattr(request, "htmx", None)
    if not htmx:
        return False
    return not (htmx.boosted or htmx.history_restore_request)


def can_kill(request: HttpRequest, model_admin: ModelAdmin[Any]) -> bool:
    return model_admin.has_view_permission(request) and bool(
        model_admin.has_delete_permission(request)
    )


def _choices(state: listing.ListState, reveal_ip: bool) -> dict[str, Any]:
    statuses = [
        (listing.STATUS_ALL, _("All")),
        (listing.STATUS_AUTHENTICATED, _("Authenticated")),
        (listing.STATUS_GUEST, _("Guest")),
    ]
    sorts = [
        (listing.SORT_LAST_SEEN, _("Last seen")),
        ("expiry", _("Expires soonest")),
        ("user", _("User")),
        ("ip", _("IP address")),
    ]
    if not reveal_ip:
        sorts = [(v, label) for v, label in sorts if v != "ip"]  # an order leaks the hidden part
    return {
        "statuses": [(v, label, v == state.status) for v, label in statuses],
        "sorts": [(v, label, v == state.sort) for v, label in sorts],
        "flag_choices": [("", _("All"), not state.flag)]
        + [(code, label, code == state.flag) for code, label in flags.codes()],
    }


def _state(request: HttpRequest, params: Any) -> listing.ListState:
    """The list state, narrowed to what the admin may see of IP addresses."""
    state = listing.ListState.from_params(params, conf.PAGE_SIZE)
    if privacy.can_reveal_ip(request):
        return state
    if state.sort == "ip":
        # A position in the IP order means nothing in another order: start at the top.
        state = replace(state, sort=listing.SORT_LAST_SEEN, after=None)
    if listing.looks_like_ip_prefix(state.q) and not privacy.prefix_is_visible(state.q):
        notice = _(
            "IP addresses are searched only as far as they are shown to you "
            "(you may not see full addresses)."
        )
        state = replace(state, notice=" ".join(filter(None, [state.notice, notice])))
    return state


def _subject(request: HttpRequest, state: listing.ListState, now: datetime) -> tuple[Any, str]:
    """The user named by the ``user`` filter, and what the page calls them: one query.

    Their name only if the admin may see users, or if they have a live session (the
    list shows it, with their name, anyway); otherwise "User #N" and no user, whether
    account N exists or not, so that ``?user=1``, ``?user=2``… cannot list every
    account. Whether they have a live session comes with the user lookup itself
    (``EXISTS``), not from a query of its own. No user and an empty label: the admin
    may see users, and there is no such user.
    """
    if not state.user or state.error:
        return None, ""
    users = get_user_model()._default_manager.filter(pk=state.user)
    if privacy.can_view_users(request):
        subject = users.first()
        return subject, subject.get_username() if subject is not None else ""
    live = SessionRecord.objects.live(now).filter(user_id=OuterRef("pk"))
    subject = users.annotate(sp_has_sessions=Exists(live)).first()
    if subject is None or not subject.sp_has_sessions:
        return None, privacy.user_label(state.user)
    return subject, subject.get_username()


def preview_text(preview: termination.Preview) -> str:
    """ "This ends N sessions of M users." for the filter-wide kill dialog.

    A capped preview counted only so far: it says "more than N", and no user or guest
    figures (those of the sessions counted say little about the rest).
    """
    if preview.capped:
        return _("This ends more than %(count)s sessions.") % {
            "count": number_format(preview.sessions, force_grouping=True)
        }
    # Whole sentences, each with its own plural: a sentence glued from "N sessions" and
    # "M users" cannot take the case or agreement other languages need.
    text = ngettext(
        "This ends %(count)d session.", "This ends %(count)d sessions.", preview.sessions
    ) % {"count": preview.sessions}
    if preview.users:
        text += " " + ngettext(
            "They belong to %(count)d user.", "They belong to %(count)d users.", preview.users
        ) % {"count": preview.users}
    if preview.guests:
        text += " " + ngettext(
            "%(count)d of them is a guest session.",
            "%(count)d of them are guest sessions.",
            preview.guests,
        ) % {"count": preview.guests}
    return text


def _context(
    request: HttpRequest, model_admin: ModelAdmin[Any], state: listing.ListState
) -> dict[str, Any]:
    now = timezone.now()
    own_key = request.session.session_key
    reveal_ip = privacy.can_reveal_ip(request)
    killer = can_kill(request, model_admin)
    # The search's branches once per request: behind them is a scan of the user table.
    branches = (
        search.branches(state.q, reveal_ip=reveal_ip) if state.q and not state.error else None
    )
    rows = (
        None
        if state.error
        else listing.filtered(state, now, reveal_ip=reveal_ip, branches=branches)
    )
    context: dict[str, Any] = {
        "opts": model_admin.opts,
        "state": state,
        "page": listing.fetch(
            state, now, own_key, reveal_ip=reveal_ip, rows=rows, branches=branches
        ),
        "counts": listing.counts(now, own_key),
        "can_kill": killer,
        # No Kill button on a superuser's row for a lesser admin (PROTECT_SUPERUSERS);
        # the big dialogs tell them superusers' sessions are spared.
        "superusers_protected": killer and protection.applies(request.user),
        "reveal_ip": reveal_ip,
        "urls": panel_urls(model_admin),
        "refresh_interval": conf.REFRESH_INTERVAL,
        "updated_at": now,
        "flag_label": flags.LABELS.get(state.flag, ""),
        "store_problem": health.store_problem(),
        **_choices(state, reveal_ip),
    }
    if state.user:
        subject, context["subject_label"] = _subject(request, state, now)
        context["subject"] = subject
        context["subject_url"] = _user_admin_url(model_admin, subject)
        # From the user already loaded: no query.
        context["subject_protected"] = killer and protection.protects(request.user, subject)
        if killer and subject is not None:
            others = SessionRecord.objects.filter(expiry__gt=now, user_id=state.user)
            context["subject_sessions"] = others.exclude(session_key=own_key or "").count()
    if rows is not None and state.filtered and not state.error:
        # Counted up to a cap: this runs on every keystroke of a live search. One query
        # gives what matches (said next to the search and in the badge) and what a kill
        # would end (the user filter alone has its own kill, of all that user's sessions).
        matching = termination.preview(rows, cap=termination.PREVIEW_CAP, keep_key=own_key)
        context["shown"] = matching
        if killer and state.narrowed:
            context["matching"] = matching
            context["matching_text"] = preview_text(matching)
    if killer:
        context["needs_password"] = reauth.needs_password(request)
        context["reauth_minutes"] = max(1, conf.REAUTH_WINDOW // 60)
    return context


def _user_admin_url(model_admin: ModelAdmin[Any], user: Any) -> str:
    """The user's change page on the same admin site, if it has one there.

    Any user model: the URL is named after its app and model (``accounts_user_change``),
    and the key is quoted as the admin quotes it (a text key may hold "/" or "_").
    """
    if user is None:
        return ""
    site = model_admin.admin_site.name
    opts = user._meta
    try:
        return reverse(
            f"{site}:{opts.app_label}_{opts.model_name}_change",
            args=[quote(user.pk)],
            current_app=site,
        )
    except NoReverseMatch:
        return ""


def audit_url(request: HttpRequest, model_admin: ModelAdmin[Any]) -> str:
    """The audit trail's list on the same admin site, if the admin may see it there.

    Asked of the audit trail's ``ModelAdmin`` on that site, not of the user's model
    permission alone: a site (or its subclass of the admin) may narrow who sees what,
    and a link to a page that answers 403 is no link.
    """
    site = model_admin.admin_site
    if not site.is_registered(AuditEntry):
        return ""
    if not site.get_model_admin(AuditEntry).has_view_permission(request):
        return ""
    opts = AuditEntry._meta
    try:
        return reverse(
            f"{site.name}:{opts.app_label}_{opts.model_name}_changelist", current_app=site.name
        )
    except NoReverseMatch:
        return ""


def _list_url(model_admin: ModelAdmin[Any], state: listing.ListState) -> str:
    url = panel_urls(model_admin)["changelist"]
    return f"{url}?{state.query}" if state.query else url


def _fragment(
    request: HttpRequest,
    model_admin: ModelAdmin[Any],
    state: listing.ListState,
    *,
    with_messages: bool,
) -> TemplateResponse:
    context = _context(request, model_admin, state)
    context["with_messages"] = with_messages
    # The live refresh (the poller's request) leaves the match count alone: re-announcing
    # an unchanged count every few seconds would be noise for a screen-reader user.
    context["background"] = request.headers.get("HX-Trigger") == "sp-poller"
    response = TemplateResponse(request, UPDATE_TEMPLATE, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _more(
    request: HttpRequest, model_admin: ModelAdmin[Any], state: listing.ListState
) -> TemplateResponse:
    """ "Load more": the next page of rows alone, to append; none of the page's counts."""
    now = timezone.now()
    reveal_ip = privacy.can_reveal_ip(request)
    context = {
        "state": state,
        "page": listing.fetch(state, now, request.session.session_key, reveal_ip=reveal_ip),
        "can_kill": can_kill(request, model_admin),
        "superusers_protected": protection.applies(request.user),
        "reveal_ip": reveal_ip,
        "urls": panel_urls(model_admin),
        "refresh_interval": conf.REFRESH_INTERVAL,
        "updated_at": now,
    }
    response = TemplateResponse(request, MORE_TEMPLATE, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


def session_list(request: HttpRequest, model_admin: ModelAdmin[Any]) -> HttpResponse:
    """The page, or on an htmx request only its results (search, filter, poll)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    state = _state(request, request.GET)
    if wants_fragment(request) and state.after is not None and not state.error:
        response = _more(request, model_admin, state)
        return replace_url(response, _list_url(model_admin, state))
    state = replace(state, after=None)  # the page and the refresh show the list from the top
    if wants_fragment(request):
        response = _fragment(request, model_admin, state, with_messages=False)
        # The address bar follows the search, so the view can be shared and reloaded.
        replace_url(response, _list_url(model_admin, state))
        # Unchanged since the poller's last answer: a 304, no body (freshness.py).
        return freshness.conditional(request, response.render())
    context = {
        **model_admin.admin_site.each_context(request),
        # The model's plural name, as the index and the sidebar show it: one word for
        # the page in every language (a "Sessions" of our own would lose to
        # django.contrib.sessions' translation of the same message).
        "title": capfirst(SessionRecord._meta.verbose_name_plural),
        "subtitle": _("Active user connections across all apps"),
        "audit_url": audit_url(request, model_admin),
        # Django 6 writes breadcrumbs as a list; 5.2 as a "›"-separated line.
        "breadcrumbs_as_list": django.VERSION >= (6, 0),
        **_context(request, model_admin, state),
    }
    response = TemplateResponse(request, PAGE_TEMPLATE, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


# -- actions --------------------------------------------------------------------------


def _refused_here(request: HttpRequest) -> bool:
    """Whether kills cannot hold on this site as it runs (an engine the panel does not
    track, its middleware missing): then nothing is ended, and the admin is told why,
    rather than reading "Ended N" for sessions that stay alive."""
    message = health.configuration_message()
    if message is None:
        return False
    messages.error(request, _("Nothing was ended.") + " " + message)
    return True


def _store_fault(request: HttpRequest, result: termination.KillResult) -> None:
    if result.store_fault:
        messages.warning(
            request,
            _(
                "The session store could not be reached: the ended sessions are refused on "
                "every request already, and their stored data is deleted once the store "
                "is back (or when it expires)."
            ),
        )


def _require_kill_permission(request: HttpRequest, model_admin: ModelAdmin[Any]) -> None:
    if not can_kill(request, model_admin):
        raise PermissionDenied


def _action_state(request: HttpRequest) -> listing.ListState:
    """The list the admin was looking at: htmx posts it, plain forms carry it in the URL."""
    params = {**request.GET.dict(), **request.POST.dict()}
    return replace(_state(request, params), after=None)


def _reason(request: HttpRequest) -> str:
    return str(request.POST.get("reason", ""))[:REASON_MAX_LENGTH]


def _record(request: HttpRequest) -> SessionRecord | None:
    handle = str(request.POST.get("handle", ""))
    if not HANDLE.fullmatch(handle):
        return None
    return SessionRecord.objects.select_related("user").filter(handle=handle).first()


def _label(record: SessionRecord) -> str:
    if record.user_id is None:
        return _("a guest")
    return record.user.get_username() if record.user else _("a deleted user")


def _after_action(
    request: HttpRequest, model_admin: ModelAdmin[Any], state: listing.ListState
) -> HttpResponse:
    """htmx: the fresh results, badge and messages. Otherwise: redirect (PRG)."""
    if wants_fragment(request):
        return _fragment(request, model_admin, state, with_messages=True)
    return HttpResponseRedirect(_list_url(model_admin, state))


def _logged_out(request: HttpRequest, model_admin: ModelAdmin[Any]) -> HttpResponse:
    """The admin ended their own session: log out cleanly and go to the login page."""
    logout(request)
    messages.info(request, _("You ended your own session, so you were logged out."))
    site = model_admin.admin_site.name
    login = reverse(f"{site}:login", current_app=site)
    url = f"{login}?{urlencode({'next': panel_urls(model_admin)['changelist']})}"
    if wants_fragment(request):
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


@require_POST
def kill(request: HttpRequest, model_admin: ModelAdmin[Any]) -> HttpResponse:
    """End one session, named by its public handle."""
    _require_kill_permission(request, model_admin)
    state = _action_state(request)
    if _refused_here(request):
        return _after_action(request, model_admin, state)
    record = _record(request)
    if record is None:
        messages.info(request, _("That session had already ended."))
        return _after_action(request, model_admin, state)
    own = record.session_key == request.session.session_key
    details = {"id": record.short_id, "user": _label(record)}
    if protection.protects(request.user, record.user):
        protection.refused(request.user, record.user, f"session {record.short_id}")
        messages.error(request, _superuser_refusal(details))
        return _after_action(request, model_admin, state)
    result = termination.kill_session(record.handle, actor=request.user, reason=_reason(request))
    if not result.ok:
        messages.error(
            request,
            _(
                "Session %(id)s of %(user)s could not be ended: nothing was changed. It is "
                "still listed, so you can try again."
            )
            % details,
        )
    elif result.store_fault:
        messages.warning(
            request,
            _(
                "Session %(id)s of %(user)s is ended: it is refused on every request from "
                "now on. The session store did not delete its data, so it is still "
                "listed; try again to clean it up."
            )
            % details,
        )
    elif result.killed:
        messages.success(request, _("Session %(id)s of %(user)s was ended.") % details)
    else:
        messages.info(request, _("Session %(id)s had already ended.") % details)
    if own and result.ok:
        return _logged_out(request, model_admin)
    return _after_action(request, model_admin, state)


def _target_user(request: HttpRequest) -> tuple[Any, str, int]:
    """The user a kill-user post names: the owner of ``handle``, or ``user`` (a pk).

    Both may be posted (the row's dialog also carries the list state, which may name a
    user); then they must name the same user. Every posted ``user`` value must agree:
    an ambiguous or conflicting request (user A's id with user B's handle) ends nothing.
    """
    posted_users = {str(v) for v in request.POST.getlist("user") if str(v)}
    if request.POST.get("handle"):
        record = _record(request)
        if record is None:
            return None, _("That session had already ended."), messages.INFO
        if posted_users and posted_users != {str(record.user_id)}:
            text = _("Session %(id)s does not belong to that user; nothing was ended.")
            return None, text % {"id": record.short_id}, messages.ERROR
        if record.user_id is None:
            text = _("Session %(id)s belongs to no user account; end it with Kill instead.")
            return None, text % {"id": record.short_id}, messages.WARNING
        if record.user is None:
            return None, _("That user no longer exists."), messages.INFO
        return record.user, "", messages.SUCCESS
    values = {str(v) for v in request.POST.getlist("user")}
    pk, error = listing.parse_user_id(values.pop() if len(values) == 1 else "")
    if not pk or error:
        return None, _("Say whose sessions to end."), messages.WARNING
    user = get_user_model()._default_manager.filter(pk=pk).first()
    if user is None:
        return None, _("That user no longer exists."), messages.INFO
    return user, "", messages.SUCCESS


@require_POST
def kill_user(request: HttpRequest, model_admin: ModelAdmin[Any]) -> HttpResponse:
    """End every session of one user (except the caller's own), named by a session
    ``handle`` of theirs or by their ``user`` id."""
    _require_kill_permission(request, model_admin)
    state = _action_state(request)
    if _refused_here(request):
        return _after_action(request, model_admin, state)
    user, problem, level = _target_user(request)
    if user is None:
        messages.add_message(request, level, problem)
        return _after_action(request, model_admin, state)
    if not _password_confirmed(request, "kill-user"):
        return _after_action(request, model_admin, state)
    if protection.protects(request.user, user):
        protection.refused(request.user, user, "the sessions")
        messages.error(request, _superuser_user_refusal(request, user))
        return _after_action(request, model_admin, state)
    result = termination.kill_user(
        user, actor=request.user, reason=_reason(request), keep=request.session
    )
    # Named as the page named them: "User #N" for an account the admin may not see
    # that had no session to end (a posted id is no licence to learn a name).
    named = (
        privacy.can_view_users(request)
        or result.requested > 0
        or str(user.pk) == str(request.user.pk)
    )
    label = user.get_username() if named else privacy.user_label(user.pk)
    text = ngettext(
        "Ended %(count)d session of %(user)s.",
        "Ended %(count)d sessions of %(user)s.",
        result.killed,
    ) % {"count": result.killed, "user": label}
    if user.pk == request.user.pk:
        text += " " + _("Your own session was kept.")
    (messages.success if result.ok else messages.error)(request, text)
    _store_fault(request, result)
    return _after_action(request, model_admin, state)


def _password_confirmed(request: HttpRequest, action: str) -> bool:
    """Re-authentication before every multi-session kill (one policy: kill-user, kill
    matching, Kill All), throttled per admin (:func:`reauth.confirm`); a refusal says
    why, and when to try again if locked out, and nothing is ended."""
    if not reauth.needs_password(request):
        return True
    password = str(request.POST.get("password", ""))
    if not password:
        messages.error(request, _("Enter your password to confirm. Nothing was ended."))
        return False
    outcome = reauth.confirm(request, password, action=action)
    if outcome.ok:
        return True
    if not outcome.locked:
        messages.error(request, _("That password is not correct. Nothing was ended."))
        return False
    text = _locked_out_text(outcome)
    if outcome.locked_now:
        text = _("That password is not correct.") + " " + text
    messages.error(request, text)
    return False


def _locked_out_text(outcome: reauth.Outcome) -> str:
    """ "Too many wrong passwords: try again at 14:05 (in 5 minutes)." """
    minutes = max(1, math.ceil(outcome.remaining / 60))
    until = outcome.until
    at = time_format(timezone.localtime(until), "TIME_FORMAT") if until is not None else ""
    return ngettext(
        "Too many wrong passwords: try again at %(time)s (in %(count)d minute). Nothing was ended.",
        "Too many wrong passwords: try again at %(time)s (in %(count)d minutes). "
        "Nothing was ended.",
        minutes,
    ) % {"time": at, "count": minutes}


def _superuser_refusal(details: dict[str, str]) -> str:
    return (
        _(
            "Session %(id)s of %(user)s was not ended: only a superuser can end a "
            "superuser’s sessions."
        )
        % details
    )


def _superuser_user_refusal(request: HttpRequest, user: Any) -> str:
    """Named as the page names them: an admin who may not see users learns the name of
    a superuser only if the list shows their sessions anyway ("User #N" otherwise)."""
    named = (
        privacy.can_view_users(request)
        or SessionRecord.objects.live().filter(user_id=user.pk).exists()
    )
    label = user.get_username() if named else privacy.user_label(user.pk)
    return _(
        "The sessions of %(user)s were not ended: only a superuser can end a superuser’s sessions."
    ) % {"user": label}


def _spared_text(result: termination.KillResult) -> str:
    if not result.spared:
        return ""
    return " " + ngettext(
        "%(count)d session of a superuser was spared: only a superuser can end it.",
        "%(count)d sessions of superusers were spared: only a superuser can end them.",
        result.spared,
    ) % {"count": result.spared}


@require_POST
def kill_all(request: HttpRequest, model_admin: ModelAdmin[Any]) -> HttpResponse:
    """End every session, listed or not, except the caller's own."""
    _require_kill_permission(request, model_admin)
    state = _action_state(request)
    if _refused_here(request) or not _password_confirmed(request, "kill-all"):
        return _after_action(request, model_admin, state)
    result = termination.kill_all(
        actor=request.user,
        reason=_reason(request),
        keep=request.session,
        spare_superusers=protection.applies(request.user),
    )
    text = ngettext(
        "Ended %(count)d session. Your own session was kept.",
        "Ended %(count)d sessions. Your own session was kept.",
        result.killed,
    ) % {"count": result.killed}
    text += _spared_text(result)
    if result.ok:
        messages.success(request, text)
    else:
        messages.error(
            request,
            _("Some sessions could not be ended; try again.") + " " + text,
        )
    _store_fault(request, result)
    return _after_action(request, model_admin, state)


def _list_changed(expected: str, requested: int) -> str:
    """What to say when the dialog's count (``expected``) and the kill's disagree.

    ``"N"`` is an exact count; ``"N+"`` a capped one, "more than N": any number above
    ``N`` is what the admin confirmed. Anything else is not compared.
    """
    at_least = expected.endswith("+")
    digits = expected.removesuffix("+")
    if not digits.isdecimal():
        return ""
    shown = int(digits)
    if at_least:
        if requested > shown:
            return ""
        return _("The list had changed since the dialog showed more than %(count)s sessions.") % {
            "count": number_format(shown, force_grouping=True)
        }
    if requested == shown:
        return ""
    return ngettext(
        "The list had changed since the dialog showed %(count)d session.",
        "The list had changed since the dialog showed %(count)d sessions.",
        shown,
    ) % {"count": shown}


@require_POST
def kill_matching(request: HttpRequest, model_admin: ModelAdmin[Any]) -> HttpResponse:
    """End every listed session matching the posted search and filters, except the
    caller's own.

    The set is recomputed here from the posted list state, never taken from the
    request; the count the dialog showed (``expected``: "N", or "N+" when the preview
    stopped at its cap) is only compared, so that a list that changed meanwhile is
    reported, not silently ended or refused.
    """
    _require_kill_permission(request, model_admin)
    state = _action_state(request)
    if state.error or not state.narrowed:
        messages.warning(
            request,
            _("Search or filter the list first; to end every session, use Kill All."),
        )
        return _after_action(request, model_admin, state)
    if _refused_here(request) or not _password_confirmed(request, "kill-matching"):
        return _after_action(request, model_admin, state)
    rows = listing.filtered(state, timezone.now(), reveal_ip=privacy.can_reveal_ip(request))
    query = state.query_with(page=1, sort=listing.SORT_LAST_SEEN)
    result = termination.kill_matching(
        rows,
        actor=request.user,
        reason=_reason(request),
        keep=request.session,
        detail=f"filter {query}",
        # As data too: the audit trail masks an address in them for each reader.
        filters=dict(parse_qsl(query)),
        spare_superusers=protection.applies(request.user),
    )
    text = ngettext(
        "Ended %(count)d session matching the search and filters.",
        "Ended %(count)d sessions matching the search and filters.",
        result.killed,
    ) % {"count": result.killed}
    # The dialog counted superusers' sessions too: those spared are no change.
    matched = result.requested + result.spared
    changed = _list_changed(str(request.POST.get("expected", ""))[:13], matched)
    if changed:
        text += " " + changed
    if result.already_ended:
        text += " " + ngettext(
            "%(count)d had already ended.", "%(count)d had already ended.", result.already_ended
        ) % {"count": result.already_ended}
    text += _spared_text(result)
    if result.ok:
        messages.success(request, text)
    else:
        messages.error(
            request,
            ngettext(
                "%(count)d session could not be ended; try again.",
                "%(count)d sessions could not be ended; try again.",
                result.failed,
            )
            % {"count": result.failed}
            + " "
            + text,
        )
    _store_fault(request, result)
    return _after_action(request, model_admin, state)
