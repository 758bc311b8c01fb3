"""A sign-in from a browser or an address the account has not used before: the
``new_sign_in`` signal, and with ``NEW_SIGN_IN_EMAIL`` one email per interval."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from sessions_panel.models import SeenBrowser
from sessions_panel.signals import new_sign_in

pytestmark = pytest.mark.django_db

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
FIREFOX_LINUX_NEWER = "Mozilla/5.0 (X11; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def carol(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(
        "carol", email="carol@example.org", password=PASSWORD, is_staff=True
    )


@pytest.fixture
def told() -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    new_sign_in.connect(receiver, dispatch_uid="test-new-sign-in")
    yield received
    new_sign_in.disconnect(dispatch_uid="test-new-sign-in")


def sign_in(ip: str = "198.51.100.7", user_agent: str = FIREFOX_LINUX) -> Client:
    """A real sign-in through the admin's login form, from ``ip`` with ``user_agent``."""
    client = Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=user_agent)
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "carol", "password": PASSWORD}
    )
    assert response.status_code == 302, response.content[:300]
    client.get("/admin/")  # the session is indexed with its address by a request
    return client


def test_the_first_sign_in_has_no_history_to_differ_from(carol, told, settings):
    settings.SESSIONS_PANEL = {"NEW_SIGN_IN_EMAIL": True}
    sign_in()
    assert told == []
    assert mail.outbox == []
    assert list(SeenBrowser.objects.values_list("browser", flat=True)) == ["Firefox · Linux"]


def test_the_same_browser_and_address_again_tell_nothing(carol, told, settings):
    settings.SESSIONS_PANEL = {"NEW_SIGN_IN_EMAIL": True}
    sign_in()
    sign_in()
    # A browser update is no new device.
    sign_in(user_agent=FIREFOX_LINUX_NEWER)
    assert told == []
    assert mail.outbox == []


def test_a_new_address_sends_the_signal_and_an_email(carol, told, settings):
    settings.SESSIONS_PANEL = {"NEW_SIGN_IN_EMAIL": True}
    sign_in()
    sign_in(ip="203.0.113.99")
    assert [(t["ip"], t["browser"], t["new_address"], t["new_browser"]) for t in told] == [
        ("203.0.113.99", "Firefox · Linux", True, False)
    ]
    assert told[0]["user"] == carol
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["carol@example.org"]
    assert message.subject == "A new sign-in to your account"
    assert "Firefox · Linux at 203.0.113.99" in message.body
    assert "/account/sessions/" in message.body  # where to end that session


def test_a_new_browser_from_a_known_address_is_new_too(carol, told):
    sign_in()
    sign_in(user_agent=CHROME_WINDOWS)
    assert [(t["new_address"], t["new_browser"], t["browser"]) for t in told] == [
        (False, True, "Chrome · Windows")
    ]


def test_without_the_setting_the_signal_is_sent_but_no_email(carol, told):
    sign_in()
    sign_in(ip="203.0.113.99")
    assert len(told) == 1
    assert mail.outbox == []


def test_a_burst_of_new_sign_ins_sends_one_email_per_interval(carol, told, settings):
    settings.SESSIONS_PANEL = {"NEW_SIGN_IN_EMAIL": True, "NEW_SIGN_IN_INTERVAL": 3600}
    sign_in()
    for i in range(3):
        sign_in(ip=f"203.0.113.{i + 10}")
    assert len(told) == 3  # the signal: every one
    assert len(mail.outbox) == 1  # the email: one in the hour
    SeenBrowser.objects.update(notified=timezone.now() - timedelta(hours=2))
    sign_in(ip="203.0.113.50")
    assert len(mail.outbox) == 2


def test_stored_addresses_are_compared_as_stored(carol, told, settings):
    """With ``IP_STORAGE = "truncated"`` two addresses of one /24 are one address."""
    settings.SESSIONS_PANEL = {"IP_STORAGE": "truncated"}
    sign_in(ip="198.51.100.7")
    sign_in(ip="198.51.100.200")
    assert told == []
    sign_in(ip="192.0.2.1")
    assert [t["ip"] for t in told] == ["192.0.2.0"]


def test_a_sign_in_the_cap_refused_is_not_told(carol, told, settings):
    settings.SESSIONS_PANEL = {"MAX_SESSIONS_PER_USER": 1, "MAX_SESSIONS_ACTION": "refuse"}
    sign_in()
    client = Client(REMOTE_ADDR="203.0.113.99", HTTP_USER_AGENT=FIREFOX_LINUX)
    client.post("/admin/login/?next=/admin/", {"username": "carol", "password": PASSWORD})
    assert told == []


def test_a_mail_server_that_fails_does_not_fail_the_sign_in(carol, told, settings, monkeypatch):
    from sessions_panel.account import notice

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr(notice, "send_mail", broken)
    settings.SESSIONS_PANEL = {"NEW_SIGN_IN_EMAIL": True}
    sign_in()
    sign_in(ip="203.0.113.99")  # asserts the login still redirects
    assert len(told) == 1
