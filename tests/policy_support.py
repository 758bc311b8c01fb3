"""What the session-policy tests share: time moved in the index, not by sleeping.

The policies decide by the database's clock (``SessionRecord.seen``, ``logged_in``,
``issued``), so "time passes" here means those times are moved back in the row: the
same on SQLite and PostgreSQL, whose clock no test can move.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.views import LoginView
from django.contrib.messages import get_messages
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.test import Client

from sessions_panel.models import AuditEntry, SessionRecord
from sessions_panel.signals import session_killed
from sessions_panel.tracking.index_writer import recently_seen
from tests.keys import indexed

PASSWORD = "correct horse battery staple"
WHOAMI = "/probe/whoami/"


def move_back(key: str, seconds: float, *fields: str) -> None:
    """As if ``seconds`` had passed since the row's ``fields`` were written (and this
    process had restarted: it no longer remembers the row as fresh)."""
    SessionRecord.objects.filter(session_key=indexed(key)).update(
        **{field: F(field) - seconds for field in fields}
    )
    recently_seen.forget(indexed(key) or key)


def idle_for(key: str, seconds: float) -> None:
    """The session was last used ``seconds`` ago (both clocks: the page's and the policy's)."""
    from datetime import timedelta

    SessionRecord.objects.filter(session_key=indexed(key)).update(
        seen=F("seen") - seconds, last_seen=F("last_seen") - timedelta(seconds=seconds)
    )
    recently_seen.forget(indexed(key) or key)


def logged_in_for(key: str, seconds: float) -> None:
    """The session's user logged in ``seconds`` ago (its key was issued then too)."""
    move_back(key, seconds, "logged_in", "issued")


def row(key: str) -> SessionRecord | None:
    return SessionRecord.objects.filter(session_key=indexed(key)).first()


def policy_entries() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(scope=AuditEntry.SCOPE_POLICY).order_by("pk"))


def log_in(client: Client, username: str, url: str = "/admin/login/", next: str = "/admin/") -> Any:
    return client.post(f"{url}?next={next}", {"username": username, "password": PASSWORD})


def login_client(username: str) -> tuple[Client, str]:
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0")
    response = log_in(client, username)
    assert response.status_code == 302, response.content[:300]
    assert response["Location"] == "/admin/", response["Location"]
    return client, client.cookies[settings.SESSION_COOKIE_NAME].value


def whoami(client: Client) -> bytes:
    return bytes(client.get(WHOAMI).content)


@pytest.fixture
def killed_signals() -> Iterator[list[dict[str, Any]]]:
    """Every ``session_killed`` sent during the test, as its keyword arguments."""
    sent: list[dict[str, Any]] = []

    def receive(sender: Any, **kwargs: Any) -> None:
        sent.append(kwargs)

    session_killed.connect(receive, dispatch_uid="tests.policy_support")
    yield sent
    session_killed.disconnect(dispatch_uid="tests.policy_support")


class MessagesLoginView(LoginView):
    """Django's stock ``LoginView``; its form page (GET) shows the messages alone, so a
    test needs no template."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponse(" | ".join(str(m) for m in get_messages(request)))
