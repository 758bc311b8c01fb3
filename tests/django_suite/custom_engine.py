"""The custom-model store of Django's ``sessions_tests``, tracked: an engine module.

``CustomDatabaseSessionTests`` runs the database tests against a store that keeps
sessions in its own model (``sessions_tests.models.CustomSession``, an extra
``account_id`` column). The tracked ``db`` engine is Django's ``db`` store with the
tracking mixed in, so the tracked twin of that custom store is the same mixture on
top of it: Django's custom store supplies the model, ``create_model_instance`` and the
cookie age, the tracked ``db`` engine the stamp, the index and the one-statement load
(which reads any ``AbstractBaseSession`` model). That is how a project with its own
session model would use the panel: ``class SessionStore(tracked db.SessionStore,
its own store)``.

A module rather than a class in ``tracked.py`` because the test class also names its
engine by module (``session_engine``, for ``clearsessions``).

Importable only under Django's runner, where ``sessions_tests`` is on the path.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from sessions_panel.backends import db

if TYPE_CHECKING:  # what it is: a subclass of Django's db store
    from django.contrib.sessions.backends.db import SessionStore as CustomStore
else:
    CustomStore = importlib.import_module("sessions_tests.models").SessionStore


class SessionStore(db.SessionStore, CustomStore):
    """``sessions_tests.models.SessionStore`` with the tracked ``db`` engine mixed in."""
