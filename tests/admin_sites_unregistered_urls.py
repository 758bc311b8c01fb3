"""URLconf of the ``sessions_panel.W001`` tests: sites with and without the panel.

``bare`` lists users but not the panel (the mistake W001 is for), served through a
nested include so the check must walk the URLconf; ``plain`` makes the same mistake
with views that do not say which site they belong to (found by its namespace);
``helpdesk`` shows sessions but no users (nothing to warn about); the default site has
both.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, include, path

from sessions_panel.sites import register

bare = AdminSite(name="bare")
bare.register(get_user_model(), UserAdmin)


class PlainSite(AdminSite):
    """Its own views, without the ``admin_site`` mark Django's ``get_urls`` leaves."""

    def get_urls(self) -> list[URLPattern | URLResolver]:
        return [path("", self.front, name="index")]

    def front(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("plain")


plain = PlainSite(name="plain")
plain.register(get_user_model(), UserAdmin)

helpdesk = AdminSite(name="helpdesk")
register(helpdesk)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("staff/", include([path("bare/", bare.urls)])),
    path("plain/", plain.urls),
    path("helpdesk/", helpdesk.urls),
]
