"""“Your sessions”: the page, “End session” and “Sign out everywhere else”.

Plain forms: every action is a CSRF-protected POST answered with a redirect to the
page and a message (django.contrib.messages), so it all works without JavaScript and
under a strict Content-Security-Policy (the templates have no script and no inline
style). Anonymous visitors are sent to ``settings.LOGIN_URL``; responses are never
cached.

Sessions are ended by :mod:`sessions_panel.termination` alone, with the user as the
actor its audit entries name. The user's own session (this device) is never ended
here: they sign out for that.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from sessions_panel import termination
from sessions_panel.account import confirmation, rows
from sessions_panel.conf import conf
from sessions_panel.tracking.keys import index_key

PAGE_TEMPLATE = "sessions_panel/account/sessions.html"
CONFIRM_TEMPLATE = "sessions_panel/account/confirm.html"
#: What the audit trail records as the reason (data, in the trail's language: English).
REASON_ONE = "ended by its user on Your sessions"
REASON_OTHERS = "signed out everywhere else by the user on Your sessions"
#: What a failed password check is logged and audited as.
ACTION_ONE = "account-end"
ACTION_OTHERS = "account-end-others"
URL_NAMESPACE = "sessions_panel_account"


def base_template() -> str:
    """The template the page extends, read live (so ``override_settings`` works)."""
    return conf.ACCOUNT_BASE_TEMPLATE


def page_url() -> str:
    return reverse(f"{URL_NAMESPACE}:sessions")


def _back() -> HttpResponse:
    return HttpResponseRedirect(page_url())


def _unavailable() -> bool:
    """Whether kills cannot hold on this site as it runs (see ``termination``)."""
    return termination.configuration_problem() is not None


def _say_unavailable(request: HttpRequest) -> HttpResponse:
    messages.error(
        request,
        _("Sessions cannot be ended on this site at the moment. Nothing was ended."),
    )
    return _back()


def _action(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """POST only, never cached; an anonymous post ends nothing and goes to the login
    page, which then leads back to the list (not to the action, which only POSTs)."""

    @wraps(view)
    def wrapped(request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(page_url())
        return view(request)

    return never_cache(require_POST(wrapped))


def _render(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    return TemplateResponse(request, template, {"base_template": base_template(), **context})


@never_cache
@login_required
@require_safe
def sessions(request: HttpRequest) -> HttpResponse:
    """The signed-in user's own live sessions."""
    now = timezone.now()
    own = rows.own_sessions(request.user, index_key(request.session), now)
    return _render(
        request,
        PAGE_TEMPLATE,
        {
            "sessions": own.sessions,
            "others": own.others,
            "truncated": own.truncated,
            "limit": rows.LIMIT,
            "can_end": not _unavailable(),
        },
    )


def _ask_password(
    request: HttpRequest, error: str, *, target: rows.OwnSession | None, others: int = 0
) -> HttpResponse:
    url_name = "end" if target is not None else "end_others"
    return _render(
        request,
        CONFIRM_TEMPLATE,
        {
            "action": reverse(f"{URL_NAMESPACE}:{url_name}"),
            "cancel_url": page_url(),
            "target": target,
            "others": others,
            "error": error,
        },
    )


@_action
def end(request: HttpRequest) -> HttpResponse:
    """End one of the user's own sessions, named by its handle."""
    now = timezone.now()
    current_key = index_key(request.session)
    record = rows.owned(request.user, str(request.POST.get("handle", "")), now)
    if record is None:
        # Someone else's, a guest's, unknown or already ended: one answer for all.
        messages.info(request, _("That session had already ended."))
        return _back()
    if current_key is not None and record.session_key == current_key:
        messages.info(request, _("This is the session you are using now: to end it, sign out."))
        return _back()
    if _unavailable():
        return _say_unavailable(request)
    target = rows.OwnSession.of(record, now, current_key)
    confirmed = confirmation.confirm(request, ACTION_ONE)
    if not confirmed.confirmed:
        return _ask_password(request, confirmed.error, target=target)
    try:
        result = termination.kill_session(record.handle, actor=request.user, reason=REASON_ONE)
    except termination.NotTracked:
        return _say_unavailable(request)
    browser = target.browser or _("an unknown browser")
    if not result.ok:
        messages.error(
            request, _("The session could not be ended: nothing was changed. Try again.")
        )
    elif result.killed:
        messages.success(
            request, _("The session on %(browser)s was signed out.") % {"browser": browser}
        )
    else:
        messages.info(request, _("That session had already ended."))
    return _back()


@_action
def end_others(request: HttpRequest) -> HttpResponse:
    """End every session of the user but this device's."""
    now = timezone.now()
    others = rows.others_count(request.user, index_key(request.session), now)
    if not others:
        messages.info(request, _("You have no other sessions."))
        return _back()
    if _unavailable():
        return _say_unavailable(request)
    confirmed = confirmation.confirm(request, ACTION_OTHERS)
    if not confirmed.confirmed:
        return _ask_password(request, confirmed.error, target=None, others=others)
    try:
        result = termination.kill_user(
            request.user, actor=request.user, reason=REASON_OTHERS, keep=request.session
        )
    except termination.NotTracked:
        return _say_unavailable(request)
    if result.ok:
        messages.success(
            request,
            ngettext(
                "Signed out of %(count)d other session. This device stays signed in.",
                "Signed out of %(count)d other sessions. This device stays signed in.",
                result.killed,
            )
            % {"count": result.killed},
        )
    else:
        messages.error(
            request, _("Your other sessions could not be ended: nothing was changed. Try again.")
        )
    return _back()
