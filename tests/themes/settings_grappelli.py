"""Test settings with django-grappelli: ``grappelli`` before ``django.contrib.admin``,
and its URLs mounted (``tests.themes.urls_grappelli``), as its documentation requires."""

from __future__ import annotations

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS
from tests.themes.csp import loosened

INSTALLED_APPS = ["grappelli", *INSTALLED_APPS]
ROOT_URLCONF = "tests.themes.urls_grappelli"
if "SECURE_CSP" in globals():
    # grappelli defines its globals (ADMIN_URL, date formats) in inline <script>s, and
    # its jQuery UI sets style attributes.
    SECURE_CSP = loosened(SECURE_CSP, inline_style=True, inline_script=True)  # noqa: F405
