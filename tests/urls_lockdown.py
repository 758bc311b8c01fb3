"""A test urlconf for lockdowns: every way a host signs users in.

- the admin's login form (``/admin/login/``);
- Django's stock ``LoginView``, as a host mounts it (``/accounts/login/``, also
  ``settings.LOGIN_URL``);
- views of the host's (or a third-party app's, such as allauth) that call
  ``django.contrib.auth.login()`` themselves: a sign-in link followed by GET
  (``/sso/callback/``, as a single sign-on callback) and a JSON API posted to
  (``/api/login/``);
- a probe that says who is signed in, and a page behind ``login_required``.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import authenticate, get_user_model, login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from tests.policy_support import MessagesLoginView

BACKEND = "django.contrib.auth.backends.ModelBackend"


def whoami(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.user.get_username() if request.user.is_authenticated else "")


@login_required
def private(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"private for {request.user.get_username()}")


def sso_callback(request: HttpRequest) -> HttpResponse:
    """A single sign-on callback: the identity provider vouched for ``user`` (here the
    query string says who), so the view calls ``login()`` itself, then sends them on."""
    user = get_user_model()._default_manager.get_by_natural_key(request.GET["user"])
    login(request, user, backend=BACKEND)
    return HttpResponseRedirect("/private/")


@csrf_exempt
def api_login(request: HttpRequest) -> HttpResponse:
    """A JSON sign-in endpoint: ``authenticate()`` then ``login()``, answering 200."""
    user = authenticate(
        request, username=request.POST["username"], password=request.POST["password"]
    )
    if user is None:
        return JsonResponse({"ok": False}, status=401)
    login(request, user)
    return JsonResponse({"ok": True, "signed_in": request.user.is_authenticated})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("probe/whoami/", whoami),
    path("private/", private),
    path("accounts/login/", MessagesLoginView.as_view()),
    path("sso/callback/", sso_callback),
    path("api/login/", api_login),
]
