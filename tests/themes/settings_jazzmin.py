"""Test settings with django-jazzmin (Bootstrap 5 + AdminLTE): its app goes before
``django.contrib.admin``. ``default_theme_mode = "auto"`` makes it follow the browser's
colour scheme, so the dark run tests its dark mode; no Google Fonts CDN (tests are
offline and a failed request fails the test)."""

from __future__ import annotations

from typing import Any

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS
from tests.themes.csp import loosened

INSTALLED_APPS = ["jazzmin", *INSTALLED_APPS]
JAZZMIN_SETTINGS: dict[str, Any] = {"use_google_fonts_cdn": False}
JAZZMIN_UI_TWEAKS: dict[str, Any] = {"default_theme_mode": "auto"}
if "SECURE_CSP" in globals():
    # jazzmin sets its colour mode from an inline <script> in <head>.
    SECURE_CSP = loosened(SECURE_CSP, inline_script=True)  # noqa: F405
