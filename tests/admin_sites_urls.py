"""URLconf of ``tests/test_admin_sites.py``: the default site and an extra instance.

``backoffice`` is what a host builds for a second admin: an ``AdminSite`` of its own
name, with the user admin, served at ``/backoffice/``. It gets the Sessions page and
the audit trail through the one line the README documents.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.urls import path

from sessions_panel.sites import register

backoffice = AdminSite(name="backoffice")
backoffice.site_header = "Back office"
backoffice.register(get_user_model(), UserAdmin)
register(backoffice)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("backoffice/", backoffice.urls),
]
