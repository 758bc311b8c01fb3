"""The row actions: end one session (:func:`kill`), or every session of one user
(:func:`kill_user`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from sessions_panel import termination
from sessions_panel.models import SessionRecord
from sessions_panel.page.actions import (
    action_state,
    after_action,
    logged_out,
    password_confirmed,
    posted_reason,
    refused_here,
    require_kill_permission,
    store_fault,
    superuser_refusal,
)
from sessions_panel.page.mount import HANDLE, ROW_GONE_TEMPLATE, wants_fragment
from sessions_panel.query import listing, liststate, privacy
from sessions_panel.termination import protection
from sessions_panel.tracking.keys import index_key

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin


def _record(request: HttpRequest) -> SessionRecord | None:
    handle = str(request.POST.get("handle", ""))
    if not HANDLE.fullmatch(handle):
        return None
    return SessionRecord.objects.select_related("user").filter(handle=handle).first()


def _label(record: SessionRecord) -> str:
    if record.user_id is None:
        return _("a guest")
    return record.user.get_username() if record.user else _("a deleted user")


@require_POST
def kill(request: HttpRequest, model_admin: ModelAdmin[Any]) -> HttpResponse:
    """End one session, named by its public handle."""
    require_kill_permission(request, model_admin)
    state = action_state(request)
    if refused_here(request):
        return after_action(request, model_admin, state)
    record = _record(request)
    if record is None:
        messages.info(request, _("That session had already ended."))
        return after_action(request, model_admin, state)
    own = record.session_key == index_key(request.session)
    details = {"id": record.short_id, "user": _label(record)}
    if protection.protects(request.user, record.user):
        protection.refused(request.user, record.user, f"session {record.short_id}")
        messages.error(request, superuser_refusal(details))
        return after_action(request, model_admin, state)
    result = termination.kill_session(
        record.handle, actor=request.user, reason=posted_reason(request)
    )
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
        return logged_out(request, model_admin)
    if result.ok and not result.store_fault and wants_fragment(request) and not state.filtered:
        return _row_gone(request, model_admin, record.handle)
    return after_action(request, model_admin, state)


def _row_gone(request: HttpRequest, model_admin: ModelAdmin[Any], handle: str) -> HttpResponse:
    """The session is gone: take its row out, and say so (badge, Kill All's count,
    message), out of band. Re-rendering the list would cost as much again as the kill;
    the rest of it stands, and the next refresh brings anything else that changed.
    Only for the unfiltered list: a search's match counts would need its query again.
    """
    context = {
        "handle": handle,
        "counts": listing.counts(timezone.now(), index_key(request.session)),
        "can_kill": True,
    }
    response = TemplateResponse(request, ROW_GONE_TEMPLATE, context)
    # The answer's only content is out of band: the dialog's target stays as it is.
    response["HX-Reswap"] = "none"
    patch_vary_headers(response, ("HX-Request",))
    return response


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
    pk, error = liststate.parse_user_id(values.pop() if len(values) == 1 else "")
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
    require_kill_permission(request, model_admin)
    state = action_state(request)
    if refused_here(request):
        return after_action(request, model_admin, state)
    user, problem, level = _target_user(request)
    if user is None:
        messages.add_message(request, level, problem)
        return after_action(request, model_admin, state)
    if not password_confirmed(request, "kill-user"):
        return after_action(request, model_admin, state)
    if protection.protects(request.user, user):
        protection.refused(request.user, user, "the sessions")
        messages.error(request, _superuser_user_refusal(request, user))
        return after_action(request, model_admin, state)
    result = termination.kill_user(
        user, actor=request.user, reason=posted_reason(request), keep=request.session
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
    store_fault(request, result)
    return after_action(request, model_admin, state)


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
