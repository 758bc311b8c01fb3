""" "Last seen" is written at most once per interval, never extends the session, and a
request without a session cookie costs no query at all."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import timedelta
from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends import file as django_file
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions_panel.backends import file as tracked_file
from sessions_panel.models import Revocation, SeenAddress, SessionRecord
from sessions_panel.tracking.index_writer import recently_seen
from tests.keys import indexed
from tests.revocation_support import session_queries

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_probe")]

PASSWORD = "correct horse battery staple"
REVOCATION_TABLE = Revocation._meta.db_table
TABLE = SessionRecord._meta.db_table
SESSION_TABLE = Session._meta.db_table


@pytest.fixture(autouse=True)
def _own_file_store(tmp_path: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.SESSION_FILE_PATH = str(tmp_path)
    for cls in (django_file.SessionStore, tracked_file.SessionStore):
        monkeypatch.setattr(cls, "_storage_path", str(tmp_path), raising=False)


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)


def index_writes(context: CaptureQueriesContext) -> int:
    """INSERT/UPDATE/DELETE statements on the session index among the captured queries."""
    return sum(
        1
        for query in context.captured_queries
        if query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and TABLE in query["sql"]
    )


def index_queries(context: CaptureQueriesContext) -> list[str]:
    """Statements on the session index, but for the revocation check that reads the
    key's issue time from it (the database engines' session load, or the other engines'
    one revocation statement): every request with a session makes that one."""
    return [
        q["sql"]
        for q in context.captured_queries
        if TABLE in q["sql"] and SESSION_TABLE not in q["sql"] and REVOCATION_TABLE not in q["sql"]
    ]


def writes(context: CaptureQueriesContext) -> int:
    return sum(
        1
        for query in context.captured_queries
        if query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    )


def logged_in_client(username: str = "alice") -> tuple[Client, str]:
    client = Client()
    response = client.post("/admin/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client, client.cookies[settings.SESSION_COOKIE_NAME].value


def age_last_seen(key: str, by: timedelta) -> None:
    """As if ``by`` had passed since the last touch (and this process had restarted)."""
    SessionRecord.objects.filter(session_key=indexed(key)).update(last_seen=timezone.now() - by)
    recently_seen.forget(indexed(key) or key)


def test_hundred_requests_after_the_interval_write_the_index_exactly_once(
    engine: str, alice: Any
) -> None:
    client, key = logged_in_client()
    age_last_seen(key, timedelta(minutes=5))
    stale = SessionRecord.objects.get().last_seen

    with CaptureQueriesContext(connection) as context:
        for _ in range(100):
            assert client.get("/probe/whoami/").content == b"alice"

    assert index_writes(context) == 1
    assert writes(context) == 1
    # ... and read once: after writing, this process remembers the row is fresh.
    reads = [sql for sql in index_queries(context) if sql.startswith("SELECT")]
    assert len(reads) == 1
    assert SessionRecord.objects.get().last_seen - stale > timedelta(minutes=4)


def test_request_within_the_interval_makes_no_write_even_in_a_fresh_process(
    engine: str, alice: Any
) -> None:
    client, key = logged_in_client()
    age_last_seen(key, timedelta(seconds=30))  # default interval: 60 s
    before = SessionRecord.objects.get().last_seen

    with CaptureQueriesContext(connection) as context:
        assert client.get("/probe/whoami/").status_code == 200
    with CaptureQueriesContext(connection) as again:
        assert client.get("/probe/whoami/").status_code == 200

    assert writes(context) == 0
    assert SessionRecord.objects.get().last_seen == before
    assert index_queries(again) == []


def test_request_right_after_login_makes_no_index_query_at_all(engine: str, alice: Any) -> None:
    client, _ = logged_in_client()

    with CaptureQueriesContext(connection) as context:
        assert client.get("/probe/whoami/").content == b"alice"

    assert index_queries(context) == []


def test_authenticated_request_costs_at_most_one_query_more_than_djangos_engine_and_no_write(
    engine: str, alice: Any, settings: Any
) -> None:
    client, _ = logged_in_client()
    client.get("/probe/whoami/")
    with CaptureQueriesContext(connection) as tracked:
        assert client.get("/probe/whoami/").content == b"alice"

    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{engine}"
    plain_client = Client()  # same cookie, Django's own engine (same storage format)
    plain_client.cookies = client.cookies
    with CaptureQueriesContext(connection) as plain:
        assert plain_client.get("/probe/whoami/").content == b"alice"

    # The revocation check: its own query, but on the db engine it rides in the load
    # (and a shared cache may keep it: see revocation_support).
    assert len(tracked) == len(plain) + (0 if engine == "db" else session_queries(engine))
    assert writes(tracked) == 0


def test_every_request_writes_when_the_interval_is_zero(
    engine: str, alice: Any, settings: Any
) -> None:
    client, _ = logged_in_client()
    settings.SESSIONS_PANEL = {"LAST_SEEN_INTERVAL": 0}

    with CaptureQueriesContext(connection) as context:
        for _ in range(3):
            client.get("/probe/whoami/")

    assert index_writes(context) == 3


def test_a_new_ip_within_the_interval_is_written_at_once(engine: str, alice: Any) -> None:
    client, _ = logged_in_client()

    with CaptureQueriesContext(connection) as context:
        client.get("/probe/whoami/", REMOTE_ADDR="198.51.100.77")

    assert index_writes(context) == 1
    assert SessionRecord.objects.get().ip == "198.51.100.77"


def test_touching_never_changes_the_expiry(engine: str, alice: Any, settings: Any) -> None:
    client, key = logged_in_client()
    age_last_seen(key, timedelta(minutes=5))
    record = SessionRecord.objects.get()
    stored = (
        Session.objects.get(session_key=key).expire_date if engine in ("db", "cached_db") else None
    )
    mtime = (
        os.stat(os.path.join(settings.SESSION_FILE_PATH, settings.SESSION_COOKIE_NAME + key))
        if engine == "file"
        else None
    )
    time.sleep(0.01)  # an extended expiry would differ from the old one

    with CaptureQueriesContext(connection) as context:
        client.get("/probe/whoami/")

    assert index_writes(context) == 1  # the touch did write
    after = SessionRecord.objects.get()
    assert after.last_seen > record.last_seen
    assert after.expiry == record.expiry
    if stored is not None:
        assert Session.objects.get(session_key=key).expire_date == stored
    if mtime is not None:
        path = os.path.join(settings.SESSION_FILE_PATH, settings.SESSION_COOKIE_NAME + key)
        assert os.stat(path).st_mtime == mtime.st_mtime


@pytest.mark.parametrize("url", ["/probe/", "/probe/read/", "/admin/login/"])
def test_request_without_a_session_cookie_executes_no_query(
    engine: str, client: Client, django_assert_num_queries: Callable[..., Any], url: str
) -> None:
    with django_assert_num_queries(0):
        response = client.get(url)
    assert response.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in response.cookies


def _plain_session(engine: str, user: Any) -> str:
    store = import_module(f"django.contrib.sessions.backends.{engine}").SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key  # type: ignore[no-any-return]


@pytest.mark.parametrize("engine_name", ["db", "cached_db", "file"])
def test_never_indexed_session_is_indexed_on_its_next_request_with_the_stores_expiry(
    engine_name: str, alice: Any, settings: Any
) -> None:
    key = _plain_session(engine_name, alice)  # made before the panel was installed
    if engine_name == "file":
        path = os.path.join(settings.SESSION_FILE_PATH, settings.SESSION_COOKIE_NAME + key)
        an_hour_ago = time.time() - 3600
        os.utime(path, (an_hour_ago, an_hour_ago))
        expected = (
            timezone.now() - timedelta(hours=1) + timedelta(seconds=settings.SESSION_COOKIE_AGE)
        )
    else:
        expected = timezone.now() + timedelta(hours=1)
        Session.objects.filter(session_key=key).update(expire_date=expected)
    settings.SESSION_ENGINE = f"sessions_panel.backends.{engine_name}"
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = key

    assert client.get("/probe/whoami/").content == b"alice"

    record = SessionRecord.objects.get()
    assert record.session_key == key
    assert record.user_id == alice.pk
    assert abs(record.expiry - expected) < timedelta(seconds=5)


def test_cache_engine_session_never_indexed_is_indexed_on_its_next_request(
    alice: Any, settings: Any
) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    key = _plain_session("cache", alice)
    settings.SESSION_ENGINE = "sessions_panel.backends.cache"
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = key

    assert client.get("/probe/whoami/").content == b"alice"

    record = SessionRecord.objects.get()
    assert (record.session_key, record.user_id) == (key, alice.pk)
    assert record.expiry > timezone.now()


def test_a_request_from_a_new_ip_writes_once_and_records_the_address(
    engine: str, alice: Any
) -> None:
    """The index row and the address history ("New IP") in one statement: the
    database's trigger writes the history with the row."""
    client, key = logged_in_client()
    client.get("/probe/whoami/")
    with CaptureQueriesContext(connection) as context:
        response = client.get("/probe/whoami/", REMOTE_ADDR="198.51.100.23")
        assert response.content == b"alice"

    assert writes(context) == 1
    assert SessionRecord.objects.get(session_key=indexed(key)).ip == "198.51.100.23"
    assert SeenAddress.objects.filter(user=alice, ip="198.51.100.23").exists()
    # Back to the first address: one write again, and its history entry is refreshed.
    first = SeenAddress.objects.get(user=alice, ip="127.0.0.1")
    with CaptureQueriesContext(connection) as back:
        client.get("/probe/whoami/", REMOTE_ADDR="127.0.0.1")
    assert writes(back) == 1
    assert SeenAddress.objects.get(pk=first.pk).last_seen > first.last_seen


