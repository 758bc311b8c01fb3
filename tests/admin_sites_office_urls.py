"""URLconf of the ``default_site`` set-up: ``admin.site`` (an ``OfficeSite``) at ``/office/``."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

urlpatterns = [path("office/", admin.site.urls)]
