"""The panel on a site whose users log in by email, have a UUID key and no names.

Everything the stock ``auth.User`` gets: the list, search, the per-user view and its
kill, the user's own admin page (by the template tag and by the mixin, on two admin
sites), the ``killsessions`` command and ``seed_demo``.
"""

from __future__ import annotations

import io
import uuid
from typing import Any
from urllib.parse import urljoin

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from sessions_panel.models import SessionRecord
from sessions_panel.query import search, trigram, usertext
from tests.custom_user.models import EmailUser
from tests.keys import indexed
from tests.page_support import (
    HTMX,
    action_url,
    body,
    handles_in,
    logged_in,
    make_staff,
    page_url,
    row_cells,
    row_html,
)

pytestmark = pytest.mark.django_db

BACKOFFICE_PAGE = "/backoffice/sessions_panel/sessionrecord/"


def record_of(session: Any) -> SessionRecord:
    return SessionRecord.objects.get(session_key=indexed(session))


def found(q: str) -> set[str]:
    rows = SessionRecord.objects.filter(search.condition(q), user__isnull=False)
    return {str(user.email) for user in EmailUser.objects.filter(pk__in=rows.values("user_id"))}


@pytest.fixture
def people(make_session: Any) -> dict[str, Any]:
    alice = EmailUser.objects.create_user("alice.martin@example.com")
    bob = EmailUser.objects.create_user("bob@shop.example")
    return {
        "alice": alice,
        "bob": bob,
        "alice1": make_session(user=alice, ip="198.51.100.1", application=""),
        "alice2": make_session(user=alice, ip="198.51.100.2", application="Shop"),
        "bob1": make_session(user=bob, application=""),
        "guest": make_session(application=""),
    }


def test_the_settings_are_the_custom_ones() -> None:
    model: Any = get_user_model()
    assert model._meta.label == "custom_user.EmailUser"
    assert model.USERNAME_FIELD == "email"
    assert isinstance(model._meta.pk.get_default(), uuid.UUID)
    assert usertext.search_fields() == ["email"]


# -- the list and its search --------------------------------------------------------------


def test_the_list_shows_each_user_by_their_login_and_links_their_uuid(admin_client, people):
    html = body(admin_client.get(page_url()))
    alice = people["alice"]
    row = row_html(html, record_of(people["alice1"]).handle)
    assert "alice.martin@example.com" in row
    # The username links to the list of that user's sessions, by their UUID.
    cells = row_cells(row)[record_of(people["alice1"]).handle]
    assert cells["user"] == "alice.martin@example.com"
    assert cells["user_href"] == f"?user={alice.pk}"
    assert urljoin(f"http://testserver{page_url()}?q=x", cells["user_href"]) == (
        f"http://testserver{page_url()}?user={alice.pk}"
    )
    assert len(handles_in(html)) == 5  # four and the admin's own


@pytest.mark.parametrize("sort", ["last_seen", "expiry", "user", "ip"])
def test_every_sort_lists_uuid_users(admin_client, people, sort):
    response = admin_client.get(page_url(), {"sort": sort}, **HTMX)
    assert response.status_code == 200
    assert len(handles_in(body(response))) == 5


@pytest.mark.parametrize("indexed", [True, False])
@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("alice", {"alice.martin@example.com"}),  # the login (the email)
        ("SHOP.exa", {"bob@shop.example"}),
        ("al", {"alice.martin@example.com"}),  # too short for trigrams
        ("martin alice", {"alice.martin@example.com"}),  # words in any order
        ("alice shop", set()),  # every word must match
        ("zqxjv", set()),
    ],
)
def test_search_finds_users_by_the_login_field(people, monkeypatch, indexed, q, expected):
    if not indexed:  # no trigram index: the user table, which has no username or names
        monkeypatch.setattr(trigram, "available", lambda alias: False)
    assert found(q) == expected


