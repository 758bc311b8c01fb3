"""Lockdowns on a site whose users log in by email and have a UUID key: the refusal at
login, the allow-list by group, a user's lockdown and its lift from the page, the
command naming the user by email or key."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from sessions_panel import termination
from sessions_panel.models import AuditEntry, Lockdown
from sessions_panel.tracking import lockdowns
from tests.custom_user.models import EmailUser

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
ACCOUNT = "This account is locked; contact an administrator."


def log_in(email: str) -> tuple[Client, Any]:
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": email, "password": PASSWORD})
    return client, response


def signed_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


@pytest.fixture
def root() -> Any:
    return EmailUser.objects.create_superuser("root@example.com", PASSWORD)


@pytest.fixture
def alice() -> Any:
    return EmailUser.objects.create_user("alice@example.com", PASSWORD, is_staff=True)


def test_a_site_lockdown_refuses_a_uuid_user_and_lets_the_group_in(
    settings: Any, root: Any, alice: Any
) -> None:
    settings.SESSIONS_PANEL = {"LOCKDOWN_ALLOW_GROUP": "incident"}
    alice.groups.add(Group.objects.create(name="incident"))
    termination.lock_site(actor=alice)

    refused, response = log_in("root@example.com")
    assert response["Location"] == "/admin/login/?next=/admin/"
    assert "Sign-in is paused" in refused.get(response["Location"]).content.decode()
    assert not signed_in(refused)
    allowed, _ = log_in("alice@example.com")
    assert signed_in(allowed)


def test_a_user_lockdown_from_the_page_and_its_lift(root: Any, alice: Any) -> None:
    admin, _ = log_in("root@example.com")
    theirs, _ = log_in("alice@example.com")
    lockdown_url = reverse("admin:sessions_panel_sessionrecord_lockdown")

    admin.post(lockdown_url, {"scope": "user", "user": str(alice.pk), "duration": "60"})

    lockdown = Lockdown.objects.get()
    assert lockdown.user_id == alice.pk
    assert not signed_in(theirs)
    refused, response = log_in("alice@example.com")
    assert ACCOUNT in refused.get(response["Location"]).content.decode()
    page = admin.get(reverse("admin:sessions_panel_sessionrecord_changelist"), {"user": alice.pk})
    assert "alice@example.com is locked down since" in page.content.decode()
    assert lockdowns.of_user(alice.pk) is not None and lockdowns.of_user(root.pk) is None

    admin.post(
        reverse("admin:sessions_panel_sessionrecord_lift_lockdown"), {"lockdown": lockdown.pk}
    )
    again, _ = log_in("alice@example.com")
    assert signed_in(again)
    assert AuditEntry.objects.get(scope=AuditEntry.SCOPE_LIFTED).user_ids == [str(alice.pk)]


def test_the_command_locks_down_a_user_named_by_email_or_key(root: Any, alice: Any) -> None:
    out = io.StringIO()
    call_command(
        "killsessions", "--lockdown", "--user", "alice@example.com", "--noinput", stdout=out
    )
    assert "User alice@example.com locked down until lifted." in out.getvalue()
    call_command("killsessions", "--lockdown", "--lift", "--user", str(alice.pk), stdout=out)
    assert lockdowns.of_user(alice.pk) is None
