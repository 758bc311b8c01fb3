"""What an ordinary request costs with the panel: queries, and work skipped until needed.

The database engines load the session and its revocation state in one statement; the
middleware works out the client's IP, user agent and application only when something
is written. Neither may let a killed session through or miss a changed client.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions_panel.models import SessionRecord
from sessions_panel.tracking import client as client_module
from sessions_panel.tracking import revocation
from sessions_panel.tracking.client import clean_user_agent
from sessions_panel.tracking.index_writer import recently_seen
from tests.keys import indexed
from tests.revocation_support import session_queries

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_probe")]

PASSWORD = "correct horse battery staple"
StoreClass = Callable[[], type[SessionBase]]


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)


@pytest.fixture
def bob(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("bob", password=PASSWORD)


@pytest.fixture(params=["db", "cached_db"])
def db_engines(request: pytest.FixtureRequest, settings: Any) -> str:
    """The engines whose load reads the session and its revocation state at once."""
    settings.SESSION_ENGINE = f"sessions_panel.backends.{request.param}"
    return str(request.param)


def logged_in(username: str = "alice") -> tuple[Client, str]:
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0")
    response = client.post("/admin/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client, client.cookies["sessionid"].value


def fresh_load(store_class: StoreClass, key: str) -> tuple[dict[str, Any], list[str]]:
    """Load ``key`` as a new request would (nothing cached), and the queries it made."""
    caches["default"].clear()
    with CaptureQueriesContext(connection) as context:
        data = store_class()(key).load()
    return data, [q["sql"] for q in context.captured_queries]


# -- queries per request ----------------------------------------------------------------


def test_a_bare_authenticated_request_costs_the_user_and_the_check_on_every_engine(
    engine: str, alice: Any
) -> None:
    """The session load with its revocation check (db) or the check alone (the session
    comes from the cache or a file; none where the cache keeps the state), and the
    user; nothing else, and no write."""
    client, _ = logged_in()
    client.get("/probe/whoami/")
    with CaptureQueriesContext(connection) as context:
        for _ in range(3):
            assert client.get("/probe/whoami/").content == b"alice"
    assert len(context.captured_queries) == 3 * (session_queries(engine) + 1)
    assert not any(q["sql"].startswith(("INSERT", "UPDATE")) for q in context.captured_queries)


@pytest.mark.parametrize("kill", ["key", "user", "all"])
def test_database_engines_refuse_a_killed_session_in_the_one_load_statement(
    db_engines: str, store_class: StoreClass, make_session: Any, alice: Any, kill: str
) -> None:
    victim = make_session(user=alice)
    data, queries = fresh_load(store_class, victim.session_key)
    assert data[SESSION_KEY] == str(alice.pk)
    assert len(queries) == 1

    if kill == "key":
        revocation.revoke_key(indexed(victim) or "")
    elif kill == "user":
        revocation.revoke_user(alice.pk)
    else:
        revocation.revoke_all()
    data, queries = fresh_load(store_class, victim.session_key)
    assert data == {}
    # The load, then the refused session's data and its index row are dropped.
    assert len(queries) == 3


def test_a_session_the_index_does_not_know_still_meets_its_users_epoch(
    db_engines: str, store_class: StoreClass, make_session: Any, alice: Any
) -> None:
    victim = make_session(user=alice)
    SessionRecord.objects.filter(session_key=indexed(victim)).delete()
    revocation.revoke_user(alice.pk)
    data, queries = fresh_load(store_class, victim.session_key)
    assert data == {}
    # The load, the revocation query for alice, the refused session's data and row dropped.
    assert len(queries) == 4


def test_an_index_naming_another_user_neither_kills_nor_spares_the_session(
    db_engines: str, store_class: StoreClass, make_session: Any, alice: Any, bob: Any
) -> None:
    """The user's epoch is read for the user the index names; the data decides whose
    epoch applies, so a stale index row can neither end nor save a session."""
    victim = make_session(user=alice)
    SessionRecord.objects.filter(session_key=indexed(victim)).update(user=bob)

    revocation.revoke_user(bob.pk)
    data, _ = fresh_load(store_class, victim.session_key)
    assert data[SESSION_KEY] == str(alice.pk)

    revocation.revoke_user(alice.pk)
    data, _ = fresh_load(store_class, victim.session_key)
    assert data == {}


def test_a_guest_session_ignores_the_epoch_of_the_user_its_index_row_names(
    db_engines: str, store_class: StoreClass, make_session: Any, bob: Any
) -> None:
    guest = make_session(cart=["book"])
    SessionRecord.objects.filter(session_key=indexed(guest)).update(user=bob)
    revocation.revoke_user(bob.pk)
    data, queries = fresh_load(store_class, guest.session_key)
    assert data == {"cart": ["book"]}
    assert len(queries) == 1


def test_an_unknown_or_expired_key_loads_empty_in_one_statement(
    db_engines: str, store_class: StoreClass, make_session: Any
) -> None:
    expired = make_session()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    for key in ("x" * 32, expired.session_key):
        caches["default"].clear()
        store = store_class()(key)
        with CaptureQueriesContext(connection) as context:
            assert store.load() == {}
        assert len(context.captured_queries) == 1
        assert store.session_key is None  # as Django's engine: a later save makes a new key


# -- client info only when something is written -------------------------------------------


@pytest.fixture
def work_counter(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Records each time the client's IP or the request's application is worked out."""
    calls: list[str] = []
    real_ip, real_application = client_module.client_ip, client_module.default_application

    def client_ip(request: Any) -> Any:
        calls.append("client")
        return real_ip(request)

    def default_application(request: Any, view_func: Any) -> Any:
        calls.append("application")
        return real_application(request, view_func)

    monkeypatch.setattr(client_module, "client_ip", client_ip)
    monkeypatch.setattr(client_module, "default_application", default_application)
    yield calls


