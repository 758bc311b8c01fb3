"""The multi-host servers' urlconf: the demo's (admin and panel) plus test-only probes.

The probes let a test ask a server, over HTTP only, what it believes: its clock, and
who a session cookie belongs to. They exist only in this test urlconf.
"""

from __future__ import annotations

import time

from django.contrib.auth import authenticate, login
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sessionadmin.urls import urlpatterns as demo_urlpatterns


def _identity(request: HttpRequest) -> dict[str, object]:
    user = request.user
    if not user.is_authenticated:
        return {"user": "", "id": None}
    return {"user": user.get_username(), "id": user.pk}


@never_cache
def clock(request: HttpRequest) -> HttpResponse:
    """This process's wall clock: proves that the host's clock offset is in effect."""
    return JsonResponse({"time": time.time()})


@never_cache
def whoami(request: HttpRequest) -> HttpResponse:
    """Loads the session and the user, as any authenticated page does; writes nothing."""
    return JsonResponse(_identity(request))


@never_cache
def write(request: HttpRequest) -> HttpResponse:
    """Loads the session and modifies it, so the request ends in a save: a request
    racing a kill must not write a killed session back."""
    request.session["multihost_writes"] = int(request.session.get("multihost_writes", 0)) + 1
    return JsonResponse(_identity(request))


@csrf_exempt  # a test-only login for people who may not use the admin's login form
@require_POST
@never_cache
def log_in(request: HttpRequest) -> HttpResponse:
    """Django's own ``login`` for a user who is not staff (the admin form refuses them)."""
    user = authenticate(
        request,
        username=str(request.POST.get("username", "")),
        password=str(request.POST.get("password", "")),
    )
    if user is None:
        return HttpResponseBadRequest("wrong username or password")
    login(request, user)
    return JsonResponse(_identity(request))


urlpatterns = [
    path("probe/clock/", clock),
    path("probe/whoami/", whoami),
    path("probe/write/", write),
    path("probe/login/", log_in),
    *demo_urlpatterns,
]
