"""The filter-wide actions: end every session (:func:`kill_all`), or those the search
and filters match (:func:`kill_matching`). Both ask for the password again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from sessions_panel import termination
from sessions_panel.page.actions import (
    action_state,
    after_action,
    password_confirmed,
    posted_reason,
    refused_here,
    require_kill_permission,
    spared_text,
    store_fault,
)
from sessions_panel.query import listing, liststate, privacy
from sessions_panel.termination import protection, sweep

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin


@require_POST
def kill_all(request: HttpRequest, model_admin: ModelAdmin[Any]) -> HttpResponse:
    """End every session, listed or not, except the caller's own."""
    require_kill_permission(request, model_admin)
    state = action_state(request)
    if refused_here(request) or not password_confirmed(request, "kill-all"):
        return after_action(request, model_admin, state)
    result = termination.kill_all(
        actor=request.user,
        reason=posted_reason(request),
        keep=request.session,
        spare_superusers=protection.applies(request.user),
        # The admin waits for the kill, not for the clean-up: it runs after the answer.
        purge_seconds=0,
    )
    text = ngettext(
        "Ended %(count)d session. Your own session was kept.",
        "Ended %(count)d sessions. Your own session was kept.",
        result.killed,
    ) % {"count": result.killed}
    text += spared_text(result)
    if result.ok:
        messages.success(request, text)
    else:
        messages.error(
            request,
            _("Some sessions could not be ended; try again.") + " " + text,
        )
    store_fault(request, result)
    response = after_action(request, model_admin, state)
    sweep.after_response(response)
    return response


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
    require_kill_permission(request, model_admin)
    state = action_state(request)
    if state.error or not state.narrowed:
        messages.warning(
            request,
            _("Search or filter the list first; to end every session, use Kill All."),
        )
        return after_action(request, model_admin, state)
    if refused_here(request) or not password_confirmed(request, "kill-matching"):
        return after_action(request, model_admin, state)
    rows = listing.filtered(state, timezone.now(), reveal_ip=privacy.can_reveal_ip(request))
    query = state.query_with(page=1, sort=liststate.SORT_LAST_SEEN)
    result = termination.kill_matching(
        rows,
        actor=request.user,
        reason=posted_reason(request),
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
    text += spared_text(result)
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
    store_fault(request, result)
    return after_action(request, model_admin, state)
