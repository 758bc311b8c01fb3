"""Failing stores: a kill is reported only when it happened; nothing else breaks.

"Redis down" is a Redis cache pointed at a closed port (no Redis needed); "database
down" is the revocation write failing as a locked database makes it fail.
"""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.db import OperationalError

from sessions_panel import termination
from sessions_panel.models import AuditEntry, SessionRecord, Sweep
from sessions_panel.tracking import revocation
from tests.keys import indexed
from tests.page_support import HTMX, action_url, body, handles_in, logged_in, page_url

pytestmark = pytest.mark.django_db

LOCMEM = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "sessions-panel-faults",
    }
}
REDIS_DOWN = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


@pytest.fixture
def cached_db(settings):
    settings.SESSION_ENGINE = "sessions_panel.backends.cached_db"
    settings.CACHES = LOCMEM
    return settings


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_page_renders_from_the_database_while_redis_is_down(cached_db, admin_user, make_session):
    make_session()
    admin = logged_in(admin_user)
    assert "session cache cannot be reached" not in body(admin.get(page_url()))
    cached_db.CACHES = REDIS_DOWN
    response = admin.get(page_url())
    assert response.status_code == 200
    assert len(handles_in(body(response))) == 2  # the guest and the admin's own session
    assert "The session cache cannot be reached." in body(response)


def test_kill_while_redis_is_down_holds_says_so_and_cleans_up_on_retry_once_it_is_back(
    cached_db, admin_user, make_session, store_class, django_user_model
):
    bob = django_user_model.objects.create_user("bob")
    victim = make_session(user=bob)
    record = SessionRecord.objects.get(session_key=indexed(victim))
    admin = logged_in(admin_user)

    cached_db.CACHES = REDIS_DOWN
    response = admin.post(action_url("kill"), {"handle": record.handle}, **HTMX)
    html = body(response)
    assert response.status_code == 200
    assert 'class="warning"' in html
    assert "is refused on every request from now on" in html
    assert 'class="success"' not in html
    assert SessionRecord.objects.filter(pk=record.pk).exists()  # kept for the clean-up
    entry = AuditEntry.objects.get()
    assert (entry.killed, entry.failed) == (1, 0)
    assert store_class()(victim.session_key).load() == {}  # refused while Redis is down

    cached_db.CACHES = LOCMEM  # Redis is back, with the victim's session still cached
    response = admin.post(action_url("kill"), {"handle": record.handle})
    # Only the clean-up this time: not counted, nor audited, as a second kill.
    assert messages_of(response) == [f"Session {record.short_id} had already ended."]
    assert [(e.requested, e.killed) for e in AuditEntry.objects.order_by("pk")] == [
        (1, 1),
        (1, 0),
    ]
    assert not store_class()().exists(victim.session_key)
    assert not SessionRecord.objects.filter(pk=record.pk).exists()


@pytest.mark.parametrize("kill", ["kill_user", "kill_all", "kill_matching"])
def test_redis_down_during_an_epoch_or_filter_kill_is_reported_audited_and_holds(
    cached_db, admin_user, make_session, store_class, django_user_model, kill
):
    """No 500: the kill's revocations are in the database, so they hold; the page says
    the store could not be cleaned; the audit trail has the kill; the index is clean."""
    bob = django_user_model.objects.create_user("bob")
    victims = [make_session(user=bob, ip="198.51.100.9") for _ in range(2)]
    admin = logged_in(admin_user)
    cached_db.CACHES = REDIS_DOWN
    post = {
        "kill_user": {"user": str(bob.pk)},
        "kill_all": {},
        "kill_matching": {"q": "bob"},
    }[kill]
    response = admin.post(action_url(kill), post, **HTMX)
    html = body(response)
    assert response.status_code == 200
    assert "Ended 2 sessions" in html
    if kill == "kill_all":
        # Its clean-up runs once the answer is sent, and stops with the store down: the
        # next page (or prune) resumes it; meanwhile nothing lists the ended sessions.
        assert Sweep.objects.exists()
        assert not SessionRecord.objects.live().filter(user=bob).exists()
    else:
        assert "The session store could not be reached" in html
    assert AuditEntry.objects.get().killed == 2
    cached_db.CACHES = LOCMEM  # back, with the victims' data still cached
    if kill == "kill_all":
        admin.get(page_url())
        assert not Sweep.objects.exists()
    for victim in victims:
        assert store_class()(victim.session_key).load() == {}
        assert not SessionRecord.objects.filter(session_key=indexed(victim)).exists()


@pytest.mark.parametrize("kill", ["one", "user", "all"])
def test_database_failure_during_a_kill_reports_nothing_killed(
    engine, make_session, store_class, django_user_model, monkeypatch, kill
):
    bob = django_user_model.objects.create_user("bob")
    victim = make_session(user=bob)
    record = SessionRecord.objects.get(session_key=indexed(victim))

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(revocation, "_raise", locked)
    if kill == "one":
        result = termination.kill_session(record.handle)
    elif kill == "user":
        result = termination.kill_user(bob)
    else:
        result = termination.kill_all()
    assert result.killed == 0
    assert result.failed >= 1
    assert not result.ok
    assert store_class()().exists(victim.session_key)  # nothing half-done
    assert store_class()(victim.session_key).load()  # still a working session
    assert SessionRecord.objects.filter(pk=record.pk).exists()


def test_database_failure_during_kill_all_shows_an_error_not_a_success(
    engine, admin_user, make_session, monkeypatch
):
    make_session()
    admin = logged_in(admin_user)

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(revocation, "_raise", locked)
    response = admin.post(action_url("kill_all"), {}, **HTMX)
    html = body(response)
    assert response.status_code == 200
    assert 'class="error"' in html
    assert 'class="success"' not in html


def test_corrupt_session_data_is_listed_and_still_killable(settings, admin_user, make_session):
    settings.SESSION_ENGINE = "sessions_panel.backends.db"
    from django.contrib.sessions.models import Session

    victim = make_session()
    Session.objects.filter(session_key=victim.session_key).update(session_data="%%garbage%%")
    record = SessionRecord.objects.get(session_key=indexed(victim))
    admin = logged_in(admin_user)
    response = admin.get(page_url())
    assert response.status_code == 200
    assert record.handle in handles_in(body(response))
    response = admin.post(action_url("kill"), {"handle": record.handle})
    assert messages_of(response) == [f"Session {record.short_id} of a guest was ended."]
    assert not Session.objects.filter(session_key=victim.session_key).exists()
