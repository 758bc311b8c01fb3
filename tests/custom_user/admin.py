"""The email user on two admin sites, each way the README gives a custom ``UserAdmin``
its "Sessions" section:

- ``admin.site``: a plain ``ModelAdmin``; the section comes from the template tag in
  ``templates/admin/custom_user/emailuser/change_form.html`` (the documented path);
- ``backoffice`` (:mod:`tests.custom_user.urls`): :class:`UserSessionsMixin`, no template
  of its own (it renders the same change form, whose tag then stays silent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin

from sessions_panel.useradmin import UserSessionsMixin
from tests.custom_user.models import EmailUser

if TYPE_CHECKING:
    _UserAdmin = admin.ModelAdmin[EmailUser]
else:
    _UserAdmin = admin.ModelAdmin


class EmailUserAdmin(_UserAdmin):
    fieldsets = ((None, {"fields": ("email", "is_active", "is_staff", "is_superuser")}),)
    search_fields = ("email",)


class MixinEmailUserAdmin(UserSessionsMixin, EmailUserAdmin):
    pass


admin.site.register(EmailUser, EmailUserAdmin)


def register_backoffice(site: admin.AdminSite) -> None:
    site.register(EmailUser, MixinEmailUserAdmin)
