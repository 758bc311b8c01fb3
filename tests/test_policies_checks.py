"""The policy settings' checks, by ID: E007 with the allowed range, W002 for an idle
timeout the "last seen" writes are too coarse for."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks

pytestmark = pytest.mark.django_db


SECONDS_RANGE = "must be None or 0 (off), or a whole number of seconds (1 or more)."
CAP_RANGE = "must be None or 0 (no cap), or a whole number of sessions (1 or more)."


def panel_ids() -> list[str]:
    return sorted(m.id for m in run_checks() if m.id and m.id.startswith("sessions_panel."))


def message(check_id: str) -> str:
    [found] = [m for m in run_checks() if m.id == check_id]
    return f"{found.msg} {found.hint or ''}"


def resolver(user: Any) -> int | None:
    return None


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("IDLE_TIMEOUT", -1, SECONDS_RANGE),
        ("IDLE_TIMEOUT", 1.5, SECONDS_RANGE),
        ("IDLE_TIMEOUT", "1800", SECONDS_RANGE),
        ("IDLE_TIMEOUT", True, SECONDS_RANGE),
        ("ABSOLUTE_LIFETIME", -3600, SECONDS_RANGE),
        ("ABSOLUTE_LIFETIME", "12h", SECONDS_RANGE),
        ("MAX_SESSIONS_PER_USER", -1, CAP_RANGE),
        ("MAX_SESSIONS_PER_USER", 2.0, CAP_RANGE),
        ("MAX_SESSIONS_ACTION", "end-oldest", '"end_oldest" or "refuse"'),
        ("MAX_SESSIONS_ACTION", None, '"end_oldest" or "refuse"'),
        ("MAX_SESSIONS_RESOLVER", "no.such.resolver", "dotted path of a callable (user)"),
        ("MAX_SESSIONS_RESOLVER", 3, "dotted path of a callable (user)"),
        ("MAX_SESSIONS_RESOLVER", "sessions_panel.conf.DEFAULTS", "dotted path of a callable"),
    ],
)
def test_e007_names_the_key_and_the_allowed_range(
    settings: Any, name: str, value: Any, allowed: str
) -> None:
    settings.SESSIONS_PANEL = {name: value}
    assert panel_ids() == ["sessions_panel.E007"]
    text = message("sessions_panel.E007")
    assert repr(name) in text
    assert allowed in text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IDLE_TIMEOUT", None),
        ("IDLE_TIMEOUT", 0),
        ("IDLE_TIMEOUT", 1800),
        ("ABSOLUTE_LIFETIME", None),
        ("ABSOLUTE_LIFETIME", 0),
        ("ABSOLUTE_LIFETIME", 43200),
        ("MAX_SESSIONS_PER_USER", None),
        ("MAX_SESSIONS_PER_USER", 0),
        ("MAX_SESSIONS_PER_USER", 3),
        ("MAX_SESSIONS_ACTION", "end_oldest"),
        ("MAX_SESSIONS_ACTION", "refuse"),
        ("MAX_SESSIONS_RESOLVER", None),
        ("MAX_SESSIONS_RESOLVER", "tests.test_policies_checks.resolver"),
        ("MAX_SESSIONS_RESOLVER", resolver),
    ],
)
def test_valid_policy_values_pass(settings: Any, name: str, value: Any) -> None:
    settings.SESSIONS_PANEL = {name: value}
    assert panel_ids() == []


@pytest.mark.parametrize(
    ("idle", "interval"), [(119, 60), (60, 60), (1, 60), (599, 300), (30, None)]
)
def test_w002_an_idle_timeout_under_twice_the_last_seen_interval(
    settings: Any, idle: int, interval: int | None
) -> None:
    config: dict[str, Any] = {"IDLE_TIMEOUT": idle}
    if interval is not None:
        config["LAST_SEEN_INTERVAL"] = interval
    settings.SESSIONS_PANEL = config
    assert panel_ids() == ["sessions_panel.W002"]
    text = message("sessions_panel.W002")
    assert f"({idle} s) is less than twice LAST_SEEN_INTERVAL ({interval or 60} s)" in text
    assert f"Raise IDLE_TIMEOUT to {2 * (interval or 60)} or more" in text


@pytest.mark.parametrize(
    ("idle", "interval"), [(120, 60), (1800, None), (None, 60), (0, 60), (10, 0), (1800, 900)]
)
def test_no_w002_with_room_for_the_interval_or_no_timeout(
    settings: Any, idle: int | None, interval: int | None
) -> None:
    config: dict[str, Any] = {"IDLE_TIMEOUT": idle}
    if interval is not None:
        config["LAST_SEEN_INTERVAL"] = interval
    settings.SESSIONS_PANEL = config
    assert panel_ids() == []


def test_an_invalid_idle_timeout_is_e007_alone(settings: Any) -> None:
    settings.SESSIONS_PANEL = {"IDLE_TIMEOUT": "30", "LAST_SEEN_INTERVAL": 60}
    assert panel_ids() == ["sessions_panel.E007"]
