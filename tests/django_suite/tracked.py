"""Django's own ``sessions_tests`` classes, with the backend swapped for a tracked engine.

Every class of the release's ``sessions_tests/tests.py`` is imported unmodified and
sorted into one of four kinds (an unknown class fails the run, so a new Django release
cannot add classes that are silently left out):

* backend classes (``backend = <Django's store>``): subclassed once, setting only
  ``backend`` to the tracked twin (and ``session_engine``, the same engine by module
  path, where the class has one for ``clearsessions``);
* ``SessionMiddlewareTests``: it takes its store from ``SESSION_ENGINE``, so it is
  subclassed once per tracked engine with ``override_settings(SESSION_ENGINE=...)``;
* classes without a backend (the abstract ``SessionBase``, a stub engine): Django's
  run of them (the baseline) is the whole story;
* backends without a tracked twin: not applicable (none today: signed cookies have
  one since the panel tracks them by an identifier inside the cookie).

Nothing here changes a test's body. Where a swapped class cannot apply as it stands,
the class or test is left out and listed in :data:`NOT_APPLICABLE` with the reason (the
runner prints the list); ``DJANGO_SUITE_SIMPLE_TESTCASES`` (``--simple-testcases`` of
the harness) can run the ``SimpleTestCase`` classes anyway, as they are (``as-is``) or
declaring the database they need (``with-db``, a modification, listed in
:data:`MODIFIED`).

This module must not bind any other ``TestCase`` class at its top level: unittest's
loader runs every one it finds in the module.
"""

from __future__ import annotations

import importlib
import os
import unittest
from collections.abc import Callable
from typing import Any

import django.test
from django.contrib.sessions.backends import cache, cached_db, db, file, signed_cookies

from sessions_panel.backends import cache as tracked_cache
from sessions_panel.backends import cached_db as tracked_cached_db
from sessions_panel.backends import db as tracked_db
from sessions_panel.backends import file as tracked_file
from sessions_panel.backends import signed_cookies as tracked_signed_cookies
from tests.django_suite import custom_engine

django_tests = importlib.import_module("sessions_tests.tests")
django_models = importlib.import_module("sessions_tests.models")

#: Django's store -> its tracked twin.
TRACKED: dict[type[Any], type[Any]] = {
    db.SessionStore: tracked_db.SessionStore,
    cached_db.SessionStore: tracked_cached_db.SessionStore,
    cache.SessionStore: tracked_cache.SessionStore,
    file.SessionStore: tracked_file.SessionStore,
    signed_cookies.SessionStore: tracked_signed_cookies.SessionStore,
    django_models.SessionStore: custom_engine.SessionStore,
}

#: Django's stores that have no tracked twin, and why (none today).
NO_TRACKED_TWIN: dict[type[Any], str] = {}

#: Classes that involve no session backend: Django's run of them (the baseline) is all.
NO_BACKEND: dict[str, str] = {
    "ClearSessionsCommandTests": (
        "tests clearsessions' error for a stub engine (sessions_tests.no_clear_expired)"
    ),
    "SessionBaseTests": "tests the abstract SessionBase, not a store",
}

#: Classes whose store comes from ``SESSION_ENGINE``.
MIDDLEWARE_CLASSES = ("SessionMiddlewareTests",)

#: The tracked engines ``MIDDLEWARE_CLASSES`` run with: class-name infix -> module.
ENGINES: dict[str, str] = {
    "Db": "sessions_panel.backends.db",
    "CachedDb": "sessions_panel.backends.cached_db",
    "Cache": "sessions_panel.backends.cache",
    "File": "sessions_panel.backends.file",
    "SignedCookies": "sessions_panel.backends.signed_cookies",
}

#: Tests of ``MIDDLEWARE_CLASSES`` that only hold for engines writing Django's
#: ``Session`` model: test name -> (engines they apply to, why not the others).
DB_ROW_TESTS: dict[str, tuple[frozenset[str], str]] = {
    "test_empty_session_saved": (
        frozenset({"Db", "CachedDb"}),
        "reads the saved session through django.contrib.sessions.models.Session, "
        "which only the database-backed engines write (Django runs it with its "
        "default db engine only)",
    ),
}

SIMPLE_TESTCASE_REASON = (
    "a SimpleTestCase, which forbids database queries, and the tracked engines query "
    "the database on every load and save (revocation check, session index)"
)

#: Why ``with-db`` also resets the file store's directory in ``setUp``.
FORGET_STORAGE_PATH = (
    "setUp also forgets the directory Django's file store caches on its class "
    "(_storage_path), which its test_clearsessions_command sets by running Django's "
    "engine: the tracked store would inherit it, and FileSessionTests.setUp, which "
    "deletes it from the backend class only, fail for every later test"
)

