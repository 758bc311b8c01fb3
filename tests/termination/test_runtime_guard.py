"""A site that runs without a tracked engine, or without the panel's middleware, gets a
warning on the page and no kill: never "Ended N" for sessions that stay alive.

Servers such as gunicorn run no system checks, so E001 / E003 alone would stay silent.
"""

from __future__ import annotations

from importlib import import_module

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from sessions_panel import termination
from sessions_panel.conf import PANEL_MIDDLEWARE
from sessions_panel.models import AuditEntry, SessionRecord
from tests.page_support import HTMX, action_url, body, page_url

pytestmark = pytest.mark.django_db

DJANGO_DB = "django.contrib.sessions.backends.db"


@pytest.fixture(params=["engine", "middleware"])
def misconfigured(request, settings):
    """The site as it runs after the panel was set up: an index with one user's session,
    then a forgotten settings line."""
    settings.SESSION_ENGINE = "sessions_panel.backends.db"

    def break_it() -> str:
        if request.param == "engine":
            settings.SESSION_ENGINE = DJANGO_DB
            return "does not track"
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != PANEL_MIDDLEWARE]
        return "middleware is missing"

    return break_it


@pytest.mark.parametrize("action", ["kill", "kill_user", "kill_all", "kill_matching"])
def test_kills_are_refused_and_the_page_says_why(
    misconfigured, admin_user, django_user_model, action
):
    bob = django_user_model.objects.create_user("bob", password="pw-bob-123")
    victim = Client()
    victim.force_login(bob)
    record = SessionRecord.objects.get(user=bob)
    admin = Client()
    admin.force_login(admin_user)
    why = misconfigured()
    late = Client()
    late.force_login(bob)  # a login the stale index never sees

    page = body(admin.get(page_url()))
    assert why in page
    post = {
        "kill": {"handle": record.handle},
        "kill_user": {"user": str(bob.pk)},
        "kill_all": {},
        "kill_matching": {"q": "bob"},
    }[action]
    html = body(admin.post(action_url(action), post, **HTMX))
    assert "Nothing was ended." in html
    assert 'class="success"' not in html
    assert not AuditEntry.objects.exists()
    engine = import_module(DJANGO_DB).SessionStore
    for client in (victim, late):
        assert engine(client.cookies["sessionid"].value).load()[SESSION_KEY] == str(bob.pk)


@pytest.mark.parametrize("kill", ["session", "user", "all"])
def test_the_kill_service_raises_rather_than_report_a_kill_that_cannot_hold(
    settings, django_user_model, kill
):
    bob = django_user_model.objects.create_user("bob")
    settings.SESSION_ENGINE = DJANGO_DB
    with pytest.raises(termination.NotTracked, match="E001"):
        if kill == "session":
            termination.kill_session("any-handle")
        elif kill == "user":
            termination.kill_user(bob)
        else:
            termination.kill_all()


def test_a_correct_site_shows_no_warning(admin_client):
    assert "Nothing was ended" not in body(admin_client.get(page_url()))
    assert "does not track" not in body(admin_client.get(page_url()))
