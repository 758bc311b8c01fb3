"""One clock for every kill: the database's. Hosts whose clocks disagree agree on what
a kill ends; epochs only move forward; a Kill All from a host behind works.

The skewed-host tests run on PostgreSQL: an embedded SQLite database lives on the one
host that uses it, so there is no second clock to disagree with (``clock.py``). The
multi-host test (``tests/multihost``) runs the same scenarios on three real servers.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.utils import timezone

from sessions_panel import termination
from sessions_panel.models import AuditEntry, SessionRecord
from sessions_panel.tracking import clock, revocation
from tests.keys import indexed
from tests.page_support import HTMX, action_url, body, logged_in

pytestmark = pytest.mark.django_db

needs_a_server_clock = pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite is embedded: one host, one clock (the PostgreSQL job runs this)",
)


@pytest.fixture
def host_clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set this "host's" clock ``seconds`` away from the real time."""
    real_time = time.time

    def skew(seconds: float) -> None:
        monkeypatch.setattr(time, "time", lambda: real_time() + seconds)
        monkeypatch.setattr(timezone, "now", lambda: datetime.now(UTC) + timedelta(seconds=seconds))

    return skew


def alive(store_class: Any, key: str) -> bool:
    store = store_class()(key)
    store.load()
    return bool(store.session_key == key)


@needs_a_server_clock
def test_a_session_from_a_fast_host_ends_in_a_kill_all_from_a_slow_one(
    engine, store_class, make_session, host_clock
):
    host_clock(+3)
    fast = make_session(cart=[1])
    time.sleep(0.2)
    host_clock(-3)
    result = termination.kill_all()
    assert result.killed == 1  # the page says "Ended 1", and it happened
    assert not alive(store_class, fast.session_key)


@needs_a_server_clock
def test_a_user_kill_from_a_slow_host_ends_a_session_made_on_a_fast_one(
    engine, store_class, make_session, host_clock, django_user_model
):
    alice = django_user_model.objects.create_user("alice")
    host_clock(+3)
    fast = make_session(user=alice)
    time.sleep(0.2)
    host_clock(-3)
    assert termination.kill_user(alice).killed == 1
    assert not alive(store_class, fast.session_key)


@needs_a_server_clock
def test_a_login_on_a_slow_host_just_after_a_kill_all_from_a_fast_one_stays(
    engine, store_class, make_session, host_clock, django_user_model
):
    alice = django_user_model.objects.create_user("alice")
    host_clock(+3)
    termination.kill_all()
    time.sleep(0.2)
    host_clock(-3)
    login = make_session(user=alice)
    assert alive(store_class, login.session_key)
    assert SessionRecord.objects.filter(session_key=indexed(login)).exists()


@needs_a_server_clock
def test_issue_times_and_epochs_come_from_the_database_clock(engine, make_session, host_clock):
    host_clock(-3600)  # an app host an hour behind
    session = make_session()
    epoch = revocation.revoke_user(12345)
    issued = SessionRecord.objects.get(session_key=indexed(session)).issued
    database_now = clock.now("default")
    assert abs(database_now - epoch) < 60
    assert issued is not None and abs(database_now - issued) < 60


# -- epochs only move forward -------------------------------------------------------------


@pytest.mark.parametrize("scope", ["all", "user"])
def test_an_epoch_written_later_with_an_earlier_time_does_not_revive_anyone(
    engine, store_class, make_session, monkeypatch, django_user_model, scope
):
    """A Kill All from a host 30 s behind, or two Kill Alls committing in reverse order:
    the later write must not lower the epoch and bring ended sessions back."""
    alice = django_user_model.objects.create_user("alice")
    victim = make_session(user=alice)
    revoke = revocation.revoke_all if scope == "all" else lambda: revocation.revoke_user(alice.pk)
    first = revoke()
    monkeypatch.setattr(clock, "sql", lambda connection: ("%s", [first - 30]))
    assert revoke() == first
    assert not alive(store_class, victim.session_key)


def test_kill_all_from_a_host_behind_the_current_epoch_keeps_the_admin_and_reports(
    engine, admin_user, make_session, monkeypatch
):
    first = revocation.revoke_all()
    admin = logged_in(admin_user)  # signed in after the first Kill All
    make_session(cart=[1])
    monkeypatch.setattr(clock, "sql", lambda connection: ("%s", [first - 30]))
    response = admin.post(action_url("kill_all"), {}, **HTMX)
    assert response.status_code == 200  # was a 500: the admin's save was refused
    assert 'class="success"' in body(response)
    assert AuditEntry.objects.get().scope == AuditEntry.SCOPE_ALL
    assert admin.get("/admin/").status_code == 200
    assert SESSION_KEY in admin.session