#: How ``SimpleTestCase`` classes with a tracked backend run: ``skip`` (listed as not
#: applicable), ``as-is`` (backend swap only: they meet the database guard), or
#: ``with-db`` (they also declare ``databases = {"default"}``).
SIMPLE_TESTCASES = os.environ.get("DJANGO_SUITE_SIMPLE_TESTCASES", "skip")
if SIMPLE_TESTCASES not in ("skip", "as-is", "with-db"):
    raise ValueError(f"DJANGO_SUITE_SIMPLE_TESTCASES={SIMPLE_TESTCASES!r}")

#: (what, why) for every class or test of sessions_tests not run with a tracked engine.
NOT_APPLICABLE: list[tuple[str, str]] = []
#: (class, what) for every generated class that changes more than the backend.
MODIFIED: list[tuple[str, str]] = []


def _test_count(cls: type[Any]) -> int:
    return len(unittest.TestLoader().getTestCaseNames(cls))


def _publish(cls: type[Any]) -> None:
    """Binds a generated class in this module, where the test loader finds it."""
    cls.__module__ = __name__
    cls.__qualname__ = cls.__name__
    globals()[cls.__name__] = cls


def _backend_class(cls: type[Any]) -> None:
    store = cls.backend
    if store in NO_TRACKED_TWIN:
        NOT_APPLICABLE.append(
            (f"{cls.__name__} ({_test_count(cls)} tests)", NO_TRACKED_TWIN[store])
        )
        return
    tracked = TRACKED.get(store)
    if tracked is None:
        _unreviewed(cls, f"its backend {store.__module__}.{store.__qualname__} is unknown")
        return
    name = f"Tracked{cls.__name__}"
    attrs: dict[str, Any] = {"backend": tracked}
    if hasattr(cls, "session_engine"):
        attrs["session_engine"] = tracked.__module__
    if not issubclass(cls, django.test.TransactionTestCase):
        if SIMPLE_TESTCASES == "skip":
            NOT_APPLICABLE.append((f"{name} ({_test_count(cls)} tests)", SIMPLE_TESTCASE_REASON))
            return
        if SIMPLE_TESTCASES == "with-db":
            attrs["databases"] = {"default"}
            MODIFIED.append((name, 'declares databases = {"default"} (a SimpleTestCase)'))
            if hasattr(tracked, "_get_storage_path"):
                attrs["setUp"] = _forgetting_storage_path(cls, tracked)
                MODIFIED.append((name, FORGET_STORAGE_PATH))
    _publish(type(name, (cls,), attrs))


def _forgetting_storage_path(cls: type[Any], store: type[Any]) -> Callable[..., None]:
    """``cls.setUp``, first deleting ``_storage_path`` wherever ``store`` inherits it."""

    def setUp(self: Any) -> None:
        for base in store.__mro__[1:]:
            if "_storage_path" in vars(base):
                delattr(base, "_storage_path")
        cls.setUp(self)

    return setUp


def _skipped(test: Callable[..., Any], reason: str) -> Callable[..., Any]:
    return unittest.skip(f"not applicable: {reason}")(test)


def _middleware_class(cls: type[Any]) -> None:
    for infix, engine in ENGINES.items():
        name = f"Tracked{infix}{cls.__name__}"
        attrs: dict[str, Any] = {}
        for test, (engines, reason) in DB_ROW_TESTS.items():
            if infix not in engines and hasattr(cls, test):
                attrs[test] = _skipped(getattr(cls, test), reason)
                NOT_APPLICABLE.append((f"{name}.{test}", reason))
        swapped = django.test.override_settings(SESSION_ENGINE=engine)(type(name, (cls,), attrs))
        _publish(swapped)


def _unreviewed(cls: type[Any], why: str) -> None:
    """A failing test in place of a class this module does not know how to swap."""
    message = (
        f"sessions_tests.tests.{cls.__name__}: {why}; classify it in tests/django_suite/tracked.py"
    )

    def test_classified(self: unittest.TestCase) -> None:
        self.fail(message)

    tests = {"test_classified": test_classified}
    _publish(type(f"Unreviewed{cls.__name__}", (unittest.TestCase,), tests))


def _classify() -> None:
    for cls in vars(django_tests).values():
        if not (
            isinstance(cls, type)
            and issubclass(cls, unittest.TestCase)
            and cls.__module__ == django_tests.__name__
        ):
            continue
        if cls.__name__ in NO_BACKEND:
            NOT_APPLICABLE.append(
                (f"{cls.__name__} ({_test_count(cls)} tests)", NO_BACKEND[cls.__name__])
            )
            continue
        if cls.__name__ in MIDDLEWARE_CLASSES:
            _middleware_class(cls)
        elif getattr(cls, "backend", None) is not None:
            _backend_class(cls)
        else:
            _unreviewed(cls, "it is not classified (new in this Django release?)")


_classify()
