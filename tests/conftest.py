"""Shared fixtures: every tracked engine, and sessions made through the real engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import import_module
from typing import Any

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from sessions_panel.tracking.client import ClientInfo
from sessions_panel.tracking.index_writer import recently_seen

ENGINES = ["db", "cached_db", "cache", "file", "signed_cookies"]


def clear_cache() -> None:
    """Empty this run's cache; on Redis only this run's keys (no FLUSHDB on a shared DB)."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{cache.key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    clear_cache()
    recently_seen.clear()
    yield
    clear_cache()
    recently_seen.clear()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, settings: Any) -> str:
    """Runs the test once per tracked engine; the value is the engine's short name."""
    settings.SESSION_ENGINE = f"sessions_panel.backends.{request.param}"
    return str(request.param)


@pytest.fixture
def store_class(settings: Any) -> Callable[[], type[SessionBase]]:
    """The configured engine's SessionStore, looked up when called (after ``engine``)."""

    def get() -> type[SessionBase]:
        return import_module(settings.SESSION_ENGINE).SessionStore  # type: ignore[no-any-return]

    return get


@pytest.fixture
def make_session(
    store_class: Callable[[], type[SessionBase]],
) -> Callable[..., SessionBase]:
    """Creates a saved session through the engine, as a login or a guest visit would."""

    def make(
        user: Any = None,
        ip: str | None = "203.0.113.7",
        user_agent: str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        application: str | None = "Administration",
        **data: Any,
    ) -> SessionBase:
        store = store_class()()
        store.client = ClientInfo(ip=ip, user_agent=user_agent, application=application)  # type: ignore[attr-defined]
        if user is not None:
            store[SESSION_KEY] = user._meta.pk.value_to_string(user)
            store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        for name, value in data.items():
            store[name] = value
        store.create()
        return store

    return make
