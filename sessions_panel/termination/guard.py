"""Whether kills can hold on this site as it runs: a tracked engine and the panel's
middleware. Every kill asks first; the page and the health banner say why not.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import router

from sessions_panel.models import SessionRecord

if TYPE_CHECKING:
    pass


def store_class() -> type[SessionBase]:
    return import_module(settings.SESSION_ENGINE).SessionStore  # type: ignore[no-any-return]


class NotTracked(RuntimeError):
    """Kills are refused: the running configuration cannot make them hold."""


def configuration_problem() -> str | None:
    """Why a kill could not hold on this site as it runs now, or ``None``.

    The system checks say the same at deploy time, but servers such as gunicorn run no
    checks: a site left on Django's own engine would have its index go stale, and a
    "kill" would delete rows while the sessions stayed alive.
    """
    from sessions_panel.backends.tracked import TrackedSessionMixin
    from sessions_panel.conf import PANEL_MIDDLEWARE

    try:
        store = store_class()
    except ImportError:
        store = None
    if store is None or not issubclass(store, TrackedSessionMixin):
        return "engine"
    if PANEL_MIDDLEWARE not in settings.MIDDLEWARE:
        return "middleware"
    return None


def ensure_tracked() -> None:
    """Raise :class:`NotTracked` when :func:`configuration_problem` finds one."""
    problem = configuration_problem()
    if problem == "engine":
        raise NotTracked(
            f"SESSION_ENGINE {settings.SESSION_ENGINE!r} is not a tracked engine: kills "
            "cannot hold (see check sessions_panel.E001)."
        )
    if problem == "middleware":
        raise NotTracked(
            "sessions_panel.middleware.SessionsPanelMiddleware is missing from MIDDLEWARE "
            "(see check sessions_panel.E003)."
        )


def primary() -> str:
    """Where kills read the index: what they decide must not come from a lagging replica."""
    return router.db_for_write(SessionRecord)
