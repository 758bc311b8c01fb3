"""The host's URLs plus a second admin site, ``backoffice``, with the Sessions page and
the email user (through :class:`~sessions_panel.useradmin.UserSessionsMixin`)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from sessionadmin.urls import urlpatterns as host_urlpatterns
from sessions_panel.admin import AuditEntryAdmin, SessionRecordAdmin
from sessions_panel.models import AuditEntry, SessionRecord
from tests.custom_user.admin import register_backoffice

backoffice = admin.AdminSite(name="backoffice")
backoffice.register(SessionRecord, SessionRecordAdmin)
backoffice.register(AuditEntry, AuditEntryAdmin)
register_backoffice(backoffice)

urlpatterns = [*host_urlpatterns, path("backoffice/", backoffice.urls)]
