"""A tracked engine is a drop-in: what application code sees is exactly what Django's
engine shows, before and after any kill.

Each test reproduces one point measured against the engines that kept a revocation
stamp in the session data: the stamp showed in ``items()``, ``keys()`` and
``get_decoded()``, changed under ``cycle_key``; after any Kill All, ``clear()`` and the
manager API made sessions that were refused; and a request in flight could re-key a
killed session alive.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.models import Session
from django.test import Client

from sessions_panel import termination
from sessions_panel.backends.signed_cookies import IDENTIFIER
from sessions_panel.backends.tracked import LEGACY_STAMP
from sessions_panel.models import SessionRecord
from tests.keys import indexed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_probe")]

StoreClass = Callable[[], Any]
KILLS = ["one", "user", "all"]


def django_twin(engine: str) -> Any:
    """Django's own engine that the tracked ``engine`` wraps."""
    return import_module(f"django.contrib.sessions.backends.{engine}").SessionStore


def kill(how: str, session: Any, user: Any) -> None:
    record = SessionRecord.objects.get(session_key=indexed(session))
    if how == "one":
        termination.kill_session(record.handle)
    elif how == "user":
        termination.kill_user(user)
    else:
        termination.kill_all()


def fresh(store_class: StoreClass, key: str) -> tuple[Any, dict[str, Any]]:
    """A new request's view of ``key``: the store and what it loaded."""
    store = store_class()(key)
    return store, store.load()


# -- nothing in the data ----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_data_is_exactly_what_the_application_wrote(engine, store_class, mode):
    store = store_class()()
    store["cart"] = [1, 2]
    if mode == "sync":
        store.save()
        loaded = store_class()(store.session_key)
        assert dict(loaded.items()) == {"cart": [1, 2]}
        assert list(loaded.keys()) == ["cart"]
    else:
        async_to_sync(store.asave)()
        loaded = store_class()(store.session_key)
        assert dict(async_to_sync(loaded.aitems)()) == {"cart": [1, 2]}
        assert list(async_to_sync(loaded.akeys)()) == ["cart"]
    # What Django's own engine reads from the same store is the same dict; a signed
    # cookie also carries the identifier the panel knows it by (an ordinary key there).
    plain = django_twin(engine)(store.session_key).load()
    if engine == "signed_cookies":
        assert plain.pop(IDENTIFIER) == indexed(store)
    assert plain == {"cart": [1, 2]}
    if engine in ("db", "cached_db"):
        assert Session.objects.get(session_key=store.session_key).get_decoded() == {"cart": [1, 2]}


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_cycle_key_keeps_the_data_exactly(engine, store_class, make_session, mode):
    session = make_session(cart=[1])
    store = store_class()(session.session_key)
    before = dict(store.items())
    old = store.session_key
    if mode == "sync":
        store.cycle_key()
        store.save()
    else:
        async_to_sync(store.acycle_key)()
        async_to_sync(store.asave)()
    assert store.session_key != old
    assert dict(store.items()) == before
    assert fresh(store_class, store.session_key)[1] == before
    assert fresh(store_class, old)[1] == {}


def test_a_stamp_left_by_an_older_version_is_not_shown(engine, store_class, make_session):
    session = make_session(cart=[1])
    store = django_twin(engine)(session.session_key)
    store[LEGACY_STAMP] = 1700000000.0
    store.save()
    assert fresh(store_class, session.session_key)[1] == {"cart": [1]}


# -- after a Kill All, Django's APIs still work ------------------------------------------


def test_clear_then_save_works_after_a_kill_all(engine, store_class, make_session):
    termination.kill_all()
    session = make_session(step=3)
    store = store_class()(session.session_key)
    assert store["step"] == 3
    store.clear()
    store["step"] = 1
    store.save()  # raised UpdateError once: the cleared data had lost its stamp
    assert fresh(store_class, store.session_key)[1] == {"step": 1}


def test_a_view_that_clears_the_session_after_a_kill_all_answers_normally(engine):
    client = Client()
    client.get("/probe/write/?value=wizard")
    termination.kill_all()
    client = Client()
    client.get("/probe/write/?value=wizard")  # a visit after the Kill All
    response = client.get("/probe/clear/")
    assert response.status_code == 200
    assert client.get("/probe/read/").content == b"restarted"


