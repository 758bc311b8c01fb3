"""What every kill action shares: the refusals said before anything is ended, the
list the admin was looking at, the password asked again, and the answer after it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_htmx.http import HttpResponseClientRedirect

from sessions_panel import termination
from sessions_panel.page import changelist, health
from sessions_panel.page.mount import (
    REASON_MAX_LENGTH,
    can_kill,
    list_state,
    list_url,
    panel_urls,
    wants_fragment,
)
from sessions_panel.query import liststate
from sessions_panel.termination import reauth

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin


# -- actions --------------------------------------------------------------------------


def refused_here(request: HttpRequest) -> bool:
    """Whether kills cannot hold on this site as it runs (an engine the panel does not
    track, its middleware missing): then nothing is ended, and the admin is told why,
    rather than reading "Ended N" for sessions that stay alive."""
    message = health.configuration_message()
    if message is None:
        return False
    messages.error(request, _("Nothing was ended.") + " " + message)
    return True


def store_fault(request: HttpRequest, result: termination.KillResult) -> None:
    if result.store_fault:
        messages.warning(
            request,
            _(
                "The session store could not be reached: the ended sessions are refused on "
                "every request already, and their stored data is deleted once the store "
                "is back (or when it expires)."
            ),
        )


def require_kill_permission(request: HttpRequest, model_admin: ModelAdmin[Any]) -> None:
    if not can_kill(request, model_admin):
        raise PermissionDenied


def action_state(request: HttpRequest) -> liststate.ListState:
    """The list the admin was looking at: htmx posts it, plain forms carry it in the URL."""
    params = {**request.GET.dict(), **request.POST.dict()}
    return replace(list_state(request, params), after=None)


def posted_reason(request: HttpRequest) -> str:
    return str(request.POST.get("reason", ""))[:REASON_MAX_LENGTH]


def after_action(
    request: HttpRequest, model_admin: ModelAdmin[Any], state: liststate.ListState
) -> HttpResponse:
    """htmx: the fresh results, badge and messages. Otherwise: redirect (PRG)."""
    if wants_fragment(request):
        return changelist.fragment(request, model_admin, state, with_messages=True)
    return HttpResponseRedirect(list_url(model_admin, state))


def logged_out(request: HttpRequest, model_admin: ModelAdmin[Any]) -> HttpResponse:
    """The admin ended their own session: log out cleanly and go to the login page."""
    logout(request)
    messages.info(request, _("You ended your own session, so you were logged out."))
    site = model_admin.admin_site.name
    login = reverse(f"{site}:login", current_app=site)
    url = f"{login}?{urlencode({'next': panel_urls(model_admin)['changelist']})}"
    if wants_fragment(request):
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


def password_confirmed(request: HttpRequest, action: str) -> bool:
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
    text = reauth.locked_out_text(outcome)
    if outcome.locked_now:
        text = _("That password is not correct.") + " " + text
    messages.error(request, text)
    return False


def superuser_refusal(details: dict[str, str]) -> str:
    return (
        _(
            "Session %(id)s of %(user)s was not ended: only a superuser can end a "
            "superuser’s sessions."
        )
        % details
    )


def spared_text(result: termination.KillResult) -> str:
    if not result.spared:
        return ""
    return " " + ngettext(
        "%(count)d session of a superuser was spared: only a superuser can end it.",
        "%(count)d sessions of superusers were spared: only a superuser can end them.",
        result.spared,
    ) % {"count": result.spared}
