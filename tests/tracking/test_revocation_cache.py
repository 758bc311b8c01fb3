"""The cache engines keep each session's revocation state beside it, and a kill makes
every kept state stale before it reports success.

Each test that proves a kill still holds puts the session's data back into the cache
after the kill (as a request in flight, or a store that lagged, would): only the
revocation check stands between that data and the next request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions_panel import termination
from sessions_panel.models import SessionRecord
from sessions_panel.tracking import revocation, revocation_cache

pytestmark = pytest.mark.django_db

Maker = Callable[..., SessionBase]
StoreClass = Callable[[], type[SessionBase]]


@pytest.fixture(params=["cache", "cached_db"])
def cache_engine(request: pytest.FixtureRequest, settings: Any) -> str:
    settings.SESSION_ENGINE = f"sessions_panel.backends.{request.param}"
    settings.SESSIONS_PANEL = {"REVOCATION_CACHE": True}
    return str(request.param)


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password="x" * 12)


def load(store_class: StoreClass, key: str) -> tuple[dict[str, Any], int]:
    """Load ``key`` as a new request would, and how many queries that made."""
    with CaptureQueriesContext(connection) as context:
        data = store_class()(key).load()
    return data, len(context.captured_queries)


def restore(session: SessionBase) -> None:
    """Put the session's data back into the cache, as a racing write would."""
    caches["default"].set(session.cache_key, dict(session.items()), 3600)  # type: ignore[attr-defined]


def test_a_second_request_reads_its_state_from_the_cache_without_a_query(
    cache_engine: str, make_session: Maker, store_class: StoreClass, alice: Any
) -> None:
    session = make_session(user=alice)
    key = session.session_key
    assert key is not None
    data, first = load(store_class, key)
    assert data and first == 1  # the state, read from the database and kept
    data, second = load(store_class, key)
    assert data["_auth_user_id"] == str(alice.pk)
    assert second == 0


def test_without_revocation_cache_every_request_asks_the_database(
    cache_engine: str, make_session: Maker, store_class: StoreClass, alice: Any, settings: Any
) -> None:
    settings.SESSIONS_PANEL = {"REVOCATION_CACHE": False}
    key = make_session(user=alice).session_key
    assert key is not None
    load(store_class, key)
    assert load(store_class, key)[1] == 1


@pytest.mark.parametrize("policy", ["IDLE_TIMEOUT", "ABSOLUTE_LIFETIME"])
def test_a_session_policy_reads_the_database_on_every_request(
    cache_engine: str,
    make_session: Maker,
    store_class: StoreClass,
    alice: Any,
    settings: Any,
    policy: str,
) -> None:
    """Idle and lifetime decide by the database's clock of the moment."""
    settings.SESSIONS_PANEL = {"REVOCATION_CACHE": True, policy: 3600}
    key = make_session(user=alice).session_key
    assert key is not None
    load(store_class, key)
    assert load(store_class, key)[1] == 1


def _kill(kind: str, key: str, user: Any) -> int:
    if kind == "all":
        return termination.kill_all(purge_seconds=0).killed  # the clean-up left for later
    if kind == "user":
        return termination.kill_user(user).killed
    handle = SessionRecord.objects.get(session_key=key).handle
    return termination.kill_session(handle).killed


@pytest.mark.parametrize("kind", ["all", "user", "one"])
def test_every_kill_makes_a_kept_state_stale(
    cache_engine: str, make_session: Maker, store_class: StoreClass, alice: Any, kind: str
) -> None:
    session = make_session(user=alice)
    key = session.session_key
    assert key is not None
    load(store_class, key)  # kept
    assert _kill(kind, key, alice) == 1
    restore(session)
    assert load(store_class, key)[0] == {}


def test_killing_many_sessions_by_marker_makes_kept_states_stale(
    cache_engine: str, make_session: Maker, store_class: StoreClass, alice: Any
) -> None:
    sessions = [make_session(user=alice, ip=f"198.51.100.{n}") for n in (1, 2)]
    for session in sessions:
        load(store_class, session.session_key or "")
    revocation.revoke_keys([session.session_key or "" for session in sessions])
    for session in sessions:  # the store still holds them: the markers alone refuse
        assert load(store_class, session.session_key or "")[0] == {}


def test_a_state_read_before_a_kill_and_kept_after_it_does_not_count(
    cache_engine: str, make_session: Maker, store_class: StoreClass, alice: Any
) -> None:
    """A request that read its state, then saw a kill commit, keeps a stale state."""
    session = make_session(user=alice)
    key = session.session_key
    assert key is not None
    cache = caches["default"]
    load(store_class, key)
    before = cache.get(revocation_cache.GENERATION_KEY)
    stale = revocation.state(key, alice.pk)
    termination.kill_all(purge_seconds=0)
    revocation_cache.keep(cache, before, stale)
    restore(session)
    assert load(store_class, key)[0] == {}


