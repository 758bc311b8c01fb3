"""The session policies on a site whose users log in by email and have a UUID key: the
login time, the cap (its per-user lock and its count), the lifetime."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sessions_panel.models import AuditEntry, SessionRecord
from tests.custom_user.models import EmailUser
from tests.keys import indexed

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def log_in(email: str) -> Client:
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    return client


def signed_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


@pytest.fixture
def alice() -> Any:
    return EmailUser.objects.create_user("alice@example.com", PASSWORD, is_staff=True)


def test_the_cap_ends_the_oldest_session_of_a_uuid_user(settings: Any, alice: Any) -> None:
    settings.SESSIONS_PANEL = {"MAX_SESSIONS_PER_USER": 2}
    clients = [log_in("alice@example.com") for _ in range(3)]
    assert [signed_in(c) for c in clients] == [False, True, True]
    [entry] = AuditEntry.objects.filter(scope=AuditEntry.SCOPE_POLICY)
    assert entry.user_ids == [str(alice.pk)]
    assert entry.detail.startswith("user alice@example.com: ")


def test_refuse_counts_a_uuid_users_sessions(settings: Any, alice: Any) -> None:
    settings.SESSIONS_PANEL = {"MAX_SESSIONS_PER_USER": 1, "MAX_SESSIONS_ACTION": "refuse"}
    first = log_in("alice@example.com")
    late = Client()
    response = late.post(
        "/admin/login/?next=/admin/", {"username": "alice@example.com", "password": PASSWORD}
    )
    assert response["Location"] == "/admin/login/?next=/admin/"
    assert signed_in(first) and not signed_in(late)


def test_the_lifetime_counts_from_a_uuid_users_login(settings: Any, alice: Any) -> None:
    settings.SESSIONS_PANEL = {"ABSOLUTE_LIFETIME": 3600}
    client = log_in("alice@example.com")
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    record = SessionRecord.objects.get(session_key=indexed(key))
    assert record.user_id == alice.pk and record.logged_in is not None
    SessionRecord.objects.filter(pk=record.pk).update(logged_in=record.logged_in - 3601)
    assert not signed_in(client)
