"""Hands request metadata to the tracked engine and keeps "last seen" fresh.

Placed after ``SessionMiddleware`` and ``AuthenticationMiddleware``. On the way in it
attaches who is asking (IP, user agent, application) to ``request.session`` without
loading it, as a :class:`~sessions_panel.tracking.client.RequestClient` that works them out
only if something is written; on the way out it touches "last seen" at most once per
interval. A request without a session cookie costs no query at all.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from sessions_panel.backends.tracked import TrackedSessionMixin
from sessions_panel.conf import conf
from sessions_panel.models import remember_sweep_within
from sessions_panel.tracking import policies
from sessions_panel.tracking.client import RequestClient

_current: ContextVar[TrackedSessionMixin | None] = ContextVar(
    "sessions_panel_current_session", default=None
)


def current_session() -> TrackedSessionMixin | None:
    """The session of the request this code runs in, if any: a user who changes their own
    password keeps the session they changed it in (``END_SESSIONS_ON_PASSWORD_CHANGE``)."""
    return _current.get()


class SessionsPanelMiddleware:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if not isinstance(session, TrackedSessionMixin):
            return self.get_response(request)
        session.client = RequestClient(request)
        token = _current.set(session)
        try:
            response = remember_sweep_within(lambda: self.get_response(request))
        finally:
            _current.reset(token)
        # A login the session cap refused: back to the login form (MAX_SESSIONS_ACTION).
        response = policies.back_to_login(request, response)
        self._touch(request, session, response)
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: Any,
    ) -> None:
        session = getattr(request, "session", None)
        client = getattr(session, "client", None)
        if isinstance(client, RequestClient):
            client.set_view(view_func)

    def _touch(
        self, request: HttpRequest, session: TrackedSessionMixin, response: HttpResponse
    ) -> None:
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return  # a session made during this request is indexed when it is saved
        if response.status_code >= 500:
            return
        will_save = session.accessed and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)
        if will_save and not session.is_empty():
            return  # SessionMiddleware saves it next, and the save indexes it
        session.touch(conf.LAST_SEEN_INTERVAL)
