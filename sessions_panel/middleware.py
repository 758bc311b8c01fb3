"""Hands request metadata to the tracked engine and keeps "last seen" fresh.

Placed after ``SessionMiddleware`` and ``AuthenticationMiddleware``. On the way in it
attaches who is asking (IP, user agent, application) to ``request.session`` without
loading it, as a :class:`~sessions_panel.tracking.client.RequestClient` that works them out
only if something is written; on the way out it touches "last seen" at most once per
interval. A request without a session cookie costs no query at all.

While the site is locked down it also puts a banner at the top of every admin page a
staff user sees (:meth:`SessionsPanelMiddleware.process_template_response`): as the
first of the ``messages`` the admin's templates render, so it shows on any
``AdminSite`` and under any admin theme, with no template to change.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.contrib.messages import constants as message_levels
from django.contrib.messages import get_messages
from django.contrib.messages.storage.base import Message
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.response import SimpleTemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from sessions_panel.backends.tracked import TrackedSessionMixin
from sessions_panel.conf import conf
from sessions_panel.models import Lockdown, SessionRecord, remember_sweep_within
from sessions_panel.tracking import lockdowns, policies
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

    def process_template_response(
        self, request: HttpRequest, response: SimpleTemplateResponse
    ) -> SimpleTemplateResponse:
        """The site's lockdown, on every admin page a staff user sees (one query)."""
        if response.is_rendered:
            return response  # a conditional answer (the list's 304) rendered already
        site = _admin_site(request)
        if site is False or not _is_staff(request, site):
            return response
        lockdown = lockdowns.site_for(request)
        if lockdown is None:
            return response
        context = dict(response.context_data or {})
        shown = context.get("messages")
        context["messages"] = WithBanner(
            _banner(request, site, lockdown), shown if shown is not None else get_messages(request)
        )
        response.context_data = context
        return response

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


# -- the site's lockdown on every admin page -----------------------------------------------

#: The banner's message tags (beside the level's, "warning").
BANNER_TAGS = "sp-lockdown-banner"


class WithBanner:
    """The page's messages with the lockdown banner first. Only rendered: nothing is
    stored, so it shows on each admin page while the lockdown holds, and never after."""

    def __init__(self, banner: Message, rest: Any) -> None:
        self.banner = banner
        self.rest = rest

    def __iter__(self) -> Any:
        yield self.banner
        yield from self.rest

    def __len__(self) -> int:
        return 1 + len(self.rest)

    def __bool__(self) -> bool:
        return True


def _admin_site(request: HttpRequest) -> Any:
    """The ``AdminSite`` serving this request; ``None`` for an admin URL whose site the
    view does not tell; ``False`` for a request that is no admin page."""
    match = getattr(request, "resolver_match", None)
    if match is None or "admin" not in (match.app_names or []):
        return False
    func = match.func
    site = getattr(func, "admin_site", None)
    if site is None:
        site = getattr(getattr(func, "model_admin", None), "admin_site", None)
    if site is None:
        owner = getattr(func, "__self__", None)  # the site's own login view
        site = owner if hasattr(owner, "has_permission") else None
    return site


def _is_staff(request: HttpRequest, site: Any) -> bool:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    if site is not None:
        return bool(site.has_permission(request))
    return bool(user.is_active and user.is_staff)


def _lift_url(request: HttpRequest, site: Any) -> str:
    """Where this admin may lift the lockdown on this site: the Sessions page's "lift"
    on the same site, with its kill permissions; empty if not here or not theirs."""
    if site is None or not site.is_registered(SessionRecord):
        return ""
    model_admin = site.get_model_admin(SessionRecord)
    if not (
        model_admin.has_view_permission(request) and model_admin.has_delete_permission(request)
    ):
        return ""
    opts = SessionRecord._meta
    try:
        return reverse(
            f"{site.name}:{opts.app_label}_{opts.model_name}_lift_lockdown", current_app=site.name
        )
    except NoReverseMatch:
        return ""


def _banner(request: HttpRequest, site: Any, lockdown: Lockdown) -> Message:
    """ "Site lockdown in effect since 14:05, until 15:05. Only superusers can sign in."
    and, for an admin who may, the one-click [Lift lockdown] (a plain CSRF-protected
    form: no script, so any Content-Security-Policy lets it be)."""
    text = lockdowns.site_banner_text(lockdown)
    url = _lift_url(request, site)
    if not url:
        html = format_html('<span class="sp-lockdown-text">{}</span>', text)
        return Message(message_levels.WARNING, html, extra_tags=BANNER_TAGS)
    # Back to this page after the lift, if it can be shown again (a GET, not a fragment).
    here = (
        request.get_full_path()
        if request.method == "GET" and not request.headers.get("HX-Request")
        else ""
    )
    html = format_html(
        '<span class="sp-lockdown-text">{}</span> '
        '<form method="post" action="{}" class="sp-lockdown-lift">'
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
        '<input type="hidden" name="lockdown" value="{}">'
        '<input type="hidden" name="next" value="{}">'
        '<input type="submit" class="button" value="{}"></form>',
        text,
        url,
        get_token(request),
        lockdown.pk,
        here,
        _("Lift lockdown"),
    )
    return Message(message_levels.WARNING, html, extra_tags=BANNER_TAGS)
