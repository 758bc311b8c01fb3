"""Re-authentication before the big hammers (Kill All, filter-wide kills).

An admin who logged in (or re-entered their password) within ``REAUTH_WINDOW``
seconds is not asked again; ``REAUTH_WINDOW = 0`` turns the question off.

When that was is kept on the session's index row (``SessionRecord.verified``), not in
the session data: the panel adds nothing to what the application sees in
``request.session``, on the admin's logins or anyone else's.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import authenticate
from django.http import HttpRequest

from sessions_panel.conf import conf
from sessions_panel.models import SessionRecord

#: Where versions before 0.2 kept the time, inside the session data (dropped on load).
LEGACY_KEY = "_sessions_panel_authenticated_at"


def mark_authenticated(request: HttpRequest) -> None:
    key = request.session.session_key
    if key is not None:
        SessionRecord.objects.filter(session_key=key).update(verified=time.time())


def verified_at(request: HttpRequest) -> float | None:
    """When this session's user last proved their password, if the index knows."""
    key = request.session.session_key
    if key is None:
        return None
    return SessionRecord.objects.filter(session_key=key).values_list("verified", flat=True).first()


def needs_password(request: HttpRequest) -> bool:
    window = conf.REAUTH_WINDOW
    if window <= 0:
        return False
    at = verified_at(request)
    return at is None or time.time() - at > window


def check_password(request: HttpRequest, password: str) -> bool:
    """Whether ``password`` is the current admin's; success restarts the window."""
    user: Any = request.user
    if not password or not user.is_authenticated:
        return False
    again = authenticate(
        request, **{user.USERNAME_FIELD: user.get_username(), "password": password}
    )
    if again is None or again.pk != user.pk:
        return False
    mark_authenticated(request)
    return True


def on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        mark_authenticated(request)
