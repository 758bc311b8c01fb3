"""The backoffice admin site, with the Sessions page and the email user's admin.

Two lines give a custom admin site the panel, and they are the point of this example:

- ``register(backoffice_site)`` puts the Sessions page and its audit trail on the site.
  Only the stock ``admin.site`` gets them by itself; an extra site is left alone until
  its owner asks (check ``sessions_panel.W001`` warns about a site that lists users but
  not the Sessions page). ``register`` is imported from ``sessions_panel.sites``, which
  registers nothing on import.
- ``UserSessionsMixin`` first in the user admin's bases adds the user's "Sessions"
  section (the live-session count and a link to their sessions) to the change page.
  The panel's template for it is named after ``auth.User``, which a custom user model
  never reaches; the mixin needs no template.

The rest is what Django's ``UserAdmin`` needs for a user without a ``username``: forms
bound to this model, and fieldsets, lists and ordering that name ``email`` instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from sessions_panel.sites import register
from sessions_panel.useradmin import UserSessionsMixin

if TYPE_CHECKING:
    _UserAdmin = BaseUserAdmin[User]
    _CreationForm = auth_forms.AdminUserCreationForm[User]
    _ChangeForm = auth_forms.UserChangeForm[User]
else:  # generic only in the type stubs
    _UserAdmin = BaseUserAdmin
    _CreationForm = auth_forms.AdminUserCreationForm
    _ChangeForm = auth_forms.UserChangeForm


class BackofficeSite(admin.AdminSite):
    """The staff's admin site. Its ``name`` is its URL namespace (``backoffice:...``),
    which the panel reverses every link, redirect and login in."""

    site_header = "Backoffice"
    site_title = "Backoffice"
    index_title = _("Site administration")


backoffice_site = BackofficeSite(name="backoffice")
register(backoffice_site)  # the Sessions page and the audit trail
backoffice_site.register(Group, GroupAdmin)


class UserCreationForm(_CreationForm):
    """Django's admin add form (password or none), for this model's ``email``."""

    class Meta:
        model = User
        fields = ("email",)


class UserChangeForm(_ChangeForm):
    """Django's admin change form (read-only password hash), for this model."""

    class Meta:
        model = User
        fields = "__all__"


@admin.register(User, site=backoffice_site)
class UserAdmin(UserSessionsMixin, _UserAdmin):
    """Django's ``UserAdmin`` for the email user, with the user's "Sessions" section."""

    form = UserChangeForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )
    list_display = ("email", "is_staff", "is_active", "date_joined")
    search_fields = ("email",)
    ordering = ("email",)
