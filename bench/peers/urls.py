"""Every host's URLs: the admin, and the trivial view of the middleware measurement.

The peers' session admins list 50 rows a page here, as ours does (Django's default is
100): the page-1 and bytes-per-page figures then compare the same number of rows.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path

PAGE_SIZE = 50


def whoami(request: HttpRequest) -> HttpResponse:
    """Loads the session and the user, as any authenticated page does, and no more."""
    user = request.user
    return HttpResponse(user.get_username() if user.is_authenticated else "anonymous")


for model, model_admin in admin.site._registry.items():
    if model._meta.app_label in ("qsessions", "user_sessions"):
        model_admin.list_per_page = PAGE_SIZE

if settings.SYSTEM == "ours":  # the demo host's own URLs: the Sessions page where it lives
    from sessionadmin.urls import urlpatterns as host_urlpatterns

    urlpatterns = [path("bench/whoami/", whoami), *host_urlpatterns]
else:
    urlpatterns = [path("bench/whoami/", whoami), path("admin/", admin.site.urls)]