@pytest.mark.parametrize("engine", ["db", "cached_db"], indirect=True)
def test_the_manager_api_keeps_a_session_alive_after_a_kill_all(engine, store_class, make_session):
    termination.kill_all()
    session = make_session(y=1)
    row = Session.objects.get(session_key=session.session_key)
    Session.objects.save(row.session_key, {"y": 2}, row.expire_date)
    store = store_class()(session.session_key)
    if engine == "cached_db":
        store._cache.delete(store.cache_key)  # as Django's own test does: read the database
    assert store["y"] == 2


# -- a killed session cannot be re-keyed alive -------------------------------------------


@pytest.mark.parametrize("how", KILLS)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_request_in_flight_cannot_cycle_a_killed_session_into_a_live_one(
    engine, store_class, make_session, django_user_model, how, mode
):
    """A password change (``update_session_auth_hash``) or a login in a request that
    loaded the session before the kill: the response ends anonymous, whatever key
    the session was given."""
    alice = django_user_model.objects.create_user("alice")
    session = make_session(user=alice)
    in_flight = store_class()(session.session_key)
    assert in_flight[SESSION_KEY] == str(alice.pk)  # the request started before the kill

    kill(how, session, alice)
    if mode == "sync":
        in_flight.cycle_key()
    else:
        async_to_sync(in_flight.acycle_key)()
    in_flight[HASH_SESSION_KEY] = "new-hash"
    with pytest.raises(UpdateError):  # SessionMiddleware answers 400, as Django does
        in_flight.save()
    for key in (session.session_key, in_flight.session_key):
        assert SESSION_KEY not in fresh(store_class, key)[1]
        assert not SessionRecord.objects.filter(session_key=indexed(key)).exists()


@pytest.mark.parametrize("how", KILLS)
def test_a_login_from_an_anonymous_session_killed_meanwhile_ends_anonymous(
    engine, store_class, make_session, django_user_model, how
):
    alice = django_user_model.objects.create_user("alice")
    guest = make_session(cart=[1])
    in_flight = store_class()(guest.session_key)
    assert in_flight["cart"] == [1]  # loaded before the kill
    if how == "user":
        # A user kill names a user; the guest's session is not theirs, so a login
        # completing after it is a fresh login: it must work.
        termination.kill_user(alice)
    else:
        kill(how, guest, None)
    in_flight.cycle_key()  # django.contrib.auth.login()
    in_flight[SESSION_KEY] = str(alice.pk)
    if how == "user":
        in_flight.save()
        assert fresh(store_class, in_flight.session_key)[1][SESSION_KEY] == str(alice.pk)
        return
    with pytest.raises(UpdateError):
        in_flight.save()
    assert SESSION_KEY not in fresh(store_class, in_flight.session_key)[1]


def test_cycle_key_without_a_kill_is_not_refused_by_an_older_epoch(
    engine, store_class, make_session, django_user_model
):
    alice = django_user_model.objects.create_user("alice")
    termination.kill_user(alice)
    termination.kill_all()
    guest = make_session(cart=[1])  # issued after both epochs
    store = store_class()(guest.session_key)
    assert store["cart"] == [1]
    store.cycle_key()
    store[SESSION_KEY] = str(alice.pk)
    store.save()
    assert fresh(store_class, store.session_key)[1][SESSION_KEY] == str(alice.pk)


def test_the_password_changer_keeps_their_session_when_others_end(settings, engine, admin_user):
    settings.SESSIONS_PANEL = {"END_SESSIONS_ON_PASSWORD_CHANGE": True}
    admin_user.set_password("old-password-1")
    admin_user.save()
    changer, other = Client(), Client()
    changer.force_login(admin_user)
    other.force_login(admin_user)
    response = changer.post(
        "/admin/password_change/",
        {
            "old_password": "old-password-1",
            "new_password1": "a-new-password-2",
            "new_password2": "a-new-password-2",
        },
    )
    assert response.status_code == 302
    assert changer.get("/probe/whoami/").content == admin_user.get_username().encode()
    assert other.get("/probe/whoami/").content == b""


def test_logging_in_adds_nothing_to_the_session_data(engine, admin_user):
    """The re-authentication time the panel needs lives on the index row."""
    client = Client()
    client.force_login(admin_user)
    data = dict(client.session.items())
    assert set(data) == {SESSION_KEY, "_auth_user_backend", "_auth_user_hash"}
    assert SessionRecord.objects.get(session_key=indexed(client.session)).verified
