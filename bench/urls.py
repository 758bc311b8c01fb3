"""The host project's URLs plus two probe views for the middleware measurement."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from sessionadmin.urls import urlpatterns as host_urlpatterns


def whoami(request: HttpRequest) -> HttpResponse:
    """Loads the session and the user, as any authenticated page does, and no more."""
    user = request.user
    return HttpResponse(user.get_username() if user.is_authenticated else "anonymous")


urlpatterns = [
    path("bench/whoami/", whoami),
    *host_urlpatterns,
]
