"""User agents are stored cleaned and truncated; the application is resolved per view."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import Client

from sessions_panel.models import SessionRecord
from sessions_panel.tracking.client import APPLICATION_MAX_LENGTH, clean_user_agent

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_probe")]

PASSWORD = "correct horse battery staple"

# 64 KB of hostile header: NUL and other control bytes, invalid UTF-8 sequences.
HOSTILE_UA_BYTES = (
    b"Mozilla/5.0 (X11; Linux x86_64)\x00\x00 Gecko\xff\xfe\xc3\x28 Firefox/133.0 "
    + b"filler\x00\x01\x1b[31m\x7f\x9b\xc0\xafend " * 4000
)[: 64 * 1024]
# What a WSGI server hands Django: the raw bytes decoded as latin-1 (PEP 3333).
HOSTILE_UA_META = HOSTILE_UA_BYTES.decode("latin-1")

FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs"}


def is_clean(value: str) -> bool:
    return not any(unicodedata.category(ch) in FORBIDDEN_CATEGORIES for ch in value)


def shop_resolver(request: HttpRequest) -> str:
    return "Shop" if request.path.startswith("/probe/") else "Back office"


def dirty_resolver(request: HttpRequest) -> str:
    return "Support\x00 desk\n" * 50


# -- user agent ---------------------------------------------------------------------------


def test_hostile_64kb_user_agent_is_stored_truncated_and_clean_with_a_200(
    client: Client,
) -> None:
    assert len(HOSTILE_UA_META) == 64 * 1024
    assert "\x00" in HOSTILE_UA_META

    response = client.get("/probe/write/", HTTP_USER_AGENT=HOSTILE_UA_META)

    assert response.status_code == 200
    stored = SessionRecord.objects.get().user_agent
    assert len(stored) == 512  # the default USER_AGENT_MAX_LENGTH
    assert is_clean(stored)
    assert stored.startswith("Mozilla/5.0 (X11; Linux x86_64) Gecko")
    assert "Firefox/133.0 filler" in stored


def test_hostile_user_agent_on_the_admin_login_is_stored_clean(
    client: Client, django_user_model: Any
) -> None:
    django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)

    response = client.post(
        "/admin/login/",
        {"username": "alice", "password": PASSWORD},
        HTTP_USER_AGENT=HOSTILE_UA_META,
    )

    assert response.status_code == 302
    record = SessionRecord.objects.get()
    assert record.user_id is not None
    assert 0 < len(record.user_agent) <= 512
    assert is_clean(record.user_agent)


def test_user_agent_max_length_setting_is_honoured(client: Client, settings: Any) -> None:
    settings.SESSIONS_PANEL = {"USER_AGENT_MAX_LENGTH": 40}

    client.get("/probe/write/", HTTP_USER_AGENT=HOSTILE_UA_META)

    stored = SessionRecord.objects.get().user_agent
    assert stored == "Mozilla/5.0 (X11; Linux x86_64) Gecko\xff\xfe\xc3"


def test_user_agent_is_not_stored_when_the_setting_turns_it_off(
    client: Client, settings: Any
) -> None:
    settings.SESSIONS_PANEL = {"STORE_USER_AGENT": False}

    client.get("/probe/write/", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64)")

    assert SessionRecord.objects.get().user_agent == ""


def test_clean_user_agent_decodes_bytes_replacing_invalid_utf8_and_drops_controls() -> None:
    cleaned = clean_user_agent(HOSTILE_UA_BYTES)

    assert len(cleaned) == 512
    assert is_clean(cleaned)
    assert cleaned.startswith("Mozilla/5.0 (X11; Linux x86_64) Gecko\ufffd")
    assert "\x00" not in cleaned


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mozilla/5.0\r\n\tX-Injected: 1", "Mozilla/5.0 X-Injected: 1"),
        ("a\u202eb\u200bc", "abc"),  # bidi override and zero-width space (Cf)
        ("\ud800broken", "broken"),  # a lone surrogate (Cs)
        ("   ", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_clean_user_agent_removes_line_breaks_format_and_surrogate_characters(
    raw: str | None, expected: str
) -> None:
    assert clean_user_agent(raw) == expected


# -- application --------------------------------------------------------------------------


def test_default_application_is_the_verbose_name_of_the_app_owning_the_view(
    client: Client, django_user_model: Any, settings: Any
) -> None:
    django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)
    client.post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert SessionRecord.objects.get().application == "Administration"

    # A view of django.contrib.auth, on a request that writes "last seen".
    settings.SESSIONS_PANEL = {"LAST_SEEN_INTERVAL": 0}
    assert client.get("/probe/auth-done/").status_code == 200

    assert SessionRecord.objects.get().application == "Authentication and Authorization"


@pytest.mark.parametrize(
    "resolver",
    ["tests.tracking.test_user_agent.shop_resolver", shop_resolver],
    ids=["path", "callable"],
)
def test_application_resolver_setting_overrides_the_default(
    client: Client, settings: Any, resolver: Any
) -> None:
    settings.SESSIONS_PANEL = {"APPLICATION_RESOLVER": resolver}

    client.get("/probe/write/")

    assert SessionRecord.objects.get().application == "Shop"


def test_application_resolver_result_is_cleaned_and_truncated(
    client: Client, settings: Any
) -> None:
    settings.SESSIONS_PANEL = {
        "APPLICATION_RESOLVER": "tests.tracking.test_user_agent.dirty_resolver"
    }

    client.get("/probe/write/")

    application = SessionRecord.objects.get().application
    assert len(application) == APPLICATION_MAX_LENGTH
    assert application.startswith("Support desk Support desk")
    assert is_clean(application)