def test_the_page_searches_by_email(admin_client, people):
    html = body(admin_client.get(page_url(), {"q": "alice.mar"}, **HTMX))
    assert set(handles_in(html)) == {
        record_of(people["alice1"]).handle,
        record_of(people["alice2"]).handle,
    }


# -- the per-user view and its kill -------------------------------------------------------


def test_the_per_user_view_takes_a_uuid_and_links_the_users_page(admin_client, people):
    alice = people["alice"]
    html = body(admin_client.get(page_url(), {"user": str(alice.pk)}))
    assert set(handles_in(html)) == {
        record_of(people["alice1"]).handle,
        record_of(people["alice2"]).handle,
    }
    change = f"/admin/custom_user/emailuser/{alice.pk}/change/"
    assert f'Sessions of <a href="{change}">alice.martin@example.com</a>' in html
    assert f'<input type="hidden" name="user" value="{alice.pk}">' in html
    assert admin_client.get(change).status_code == 200


def test_a_uuid_without_hyphens_is_the_same_user(admin_client, people):
    alice = people["alice"]
    html = body(admin_client.get(page_url(), {"user": alice.pk.hex}, **HTMX))
    assert len(handles_in(html)) == 2


@pytest.mark.parametrize("value", ["1", "not-a-uuid", "1 OR 1=1", "x" * 100])
def test_a_value_that_is_no_uuid_is_refused_without_a_query_error(admin_client, people, value):
    response = admin_client.get(page_url(), {"user": value}, **HTMX)
    assert response.status_code == 200
    assert "That user ID is not valid." in body(response)
    assert handles_in(body(response)) == []


def test_an_unknown_uuid_is_an_empty_list(admin_client, people):
    response = admin_client.get(page_url(), {"user": str(uuid.uuid4())}, **HTMX)
    assert response.status_code == 200
    assert handles_in(body(response)) == []


def test_kill_user_by_uuid_ends_that_users_sessions_only(admin_client, people):
    alice = people["alice"]
    response = admin_client.post(action_url("kill_user"), {"user": str(alice.pk)})
    assert response.status_code == 302
    assert not SessionRecord.objects.filter(user=alice).exists()
    assert SessionRecord.objects.filter(user=people["bob"]).exists()


def test_kill_user_by_a_session_handle_names_the_user_by_email(admin_client, people):
    handle = record_of(people["bob1"]).handle
    response = admin_client.post(action_url("kill_user"), {"handle": handle}, **HTMX)
    assert "Ended 1 session of bob@shop.example." in body(response)
    assert not SessionRecord.objects.filter(user=people["bob"]).exists()


# -- the user's own admin page ------------------------------------------------------------


def section(html: str) -> str:
    start = html.find("sp-user-sessions")
    return html[start : html.find("</fieldset>", start)] if start >= 0 else ""


def test_the_documented_template_shows_the_section_on_the_default_site(admin_client, people):
    alice = people["alice"]
    html = body(admin_client.get(f"/admin/custom_user/emailuser/{alice.pk}/change/"))
    assert html.count("sp-user-sessions") == 2  # the fieldset's class and its id
    assert "2 live sessions." in section(html)
    assert f'<a href="{page_url()}?user={alice.pk}">' in section(html)
    assert "you can end them all there" in section(html)
    assert html.index("sp-user-sessions") < html.index('class="submit-row"')


def test_the_mixin_shows_the_section_on_another_site_once(admin_client, people):
    alice = people["alice"]
    html = body(admin_client.get(f"/backoffice/custom_user/emailuser/{alice.pk}/change/"))
    assert html.count("sp-user-sessions") == 1  # the mixin's; the template's tag stays silent
    assert "Live sessions" in section(html)
    assert "2 live sessions." in section(html)
    assert f'<a href="{BACKOFFICE_PAGE}?user={alice.pk}">' in section(html)
    assert "you can end them all there" in section(html)
    assert html.index("sp-user-sessions") < html.index('class="submit-row"')
    listed = body(admin_client.get(BACKOFFICE_PAGE, {"user": str(alice.pk)}))
    assert len(handles_in(listed)) == 2
    assert f'href="/backoffice/custom_user/emailuser/{alice.pk}/change/"' in listed


