"""The Sessions page and its three actions, mounted in the admin by ``SessionRecordAdmin``.

Every view runs behind ``admin_site.admin_view`` (active staff, ``never_cache``, CSRF)
and checks the model permissions itself: ``view`` to see and search, ``view`` and
``delete`` to kill. The ``HX-Request`` header only picks the template (the whole page
or the results fragment), never the authorisation. Sessions are ended through
:mod:`sessions_panel.termination` and nowhere else.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, replace_url

from sessions_panel import listing, termination
from sessions_panel.conf import conf
from sessions_panel.models import SessionRecord

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

PAGE_TEMPLATE = "sessions_panel/sessions.html"
UPDATE_TEMPLATE = "sessions_panel/update.html"
#: Handles are ``secrets.token_urlsafe`` output; anything else is not worth a query.
HANDLE = re.compile(r"[A-Za-z0-9_-]{1,64}")
REASON_MAX_LENGTH = 500
URL_NAMES = ("changelist", "kill", "kill_user", "kill_all")


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


def _choices(state: listing.ListState) -> dict[str, Any]:
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
    return {
        "statuses": [(v, label, v == state.status) for v, label in statuses],
        "sorts": [(v, label, v == state.sort) for v, label in sorts],
    }


def _context(
    request: HttpRequest, model_admin: ModelAdmin[Any], state: listing.ListState
) -> dict[str, Any]:
    now = timezone.now()
    own_key = request.session.session_key
    return {
        "opts": model_admin.opts,
        "state": state,
        "page": listing.fetch(state, now, own_key),
        "counts": listing.counts(now, own_key),
        "can_kill": can_kill(request, model_admin),
        "urls": panel_urls(model_admin),
        "refresh_interval": conf.REFRESH_INTERVAL,
        "updated_at": now,
        **_choices(state),
    }


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
    response = TemplateResponse(request, UPDATE_TEMPLATE, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


def session_list(request: HttpRequest, model_admin: ModelAdmin[Any]) -> HttpResponse:
    """The page, or on an htmx request only its results (search, filter, poll)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    state = listing.ListState.from_params(request.GET, conf.PAGE_SIZE)
    if wants_fragment(request):
        response = _fragment(request, model_admin, state, with_messages=False)
        # The address bar follows the search, so the view can be shared and reloaded.
        return replace_url(response, _list_url(model_admin, state))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Sessions"),
        "subtitle": _("Active user connections across all apps"),
        **_context(request, model_admin, state),
    }
    response = TemplateResponse(request, PAGE_TEMPLATE, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


# -- actions --------------------------------------------------------------------------


def _require_kill_permission(request: HttpRequest, model_admin: ModelAdmin[Any]) -> None:
    if not can_kill(request, model_admin):
        raise PermissionDenied


def _action_state(request: HttpRequest) -> listing.ListState:
    """The list the admin was looking at: htmx posts it, plain forms carry it in the URL."""
    params = {**request.GET.dict(), **request.POST.dict()}
    return listing.ListState.from_params(params, conf.PAGE_SIZE)


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
    record = _record(request)
    if record is None:
        messages.info(request, _("That session had already ended."))
        return _after_action(request, model_admin, state)
    own = record.session_key == request.session.session_key
    details = {"id": record.short_id, "user": _label(record)}
    result = termination.kill_session(record.handle, actor=request.user, reason=_reason(request))
    if not result.ok:
        messages.error(
            request,
            _(
                "Session %(id)s of %(user)s could not be ended: the session store did "
                "not confirm it. It is still listed, so you can try again."
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


@require_POST
def kill_user(request: HttpRequest, model_admin: ModelAdmin[Any]) -> HttpResponse:
    """End every session of the user who owns the given session (except the caller's)."""
    _require_kill_permission(request, model_admin)
    state = _action_state(request)
    record = _record(request)
    if record is None:
        messages.info(request, _("That session had already ended."))
    elif record.user is None:
        messages.warning(
            request,
            _("Session %(id)s belongs to no user account; end it with Kill instead.")
            % {"id": record.short_id},
        )
    else:
        user = record.user
        result = termination.kill_user(
            user, actor=request.user, reason=_reason(request), keep=request.session
        )
        text = ngettext(
            "Ended %(count)d session of %(user)s.",
            "Ended %(count)d sessions of %(user)s.",
            result.killed,
        ) % {"count": result.killed, "user": user.get_username()}
        if user.pk == request.user.pk:
            text += " " + _("Your own session was kept.")
        (messages.success if result.ok else messages.error)(request, text)
    return _after_action(request, model_admin, state)


@require_POST
def kill_all(request: HttpRequest, model_admin: ModelAdmin[Any]) -> HttpResponse:
    """End every session, listed or not, except the caller's own."""
    _require_kill_permission(request, model_admin)
    state = _action_state(request)
    result = termination.kill_all(actor=request.user, reason=_reason(request), keep=request.session)
    text = ngettext(
        "Ended %(count)d session. Your own session was kept.",
        "Ended %(count)d sessions. Your own session was kept.",
        result.killed,
    ) % {"count": result.killed}
    if result.ok:
        messages.success(request, text)
    else:
        messages.error(
            request,
            _("Some sessions could not be ended; try again.") + " " + text,
        )
    return _after_action(request, model_admin, state)
