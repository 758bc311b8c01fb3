"""Collected only under ``tests.custom_user.settings``.

The user model is fixed for the life of a process, so these tests cannot share a run
with the rest of the suite (stock ``auth.User``). Under any other settings nothing here
is collected — and not silently: ``tests/test_custom_user_run.py``, in the main run,
runs this directory in a subprocess on its own settings and fails if it fails or if no
test ran.
"""

from __future__ import annotations

from django.conf import settings

SETTINGS = "tests.custom_user.settings"

if settings.SETTINGS_MODULE != SETTINGS:
    collect_ignore_glob = ["*"]
