"""Test settings with django-unfold: its app goes before ``django.contrib.admin`` so its
templates (``admin/base.html`` and the rest) win, as unfold's documentation requires."""

from __future__ import annotations

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS
from tests.themes.csp import loosened

INSTALLED_APPS = ["unfold", *INSTALLED_APPS]
if "SECURE_CSP" in globals():
    # unfold's palette is an inline <style>; Alpine.js evaluates its x-data strings.
    SECURE_CSP = loosened(SECURE_CSP, inline_style=True, eval_script=True)  # noqa: F405
