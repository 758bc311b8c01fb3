"""A project whose default admin site is its own class (``AdminConfig.default_site``).

``tests.admin_sites_office_settings`` puts :class:`OfficeAdminConfig` in
``INSTALLED_APPS`` instead of ``django.contrib.admin``: ``admin.site`` is then an
:class:`OfficeSite`, and the panel must appear there with no line from the host, as
every other app's admin does. Served at ``/office/`` (``tests.admin_sites_office_urls``),
so that no link can pass by pointing at ``/admin/``.
"""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig


class OfficeSite(AdminSite):
    """Named ``office`` too: a link reversed in the ``admin`` namespace cannot pass."""

    site_header = "Office"
    site_title = "Office"

    def __init__(self, name: str = "office") -> None:
        super().__init__(name)


class OfficeAdminConfig(AdminConfig):
    default_site = "tests.admin_sites_office.OfficeSite"
