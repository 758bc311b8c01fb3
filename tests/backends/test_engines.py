"""The tracked engines keep the index exact, keep Django's storage format, never adopt an
unknown key, and refuse killed sessions — on every engine, sync and async."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from importlib import import_module
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends import file as django_file
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, SessionBase, UpdateError
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from django.utils.crypto import get_random_string

from sessions_panel import termination
from sessions_panel.backends import file as tracked_file
from sessions_panel.models import SessionRecord
from sessions_panel.tracking import revocation
from sessions_panel.tracking.client import ClientInfo
from tests.keys import indexed

pytestmark = pytest.mark.django_db

StoreClass = Callable[[], type[SessionBase]]
MakeSession = Callable[..., SessionBase]

CLIENT = ClientInfo(ip="198.51.100.20", user_agent="Mozilla/5.0 (async)", application="Shop")


@pytest.fixture(autouse=True)
def _own_file_store(tmp_path: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """File sessions of this module live in their own directory, for exact counts."""
    settings.SESSION_FILE_PATH = str(tmp_path)
    for cls in (django_file.SessionStore, tracked_file.SessionStore):
        monkeypatch.setattr(cls, "_storage_path", str(tmp_path), raising=False)


@pytest.fixture
def user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password="pw", is_staff=True)


@pytest.fixture
def other_user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("bob", password="pw")


def plain_store(engine: str) -> type[SessionBase]:
    """Django's own engine of the same kind as the tracked one."""
    return import_module(f"django.contrib.sessions.backends.{engine}").SessionStore  # type: ignore[no-any-return]


def authenticate(session: SessionBase, user: Any) -> None:
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()


def row(key: str | None) -> SessionRecord | None:
    return SessionRecord.objects.filter(session_key=indexed(key)).first()


def in_store(store_cls: type[SessionBase], key: str) -> bool:
    """A fresh read of the real store (cache and/or database and/or file)."""
    return bool(store_cls().exists(key))


def stored_keys(engine: str) -> set[str]:
    """Every key the database or the file directory holds (the cache is checked per key)."""
    if engine in ("db", "cached_db"):
        return set(Session.objects.values_list("session_key", flat=True))
    if engine == "file":
        prefix = settings.SESSION_COOKIE_NAME
        return {n.removeprefix(prefix) for n in os.listdir(settings.SESSION_FILE_PATH)}
    return set()


def random_keys(count: int) -> Iterator[str]:
    for _ in range(count):
        yield get_random_string(32, VALID_KEY_CHARS)


# -- sync lifecycle ---------------------------------------------------------------------


def test_create_writes_one_row_with_user_metadata_and_store_expiry(
    engine: str, make_session: MakeSession, store_class: StoreClass, user: Any
) -> None:
    session = make_session(user=user, ip="2001:db8::7", application="Shop")

    record = SessionRecord.objects.get()
    assert record.session_key == indexed(session)
    assert record.user_id == user.pk
    assert record.ip == "2001:db8::7"
    assert record.application == "Shop"
    assert record.user_agent.startswith("Mozilla/5.0")
    assert abs(record.expiry - session.get_expiry_date()) < timedelta(seconds=5)
    assert session.session_key is not None and in_store(store_class(), session.session_key)


def test_create_of_a_guest_session_writes_a_row_without_user(
    engine: str, make_session: MakeSession
) -> None:
    session = make_session(cart=["book"])

    record = SessionRecord.objects.get()
    assert record.session_key == indexed(session)
    assert record.user_id is None


def test_saving_a_modified_session_updates_its_row(
    engine: str, make_session: MakeSession, store_class: StoreClass, user: Any
) -> None:
    guest = make_session(ip="203.0.113.7")
    before = SessionRecord.objects.get()
    assert before.user_id is None

    later = store_class()(guest.session_key)  # a later request, a fresh store object
    later.client = ClientInfo(ip="198.51.100.9", user_agent="Other/1.0", application="Blog")  # type: ignore[attr-defined]
    authenticate(later, user)
    later.set_expiry(3600)
    later.save()

    after = SessionRecord.objects.get()
    assert after.pk == before.pk  # the same row, updated in place
    assert after.user_id == user.pk
    assert after.ip == "198.51.100.9"
    assert after.application == "Blog"
    assert before.expiry - after.expiry > timedelta(days=13)  # two weeks → one hour
    assert abs(after.expiry - (timezone.now() + timedelta(hours=1))) < timedelta(minutes=1)