def test_a_new_ip_on_a_row_this_process_knows_is_written_without_reading_it(
    engine: str, alice: Any
) -> None:
    """A phone moving between networks: one statement on the index, no read first."""
    client, key = logged_in_client()
    client.get("/probe/whoami/")
    with CaptureQueriesContext(connection) as context:
        assert client.get("/probe/whoami/", REMOTE_ADDR="198.51.100.24").content == b"alice"
    assert index_queries(context) == [q for q in index_queries(context) if "UPDATE" in q]
    assert index_writes(context) == 1
    row = SessionRecord.objects.get(session_key=indexed(key))
    assert (row.ip, row.initial_ip) == ("198.51.100.24", "127.0.0.1")
    assert row.client_changed
    assert SeenAddress.objects.filter(user=alice, ip="198.51.100.24").exists()


def test_a_new_ip_for_a_row_gone_meanwhile_does_not_bring_a_killed_session_back(
    engine: str, alice: Any
) -> None:
    from sessions_panel import termination

    client, key = logged_in_client()
    client.get("/probe/whoami/")
    handle = SessionRecord.objects.get(session_key=indexed(key)).handle
    termination.kill_session(handle)
    assert client.get("/probe/whoami/", REMOTE_ADDR="198.51.100.25").content != b"alice"
    assert not SessionRecord.objects.filter(session_key=indexed(key)).exists()


@pytest.mark.parametrize("fresh_process", [False, True], ids=["without a read", "after a read"])
def test_the_first_client_of_a_row_indexed_without_one_is_what_it_started_with(
    engine: str, make_session: Any, store_class: Any, fresh_process: bool
) -> None:
    """Written with or without a read first, the update tells a row that never had a
    client (the rule is the statement's, in SQL)."""
    from sessions_panel.tracking.client import ClientInfo

    session = make_session(ip=None, user_agent="", application=None)
    if fresh_process:
        recently_seen.forget(indexed(session) or "")
    store = store_class()(session.session_key)
    store.client = ClientInfo(ip="203.0.113.9", user_agent="Firefox/133.0", application="Shop")
    assert store.touch(60)
    row = SessionRecord.objects.get(session_key=indexed(session))
    assert (row.initial_ip, row.started_with_user_agent) == ("203.0.113.9", "Firefox/133.0")
    assert not row.client_changed
