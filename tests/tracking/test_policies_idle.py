"""IDLE_TIMEOUT: a session unused for longer is refused on its next request (anonymous,
like a kill), recorded once, and purged by ``prune`` if nobody comes back; a fresh
session costs no query and no write more. On every tracked engine, sync and async."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase, UpdateError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions_panel.models import AuditEntry, SessionRecord, short_id_for
from tests.keys import indexed
from tests.policy_support import (
    PASSWORD,
    idle_for,
    killed_signals,  # noqa: F401 (a fixture)
    login_client,
    policy_entries,
    row,
    whoami,
)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_policies")]

IDLE = 1800  # 30 minutes
StoreClass = Callable[[], type[SessionBase]]


@pytest.fixture
def idle(settings: Any) -> int:
    settings.SESSIONS_PANEL = {"IDLE_TIMEOUT": IDLE}
    return IDLE


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)


def load(store_class: StoreClass, key: str) -> tuple[SessionBase, dict[str, Any]]:
    store = store_class()(key)
    return store, store.load()


def in_store(store_class: StoreClass, key: str) -> bool:
    return bool(store_class()().exists(key))


def writes(context: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in context.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


# -- refused, dropped, recorded -----------------------------------------------------------


def test_a_session_unused_past_the_timeout_is_refused_dropped_and_recorded(
    engine: str,
    idle: int,
    store_class: StoreClass,
    make_session: Any,
    alice: Any,
    killed_signals: list[dict[str, Any]],  # noqa: F811
) -> None:
    session = make_session(user=alice)
    key = session.session_key
    idle_for(key, idle + 60)

    store, data = load(store_class, key)

    assert data == {}
    assert store.session_key is None  # as Django does for a key it does not hold
    assert not in_store(store_class, key)
    assert row(key) is None
    [entry] = policy_entries()
    assert entry.reason == "idle 31 min (limit 30 min)"
    assert entry.detail == "refused on its next request"
    assert (entry.requested, entry.killed, entry.failed) == (1, 1, 0)
    assert entry.short_ids == [short_id_for(indexed(key))]
    assert entry.user_ids == [str(alice.pk)]
    assert entry.actor is None
    [signal] = killed_signals
    assert signal["scope"] == AuditEntry.SCOPE_POLICY
    assert signal["reason"] == entry.reason
    assert signal["short_ids"] == [short_id_for(indexed(key))]
    assert signal["audit"] == entry


def test_the_async_load_refuses_an_idle_session_too(
    engine: str, idle: int, store_class: StoreClass, make_session: Any, alice: Any
) -> None:
    key = make_session(user=alice).session_key
    idle_for(key, idle + 1)
    store = store_class()(key)

    assert async_to_sync(store.aload)() == {}

    assert store.session_key is None
    assert not in_store(store_class, key)
    assert row(key) is None
    assert len(policy_entries()) == 1


def test_guest_sessions_idle_out_too(
    engine: str, idle: int, store_class: StoreClass, make_session: Any
) -> None:
    key = make_session(cart=["book"]).session_key
    idle_for(key, idle + 5)

    assert load(store_class, key)[1] == {}
    [entry] = policy_entries()
    assert entry.user_ids == []


def test_a_session_used_within_the_timeout_lives_with_no_write(
    engine: str, idle: int, store_class: StoreClass, make_session: Any, alice: Any
) -> None:
    key = make_session(user=alice).session_key
    idle_for(key, idle - 30)

    with CaptureQueriesContext(connection) as context:
        store, data = load(store_class, key)

    assert data[SESSION_KEY] == str(alice.pk)
    assert store.session_key == key
    assert writes(context) == []
    assert policy_entries() == []


def test_the_timeout_is_off_by_default_and_with_zero(
    engine: str, settings: Any, store_class: StoreClass, make_session: Any, alice: Any
) -> None:
    key = make_session(user=alice).session_key
    idle_for(key, 365 * 86400)
    assert load(store_class, key)[1][SESSION_KEY] == str(alice.pk)
    settings.SESSIONS_PANEL = {"IDLE_TIMEOUT": 0}
    assert load(store_class, key)[1][SESSION_KEY] == str(alice.pk)
    assert policy_entries() == []


def test_a_session_the_index_has_not_timed_yet_is_not_idle(
    engine: str, idle: int, store_class: StoreClass, make_session: Any, alice: Any
) -> None:
    """A row from before ``seen`` was kept: its next "last seen" write times it."""
    key = make_session(user=alice).session_key
    SessionRecord.objects.filter(session_key=indexed(key)).update(seen=None)

    assert load(store_class, key)[1][SESSION_KEY] == str(alice.pk)


def test_an_in_flight_save_cannot_bring_an_idle_session_back(
    engine: str, idle: int, store_class: StoreClass, make_session: Any, alice: Any
) -> None:
    key = make_session(user=alice, cart=[1]).session_key
    in_flight = store_class()(key)
    assert in_flight["cart"] == [1]  # a request loaded it just before the timeout ...
    idle_for(key, idle + 1)
    assert load(store_class, key)[1] == {}  # ... another request finds it idle ...
    in_flight["cart"] = [1, 2]
    with pytest.raises(UpdateError):  # ... and the first one cannot save it back
        in_flight.save()
    assert load(store_class, key)[1] == {}
    assert row(key) is None


# -- through the middleware ---------------------------------------------------------------


def test_the_request_goes_on_anonymous_and_the_next_one_stays_so(
    engine: str, idle: int, alice: Any
) -> None:
    client, key = login_client("alice")
    assert whoami(client) == b"alice"
    idle_for(key, idle + 60)

    assert whoami(client) == b""
    assert whoami(client) == b""

    assert row(key) is None
    assert len(policy_entries()) == 1  # one entry per refused session, not per request


def test_an_idle_check_costs_a_request_no_query_and_no_write(
    engine: str, settings: Any, alice: Any
) -> None:
    """The load reads the index row's times and the database's now with the revocation
    state: the same queries with the policies on as off. (Off, a shared session cache
    would keep the state and save that query: compared here with the database check.)"""
    settings.SESSIONS_PANEL = {"REVOCATION_CACHE": False}
    client, _ = login_client("alice")
    whoami(client)

    def cost() -> tuple[int, list[str]]:
        with CaptureQueriesContext(connection) as context:
            for _ in range(3):
                assert whoami(client) == b"alice"
        return len(context.captured_queries), writes(context)

    off = cost()
    settings.SESSIONS_PANEL = {
        "IDLE_TIMEOUT": IDLE,
        "ABSOLUTE_LIFETIME": 12 * 3600,
        "REVOCATION_CACHE": False,
    }
    on = cost()
    assert on == off
    assert on == (3 * 2, [])


def test_a_last_seen_write_moves_the_idle_out(engine: str, idle: int, alice: Any) -> None:
    client, key = login_client("alice")
    idle_for(key, idle - 10)  # older than the interval: this request writes "last seen"
    before = row(key)
    assert before is not None and before.seen is not None

    assert whoami(client) == b"alice"

    after = row(key)
    assert after is not None and after.seen is not None
    assert after.seen - before.seen > idle - 20
    idle_for(key, idle - 10)
    assert whoami(client) == b"alice"  # idle again for less than the timeout


# -- prune --------------------------------------------------------------------------------


def test_prune_purges_idle_sessions_nobody_comes_back_for(
    engine: str,
    idle: int,
    store_class: StoreClass,
    make_session: Any,
    alice: Any,
    killed_signals: list[dict[str, Any]],  # noqa: F811
) -> None:
    gone = [make_session(user=alice).session_key, make_session().session_key]
    for key in gone:
        idle_for(key, idle + 120)
    stays = make_session(user=alice).session_key
    # A row from before "seen" was kept, idle by its "last seen": purged too.
    untimed = make_session().session_key
    idle_for(untimed, idle + 120)
    SessionRecord.objects.filter(session_key=indexed(untimed)).update(seen=None)
    gone.append(untimed)

    call_command("prune", stdout=io.StringIO())

    for key in gone:
        assert not in_store(store_class, key)
        assert row(key) is None
    assert in_store(store_class, stays) and row(stays) is not None
    [entry] = policy_entries()
    assert entry.reason == "idle over 30 min"
    assert entry.detail == "purged by manage.py prune"
    assert entry.killed == 3
    assert sorted(entry.short_ids) == sorted(short_id_for(indexed(k)) for k in gone)
    assert [s["scope"] for s in killed_signals] == [AuditEntry.SCOPE_POLICY]


def test_the_prune_summary_counts_sessions_ended_by_a_policy(
    idle: int, make_session: Any, settings: Any
) -> None:
    settings.SESSION_ENGINE = "sessions_panel.backends.db"
    idle_for(make_session().session_key, idle + 1)
    out = io.StringIO()
    call_command("prune", stdout=out)
    assert "1 sessions ended by a policy" in out.getvalue()
