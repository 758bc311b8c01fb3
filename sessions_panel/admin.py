"""The Sessions page and the audit trail on the default admin site.

The admin's autodiscovery imports this module, which registers both on ``admin.site``:
the stock site, or the class named by a custom ``AdminConfig.default_site`` (then
``admin.site`` is an instance of it). Other sites get them through
:func:`sessions_panel.sites.register`. The classes live in :mod:`sessions_panel.sites`,
which registers nothing on import; they are re-exported here, where Django users look
for them.

A project that wants the default site without the page unregisters it in its own
``admin.py`` (an app listed after ``sessions_panel``), as with any app, and silences
check ``sessions_panel.W001`` if that site lists users.
"""

from __future__ import annotations

from django.contrib import admin

from sessions_panel.sites import AuditEntryAdmin, SessionRecordAdmin, register

__all__ = ["AuditEntryAdmin", "SessionRecordAdmin", "register"]

register(admin.site)
