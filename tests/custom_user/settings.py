"""The main test settings with an email-login, UUID-keyed user model (see ``models.py``)."""

from __future__ import annotations

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.custom_user"]
AUTH_USER_MODEL = "custom_user.EmailUser"
ROOT_URLCONF = "tests.custom_user.urls"
