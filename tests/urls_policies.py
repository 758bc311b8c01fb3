"""A test urlconf for the session policies: the admin, a probe, and Django's stock
``LoginView`` outside the admin."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from tests.policy_support import MessagesLoginView


def whoami(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.user.get_username() if request.user.is_authenticated else "")


@login_required(login_url="/accounts/login/")
def private(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"private for {request.user.get_username()}")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("probe/whoami/", whoami),
    path("private/", private),
    path("public/", lambda request: HttpResponse("public")),
    path("accounts/login/", MessagesLoginView.as_view()),
]
