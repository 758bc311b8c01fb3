"""A test urlconf: the admin plus tiny probe views whose database use is known exactly."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import PasswordChangeDoneView
from django.http import HttpRequest, HttpResponse
from django.urls import path


def plain(request: HttpRequest) -> HttpResponse:
    """Touches neither the session nor the database."""
    return HttpResponse("ok")


def read_session(request: HttpRequest) -> HttpResponse:
    """Reads the session (loading it) without modifying it."""
    return HttpResponse(str(request.session.get("probe", "")))


def write_session(request: HttpRequest) -> HttpResponse:
    """Modifies the session, so SessionMiddleware saves it."""
    request.session["probe"] = request.GET.get("value", "written")
    return HttpResponse("saved")


def clear_session(request: HttpRequest) -> HttpResponse:
    """Empties the session and starts it again, as a wizard or a cart reset does."""
    request.session.clear()
    request.session["probe"] = "restarted"
    return HttpResponse("cleared")


def whoami(request: HttpRequest) -> HttpResponse:
    """Loads the session and the user, as any authenticated page does."""
    return HttpResponse(request.user.get_username() if request.user.is_authenticated else "")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("probe/", plain),
    path("probe/read/", read_session),
    path("probe/write/", write_session),
    path("probe/whoami/", whoami),
    path("probe/clear/", clear_session),
    # A view owned by django.contrib.auth, for application resolution.
    path("probe/auth-done/", PasswordChangeDoneView.as_view()),
]
