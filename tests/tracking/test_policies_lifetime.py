"""ABSOLUTE_LIFETIME: an authenticated session older than this since its login is refused
however active, recorded once, purged by ``prune``. "Since login" is the ``login()``
(``SessionRecord.logged_in``): a re-key keeps it, a new login restarts it. On every
tracked engine, sync and async."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.core.management import call_command
from django.test import Client

from sessions_panel.models import AuditEntry, SessionRecord, short_id_for
from tests.keys import indexed
from tests.policy_support import (
    PASSWORD,
    idle_for,
    killed_signals,  # noqa: F401 (a fixture)
    log_in,
    logged_in_for,
    login_client,
    move_back,
    policy_entries,
    row,
    whoami,
)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_policies")]

LIFETIME = 12 * 3600
HOUR = 3600
StoreClass = Callable[[], type[SessionBase]]


@pytest.fixture
def lifetime(settings: Any) -> int:
    settings.SESSIONS_PANEL = {"ABSOLUTE_LIFETIME": LIFETIME}
    return LIFETIME


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)


def load(store_class: StoreClass, key: str) -> dict[str, Any]:
    return store_class()(key).load()


# -- since login --------------------------------------------------------------------------


def test_a_login_records_when_it_happened_by_the_database_clock(engine: str, alice: Any) -> None:
    _, key = login_client("alice")
    record = row(key)
    assert record is not None and record.logged_in is not None and record.issued is not None
    # The login re-keys the session first (cycle_key), then logs the user in.
    assert 0 <= record.logged_in - record.issued < 5
    assert record.user_id == alice.pk


def test_a_session_older_than_its_lifetime_is_refused_however_active(
    engine: str,
    lifetime: int,
    alice: Any,
    killed_signals: list[dict[str, Any]],  # noqa: F811
) -> None:
    client, key = login_client("alice")
    logged_in_for(key, lifetime - 60)
    assert whoami(client) == b"alice"
    logged_in_for(key, 120)  # now 12 h 1 min since the login; last used just now

    assert whoami(client) == b""
    assert row(key) is None
    [entry] = policy_entries()
    assert entry.reason == "older than 12 h since login"
    assert entry.user_ids == [str(alice.pk)]
    assert entry.short_ids == [short_id_for(indexed(key))]
    assert [s["scope"] for s in killed_signals] == [AuditEntry.SCOPE_POLICY]
    assert whoami(client) == b""
    assert len(policy_entries()) == 1


def test_the_async_load_refuses_it_too(
    engine: str, lifetime: int, store_class: StoreClass, make_session: Any, alice: Any
) -> None:
    key = make_session(user=alice).session_key
    logged_in_for(key, lifetime + 1)
    store = store_class()(key)
    assert async_to_sync(store.aload)() == {}
    assert store.session_key is None
    assert row(key) is None
    assert not store_class()().exists(key)


def test_a_rekey_keeps_the_login_time(
    engine: str, lifetime: int, store_class: StoreClass, alice: Any
) -> None:
    """A password change re-keys the session (``update_session_auth_hash``): the session
    is no younger for it."""
    _, key = login_client("alice")
    logged_in_for(key, lifetime - HOUR)
    logged_in = row(key).logged_in  # type: ignore[union-attr]

    session = store_class()(key)
    session.cycle_key()
    session.save()
    new_key = session.session_key
    assert new_key is not None and new_key != key
    assert row(new_key).logged_in == logged_in  # type: ignore[union-attr]

    move_back(new_key, 2 * HOUR, "logged_in")
    assert load(store_class, new_key) == {}


def test_the_async_rekey_keeps_it_too(
    engine: str, lifetime: int, store_class: StoreClass, alice: Any
) -> None:
    _, key = login_client("alice")
    logged_in_for(key, lifetime - HOUR)
    logged_in = row(key).logged_in  # type: ignore[union-attr]
    session = store_class()(key)
    async_to_sync(session.acycle_key)()
    assert row(session.session_key).logged_in == logged_in  # type: ignore[arg-type, union-attr]


def test_a_password_change_through_the_admin_keeps_the_login_time(
    engine: str, lifetime: int, alice: Any
) -> None:
    client, key = login_client("alice")
    logged_in_for(key, lifetime - HOUR)
    logged_in = row(key).logged_in  # type: ignore[union-attr]
    new_password = "an entirely new passphrase 42"

    response = client.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password},
    )

    assert response.status_code == 302
    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != key  # update_session_auth_hash re-keyed it
    assert row(new_key).logged_in == logged_in  # type: ignore[union-attr]
    move_back(new_key, 2 * HOUR, "logged_in")
    assert whoami(client) == b""


def test_logging_in_again_restarts_it(engine: str, lifetime: int, alice: Any) -> None:
    client, key = login_client("alice")
    logged_in_for(key, lifetime - 60)

    response = log_in(client, "alice")  # signs in again, over the session it has

    assert response.status_code == 302
    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    logged_in_for(new_key, 120)  # 12 h 1 min after the first login, 2 min after this one
    assert whoami(client) == b"alice"


def test_a_guest_session_older_than_the_lifetime_logs_in_and_stays(
    engine: str, lifetime: int, make_session: Any, alice: Any
) -> None:
    """ "Since login", not since the guest visit the login started from."""
    guest = make_session(cart=["book"]).session_key
    move_back(guest, lifetime + HOUR, "issued")
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = guest

    assert log_in(client, "alice").status_code == 302
    assert whoami(client) == b"alice"


def test_guests_have_no_lifetime(
    engine: str, lifetime: int, store_class: StoreClass, make_session: Any
) -> None:
    key = make_session(cart=["book"]).session_key
    move_back(key, 10 * lifetime, "issued")
    assert load(store_class, key) == {"cart": ["book"]}


def test_a_session_logged_in_before_the_panel_kept_it_counts_from_its_issue(
    engine: str, lifetime: int, store_class: StoreClass, make_session: Any, alice: Any
) -> None:
    key = make_session(user=alice).session_key  # no login(): no login time
    assert row(key).logged_in is None  # type: ignore[union-attr]
    move_back(key, lifetime - 60, "issued")
    assert load(store_class, key)[SESSION_KEY] == str(alice.pk)
    move_back(key, 120, "issued")
    assert load(store_class, key) == {}


def test_a_session_with_no_time_at_all_counts_as_older_than_the_lifetime(
    engine: str, lifetime: int, store_class: StoreClass, make_session: Any, alice: Any
) -> None:
    key = make_session(user=alice).session_key
    SessionRecord.objects.filter(session_key=indexed(key)).update(issued=None, logged_in=None)
    assert load(store_class, key) == {}
    assert policy_entries()[0].reason == "login time unknown (lifetime 12 h)"


def test_the_lifetime_is_off_by_default(
    engine: str, store_class: StoreClass, make_session: Any, alice: Any
) -> None:
    key = make_session(user=alice).session_key
    SessionRecord.objects.filter(session_key=indexed(key)).update(issued=None, logged_in=None)
    assert load(store_class, key)[SESSION_KEY] == str(alice.pk)


def test_idle_and_lifetime_together_the_first_to_run_out_ends_it(
    engine: str, settings: Any, store_class: StoreClass, make_session: Any, alice: Any
) -> None:
    settings.SESSIONS_PANEL = {"IDLE_TIMEOUT": 1800, "ABSOLUTE_LIFETIME": LIFETIME}
    active = make_session(user=alice).session_key
    logged_in_for(active, LIFETIME + 1)
    resting = make_session(user=alice).session_key
    idle_for(resting, 1801)
    assert load(store_class, active) == {}
    assert load(store_class, resting) == {}
    reasons = [entry.reason for entry in policy_entries()]
    assert reasons == ["older than 12 h since login", "idle 30 min (limit 30 min)"]


# -- prune --------------------------------------------------------------------------------


def test_prune_purges_sessions_past_their_lifetime(
    engine: str, lifetime: int, store_class: StoreClass, make_session: Any, alice: Any
) -> None:
    old = make_session(user=alice).session_key
    logged_in_for(old, lifetime + 1)
    young = make_session(user=alice).session_key
    guest = make_session().session_key
    move_back(guest, 2 * lifetime, "issued")

    out = io.StringIO()
    call_command("prune", stdout=out)

    assert "1 sessions ended by a policy" in out.getvalue()
    assert row(old) is None and not store_class()().exists(old)
    assert row(young) is not None and row(guest) is not None
    [entry] = policy_entries()
    assert entry.reason == "older than 12 h since login"
    assert entry.short_ids == [short_id_for(indexed(old))]
