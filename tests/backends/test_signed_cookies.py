"""The tracked signed-cookie engine: what only it has to prove.

Its session key is the cookie itself (the whole signed payload), which never reaches
the server's storage; the index and the revocations know the session by an identifier
inside the payload. A kill cannot erase the data (it is in the browser): the same
cookie, replayed, must be refused.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.apps import apps
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends import signed_cookies as django_signed
from django.contrib.sessions.backends.base import UpdateError
from django.core import signing
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from sessions_panel import termination
from sessions_panel.backends.signed_cookies import (
    IDENTIFIER,
    SALT,
    SessionStore,
    legacy_identifier,
)
from sessions_panel.conf import PANEL_MIDDLEWARE
from sessions_panel.models import Revocation, SessionRecord
from sessions_panel.tracking import revocation
from tests.page_support import action_url, page_url

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_probe")]

PASSWORD = "correct horse battery staple"
ENGINE = "sessions_panel.backends.signed_cookies"


@pytest.fixture(autouse=True)
def _signed_cookies(settings: Any) -> None:
    settings.SESSION_ENGINE = ENGINE


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)


def payload(cookie: str) -> dict[str, Any]:
    """What the cookie carries, read as Django's engine reads it."""
    return signing.loads(cookie, salt=SALT)  # type: ignore[no-any-return]