def test_cycle_key_replaces_the_old_row_with_one_for_the_new_key(
    engine: str, make_session: MakeSession, store_class: StoreClass, user: Any
) -> None:
    session = make_session(user=user)
    old_key = session.session_key
    assert old_key is not None

    session.cycle_key()

    new_key = session.session_key
    assert new_key is not None and new_key != old_key
    assert row(old_key) is None
    record = SessionRecord.objects.get()
    assert record.session_key == indexed(new_key)
    assert record.user_id == user.pk
    assert not in_store(store_class(), old_key)
    assert store_class()(new_key)[SESSION_KEY] == str(user.pk)


def test_flush_leaves_no_row_and_nothing_in_the_store(
    engine: str, make_session: MakeSession, store_class: StoreClass, user: Any
) -> None:
    session = make_session(user=user)
    key = session.session_key
    assert key is not None and row(key) is not None

    session.flush()

    assert session.session_key is None
    assert SessionRecord.objects.count() == 0
    assert not in_store(store_class(), key)


@pytest.mark.parametrize("how", ["own key", "by key from another store"])
def test_delete_removes_only_that_sessions_row(
    engine: str, how: str, make_session: MakeSession, store_class: StoreClass, user: Any
) -> None:
    victim = make_session(user=user)
    bystander = make_session()
    key = victim.session_key
    assert key is not None and bystander.session_key is not None

    if how == "own key":
        victim.delete()
    else:
        store_class()().delete(key)

    assert row(key) is None
    assert not in_store(store_class(), key)
    assert row(bystander.session_key) is not None
    assert in_store(store_class(), bystander.session_key)


def test_expired_session_is_not_listed_and_clear_expired_prunes_its_row(
    engine: str, make_session: MakeSession, store_class: StoreClass
) -> None:
    live = make_session()
    expired = make_session()
    expired.set_expiry(-10)  # saved with an expiry ten seconds in the past
    expired.save()

    assert SessionRecord.objects.count() == 2
    assert list(SessionRecord.objects.live().values_list("session_key", flat=True)) == [
        indexed(live)
    ]

    store_class().clear_expired()

    assert list(SessionRecord.objects.values_list("session_key", flat=True)) == [indexed(live)]
    assert in_store(store_class(), live.session_key)  # type: ignore[arg-type]


# -- async lifecycle --------------------------------------------------------------------


async def _acreate(store_cls: type[SessionBase], user: Any = None) -> SessionBase:
    session = store_cls()
    session.client = CLIENT  # type: ignore[attr-defined]
    if user is not None:
        await session.aset(SESSION_KEY, user._meta.pk.value_to_string(user))
        await session.aset(BACKEND_SESSION_KEY, "django.contrib.auth.backends.ModelBackend")
        await session.aset(HASH_SESSION_KEY, user.get_session_auth_hash())
    await session.acreate()
    return session


def test_acreate_writes_one_row(engine: str, store_class: StoreClass, user: Any) -> None:
    session = async_to_sync(_acreate)(store_class(), user)

    record = SessionRecord.objects.get()
    assert record.session_key == indexed(session)
    assert record.user_id == user.pk
    assert record.ip == CLIENT.ip
    assert record.application == "Shop"
    assert session.session_key is not None and in_store(store_class(), session.session_key)


