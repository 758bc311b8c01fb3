"""Moving an existing site onto a tracked engine, and the backfill, prune and seed_demo
commands."""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from importlib import import_module
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends import file as django_file
from django.contrib.sessions.backends.base import SessionBase
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.utils import timezone

from sessions_panel.backends import file as tracked_file
from sessions_panel.models import Revocation, SessionRecord
from sessions_panel.tracking import index_writer, revocation
from tests.keys import indexed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_probe")]

PASSWORD = "correct horse battery staple"
SWITCHABLE = ["db", "cached_db", "file"]


@pytest.fixture(autouse=True)
def _own_file_store(tmp_path: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """File sessions of this module live in their own directory, for exact counts."""
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    settings.SESSION_FILE_PATH = str(sessions)
    for cls in (django_file.SessionStore, tracked_file.SessionStore):
        monkeypatch.setattr(cls, "_storage_path", str(sessions), raising=False)


def staff(django_user_model: Any, count: int) -> list[Any]:
    return [
        django_user_model.objects.create_user(f"user{i}", password=PASSWORD, is_staff=True)
        for i in range(count)
    ]


def log_in(username: str) -> Client:
    """A browser that logs in through the admin with whatever engine is configured now."""
    client = Client()
    response = client.post("/admin/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def same_browser(client: Client) -> Client:
    """The same cookies, on a fresh handler that picks up the current SESSION_ENGINE."""
    fresh = Client()
    fresh.cookies = client.cookies
    return fresh


def key_of(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def backfill(*args: str) -> str:
    out = StringIO()
    call_command("backfill", *args, stdout=out)
    return out.getvalue()


def plain_session(kind: str, user: Any = None, expiry: int | None = None) -> str:
    store = import_module(f"django.contrib.sessions.backends.{kind}").SessionStore()
    if user is not None:
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if expiry is not None:
        store.set_expiry(expiry)
    store.create()
    return store.session_key  # type: ignore[no-any-return]


# -- switching engines --------------------------------------------------------------------


@pytest.mark.parametrize("kind", SWITCHABLE)
def test_switching_to_the_tracked_engine_keeps_every_session_logged_in(
    kind: str, settings: Any, django_user_model: Any
) -> None:
    users = staff(django_user_model, 3)
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{kind}"
    browsers = [log_in(user.username) for user in users]
    assert SessionRecord.objects.count() == 0

    settings.SESSION_ENGINE = f"sessions_panel.backends.{kind}"

    for browser, user in zip(browsers, users, strict=True):
        browser = same_browser(browser)
        assert browser.get("/probe/whoami/").content == user.username.encode()
        assert browser.get("/admin/").status_code == 200
    # Each session that came back is indexed by that very request.
    assert dict(SessionRecord.objects.values_list("session_key", "user_id")) == {
        key_of(browser): user.pk for browser, user in zip(browsers, users, strict=True)
    }


@pytest.mark.parametrize("kind", SWITCHABLE)
def test_backfill_lists_every_existing_session_in_batches_and_is_idempotent(
    kind: str, settings: Any, django_user_model: Any
) -> None:
    users = staff(django_user_model, 5)
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{kind}"
    browsers = [log_in(user.username) for user in users]
    settings.SESSION_ENGINE = f"sessions_panel.backends.{kind}"

    first = backfill("--batch-size", "2")

    assert "Indexed 5 of 5 live sessions" in first
    assert "Backfilling" in first and "5/5" in first  # the progress bar
    assert dict(SessionRecord.objects.values_list("session_key", "user_id")) == {
        key_of(browser): user.pk for browser, user in zip(browsers, users, strict=True)
    }
    assert all(r.expiry > timezone.now() for r in SessionRecord.objects.all())

    second = backfill("--batch-size", "2")

    assert "Indexed 0 of 5 live sessions" in second
    assert SessionRecord.objects.count() == 5
    for browser, user in zip(browsers, users, strict=True):
        assert same_browser(browser).get("/probe/whoami/").content == user.username.encode()
    assert SessionRecord.objects.count() == 5  # the requests found their rows


@pytest.mark.parametrize("kind", SWITCHABLE)
def test_backfill_after_some_sessions_came_back_adds_only_the_rest(
    kind: str, settings: Any, django_user_model: Any
) -> None:
    users = staff(django_user_model, 3)
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{kind}"
    browsers = [log_in(user.username) for user in users]
    settings.SESSION_ENGINE = f"sessions_panel.backends.{kind}"
    same_browser(browsers[0]).get("/probe/whoami/")  # indexed on its own request
    assert SessionRecord.objects.count() == 1

    assert "Indexed 2 of 3 live sessions" in backfill()
    assert SessionRecord.objects.count() == 3


@pytest.mark.parametrize("kind", SWITCHABLE)
def test_backfill_skips_expired_and_revoked_sessions(
    kind: str, settings: Any, django_user_model: Any
) -> None:
    alice, bob = staff(django_user_model, 2)
    live = plain_session(kind, alice)
    plain_session(kind, alice, expiry=-10)  # expired, still in the store
    revoked = plain_session(kind, bob)
    revocation.revoke_user(bob.pk)
    settings.SESSION_ENGINE = f"sessions_panel.backends.{kind}"

    backfill()

    assert list(SessionRecord.objects.values_list("session_key", flat=True)) == [live]
    assert not SessionRecord.objects.filter(session_key=indexed(revoked)).exists()


def test_backfill_refuses_the_cache_engine_with_a_clear_error(settings: Any) -> None:
    settings.SESSION_ENGINE = "sessions_panel.backends.cache"
    with pytest.raises(CommandError, match="cache engine cannot list its sessions"):
        backfill()


def test_backfill_refuses_an_untracked_engine(settings: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    with pytest.raises(CommandError, match="not a tracked engine"):
        backfill()


def test_backfill_refuses_a_batch_size_below_one() -> None:
    with pytest.raises(CommandError, match="at least 1"):
        backfill("--batch-size", "0")


# -- prune and clearsessions --------------------------------------------------------------


def _live_and_expired(make_session: Callable[..., SessionBase]) -> tuple[str, str]:
    live = make_session()
    expired = make_session()
    expired.set_expiry(-10)
    expired.save()
    return live.session_key, expired.session_key  # type: ignore[return-value]


def test_prune_removes_expired_index_rows_and_spent_markers_only(
    engine: str, make_session: Callable[..., SessionBase]
) -> None:
    live, _ = _live_and_expired(make_session)
    now = timezone.now()
    Revocation.objects.create(
        kind=Revocation.KEY, target="spent", not_before=0, expires=now - timedelta(seconds=1)
    )
    Revocation.objects.create(
        kind=Revocation.KEY, target="active", not_before=0, expires=now + timedelta(hours=1)
    )
    Revocation.objects.create(kind=Revocation.ALL, target="", not_before=0, expires=None)
    out = StringIO()

    call_command("prune", stdout=out)

    assert list(SessionRecord.objects.values_list("session_key", flat=True)) == [indexed(live)]
    assert sorted(Revocation.objects.values_list("target", flat=True)) == ["", "active"]
    assert "Pruned 1 expired index rows, 0 sessions ended by a kill, 1 revocation markers" in (
        out.getvalue()
    )


def test_clearsessions_also_prunes_the_index(
    engine: str, make_session: Callable[..., SessionBase]
) -> None:
    live, _ = _live_and_expired(make_session)

    call_command("clearsessions")

    assert list(SessionRecord.objects.values_list("session_key", flat=True)) == [indexed(live)]


# -- seed_demo ----------------------------------------------------------------------------


def seed(credentials: Any) -> str:
    """As ``make run`` seeds: with DEBUG on (pytest-django turns it off; seed_demo
    refuses to run without it unless forced)."""
    out = StringIO()
    with override_settings(DEBUG=True):
        call_command("seed_demo", credentials_file=str(credentials), stdout=out)
    return out.getvalue()


def test_seed_demo_creates_varied_sessions_through_the_engine(
    engine: str,
    tmp_path: Any,
    store_class: Callable[[], type[SessionBase]],
    django_user_model: Any,
) -> None:
    output = seed(tmp_path / "credentials")

    rows = list(SessionRecord.objects.all())
    assert len(rows) >= 10
    store = store_class()
    for row in rows:  # every row is a real session in the real store, with its owner
        if engine == "signed_cookies":
            # Its cookie went to no browser: the row is a live identifier nothing refuses.
            assert store().exists(row.session_key)
            continue
        session = store(row.session_key)
        data = session.load()
        assert session.session_key == row.session_key
        assert index_writer.user_id_from(data) == row.user_id
    assert any(r.user_id is None for r in rows)
    assert any(r.user_id is not None for r in rows)
    assert {ipaddress.ip_address(r.ip).version for r in rows if r.ip} == {4, 6}
    assert len({r.application for r in rows}) >= 3
    per_user = Counter(r.user_id for r in rows if r.user_id is not None)
    assert max(per_user.values()) >= 2
    now = timezone.now()
    assert any(now < r.expiry < now + timedelta(hours=1) for r in rows)
    assert any("iPhone" in r.user_agent or "Android" in r.user_agent for r in rows)
    assert any("Windows NT" in r.user_agent or "X11" in r.user_agent for r in rows)
    assert f"Seeded {len(rows)} demo sessions" in output


def test_seed_demo_prints_working_admin_credentials(
    engine: str, tmp_path: Any, django_user_model: Any
) -> None:
    credentials = tmp_path / "credentials"

    output = seed(credentials)

    password = credentials.read_text().strip()
    assert len(password) >= 8
    assert f"admin / {password}" in output
    admin = django_user_model.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    browser = Client()
    response = browser.post("/admin/login/", {"username": "admin", "password": password})
    assert response.status_code == 302
    assert browser.get("/probe/whoami/").content == b"admin"


def test_seed_demo_run_twice_replaces_the_demo_sessions_and_keeps_the_password(
    engine: str,
    tmp_path: Any,
    store_class: Callable[[], type[SessionBase]],
    make_session: Callable[..., SessionBase],
    django_user_model: Any,
) -> None:
    outsider = django_user_model.objects.create_user("outsider")
    bystander = make_session(user=outsider, ip="10.1.2.3").session_key
    assert bystander is not None
    credentials = tmp_path / "credentials"
    first_output = seed(credentials)
    first_keys = set(
        SessionRecord.objects.exclude(session_key=indexed(bystander)).values_list(
            "session_key", flat=True
        )
    )
    password = credentials.read_text().strip()

    second_output = seed(credentials)

    second_keys = set(
        SessionRecord.objects.exclude(session_key=indexed(bystander)).values_list(
            "session_key", flat=True
        )
    )
    assert len(second_keys) == len(first_keys)
    assert not first_keys & second_keys
    assert not any(store_class()().exists(key) for key in first_keys)
    assert SessionRecord.objects.filter(session_key=indexed(bystander)).exists()
    assert store_class()().exists(bystander)
    assert f"admin / {password}" in first_output
    assert f"admin / {password}" in second_output
    assert django_user_model.objects.filter(username="admin").count() == 1


@pytest.mark.parametrize("scope", ["user", "all"])
def test_prune_purges_what_a_kill_refuses_but_could_not_clean(
    engine, make_session, store_class, django_user_model, monkeypatch, scope
):
    """A store that was down during the kill (or a purge that ran out of time) leaves
    refused sessions listed; prune, once the store is back, removes them and only them."""
    from sessions_panel import termination
    from sessions_panel.termination import purge, truncation

    bob = django_user_model.objects.create_user("bob")
    carol = django_user_model.objects.create_user("carol")
    victims = [make_session(user=bob), make_session(user=bob)]
    spared = make_session(user=carol)

    def store_down(*args, **kwargs):
        raise ConnectionError("store down")

    monkeypatch.setattr(purge, "purge_rows", store_down)
    monkeypatch.setattr(truncation, "run", store_down)  # Kill All's clean-up on PostgreSQL
    result = termination.kill_user(bob) if scope == "user" else termination.kill_all(keep=spared)
    assert result.store_fault
    monkeypatch.undo()
    # Still in the index: listed (a user's) or hidden by Kill All's sweep, never alive.
    assert SessionRecord.objects.filter(user=bob).count() == 2
    out = StringIO()
    call_command("prune", stdout=out)
    assert "2 sessions ended by a kill" in out.getvalue()
    for victim in victims:
        assert not SessionRecord.objects.filter(session_key=indexed(victim)).exists()
        assert not store_class()().exists(victim.session_key)
    assert SessionRecord.objects.filter(session_key=indexed(spared)).exists()


def test_prune_forgets_password_throttles_that_no_longer_count(django_user_model: Any) -> None:
    """A throttle row is kept while it locks or its failures still count; after that it
    says nothing a next failure would not start again, and goes."""
    import time

    from sessions_panel.models import ReauthThrottle

    lockout = 300
    now = time.time()
    users = [django_user_model.objects.create_user(f"admin{i}") for i in range(4)]
    ReauthThrottle.objects.create(user=users[0], failures=2, since=now - lockout - 60)
    ReauthThrottle.objects.create(
        user=users[1], failures=5, since=now - lockout - 60, locked_until=now - 1
    )
    ReauthThrottle.objects.create(user=users[2], failures=2, since=now - 10)
    ReauthThrottle.objects.create(
        user=users[3], failures=5, since=now - lockout - 60, locked_until=now + 120
    )
    out = StringIO()

    call_command("prune", stdout=out)

    kept = set(ReauthThrottle.objects.values_list("user_id", flat=True))
    assert kept == {users[2].pk, users[3].pk}  # counting, and locked
    assert "2 password throttles" in out.getvalue()
