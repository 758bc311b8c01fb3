"""The Sessions page and the audit trail on any admin site: :func:`register`.

``sessions_panel.admin`` registers both on ``admin.site`` when the admin autodiscovers
it; that covers the stock site and a site set through ``AdminConfig.default_site``
(``admin.site`` *is* that site then). An extra ``AdminSite`` instance gets them with one
line where it is defined::

    from sessions_panel.sites import register

    backoffice = AdminSite(name="backoffice")
    register(backoffice)

Extra sites are not joined automatically: an extra site is often a deliberately narrow
one (support staff, a tenant), and a Kill All button is not something to add to it
behind its owner's back. Check ``sessions_panel.W001`` points out a site that lists
users but not the Sessions page.

This module registers nothing when imported, and never touches ``admin.site``: a host
module that defines its ``default_site`` class can import it without an import cycle
(``admin.site`` would import that very module to build itself).

The Sessions page is a ``ModelAdmin`` whose changelist is the page. Registering the
index model puts "Sessions" on the site's index and in its nav sidebar, with the admin's
own permissions: ``view`` to see, ``delete`` to kill. Only the page's URLs exist: no
add, change, history or delete views (the stock delete view would drop an index row and
leave the session alive). Every URL is wrapped with ``admin_site.admin_view`` of the
site it is registered on and reversed in that site's namespace, so each site keeps its
own login, chrome and links.

:class:`AuditEntryAdmin` shows the audit trail read-only: entries are written by the
kill service alone, and an audit that admins could edit or delete would prove nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django_htmx.http import HttpResponseClientRedirect

from sessions_panel import views
from sessions_panel.listing import parse_user_id
from sessions_panel.models import AuditEntry, SessionRecord

View = Callable[..., HttpResponse]

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[SessionRecord]
    _AuditAdmin = admin.ModelAdmin[AuditEntry]
else:  # ModelAdmin is generic only in the type stubs
    _ModelAdmin = _AuditAdmin = admin.ModelAdmin


class SessionRecordAdmin(_ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SessionRecord | None = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        return [
            path("", self._wrap(self.changelist_view), name=self._name("changelist")),
            path("kill/", self._wrap(self.kill_view), name=self._name("kill")),
            path("kill-user/", self._wrap(self.kill_user_view), name=self._name("kill_user")),
            path("kill-all/", self._wrap(self.kill_all_view), name=self._name("kill_all")),
            path(
                "kill-matching/",
                self._wrap(self.kill_matching_view),
                name=self._name("kill_matching"),
            ),
        ]

    def _name(self, name: str) -> str:
        return views.url_name(self, name)

    def _wrap(self, view: View) -> View:
        """Django's own ``get_urls`` idiom, plus a clean answer to a stale htmx page.

        An htmx request that ``admin_view`` would redirect to the login form (the
        admin's session ended meanwhile) gets ``HX-Redirect`` instead, so the login page
        replaces the whole page rather than being swapped into the table.
        """

        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            request.current_app = self.admin_site.name
            if views.wants_fragment(request) and not self.admin_site.has_permission(request):
                return self._login_redirect(request)
            return self.admin_site.admin_view(view)(request, *args, **kwargs)

        wrapper.model_admin = self  # type: ignore[attr-defined]
        return update_wrapper(wrapper, view)

    def _login_redirect(self, request: HttpRequest) -> HttpResponse:
        site = self.admin_site.name
        login = reverse(f"{site}:login", current_app=site)
        page = views.panel_urls(self)["changelist"]
        response = HttpResponseClientRedirect(f"{login}?{urlencode({'next': page})}")
        add_never_cache_headers(response)
        return response

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return views.session_list(request, self)

    def kill_view(self, request: HttpRequest) -> HttpResponse:
        return views.kill(request, self)

    def kill_user_view(self, request: HttpRequest) -> HttpResponse:
        return views.kill_user(request, self)

    def kill_all_view(self, request: HttpRequest) -> HttpResponse:
        return views.kill_all(request, self)

    def kill_matching_view(self, request: HttpRequest) -> HttpResponse:
        return views.kill_matching(request, self)


class AuditEntryAdmin(_AuditAdmin):
    """Who ended which sessions, when and why: read-only, for the ``view`` permission."""

    list_display = ("created", "by", "scope", "killed", "failed", "reason")
    list_filter = ("scope", "created")
    search_fields = ("actor_repr", "reason", "short_ids")
    fields = (
        "created",
        "by",
        "scope",
        "reason",
        "requested",
        "killed",
        "failed",
        "users",
        "session_ids",
        "detail",
    )
    readonly_fields = fields
    actions = None
    list_per_page = 50
    show_full_result_count = False  # no count(*) over a long trail on every page

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # "Audit trail", as the index, the sidebar and the Sessions page call it, rather
        # than Django's "Select audit entry to view".
        title = capfirst(str(self.opts.verbose_name_plural))
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    @admin.display(description=_("by"), ordering="actor_repr")
    def by(self, entry: AuditEntry) -> str:
        return entry.actor_repr or str(_("the system"))

    @admin.display(description=_("users"))
    def users(self, entry: AuditEntry) -> str:
        """Usernames as they are now (one query), with the ids the entry recorded."""
        ids = [str(i) for i in entry.user_ids]
        if not ids:
            return "—"
        user_model = get_user_model()
        valid = [pk for pk, error in map(parse_user_id, ids) if pk and not error]
        names = {
            str(pk): name
            for pk, name in user_model._default_manager.filter(pk__in=valid).values_list(
                "pk", user_model.USERNAME_FIELD
            )
        }
        deleted = str(_("deleted user"))
        return ", ".join(f"{names.get(i, deleted)} (#{i})" for i in ids)

    @admin.display(description=_("session IDs"))
    def session_ids(self, entry: AuditEntry) -> str:
        return ", ".join(str(s) for s in entry.short_ids) or "—"


#: What :func:`register` puts on a site, in this order.
PANEL_ADMINS: tuple[tuple[type[Model], type[admin.ModelAdmin[Any]]], ...] = (
    (SessionRecord, SessionRecordAdmin),
    (AuditEntry, AuditEntryAdmin),
)


def register(site: admin.AdminSite) -> None:
    """Put the Sessions page and the audit trail on ``site``.

    Models already registered there are left alone, so calling it twice is harmless and
    a host's own subclass of :class:`SessionRecordAdmin` registered first is kept.
    """
    for model, model_admin in PANEL_ADMINS:
        if not site.is_registered(model):
            site.register(model, model_admin)


def missing_from(site: admin.AdminSite) -> list[type[Model]]:
    """The panel's models that ``site`` does not show (for check ``W001``)."""
    return [model for model, _admin in PANEL_ADMINS if not site.is_registered(model)]