def test_asave_of_a_modified_session_updates_its_row(
    engine: str, store_class: StoreClass, user: Any
) -> None:
    guest = async_to_sync(_acreate)(store_class())
    before = SessionRecord.objects.get()
    assert before.user_id is None

    async def modify() -> None:
        later = store_class()(guest.session_key)
        await later.aset(SESSION_KEY, user._meta.pk.value_to_string(user))
        await later.aset_expiry(3600)
        await later.asave()

    async_to_sync(modify)()

    after = SessionRecord.objects.get()
    assert after.pk == before.pk
    assert after.user_id == user.pk
    assert before.expiry - after.expiry > timedelta(days=13)


def test_acycle_key_replaces_the_old_row_with_one_for_the_new_key(
    engine: str, store_class: StoreClass, user: Any
) -> None:
    session = async_to_sync(_acreate)(store_class(), user)
    old_key = session.session_key
    assert old_key is not None

    async_to_sync(session.acycle_key)()

    assert session.session_key not in (None, old_key)
    assert row(old_key) is None
    record = SessionRecord.objects.get()
    assert record.session_key == indexed(session)
    assert record.user_id == user.pk
    assert not in_store(store_class(), old_key)


def test_aflush_leaves_no_row_and_nothing_in_the_store(
    engine: str, store_class: StoreClass, user: Any
) -> None:
    session = async_to_sync(_acreate)(store_class(), user)
    key = session.session_key
    assert key is not None and row(key) is not None

    async_to_sync(session.aflush)()

    assert session.session_key is None
    assert SessionRecord.objects.count() == 0
    assert not in_store(store_class(), key)


def test_adelete_removes_only_that_sessions_row(
    engine: str, store_class: StoreClass, user: Any
) -> None:
    victim = async_to_sync(_acreate)(store_class(), user)
    bystander = async_to_sync(_acreate)(store_class())
    key = victim.session_key
    assert key is not None

    async_to_sync(store_class()().adelete)(key)

    assert row(key) is None
    assert not in_store(store_class(), key)
    assert row(bystander.session_key) is not None


def test_aclear_expired_prunes_only_expired_rows(engine: str, store_class: StoreClass) -> None:
    live = async_to_sync(_acreate)(store_class())

    async def expire() -> str:
        session = await _acreate(store_class())
        await session.aset_expiry(-10)
        await session.asave()
        return session.session_key  # type: ignore[return-value]

    expired_key = async_to_sync(expire)()
    assert set(SessionRecord.objects.values_list("session_key", flat=True)) == {
        indexed(live),
        indexed(expired_key),
    }
    assert not SessionRecord.objects.live().filter(session_key=indexed(expired_key)).exists()

    async_to_sync(store_class().aclear_expired)()

    assert list(SessionRecord.objects.values_list("session_key", flat=True)) == [indexed(live)]


# -- storage format ---------------------------------------------------------------------


def test_tracked_session_loads_with_djangos_plain_engine(
    engine: str, make_session: MakeSession, user: Any
) -> None:
    tracked = make_session(user=user, cart=["book", "pen"])

    plain = plain_store(engine)(tracked.session_key)

    assert plain[SESSION_KEY] == str(user.pk)
    assert plain["cart"] == ["book", "pen"]
    assert plain.session_key == tracked.session_key


def test_plain_engine_session_loads_with_the_tracked_engine_and_saves_back(
    engine: str, store_class: StoreClass, user: Any
) -> None:
    plain = plain_store(engine)()
    authenticate(plain, user)
    plain["cart"] = ["book"]
    plain.create()
    if plain.session_key is None:  # signed cookies: create() only marks it modified
        plain.save()
    key = plain.session_key
    assert key is not None

    tracked = store_class()(key)
    assert tracked[SESSION_KEY] == str(user.pk)
    assert tracked["cart"] == ["book"]
    tracked["cart"] = ["book", "pen"]
    tracked.save()

    # Switching back loses nothing (the signed-cookie engine's save makes a new cookie).
    assert tracked.session_key == key or engine == "signed_cookies"
    assert plain_store(engine)(tracked.session_key)["cart"] == ["book", "pen"]
    assert row(tracked.session_key) is not None


# -- unknown keys -----------------------------------------------------------------------


