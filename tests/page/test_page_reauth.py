"""Re-authentication before the big hammers: Kill All and filter-wide kills ask for the
admin's password once the window since their login (or last check) has passed."""

from __future__ import annotations

import time

import pytest
from django.contrib.messages import get_messages

from sessions_panel.models import AuditEntry, SessionRecord
from sessions_panel.termination import reauth
from tests.keys import indexed
from tests.page_support import HTMX, action_url, body, logged_in, page_url

pytestmark = pytest.mark.django_db

PASSWORD = "password"  # pytest-django's admin_user
NO_FIELD = '<div id="sp-reauth-kill-all" class="sp-reauth"></div>'
FIELD = '<input type="password" name="password" autocomplete="current-password" required'


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def lapse(client, seconds: float = 601) -> None:
    """The admin logged in (or last confirmed) ``seconds`` ago."""
    own = SessionRecord.objects.filter(session_key=indexed(client.session))
    assert own.update(verified=time.time() - seconds) == 1


def authenticated_at(client) -> float:
    own = SessionRecord.objects.get(session_key=indexed(client.session))
    assert own.verified is not None
    return float(own.verified)


@pytest.fixture
def admin(admin_user):
    return logged_in(admin_user)


@pytest.fixture
def victims(make_session):
    return [make_session(application="Shop") for _ in range(3)]


def all_alive(sessions, store_class) -> bool:
    return all(store_class()().exists(s.session_key) for s in sessions)  # fresh reads


# -- within the window ------------------------------------------------------------------


def test_within_the_window_no_password_is_asked_or_needed(admin, victims, store_class):
    html = body(admin.get(page_url()))
    assert NO_FIELD in html
    assert FIELD not in html
    response = admin.post(action_url("kill_all"))
    assert messages_of(response) == ["Ended 3 sessions. Your own session was kept."]
    assert not any(store_class()().exists(s.session_key) for s in victims)


def test_a_fresh_login_through_the_form_starts_the_window(admin_user, victims, client):
    assert (
        client.post("/admin/login/", {"username": "admin", "password": PASSWORD}).status_code == 302
    )
    assert time.time() - authenticated_at(client) < 5
    assert FIELD not in body(client.get(page_url()))


# -- past the window --------------------------------------------------------------------


def test_past_the_window_the_big_dialogs_show_a_password_field(admin, victims):
    """Kill All, kill matching and the site's lockdown."""
    lapse(admin)
    html = body(admin.get(page_url(), {"q": "shop"}))
    assert html.count(FIELD) == 3
    assert 'id="sp-reauth-kill-all"' in html
    assert 'id="sp-reauth-kill-matching"' in html
    assert 'id="sp-reauth-lockdown"' in html
    assert "you signed in more than 10 minutes ago" in html
    fragment = body(admin.get(page_url(), {"q": "shop"}, **HTMX))
    assert '<div id="sp-reauth-kill-all" class="sp-reauth" hx-swap-oob="true">' in fragment
    assert fragment.count(FIELD) == 3


def test_the_field_appears_on_the_next_refresh_when_the_window_lapses(admin, victims):
    assert FIELD not in body(admin.get(page_url(), **HTMX))
    lapse(admin)
    assert FIELD in body(admin.get(page_url(), **HTMX))


@pytest.mark.parametrize("name", ["kill_all", "kill_matching"])
def test_missing_password_is_a_clear_error_and_nothing_ends(
    engine, admin_user, victims, store_class, name
):
    admin = logged_in(admin_user)
    lapse(admin)
    response = admin.post(action_url(name), {"q": "shop", "reason": "x"})
    assert response.status_code == 302
    assert messages_of(response) == ["Enter your password to confirm. Nothing was ended."]
    assert all_alive(victims, store_class)
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("name", ["kill_all", "kill_matching"])
def test_wrong_password_is_a_clear_error_and_nothing_ends(
    engine, admin_user, victims, store_class, name
):
    admin = logged_in(admin_user)
    lapse(admin)
    before = authenticated_at(admin)
    response = admin.post(action_url(name), {"q": "shop", "password": "wrong"})
    assert messages_of(response) == ["That password is not correct. Nothing was ended."]
    assert all_alive(victims, store_class)
    assert SessionRecord.objects.count() == 4
    # No kill on record; the failure itself is (tests/termination/test_reauth_throttle.py).
    assert list(AuditEntry.objects.values_list("scope", "killed")) == [("reauth", 0)]
    assert authenticated_at(admin) == before  # the window did not restart
    assert FIELD in body(admin.get(page_url()))


