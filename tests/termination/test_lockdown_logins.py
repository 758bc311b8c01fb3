"""A lockdown refuses sign-in on every path that signs a user in, because it refuses at
``login()`` itself (Django's ``user_logged_in``), not in one view: the admin's login
form, the host's ``LoginView``, views that call ``django.contrib.auth.login()``
themselves (a single sign-on callback, a JSON API: what allauth and the like do), the
test client's ``force_login`` and ``login``, and ``alogin``. Each is refused during a
site lockdown and a user lockdown (the session anonymous afterwards, the reason on the
login form), and each signs in again once the lockdown is lifted or has run out."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import alogin
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone

from sessions_panel import termination
from sessions_panel.models import AuditEntry, Lockdown
from sessions_panel.tracking import lockdowns
from tests.policy_support import PASSWORD, log_in, whoami

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_lockdown")]

SITE = "Sign-in is paused: the site is locked down until an administrator lifts it."
ACCOUNT = "This account is locked; contact an administrator."


@pytest.fixture
def root(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)


# -- the paths: each signs alice in, and returns what its login form shows then ("" when
# -- the path has no form to show it on)


def admin_form(client: Client, user: Any) -> str:
    response = log_in(client, user.get_username())
    assert response.status_code == 302
    if response["Location"] != "/admin/login/?next=/admin/":
        assert response["Location"] == "/admin/"
        return ""
    return str(client.get(response["Location"]).content.decode())


def login_view(client: Client, user: Any) -> str:
    """Django's stock ``LoginView``, mounted by the host."""
    response = log_in(client, user.get_username(), url="/accounts/login/", next="/private/")
    assert response.status_code == 302
    if response["Location"] != "/accounts/login/?next=/private/":
        assert response["Location"] == "/private/"
        return ""
    return str(client.get(response["Location"]).content.decode())


def sso_callback(client: Client, user: Any) -> str:
    """A view that calls ``login()`` on a GET: refused, it goes to ``LOGIN_URL`` (its own
    URL would only sign in again), which shows why."""
    response = client.get("/sso/callback/", {"user": user.get_username()})
    assert response.status_code == 302
    if response["Location"] != "/accounts/login/":
        assert response["Location"] == "/private/"
        return ""
    return str(client.get(response["Location"]).content.decode())


def json_api(client: Client, user: Any) -> str:
    """A view that answers no redirect: it answers as it would, but anonymous."""
    response = client.post("/api/login/", {"username": user.get_username(), "password": PASSWORD})
    assert response.status_code == 200
    answer = json.loads(response.content)
    assert answer["ok"] is True
    return "" if answer["signed_in"] else "refused"


def force_login(client: Client, user: Any) -> str:
    client.force_login(user)
    return ""


def client_login(client: Client, user: Any) -> str:
    assert client.login(username=user.get_username(), password=PASSWORD)  # the password is right
    return ""


PATHS: dict[str, Callable[[Client, Any], str]] = {
    "admin login": admin_form,
    "LoginView": login_view,
    "login() on a GET": sso_callback,
    "login() in an API": json_api,
    "force_login": force_login,
    "Client.login": client_login,
}
#: The paths with a login form to show the message on.
FORMS = {"admin login", "LoginView", "login() on a GET"}


def lock(scope: str, root: Any, alice: Any, minutes: int | None = None) -> Lockdown:
    if scope == "site":
        return termination.lock_site(actor=root, minutes=minutes).lockdown
    return termination.lock_user(alice, actor=root, minutes=minutes).lockdown


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("scope", ["site", "user"])
def test_every_sign_in_path_is_refused_during_a_lockdown(
    engine: str, root: Any, alice: Any, scope: str, path: str
) -> None:
    lock(scope, root, alice)
    client = Client()

    shown = PATHS[path](client, alice)

    assert whoami(client) == b""  # anonymous: no session signed in survives
    assert client.get("/private/").status_code == 302
    if path in FORMS:
        assert (SITE if scope == "site" else ACCOUNT) in shown
    refused = AuditEntry.objects.filter(reason__startswith="login refused")
    assert refused.count() == 1
    # The superuser on the allow-list (and no user lockdown of theirs) signs in alike.
    admin = Client()
    PATHS[path](admin, root)
    assert whoami(admin) == b"root"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("scope", ["site", "user"])
def test_every_path_signs_in_again_once_lifted(
    root: Any, alice: Any, scope: str, path: str
) -> None:
    termination.lift_lockdown(lock(scope, root, alice), actor=root)
    client = Client()

    assert PATHS[path](client, alice) == ""

    assert whoami(client) == b"alice"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("scope", ["site", "user"])
def test_every_path_signs_in_again_once_run_out(
    root: Any, alice: Any, scope: str, path: str
) -> None:
    lockdown = lock(scope, root, alice, minutes=15)
    Lockdown.objects.filter(pk=lockdown.pk).update(until=timezone.now() - timedelta(seconds=1))
    client = Client()

    assert PATHS[path](client, alice) == ""

    assert whoami(client) == b"alice"


@pytest.mark.parametrize("scope", ["site", "user"])
def test_alogin_is_refused_too(
    engine: str, store_class: Any, root: Any, alice: Any, scope: str
) -> None:
    lock(scope, root, alice)
    request = HttpRequest()
    request.session = store_class()()
    request.user = AnonymousUser()

    async def no_user() -> AnonymousUser:
        return AnonymousUser()

    request.auser = no_user
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]

    async_to_sync(alogin)(request, alice)

    assert not request.user.is_authenticated
    assert not async_to_sync(request.auser)().is_authenticated
    assert request.session.is_empty()
    assert [str(m) for m in get_messages(request)] == [SITE if scope == "site" else ACCOUNT]


def test_a_refused_login_neither_counts_for_the_cap_nor_tells_of_a_new_sign_in(
    settings: Any, root: Any, alice: Any, mailoutbox: list[Any]
) -> None:
    """Receivers after the lockdown's see an anonymous request: the cap ends none of
    alice's sessions for a login that did not happen, and no new-sign-in email goes."""
    settings.SESSIONS_PANEL = {
        "MAX_SESSIONS_PER_USER": 1,
        "NEW_SIGN_IN_EMAIL": True,
    }
    alice.email = "alice@example.com"
    alice.save()
    termination.lock_site(actor=root)

    admin_form(Client(), alice)

    assert not AuditEntry.objects.filter(scope=AuditEntry.SCOPE_POLICY).exists()
    assert mailoutbox == []
    assert lockdowns.site() is not None
