"""Only a superuser may end a superuser's sessions (``PROTECT_SUPERUSERS``, on by default).

Staff given the kill permission to deal with users' sessions could otherwise log out
the people above them, one session, all of a superuser's, or with Kill All. With the
setting on, a kill the page makes for an admin who is no superuser:

- of one session, or of all of one user's sessions, whose owner is a superuser: is
  refused (the views ask :func:`protects`), nothing ended;
- Kill All and kill matching: end everything else and spare superusers' sessions
  (the views pass ``spare_superusers`` to :mod:`sessions_panel.termination`, which
  counts what it spared into the result, the message and the audit entry).

This is the page's rule, not the kill service's: ``killsessions`` and the Python API act
for the site (or whoever runs them on the server) and are not restricted.

A user model without an ``is_superuser`` field (no ``PermissionsMixin``) has no
superusers to protect.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q

from sessions_panel.conf import conf

logger = logging.getLogger("sessions_panel")


def applies(actor: Any) -> bool:
    """Whether ``actor``'s kills must leave superusers' sessions alone: the setting is
    on, ``actor`` is no superuser, and the user model has the field to tell (the
    multi-session kills filter by it; a property alone would protect one-target
    kills and not the others)."""
    return conf.PROTECT_SUPERUSERS and not is_superuser(actor) and has_superuser_field()


def is_superuser(user: Any) -> bool:
    return user is not None and getattr(user, "is_superuser", False) is True


def protects(actor: Any, owner: Any) -> bool:
    """Whether ``actor`` may not end the sessions of ``owner`` (a user, or ``None``)."""
    return is_superuser(owner) and applies(actor)


def has_superuser_field() -> bool:
    try:
        field = get_user_model()._meta.get_field("is_superuser")
    except FieldDoesNotExist:
        return False
    return bool(getattr(field, "concrete", False))


def superuser_rows() -> Q:
    """Index rows of superusers' sessions (the filter joins the user table)."""
    return Q(user__is_superuser=True)


def refused(actor: Any, owner: Any, what: str) -> None:
    """Log a refused kill: a lesser admin aimed at a superuser (maybe a probe)."""
    logger.warning(
        "kill refused: %r is no superuser and may not end %s of superuser %r",
        getattr(actor, "get_username", lambda: "")(),
        what,
        owner.get_username(),
    )