@pytest.mark.parametrize("name", ["kill_all", "kill_matching"])
def test_right_password_kills_and_restarts_the_window(
    engine, admin_user, victims, store_class, name
):
    admin = logged_in(admin_user)
    lapse(admin)
    response = admin.post(action_url(name), {"q": "shop", "password": PASSWORD})
    assert response.status_code == 302
    assert len(messages_of(response)) == 1
    assert messages_of(response)[0].startswith("Ended 3 sessions")
    assert not any(store_class()().exists(s.session_key) for s in victims)
    assert time.time() - authenticated_at(admin) < 5
    assert FIELD not in body(admin.get(page_url()))  # within the window again


def test_after_a_right_password_the_next_big_kill_needs_none(admin, make_session, victims):
    lapse(admin)
    admin.post(action_url("kill_matching"), {"q": "shop", "password": PASSWORD}, follow=True)
    later = make_session()
    response = admin.post(action_url("kill_all"))
    assert messages_of(response) == ["Ended 1 session. Your own session was kept."]
    assert not SessionRecord.objects.filter(session_key=indexed(later)).exists()


def test_htmx_wrong_password_answers_with_the_error_and_the_field(admin, victims):
    lapse(admin)
    response = admin.post(action_url("kill_all"), {"password": "nope"}, **HTMX)
    html = body(response)
    assert response.status_code == 200
    assert "That password is not correct. Nothing was ended." in html
    assert 'class="error"' in html
    assert FIELD in html
    assert SessionRecord.objects.count() == 4


def test_an_absurdly_long_password_is_refused_without_hashing(admin, victims, monkeypatch):
    lapse(admin)
    monkeypatch.setattr(reauth, "authenticate", lambda *a, **k: pytest.fail("hashed"))
    response = admin.post(action_url("kill_all"), {"password": "x" * 100_000})
    assert messages_of(response) == ["That password is not correct. Nothing was ended."]


def test_a_window_of_zero_never_asks(admin, victims, settings):
    settings.SESSIONS_PANEL = {"REAUTH_WINDOW": 0}
    lapse(admin, seconds=10**6)
    assert FIELD not in body(admin.get(page_url()))
    response = admin.post(action_url("kill_all"))
    assert messages_of(response) == ["Ended 3 sessions. Your own session was kept."]


def test_the_window_follows_its_setting(admin, victims, settings):
    settings.SESSIONS_PANEL = {"REAUTH_WINDOW": 60}
    lapse(admin, seconds=61)
    html = body(admin.get(page_url()))
    assert FIELD in html
    assert "more than 1 minute ago" in html


def test_one_session_needs_no_password(admin, django_user_model, make_session):
    bob = django_user_model.objects.create_user("bob")
    record = SessionRecord.objects.get(session_key=indexed(make_session(user=bob)))
    lapse(admin)
    response = admin.post(action_url("kill"), {"handle": record.handle})
    assert messages_of(response)[0].startswith("Session")
    assert not SessionRecord.objects.filter(pk=record.pk).exists()


def test_all_of_one_users_sessions_need_the_password_too(admin, django_user_model, make_session):
    """One policy for every multi-session kill (issue 14): kill-user asked for none, so
    the prompt before Kill All could be gone around, one user id at a time."""
    bob = django_user_model.objects.create_user("bob")
    record = SessionRecord.objects.get(session_key=indexed(make_session(user=bob)))
    lapse(admin)
    response = admin.post(action_url("kill_user"), {"handle": record.handle})
    assert messages_of(response) == ["Enter your password to confirm. Nothing was ended."]
    assert SessionRecord.objects.filter(pk=record.pk).exists()
