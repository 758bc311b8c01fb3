"""django-axes counts the panel's wrong re-authentication passwords, and its lock-out
applies to the prompt and to the login form alike.

The panel checks the password with ``authenticate()``, which sends
``user_login_failed`` on a wrong one; while its own lock-out refuses the prompt without
checking, it sends the signal itself. Either way axes sees every failure.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.messages import get_messages
from django.test import Client

from sessions_panel.models import SessionRecord
from tests.keys import indexed
from tests.page_support import action_url, logged_in, page_url

pytestmark = pytest.mark.django_db

PASSWORD = "password"  # pytest-django's admin_user
WRONG = "not-the-password"
LOCKED_BY_AXES = 429  # axes' AXES_HTTP_RESPONSE_CODE


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def admin(admin_user: Any) -> Client:
    client = logged_in(admin_user)
    own = SessionRecord.objects.filter(session_key=indexed(client.session))
    assert own.update(verified=time.time() - 601) == 1  # the prompt is due
    return client


@pytest.fixture
def victims(make_session: Any, django_user_model: Any) -> list[Any]:
    bob = django_user_model.objects.create_user("bob")
    return [make_session(user=bob) for _ in range(3)]


def attempt(client: Client, password: str) -> Any:
    """Kill All with ``password``; then the page, which shows (uses up) its message."""
    response = client.post(action_url("kill_all"), {"password": password})
    if response.status_code == 302:
        client.get(page_url())
    return response


def failures() -> int:
    attempt = AccessAttempt.objects.filter(username="admin").first()
    return 0 if attempt is None else int(attempt.failures_since_start)


def login_form(password: str) -> Any:
    return Client().post("/admin/login/", {"username": "admin", "password": password})


def test_axes_is_installed_as_documented(settings: Any) -> None:
    assert "axes" in settings.INSTALLED_APPS
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    assert failures() == 0


def test_axes_counts_each_wrong_password_and_its_lock_out_refuses_the_right_one(
    admin: Client, victims: list[Any], settings: Any
) -> None:
    settings.SESSIONS_PANEL = {"REAUTH_MAX_FAILURES": 10}  # the panel's own stays out of it
    for count in (1, 2):
        response = attempt(admin, WRONG)
        assert messages_of(response) == ["That password is not correct. Nothing was ended."]
        assert failures() == count
    # The third: axes locks the account, and its middleware answers for it.
    assert attempt(admin, WRONG).status_code == LOCKED_BY_AXES
    assert failures() == 3
    response = attempt(admin, PASSWORD)
    assert response.status_code == LOCKED_BY_AXES
    assert SessionRecord.objects.filter(user__username="bob").count() == 3  # nothing ended
    # The same lock-out closes the login form.
    assert login_form(PASSWORD).status_code == LOCKED_BY_AXES


def test_the_panels_own_lock_out_still_tells_axes(
    admin: Client, victims: list[Any], settings: Any
) -> None:
    settings.SESSIONS_PANEL = {"REAUTH_MAX_FAILURES": 2}
    settings.AXES_FAILURE_LIMIT = 4
    for _ in range(2):
        attempt(admin, WRONG)
    assert failures() == 2
    # Refused by the panel's lock-out, unchecked: each is still a failure axes counts.
    response = attempt(admin, PASSWORD)
    assert messages_of(response)[0].startswith("Too many wrong passwords")
    assert failures() == 3
    assert attempt(admin, PASSWORD).status_code == (LOCKED_BY_AXES)
    assert failures() == 4
    assert login_form(PASSWORD).status_code == LOCKED_BY_AXES
    assert SessionRecord.objects.filter(user__username="bob").count() == 3


def test_without_failures_the_prompt_works_with_axes_in_front(
    admin: Client, victims: list[Any]
) -> None:
    response = attempt(admin, PASSWORD)
    assert messages_of(response) == ["Ended 3 sessions. Your own session was kept."]
    assert admin.get(page_url()).status_code == 200
    assert failures() == 0