def log_in(username: str = "alice") -> tuple[Client, str]:
    client = Client()
    response = client.post("/admin/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:300]
    return client, client.cookies[settings.SESSION_COOKIE_NAME].value


def replay(cookie: str) -> tuple[bytes, Any]:
    """A request from another browser that presents ``cookie`` (a stolen copy)."""
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = cookie
    response = thief.get("/probe/whoami/")
    return response.content, response.cookies.get(settings.SESSION_COOKIE_NAME)


def identifier(cookie: str) -> str:
    ident = payload(cookie)[IDENTIFIER]
    assert isinstance(ident, str)
    return ident


def authenticate(session: Any, user: Any) -> None:
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()


def every_stored_text() -> str:
    """Every value of every table of the panel, and of Django's session table, as text."""
    tables = [model._meta.db_table for model in apps.get_app_config("sessions_panel").get_models()]
    tables.append("django_session")
    found: list[str] = []
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            found.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(found)


# -- the identifier --------------------------------------------------------------------


def test_the_identifier_rides_in_the_cookie_and_the_application_never_sees_it() -> None:
    store = SessionStore()
    store["cart"] = ["book"]
    store.save()
    cookie = store.session_key
    assert cookie is not None

    ident = identifier(cookie)
    assert len(ident) == 32
    loaded = SessionStore(cookie)
    assert dict(loaded.items()) == {"cart": ["book"]}
    assert list(loaded.keys()) == ["cart"]
    assert IDENTIFIER not in loaded
    assert loaded.tracked_key() == ident

    # The same identifier on every later save, though the cookie changes.
    loaded["cart"] = ["book", "pen"]
    loaded.save()
    assert loaded.session_key != cookie
    assert identifier(loaded.session_key) == ident  # type: ignore[arg-type]


def test_the_index_row_is_keyed_by_the_identifier_not_the_cookie(alice: Any) -> None:
    client, cookie = log_in()

    record = SessionRecord.objects.get()
    assert record.session_key == identifier(cookie)
    assert record.user_id == alice.pk
    assert record.issued is not None  # issued when the identifier was made
    assert len(cookie) > 40  # would not even fit the column


def test_the_cookie_never_reaches_the_servers_storage(alice: Any, admin_user: Any) -> None:
    client, cookie = log_in()
    client.get("/probe/write/?value=x")  # a save: a new cookie, same identifier
    cookies = [cookie, client.cookies[settings.SESSION_COOKIE_NAME].value]
    admin = Client()
    admin.force_login(admin_user)
    record = SessionRecord.objects.get(user=alice)
    admin.post(action_url("kill"), {"handle": record.handle})
    assert Revocation.objects.filter(kind=Revocation.KEY).exists()

    stored = every_stored_text()
    for value in cookies:
        body, signature = value.rsplit(":", 1)[0], value.rsplit(":", 1)[1]
        assert value not in stored
        assert body not in stored
        assert signature not in stored


# -- a kill refuses the cookie it cannot erase -------------------------------------------


def test_kill_one_refuses_the_same_cookie_replayed(alice: Any) -> None:
    client, cookie = log_in()
    assert replay(cookie)[0] == b"alice"
    record = SessionRecord.objects.get(user=alice)

    result = termination.kill_session(record.handle)

    assert (result.killed, result.failed, result.store_fault) == (1, 0, False)
    assert not SessionRecord.objects.exists()
    content, set_cookie = replay(cookie)  # the client still holds it: refused
    assert content == b""
    assert set_cookie is not None and set_cookie.value == ""  # and told to drop it
    assert client.get("/probe/whoami/").content == b""
    assert not SessionRecord.objects.exists()  # a refused cookie is not indexed again
    assert not SessionStore().exists(cookie)
    assert not SessionStore().exists(record.session_key)


@pytest.mark.parametrize("how", ["user", "all"])
def test_kill_user_and_kill_all_refuse_the_cookie(alice: Any, django_user_model: Any, how: str):
    django_user_model.objects.create_user("bob", password=PASSWORD, is_staff=True)
    _, alices = log_in("alice")
    _, bobs = log_in("bob")

    if how == "user":
        termination.kill_user(alice)
    else:
        termination.kill_all()

    assert replay(alices)[0] == b""
    assert replay(bobs)[0] == (b"bob" if how == "user" else b"")
    assert SessionStore(alices).load() == {}


def test_a_killed_session_cannot_come_back_through_a_save_in_flight(alice: Any) -> None:
    _, cookie = log_in()
    in_flight = SessionStore(cookie)
    assert in_flight[SESSION_KEY] == str(alice.pk)
    termination.kill_session(SessionRecord.objects.get().handle)

    in_flight["cart"] = ["late"]
    with pytest.raises(UpdateError):
        in_flight.save()
    assert SessionStore(in_flight.session_key).load() == {}  # the new cookie is refused too
    assert not SessionRecord.objects.exists()


def test_logout_refuses_the_old_cookie(alice: Any) -> None:
    client, cookie = log_in()
    client.post("/admin/logout/")
    assert replay(cookie)[0] == b""  # Django's own engine would still accept it
    assert not SessionRecord.objects.exists()


def test_login_refuses_the_anonymous_cookie_it_replaced(alice: Any) -> None:
    client = Client()
    client.get("/probe/write/?value=cart")
    anonymous = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert replay(anonymous)[0] == b""
    response = client.post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302

    logged_in = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert identifier(logged_in) != identifier(anonymous)  # cycle_key: a new identifier
    assert SessionStore(anonymous).load() == {}  # the pre-login cookie is refused
    assert client.get("/probe/read/").content == b"cart"  # the data came along
    assert list(SessionRecord.objects.values_list("session_key", flat=True)) == [
        identifier(logged_in)
    ]


# -- markers are kept while a cookie could load, then pruned -----------------------------


def test_the_marker_outlives_every_cookie_it_refuses_and_then_goes(
    alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, cookie = log_in()
    termination.kill_session(SessionRecord.objects.get().handle)
    (marker,) = Revocation.objects.filter(kind=Revocation.KEY)
    age = timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert marker.expires is not None
    assert marker.expires >= timezone.now() + age - timedelta(minutes=1)

    SessionStore.clear_expired()
    assert Revocation.objects.filter(pk=marker.pk).exists()  # still needed
    assert SessionStore(cookie).load() == {}

    # SESSION_COOKIE_AGE later: the cookie is past its age (Django's own check refuses
    # it), and clear_expired (clearsessions) drops the marker.
    later = timezone.now() + age + timedelta(seconds=1)
    real_time = signing.time.time  # type: ignore[attr-defined]
    monkeypatch.setattr(
        signing, "time", SimpleNamespace(time=lambda: real_time() + age.total_seconds() + 1)
    )
    monkeypatch.setattr(timezone, "now", lambda: later)
    call_command("clearsessions")
    assert not Revocation.objects.filter(pk=marker.pk).exists()
    assert SessionStore(cookie).load() == {}


def test_clear_expired_prunes_index_rows_of_expired_sessions() -> None:
    live = SessionStore()
    live["x"] = 1
    live.save()
    short = SessionStore()
    short["x"] = 2
    short.set_expiry(-10)
    short.save()
    assert SessionRecord.objects.count() == 2

    SessionStore.clear_expired()

    assert list(SessionRecord.objects.values_list("session_key", flat=True)) == [live.tracked_key()]


# -- switching from Django's own engine --------------------------------------------------


def test_a_cookie_of_djangos_own_engine_still_loads_and_gets_an_identifier(alice: Any) -> None:
    plain = django_signed.SessionStore()
    authenticate(plain, alice)
    plain["cart"] = ["book"]
    plain.save()
    old = plain.session_key
    assert old is not None and IDENTIFIER not in payload(old)

    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = old
    assert client.get("/probe/whoami/").content == b"alice"  # nobody logged out
    record = SessionRecord.objects.get()  # indexed on its first request
    assert record.session_key == legacy_identifier(old)
    assert record.issued is None  # issued before the panel knew it

    client.get("/probe/write/?value=x")  # its next save writes the identifier in
    new = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert identifier(new) == record.session_key
    assert client.get("/probe/read/").content == b"x"
    assert SessionRecord.objects.get().pk == record.pk


def test_kill_all_refuses_a_cookie_of_djangos_own_engine_never_indexed(alice: Any) -> None:
    plain = django_signed.SessionStore()
    authenticate(plain, alice)
    plain.save()
    old = plain.session_key
    assert old is not None
    assert SessionStore(old)[SESSION_KEY] == str(alice.pk)

    termination.kill_all()

    assert replay(old)[0] == b""


# -- the rest of Django's API --------------------------------------------------------------


def test_a_tampered_or_foreign_cookie_loads_as_a_new_session_and_indexes_nothing() -> None:
    store = SessionStore()
    store["x"] = 1
    store.save()
    cookie = store.session_key
    assert cookie is not None
    SessionRecord.objects.all().delete()
    for bad in (cookie[:-2] + "xx", signing.dumps({"x": 1}, salt="other"), "garbage-cookie"):
        session = SessionStore(bad)
        assert session.load() == {}
        assert session.session_key is None
        assert session.touch(0) is False
    assert not SessionRecord.objects.exists()


def test_exists_answers_for_a_cookie_or_an_identifier_and_async_too(alice: Any) -> None:
    _, cookie = log_in()
    ident = identifier(cookie)
    store = SessionStore()
    assert store.exists(cookie) and store.exists(ident)
    assert async_to_sync(store.aexists)(cookie)
    assert not store.exists(None) and not store.exists("x" * 32)

    revocation.revoke_key(ident)

    assert not store.exists(cookie) and not store.exists(ident)


def test_flush_of_a_session_never_saved_revokes_nothing() -> None:
    store = SessionStore()
    store["x"] = 1
    store.flush()
    assert store.session_key is None
    assert not Revocation.objects.exists()


def test_purge_refuses_what_it_cannot_erase(alice: Any, settings: Any) -> None:
    """``manage.py prune`` ending an idle session: no data to delete, so a marker."""
    settings.SESSIONS_PANEL = {"IDLE_TIMEOUT": 1800, "LAST_SEEN_INTERVAL": 60}
    _, cookie = log_in()
    SessionRecord.objects.update(seen=0.0, last_seen=timezone.now() - timedelta(hours=1))

    call_command("prune", verbosity=0)

    assert not SessionRecord.objects.exists()
    assert replay(cookie)[0] == b""  # without its row, only the marker refuses it
    assert not SessionRecord.objects.exists()


def test_the_panel_works_with_it_as_the_sites_engine(admin_user: Any, settings: Any) -> None:
    assert PANEL_MIDDLEWARE in settings.MIDDLEWARE
    admin = Client()
    admin.force_login(admin_user)
    response = admin.get(page_url())
    assert response.status_code == 200
    assert "1 Active" in response.content.decode()