def test_two_thousand_random_keys_loaded_through_the_engine_create_nothing(
    engine: str, store_class: StoreClass
) -> None:
    store_cls = store_class()
    keys = list(random_keys(2000))
    before = stored_keys(engine)

    for key in keys:
        session = store_cls(key)
        assert session.load() == {}
        assert session.session_key is None  # never adopted
        assert session.touch(0) is False  # type: ignore[attr-defined]

    assert SessionRecord.objects.count() == 0
    assert stored_keys(engine) == before
    assert not any(in_store(store_cls, key) for key in keys)


@pytest.mark.urls("tests.urls_probe")
@pytest.mark.parametrize("save_every_request", [False, True])
def test_two_thousand_random_session_cookies_through_the_middleware_create_nothing(
    engine: str, store_class: StoreClass, settings: Any, save_every_request: bool
) -> None:
    settings.SESSION_SAVE_EVERY_REQUEST = save_every_request
    client = Client()
    keys = list(random_keys(2000))
    before = stored_keys(engine)

    for index, key in enumerate(keys):
        client.cookies[settings.SESSION_COOKIE_NAME] = key
        if index % 10 == 0:
            response = client.get("/admin/")
            assert response.status_code == 302
        else:
            response = client.get("/probe/read/")
            assert response.status_code == 200
        assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""  # cookie deleted

    assert SessionRecord.objects.count() == 0
    assert stored_keys(engine) == before
    assert not any(in_store(store_class(), key) for key in keys)


@pytest.mark.urls("tests.urls_probe")
def test_random_cookie_on_a_writing_request_gets_a_fresh_key_not_the_forged_one(
    engine: str, store_class: StoreClass, client: Client
) -> None:
    forged = get_random_string(32, VALID_KEY_CHARS)
    client.cookies[settings.SESSION_COOKIE_NAME] = forged

    response = client.get("/probe/write/")

    assert response.status_code == 200
    new_key = response.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key not in ("", forged)
    assert list(SessionRecord.objects.values_list("session_key", flat=True)) == [indexed(new_key)]
    assert not in_store(store_class(), forged)


# -- revocation -------------------------------------------------------------------------


def _kill(key: str) -> None:
    record = SessionRecord.objects.get(session_key=indexed(key))
    result = termination.kill_session(record.handle)
    assert (result.killed, result.failed) == (1, 0)


def test_killed_session_cannot_be_loaded_by_a_fresh_store(
    engine: str, make_session: MakeSession, store_class: StoreClass, user: Any
) -> None:
    key = make_session(user=user).session_key
    assert key is not None

    _kill(key)

    fresh = store_class()(key)
    assert fresh.load() == {}
    assert fresh.session_key is None
    assert not in_store(store_class(), key)
    assert row(key) is None


def test_in_flight_save_after_a_kill_raises_update_error_and_the_key_stays_dead(
    engine: str, make_session: MakeSession, store_class: StoreClass, user: Any
) -> None:
    key = make_session(user=user).session_key
    assert key is not None
    in_flight = store_class()(key)
    assert in_flight[SESSION_KEY] == str(user.pk)  # loaded before the kill

    _kill(key)
    in_flight["cart"] = ["late write"]
    with pytest.raises(UpdateError):
        in_flight.save()

    assert store_class()(key).load() == {}
    assert not in_store(store_class(), key)
    assert row(key) is None


def test_in_flight_asave_after_a_kill_raises_update_error_and_the_key_stays_dead(
    engine: str, make_session: MakeSession, store_class: StoreClass, user: Any
) -> None:
    key = make_session(user=user).session_key
    assert key is not None
    in_flight = store_class()(key)
    assert async_to_sync(in_flight.aget)(SESSION_KEY) == str(user.pk)

    _kill(key)

    async def late_write() -> None:
        await in_flight.aset("cart", ["late write"])
        await in_flight.asave()

    with pytest.raises(UpdateError):
        async_to_sync(late_write)()
    assert async_to_sync(store_class()(key).aload)() == {}
    assert not in_store(store_class(), key)
    assert row(key) is None


