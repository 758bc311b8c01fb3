"""System checks, by ID: each fires on its misconfiguration and only then."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management import call_command

from sessions_panel.checks import (
    AUTH_MIDDLEWARE,
    HTMX_MIDDLEWARE,
    SESSION_MIDDLEWARE,
)
from sessions_panel.conf import PANEL_MIDDLEWARE

# Django's model checks ask the database which features it supports.
pytestmark = pytest.mark.django_db


def panel_ids() -> list[str]:
    """IDs of the panel's messages among every registered check's."""
    return sorted(m.id for m in run_checks() if m.id and m.id.startswith("sessions_panel."))


def without(middleware: list[str], name: str) -> list[str]:
    return [m for m in middleware if m != name]


def resolver(request: Any) -> str:
    return "Shop"


def test_the_projects_real_settings_pass_every_check() -> None:
    call_command("check")  # raises SystemCheckError on any error
    assert panel_ids() == []


# -- engine -------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["db", "cached_db", "cache", "file", "signed_cookies"])
def test_every_tracked_engine_passes(settings: Any, engine: str) -> None:
    settings.SESSION_ENGINE = f"sessions_panel.backends.{engine}"
    assert panel_ids() == []


@pytest.mark.parametrize(
    "engine",
    [
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
        "django.contrib.sessions.backends.cache",
        "django.contrib.sessions.backends.file",
        "no.such.engine",
    ],
)
def test_e001_untracked_engine(settings: Any, engine: str) -> None:
    settings.SESSION_ENGINE = engine
    assert panel_ids() == ["sessions_panel.E001"]


def test_e002_djangos_signed_cookie_engine_points_at_the_tracked_one(settings: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    (error,) = [m for m in run_checks() if m.id == "sessions_panel.E002"]
    assert panel_ids() == ["sessions_panel.E002"]
    assert "SESSION_ENGINE = 'sessions_panel.backends.signed_cookies'" in (error.hint or "")


def test_e001_hint_names_every_tracked_engine(settings: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    (error,) = [m for m in run_checks() if m.id == "sessions_panel.E001"]
    for name in (".db", ".cached_db", ".cache", ".file", ".signed_cookies"):
        assert name in (error.hint or "")


# -- middleware ---------------------------------------------------------------------------


def test_e003_panel_middleware_missing(settings: Any) -> None:
    settings.MIDDLEWARE = without(settings.MIDDLEWARE, PANEL_MIDDLEWARE)
    assert panel_ids() == ["sessions_panel.E003"]


@pytest.mark.parametrize("placed_before", [SESSION_MIDDLEWARE, AUTH_MIDDLEWARE])
def test_e004_panel_middleware_before_session_or_auth_middleware(
    settings: Any, placed_before: str
) -> None:
    middleware = without(settings.MIDDLEWARE, PANEL_MIDDLEWARE)
    middleware.insert(middleware.index(placed_before), PANEL_MIDDLEWARE)
    settings.MIDDLEWARE = middleware
    assert panel_ids() == ["sessions_panel.E004"]


def test_e004_authentication_middleware_missing(settings: Any) -> None:
    settings.MIDDLEWARE = without(settings.MIDDLEWARE, AUTH_MIDDLEWARE)
    assert "sessions_panel.E004" in panel_ids()


def test_e005_htmx_middleware_missing(settings: Any) -> None:
    settings.MIDDLEWARE = without(settings.MIDDLEWARE, HTMX_MIDDLEWARE)
    assert panel_ids() == ["sessions_panel.E005"]


# -- SESSIONS_PANEL -----------------------------------------------------------------------


def test_e006_unknown_key_is_named(settings: Any) -> None:
    settings.SESSIONS_PANEL = {"TRUSTED_PROXIES": 1, "LAST_SEEN_INTERVAL": 30}
    messages = [m for m in run_checks() if m.id == "sessions_panel.E006"]
    assert len(messages) == 1
    assert "'TRUSTED_PROXIES'" in messages[0].msg
    assert panel_ids() == ["sessions_panel.E006"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRUSTED_PROXY_COUNT", -1),
        ("TRUSTED_PROXY_COUNT", "1"),
        ("TRUSTED_PROXY_COUNT", True),
        ("LAST_SEEN_INTERVAL", -5),
        ("LAST_SEEN_INTERVAL", 1.5),
        ("REFRESH_INTERVAL", None),
        ("PAGE_SIZE", 0),
        ("PAGE_SIZE", 513),
        ("USER_AGENT_MAX_LENGTH", 10_000),
        ("TRUSTED_PROXY_RANGES", "10.0.0.0/8"),
        ("TRUSTED_PROXY_RANGES", ["10.0.0.0/33"]),
        ("TRUSTED_PROXY_RANGES", ["proxy.example.com"]),
        ("APPLICATION_RESOLVER", "no.such.resolver"),
        ("APPLICATION_RESOLVER", "nodots"),
        ("APPLICATION_RESOLVER", 42),
        ("APPLICATION_RESOLVER", "sessions_panel.conf.DEFAULTS"),  # imports, not callable
        ("IP_STORAGE", "partial"),
        ("STORE_USER_AGENT", "yes"),
    ],
)
def test_e007_invalid_value(settings: Any, name: str, value: Any) -> None:
    settings.SESSIONS_PANEL = {name: value}
    messages = [m for m in run_checks() if m.id == "sessions_panel.E007"]
    assert len(messages) == 1
    assert repr(name) in messages[0].msg
    assert panel_ids() == ["sessions_panel.E007"]


def test_e007_settings_that_are_not_a_dict(settings: Any) -> None:
    settings.SESSIONS_PANEL = [("LAST_SEEN_INTERVAL", 30)]
    assert panel_ids() == ["sessions_panel.E007"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRUSTED_PROXY_COUNT", 0),
        ("TRUSTED_PROXY_COUNT", 2),
        ("LAST_SEEN_INTERVAL", 0),
        ("PAGE_SIZE", 1),
        ("PAGE_SIZE", 512),
        ("USER_AGENT_MAX_LENGTH", 512),
        ("TRUSTED_PROXY_RANGES", ["10.0.0.0/8", "2001:db8::/32"]),
        ("TRUSTED_PROXY_RANGES", ()),
        ("APPLICATION_RESOLVER", None),
        ("APPLICATION_RESOLVER", "tests.test_checks.resolver"),
        ("APPLICATION_RESOLVER", resolver),
        ("IP_STORAGE", "truncated"),
        ("STORE_USER_AGENT", False),
    ],
)
def test_valid_values_pass(settings: Any, name: str, value: Any) -> None:
    settings.SESSIONS_PANEL = {name: value}
    assert panel_ids() == []


@pytest.mark.parametrize("value", ["", 3, None])
def test_an_account_base_template_that_is_not_a_name_is_e007(settings, value):
    settings.SESSIONS_PANEL = {"ACCOUNT_BASE_TEMPLATE": value}
    assert panel_ids() == ["sessions_panel.E007"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("NEW_SIGN_IN_EMAIL", "yes"), ("NEW_SIGN_IN_INTERVAL", -1), ("NEW_SIGN_IN_INTERVAL", 1.5)],
)
def test_a_bad_new_sign_in_setting_is_e007(settings, name, value):
    settings.SESSIONS_PANEL = {name: value}
    assert panel_ids() == ["sessions_panel.E007"]


@pytest.mark.parametrize("value", ["", "   ", 3, ["incident"], "x" * 151])
def test_a_lockdown_allow_group_that_is_no_group_name_is_e007(settings, value):
    settings.SESSIONS_PANEL = {"LOCKDOWN_ALLOW_GROUP": value}
    messages = [m for m in run_checks() if m.id == "sessions_panel.E007"]
    assert len(messages) == 1
    assert "'LOCKDOWN_ALLOW_GROUP'" in messages[0].msg
    assert "the name of a group" in messages[0].msg
    assert panel_ids() == ["sessions_panel.E007"]


@pytest.mark.parametrize("value", [None, "incident", "Incident responders"])
def test_a_lockdown_allow_group_of_none_or_a_name_passes(settings, value):
    settings.SESSIONS_PANEL = {"LOCKDOWN_ALLOW_GROUP": value}
    assert panel_ids() == []


@pytest.mark.parametrize("value", ["yes", 1, 0, "auto"])
def test_a_revocation_cache_that_is_not_none_or_a_boolean_is_e007(settings, value):
    settings.SESSIONS_PANEL = {"REVOCATION_CACHE": value}
    messages = [m for m in run_checks() if m.id == "sessions_panel.E007"]
    assert len(messages) == 1
    assert "'REVOCATION_CACHE'" in messages[0].msg
    assert panel_ids() == ["sessions_panel.E007"]


@pytest.mark.parametrize("value", [None, True, False])
def test_a_revocation_cache_of_none_or_a_boolean_passes(settings, value):
    settings.SESSIONS_PANEL = {"REVOCATION_CACHE": value}
    assert panel_ids() == []
