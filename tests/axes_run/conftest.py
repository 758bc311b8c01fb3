"""Collected only under ``tests.axes_run.settings``.

django-axes keeps its counts in tables of its own, which exist only where ``axes`` was
installed when the test database was made; switching it on for one test of the main
run would leave its signal receivers behind for every later test. So these tests run
in a child pytest on their own settings, from ``tests/termination/test_reauth_throttle.py`` in the
main run, which fails if they fail or if none ran.
"""

from __future__ import annotations

from django.conf import settings

SETTINGS = "tests.axes_run.settings"

if settings.SETTINGS_MODULE != SETTINGS:
    collect_ignore_glob = ["*"]
