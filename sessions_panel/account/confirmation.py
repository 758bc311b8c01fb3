"""The password “Your sessions” asks for before ending a session, when it must.

Asked only when :func:`sessions_panel.termination.reauth.needs_password` says so (the user last
proved their password longer ago than ``REAUTH_WINDOW``). The check is the admin
prompt's own (:func:`sessions_panel.termination.reauth.confirm`): throttled per account, each
failure logged, audited and sent as ``user_login_failed``; a right password restarts
the window. A missing, wrong or locked-out password ends nothing, and says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.translation import gettext as _

from sessions_panel.termination import reauth

FIELD = "password"


@dataclass(frozen=True)
class Confirmation:
    """Whether the kill may go ahead; if not, the error to show with the prompt ("" the
    first time it is shown)."""

    confirmed: bool
    error: str = ""


def confirm(request: HttpRequest, action: str) -> Confirmation:
    """``action`` names the kill in the log line and the audit entry of a failure."""
    if not reauth.needs_password(request):
        return Confirmation(confirmed=True)
    if FIELD not in request.POST:
        return Confirmation(confirmed=False)  # the first time: ask
    password = str(request.POST.get(FIELD, ""))
    if not password:
        return Confirmation(False, _("Enter your password to confirm. Nothing was ended."))
    outcome = reauth.confirm(request, password, action=action)
    if outcome.ok:
        return Confirmation(confirmed=True)
    if not outcome.locked:
        return Confirmation(False, _("That password is not correct. Nothing was ended."))
    text = reauth.locked_out_text(outcome)
    if outcome.locked_now:
        text = _("That password is not correct.") + " " + text
    return Confirmation(False, text)