@pytest.mark.parametrize("revoke", ["all", "user"])
def test_in_flight_save_after_an_epoch_revocation_raises_and_indexes_nothing(
    engine: str, store_class: StoreClass, user: Any, revoke: str
) -> None:
    # A session the index never saw: the epoch ends it, but its data is still stored.
    plain = plain_store(engine)()
    authenticate(plain, user)
    plain.create()
    if plain.session_key is None:  # signed cookies: create() only marks it modified
        plain.save()
    key = plain.session_key
    assert key is not None
    in_flight = store_class()(key)
    assert in_flight[SESSION_KEY] == str(user.pk)

    if revoke == "all":
        revocation.revoke_all()
    else:
        revocation.revoke_user(user.pk)
    in_flight["cart"] = ["late write"]
    with pytest.raises(UpdateError):
        in_flight.save()

    assert SessionRecord.objects.count() == 0
    assert "cart" not in plain_store(engine)(key).load()


def test_in_flight_asave_after_revoke_all_raises_and_indexes_nothing(
    engine: str, store_class: StoreClass, user: Any
) -> None:
    plain = plain_store(engine)()
    authenticate(plain, user)
    plain.create()
    if plain.session_key is None:  # signed cookies: create() only marks it modified
        plain.save()
    key = plain.session_key
    assert key is not None
    in_flight = store_class()(key)
    assert async_to_sync(in_flight.aget)(SESSION_KEY) == str(user.pk)

    revocation.revoke_all()

    async def late_write() -> None:
        await in_flight.aset("cart", ["late write"])
        await in_flight.asave()

    with pytest.raises(UpdateError):
        async_to_sync(late_write)()
    assert SessionRecord.objects.count() == 0


@pytest.mark.urls("tests.urls_probe")
def test_killed_key_written_back_behind_the_panels_back_is_still_refused(
    engine: str, make_session: MakeSession, store_class: StoreClass, user: Any
) -> None:
    key = make_session(user=user).session_key
    assert key is not None
    # A process still on Django's plain engine loaded the session before the kill...
    stale = plain_store(engine)(key)
    assert stale[SESSION_KEY] == str(user.pk)
    _kill(key)

    # ...and its write lands after the kill (the race the plain engines lose).
    stale.save(must_create=True)
    assert plain_store(engine)(key)[SESSION_KEY] == str(user.pk)

    fresh = store_class()(key)
    assert fresh.load() == {}
    assert fresh.session_key is None
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    assert client.get("/probe/whoami/").content == b""  # anonymous
    assert row(key) is None


def test_revoke_all_refuses_an_unindexed_session_made_by_djangos_plain_engine(
    engine: str, make_session: MakeSession, store_class: StoreClass, user: Any
) -> None:
    plain = plain_store(engine)()
    authenticate(plain, user)
    plain.create()
    if plain.session_key is None:  # signed cookies: create() only marks it modified
        plain.save()
    key = plain.session_key
    assert key is not None
    assert SessionRecord.objects.count() == 0
    assert store_class()(key)[SESSION_KEY] == str(user.pk)  # accepted before

    revocation.revoke_all()

    refused = store_class()(key)
    assert refused.load() == {}
    assert refused.session_key is None
    newer = make_session(user=user)  # stamped after the epoch
    assert store_class()(newer.session_key)[SESSION_KEY] == str(user.pk)


def test_revoke_user_refuses_that_users_sessions_and_spares_others(
    engine: str,
    make_session: MakeSession,
    store_class: StoreClass,
    user: Any,
    other_user: Any,
) -> None:
    mine = make_session(user=user).session_key
    theirs = make_session(user=other_user).session_key
    guest = make_session().session_key

    revocation.revoke_user(user.pk)

    assert store_class()(mine).load() == {}
    assert store_class()(theirs)[SESSION_KEY] == str(other_user.pk)
    spared = store_class()(guest)
    spared.load()
    assert spared.session_key == guest
    assert spared.session_key == guest