def test_the_mixin_keeps_the_form_working(admin_client, people):
    alice = people["alice"]
    url = f"/backoffice/custom_user/emailuser/{alice.pk}/change/"
    response = admin_client.post(
        url, {"email": "alice@example.org", "is_active": "on", "_continue": "1"}
    )
    assert response.status_code == 302, body(response)
    alice.refresh_from_db()
    assert alice.email == "alice@example.org"
    invalid = admin_client.post(url, {"email": "", "is_active": "on"})
    assert invalid.status_code == 200
    assert "2 live sessions." in section(body(invalid))


@pytest.mark.parametrize("prefix", ["/admin/", "/backoffice/"])
def test_no_section_on_the_add_page(admin_client, prefix):
    html = body(admin_client.get(f"{prefix}custom_user/emailuser/add/"))
    assert "sp-user-sessions" not in html


@pytest.mark.parametrize("prefix", ["/admin/", "/backoffice/"])
def test_the_section_needs_the_view_permission(people, prefix):
    from django.contrib.auth.models import Permission

    editor = make_staff(EmailUser, "editor@example.com")
    editor.user_permissions.add(*Permission.objects.filter(content_type__app_label="custom_user"))
    url = f"{prefix}custom_user/emailuser/{people['alice'].pk}/change/"
    response = logged_in(editor).get(url)
    assert response.status_code == 200
    assert "sp-user-sessions" not in body(response)
    viewer = make_staff(EmailUser, "viewer@example.com", "view_sessionrecord")
    viewer.user_permissions.add(*editor.user_permissions.all())
    html = body(logged_in(viewer).get(url))
    assert "2 live sessions." in section(html)
    assert "you can end them all there" not in html


# -- the killsessions command -------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("killsessions", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("by", ["email", "pk", "hex"])
def test_killsessions_takes_the_login_or_the_uuid(people, by):
    alice = people["alice"]
    value = {"email": alice.email, "pk": str(alice.pk), "hex": alice.pk.hex}[by]
    output = run("--user", value, "--noinput")
    assert "Will end 2 indexed session(s) of 1 user(s)" in output
    assert "user alice.martin@example.com." in output
    assert not SessionRecord.objects.filter(user=alice).exists()
    assert SessionRecord.objects.filter(user=people["bob"]).exists()


def test_killsessions_refuses_an_unknown_user(people):
    with pytest.raises(CommandError, match="No user named 'carol@example.com'.*email or ID"):
        run("--user", "carol@example.com")
    assert SessionRecord.objects.count() == 4


# -- seed_demo ----------------------------------------------------------------------------


def test_seed_demo_makes_email_accounts_and_a_working_admin_login(settings, tmp_path):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_demo", credentials_file=str(tmp_path / "credentials"), stdout=out)
    password = (tmp_path / "credentials").read_text().strip()
    assert f"Admin login:  admin@example.com / {password}" in out.getvalue()
    admin = EmailUser.objects.get(email="admin@example.com")
    assert admin.is_superuser and admin.is_staff
    alice = EmailUser.objects.get(email="alice@example.com")
    assert not alice.has_usable_password()
    assert SessionRecord.objects.filter(user_id=alice.pk).count() == 4
    client = Client()
    response = client.post("/admin/login/", {"username": "admin@example.com", "password": password})
    assert response.status_code == 302
    assert client.get(page_url()).status_code == 200
    again = io.StringIO()
    call_command("seed_demo", credentials_file=str(tmp_path / "credentials"), stdout=again)
    assert f"admin@example.com / {password}" in again.getvalue()
    assert EmailUser.objects.filter(email="admin@example.com").count() == 1


def test_seed_demo_refuses_without_debug(settings, tmp_path):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", credentials_file=str(tmp_path / "credentials"))
    assert not EmailUser.objects.exists()
