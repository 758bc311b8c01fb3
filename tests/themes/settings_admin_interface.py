"""Test settings with django-admin-interface: ``admin_interface`` and ``colorfield``
before ``django.contrib.admin``; its related-object modal needs ``X_FRAME_OPTIONS =
"SAMEORIGIN"`` (system check ``security.W019`` otherwise asks for it)."""

from __future__ import annotations

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS
from tests.themes.csp import loosened

INSTALLED_APPS = ["admin_interface", "colorfield", *INSTALLED_APPS]
X_FRAME_OPTIONS = "SAMEORIGIN"
SILENCED_SYSTEM_CHECKS = ["security.W019"]
# One language: its language chooser otherwise warns on every page that LocaleMiddleware
# is missing (a warning is an error in this test suite), and it is beside the point here.
LANGUAGES = [("en", "English")]
if "SECURE_CSP" in globals():
    # admin-interface writes its theme's colours in an inline <style>.
    SECURE_CSP = loosened(SECURE_CSP, inline_style=True)  # noqa: F405
