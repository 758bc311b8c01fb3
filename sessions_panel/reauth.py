"""Re-authentication before the big hammers (Kill All, filter-wide kills).

An admin who logged in (or re-entered their password) within ``REAUTH_WINDOW``
seconds is not asked again; ``REAUTH_WINDOW = 0`` turns the question off.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import authenticate
from django.http import HttpRequest

from sessions_panel.conf import conf

AUTHENTICATED_AT = "_sessions_panel_authenticated_at"


def mark_authenticated(request: HttpRequest) -> None:
    request.session[AUTHENTICATED_AT] = time.time()


def needs_password(request: HttpRequest) -> bool:
    window = conf.REAUTH_WINDOW
    if window <= 0:
        return False
    at = request.session.get(AUTHENTICATED_AT)
    return not isinstance(at, int | float) or time.time() - at > window


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
