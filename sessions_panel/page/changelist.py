"""The list view: the whole page, or on an htmx request only its results (search,
filter, poll) or the next rows ("Load more").
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import django
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.formats import number_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_htmx.http import replace_url

from sessions_panel import termination
from sessions_panel.conf import conf
from sessions_panel.models import AuditEntry, SessionRecord, sweep_epoch
from sessions_panel.page import freshness, health, lockdown
from sessions_panel.page.mount import (
    MORE_TEMPLATE,
    PAGE_TEMPLATE,
    UPDATE_TEMPLATE,
    can_kill,
    list_state,
    list_url,
    panel_urls,
    wants_fragment,
)
from sessions_panel.query import flags, listing, liststate, privacy, search
from sessions_panel.termination import protection, reauth, sweep
from sessions_panel.tracking import lockdowns
from sessions_panel.tracking.keys import index_key

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.admin import ModelAdmin


def _choices(state: liststate.ListState, reveal_ip: bool) -> dict[str, Any]:
    statuses = [
        (liststate.STATUS_ALL, _("All")),
        (liststate.STATUS_AUTHENTICATED, _("Authenticated")),
        (liststate.STATUS_GUEST, _("Guest")),
    ]
    sorts = [
        (liststate.SORT_LAST_SEEN, _("Last seen")),
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


def _subject(request: HttpRequest, state: liststate.ListState, now: datetime) -> tuple[Any, str]:
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
    request: HttpRequest, model_admin: ModelAdmin[Any], state: liststate.ListState
) -> dict[str, Any]:
    now = timezone.now()
    own_key = index_key(request.session)
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
        if subject is not None:
            context.update(_subject_lockdown(request, model_admin, state, subject, killer))
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
        # Whether a site lockdown would let this admin back in (the dialog's form and
        # its password field, swapped on each refresh, are there only then).
        context["lockdown_allowed"] = lockdowns.on_allow_list(request.user)
    return context


def _subject_lockdown(
    request: HttpRequest,
    model_admin: ModelAdmin[Any],
    state: liststate.ListState,
    subject: Any,
    killer: bool,
) -> dict[str, Any]:
    """The per-user view's lockdown: its banner (one query) and, for an admin who may
    kill this user's sessions, the "Lock down" control or the one-click lift."""
    found = lockdowns.of_user(subject.pk)
    protected = protection.protects(request.user, subject)
    may = killer and not protected
    return {
        "subject_lockdown": found,
        "subject_lockdown_text": (
            lockdowns.user_banner_text(found, subject.get_username()) if found else ""
        ),
        # The dialog is there whenever the control may be (its password field is
        # swapped on each refresh); the control only while the user is not locked down.
        "subject_lockable": may and str(subject.pk) != str(request.user.pk),
        "subject_can_lift": may and found is not None,
        "lockdown_back": list_url(model_admin, state),
        "user_durations": lockdown.duration_choices(lockdown.UNTIL_LIFTED),
    }


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


def fragment(
    request: HttpRequest,
    model_admin: ModelAdmin[Any],
    state: liststate.ListState,
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
    request: HttpRequest, model_admin: ModelAdmin[Any], state: liststate.ListState
) -> TemplateResponse:
    """ "Load more": the next page of rows alone, to append; none of the page's counts."""
    now = timezone.now()
    reveal_ip = privacy.can_reveal_ip(request)
    context = {
        "state": state,
        "page": listing.fetch(state, now, index_key(request.session), reveal_ip=reveal_ip),
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
    """The page, or on an htmx request only its results (search, filter, poll).

    While a Kill All's clean-up is under way, each answer carries it on once sent
    (:func:`sweep.after_response`): a process that stopped mid-way leaves it to the
    next page anyone opens, or to ``prune``.
    """
    response = _session_list(request, model_admin)
    if sweep_epoch() is not None:
        sweep.after_response(response)
    return response


def _session_list(request: HttpRequest, model_admin: ModelAdmin[Any]) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    state = list_state(request, request.GET)
    if wants_fragment(request) and state.after is not None and not state.error:
        response = _more(request, model_admin, state)
        return replace_url(response, list_url(model_admin, state))
    state = replace(state, after=None)  # the page and the refresh show the list from the top
    if wants_fragment(request):
        response = fragment(request, model_admin, state, with_messages=False)
        # The address bar follows the search, so the view can be shared and reloaded.
        replace_url(response, list_url(model_admin, state))
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
    if context["can_kill"]:
        # The "Lock down…" control and its dialog (the banner says when it is on).
        context["site_lockdown"] = lockdowns.site_for(request)
        context["lockdown_allow_text"] = lockdowns.allowed_text()
        context["site_durations"] = lockdown.duration_choices("60")
    response = TemplateResponse(request, PAGE_TEMPLATE, context)
    patch_vary_headers(response, ("HX-Request",))
    return response
