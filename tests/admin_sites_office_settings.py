"""Test settings for the ``default_site`` set-up, run in a process of its own.

The test settings, with the admin app swapped for a custom ``AdminConfig``: which class
``admin.site`` is gets fixed once per process, when the admin app is set up, so this
set-up cannot be switched on inside the main test run.
"""

from __future__ import annotations

from sessionadmin.settings import INSTALLED_APPS
from tests.settings import *  # noqa: F403

INSTALLED_APPS = [
    "tests.admin_sites_office.OfficeAdminConfig" if app == "django.contrib.admin" else app
    for app in INSTALLED_APPS
]
ROOT_URLCONF = "tests.admin_sites_office_urls"
