"""The Sessions page's mount in the admin: a ``ModelAdmin`` whose changelist is the page.

Registering the index model puts "Sessions" on the admin index and in the nav
sidebar, with the admin's own permissions: ``view`` to see, ``delete`` to kill. Only the
page's URLs exist: no add, change, history or delete views (the stock delete view would
drop an index row and leave the session alive). Every URL is wrapped with
``admin_site.admin_view`` of the site it is registered on, so a custom ``AdminSite``
works as well as the default one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.cache import add_never_cache_headers
from django_htmx.http import HttpResponseClientRedirect

from sessions_panel import views
from sessions_panel.models import SessionRecord

View = Callable[..., HttpResponse]

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[SessionRecord]
else:  # ModelAdmin is generic only in the type stubs
    _ModelAdmin = admin.ModelAdmin


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


admin.site.register(SessionRecord, SessionRecordAdmin)