def test_requests_that_write_nothing_work_out_no_client_info(
    engine: str, alice: Any, work_counter: list[str]
) -> None:
    client, key = logged_in()
    client.get("/probe/whoami/")  # the first request after the login's save learns the client
    work_counter.clear()
    with CaptureQueriesContext(connection) as context:
        for _ in range(5):
            assert client.get("/probe/whoami/").content == b"alice"
    assert work_counter == []
    assert not any(q["sql"].startswith(("INSERT", "UPDATE")) for q in context.captured_queries)


def test_a_write_still_records_the_client_and_application(
    engine: str, alice: Any, work_counter: list[str]
) -> None:
    client, key = logged_in()
    client.get("/probe/auth-done/", REMOTE_ADDR="198.51.100.9", HTTP_USER_AGENT="Probe/1.0")
    record = SessionRecord.objects.get(session_key=indexed(key))
    assert (record.ip, record.user_agent) == ("198.51.100.9", "Probe/1.0")
    assert record.application == "Authentication and Authorization"
    assert "client" in work_counter
    assert "application" in work_counter


def test_a_new_user_agent_is_written_at_once(engine: str, alice: Any) -> None:
    client, key = logged_in()
    client.get("/probe/whoami/")
    client.get("/probe/whoami/", HTTP_USER_AGENT="curl/8.5.0")
    assert SessionRecord.objects.get(session_key=indexed(key)).user_agent == "curl/8.5.0"


def test_new_raw_headers_that_mean_the_same_client_write_nothing(
    engine: str, alice: Any, work_counter: list[str]
) -> None:
    """A forged X-Forwarded-For without trusted proxies changes nothing stored."""
    client, _ = logged_in()
    client.get("/probe/whoami/")
    with CaptureQueriesContext(connection) as context:
        client.get("/probe/whoami/", HTTP_X_FORWARDED_FOR="203.0.113.66")
        work_counter.clear()
        client.get("/probe/whoami/", HTTP_X_FORWARDED_FOR="203.0.113.66")
    assert not any(q["sql"].startswith(("INSERT", "UPDATE")) for q in context.captured_queries)
    assert work_counter == []  # recognised the second time without working it out


def test_a_settings_change_is_seen_on_the_next_request(
    engine: str, alice: Any, settings: Any
) -> None:
    client, key = logged_in()
    client.get("/probe/whoami/", REMOTE_ADDR="198.51.100.77")
    assert SessionRecord.objects.get(session_key=indexed(key)).ip == "198.51.100.77"
    settings.SESSIONS_PANEL = {"IP_STORAGE": "truncated"}
    client.get("/probe/whoami/", REMOTE_ADDR="198.51.100.77")
    assert SessionRecord.objects.get(session_key=indexed(key)).ip == "198.51.100.0"


def test_a_process_that_forgot_the_session_compares_with_the_index(engine: str, alice: Any) -> None:
    client, key = logged_in()
    client.get("/probe/whoami/")
    recently_seen.clear()
    with CaptureQueriesContext(connection) as context:
        client.get("/probe/whoami/", REMOTE_ADDR="198.51.100.78")
    assert any(q["sql"].startswith("UPDATE") for q in context.captured_queries)
    assert SessionRecord.objects.get(session_key=indexed(key)).ip == "198.51.100.78"


# -- user agent cleaning ------------------------------------------------------------------


def reference_clean(value: str, max_length: int) -> str:
    """The cleaning rule spelled out, without the shortcut for plain ASCII."""
    value = value[: max_length * 2]
    cleaned = "".join(
        " " if ch in "\t\r\n" else ch
        for ch in value
        if ch in "\t\r\n" or unicodedata.category(ch) not in ("Cc", "Cs", "Cf")
    )
    return " ".join(cleaned.split())[:max_length]


def test_the_plain_ascii_shortcut_cleans_exactly_like_the_full_rule() -> None:
    rng = random.Random(7)
    alphabet = [chr(c) for c in range(0, 128)] + ["é", "\u200b", "\u00a0", "\ud800", "漢"]
    samples = [
        "Mozilla/5.0 (X11; Linux x86_64)  Gecko/20100101   Firefox/133.0",
        "  leading and trailing  ",
        "tab\there",
        "del\x7fhere",
        "",
    ]
    samples += [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40))) for _ in range(2000)
    ]
    samples += [
        "".join(rng.choice(alphabet[32:127]) for _ in range(rng.randrange(0, 90)))
        for _ in range(2000)
    ]
    for sample in samples:
        for max_length in (10, 512):
            assert clean_user_agent(sample, max_length) == reference_clean(sample, max_length)
