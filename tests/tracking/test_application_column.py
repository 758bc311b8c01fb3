"""The Application column says where the session was last used: a shop's customers show
the shop (not the login view that made their session), and the admin's own session shows
the admin, the Sessions page included."""

from __future__ import annotations

import pytest
from django.test import Client

from sessions_panel.models import SessionRecord
from tests.keys import indexed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_probe")]


def application_of(client: Client) -> str:
    return SessionRecord.objects.get(session_key=indexed(client.session)).application


@pytest.fixture(autouse=True)
def every_request_touches(settings):
    settings.SESSIONS_PANEL = {"LAST_SEEN_INTERVAL": 0}


def test_a_session_made_on_an_auth_view_shows_the_project_page_it_moves_on_to(
    engine, django_user_model
):
    client = Client()
    client.force_login(django_user_model.objects.create_user("alice"))
    client.get("/probe/auth-done/")
    assert application_of(client) == "Authentication and Authorization"
    client.get("/probe/read/")  # a view of the project itself, in no installed app
    assert application_of(client) == "Tests"


def test_the_sessions_page_counts_as_the_admin(engine, admin_client):
    admin_client.get("/admin/")
    assert application_of(admin_client) == "Administration"
    admin_client.get("/admin/sessions_panel/sessionrecord/")
    assert application_of(admin_client) == "Administration"