def test_a_lost_generation_trusts_no_kept_state_and_starts_a_new_one(
    cache_engine: str, make_session: Maker, store_class: StoreClass, alice: Any
) -> None:
    cache = caches["default"]
    key = make_session(user=alice).session_key
    assert key is not None
    load(store_class, key)
    old = cache.get(revocation_cache.GENERATION_KEY)
    cache.delete(revocation_cache.GENERATION_KEY)
    assert load(store_class, key)[1] == 1  # asked the database
    new = cache.get(revocation_cache.GENERATION_KEY)
    assert new is not None and new != old
    load(store_class, key)  # kept under the new one
    assert load(store_class, key)[1] == 0


def test_a_refused_session_keeps_no_state(
    cache_engine: str, make_session: Maker, store_class: StoreClass, alice: Any
) -> None:
    session = make_session(user=alice)
    key = session.session_key
    assert key is not None
    load(store_class, key)
    termination.kill_all(purge_seconds=0)
    restore(session)
    assert load(store_class, key)[0] == {}
    assert caches["default"].get(revocation_cache.state_key(key)) is None or (
        caches["default"].get(revocation_cache.state_key(key))[0]
        != caches["default"].get(revocation_cache.GENERATION_KEY)
    )
    restore(session)
    assert load(store_class, key)[0] == {}


def test_a_kept_state_is_named_by_the_keys_digest_never_the_key(
    cache_engine: str, make_session: Maker, store_class: StoreClass, alice: Any
) -> None:
    key = make_session(user=alice).session_key
    assert key is not None
    load(store_class, key)
    name = revocation_cache.state_key(key)
    assert key not in name
    kept = caches["default"].get(name)
    assert kept is not None and key not in repr(kept)


def test_a_kept_state_answers_only_for_the_user_it_was_read_for(
    cache_engine: str,
    make_session: Maker,
    store_class: StoreClass,
    alice: Any,
    django_user_model: Any,
) -> None:
    """Data naming another user than the kept state asks the database again."""
    bob = django_user_model.objects.create_user("bob", password="x" * 12)
    session = make_session(user=alice)
    key = session.session_key
    assert key is not None
    load(store_class, key)
    data = dict(session.items())
    data["_auth_user_id"] = str(bob.pk)
    caches["default"].set(session.cache_key, data, 3600)  # type: ignore[attr-defined]
    termination.kill_user(bob)  # bob's epoch: refuses this data, issued before it
    caches["default"].set(session.cache_key, data, 3600)  # type: ignore[attr-defined]
    assert load(store_class, key)[0] == {}


def test_an_unreachable_cache_at_a_kill_is_logged_as_an_error(
    cache_engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = caches["default"]
    with (
        mock.patch.object(type(cache), "set", side_effect=ConnectionError("down")),
        caplog.at_level(logging.ERROR, logger="sessions_panel"),
    ):
        revocation_cache.invalidate()
    assert "kept revocation states stay valid" in caplog.text


def test_auto_keeps_states_only_in_a_cache_every_server_shares(settings: Any) -> None:
    settings.SESSIONS_PANEL = {}
    local = LocMemCache("local", {})
    redis = RedisCache("redis://127.0.0.1:6379/15", {})
    assert not revocation_cache.applies(local)
    assert revocation_cache.applies(redis)
    settings.SESSIONS_PANEL = {"REVOCATION_CACHE": True}
    assert revocation_cache.applies(local)
    settings.SESSIONS_PANEL = {"REVOCATION_CACHE": False}
    assert not revocation_cache.applies(redis)


def test_auto_with_a_local_cache_asks_the_database_on_every_request(
    make_session: Maker, store_class: StoreClass, alice: Any, settings: Any
) -> None:
    """A per-process cache on several hosts would keep the generation per host."""
    settings.SESSION_ENGINE = "sessions_panel.backends.cache"
    settings.SESSIONS_PANEL = {}
    if not isinstance(caches["default"], LocMemCache):
        pytest.skip("the run's cache is shared: auto keeps states there")
    key = make_session(user=alice).session_key
    assert key is not None
    load(store_class, key)
    assert load(store_class, key)[1] == 1


def test_a_kept_state_counts_for_ttl_seconds_at_most(
    cache_engine: str,
    make_session: Maker,
    store_class: StoreClass,
    alice: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What bounds a kill's generation the cache lost: the state expires regardless."""
    import time

    monkeypatch.setattr(revocation_cache, "TTL", 1)
    key = make_session(user=alice).session_key
    assert key is not None
    load(store_class, key)
    assert load(store_class, key)[1] == 0
    time.sleep(1.2)
    assert load(store_class, key)[1] == 1


def test_a_state_key_is_keyed_by_the_secret_key(settings: Any) -> None:
    """Stable for one key and one secret; another secret (a rotation) names another."""
    key = "k" * 32
    first = revocation_cache.state_key(key)
    assert first == revocation_cache.state_key(key)
    assert first != revocation_cache.state_key("j" * 32)
    assert key not in first
    settings.SECRET_KEY = "another secret key, rotated " + "x" * 40
    assert revocation_cache.state_key(key) != first
