"""Through Django's real admin login and logout views: the index follows the session key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.test import Client

from sessions_panel import termination
from sessions_panel.models import SessionRecord
from tests.keys import indexed

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)


@pytest.fixture
def bob(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("bob", password=PASSWORD, is_staff=True)


def log_in(client: Client, username: str) -> None:
    response = client.post(
        "/admin/login/", {"username": username, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302, response.content[:500]
    assert response["Location"] == "/admin/"


def cookie_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_login_indexes_the_new_key_only_and_drops_the_anonymous_one(
    engine: str,
    client: Client,
    alice: Any,
    make_session: Callable[..., SessionBase],
) -> None:
    anonymous = make_session(cart=["book"])  # a guest visit before logging in
    assert anonymous.session_key is not None
    client.cookies[settings.SESSION_COOKIE_NAME] = anonymous.session_key
    assert SessionRecord.objects.get().user_id is None

    log_in(client, "alice")

    new_key = cookie_key(client)
    assert new_key != anonymous.session_key
    record = SessionRecord.objects.get()  # exactly one row
    assert record.session_key == indexed(new_key)
    assert record.user_id == alice.pk
    assert record.application == "Administration"
    assert not SessionRecord.objects.filter(session_key=indexed(anonymous)).exists()
    assert client.session["cart"] == ["book"]  # Django keeps the guest's data on login


def test_logout_leaves_no_row(engine: str, client: Client, alice: Any) -> None:
    log_in(client, "alice")
    assert SessionRecord.objects.filter(session_key=indexed(cookie_key(client))).exists()

    response = client.post("/admin/logout/")

    assert response.status_code == 200
    assert SessionRecord.objects.count() == 0
    assert client.get("/admin/").status_code == 302  # really logged out


def test_login_as_a_then_b_in_the_same_browser_leaves_one_row_owned_by_b(
    engine: str, client: Client, alice: Any, bob: Any
) -> None:
    log_in(client, "alice")
    alice_key = cookie_key(client)

    log_in(client, "bob")

    record = SessionRecord.objects.get()
    assert record.user_id == bob.pk
    assert cookie_key(client) != alice_key
    assert record.session_key == indexed(cookie_key(client)) != indexed(alice_key)
    assert client.session[SESSION_KEY] == str(bob.pk)


def test_killed_session_makes_the_next_request_anonymous(
    engine: str, client: Client, alice: Any, bob: Any
) -> None:
    log_in(client, "alice")
    assert client.get("/admin/").status_code == 200
    bystander = Client()
    log_in(bystander, "bob")
    record = SessionRecord.objects.get(user=alice)

    result = termination.kill_session(record.handle)

    assert result.killed == 1
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""  # cookie deleted
    assert list(SessionRecord.objects.values_list("user_id", flat=True)) == [bob.pk]
    assert bystander.get("/admin/").status_code == 200  # other sessions untouched
