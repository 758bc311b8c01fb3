"""Issue 12, point 4, on the stock user model: a full name finds its user, ``seed_demo``
is guarded and fills any user model or says why not, ``killsessions --user`` takes an
id too, and the user-page section comes from a mixin on any ``UserAdmin``.

The same on an email-login, UUID-keyed model with no names: ``tests/custom_user``
(run by ``tests/test_custom_user_run.py``).
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import path

from sessions_panel.admin import SessionRecordAdmin
from sessions_panel.models import SessionRecord
from sessions_panel.query import search, trigram, usertext
from sessions_panel.useradmin import UserSessionsMixin
from tests.page_support import HTMX, body, handles_in, page_url

pytestmark = pytest.mark.django_db


def found(q: str) -> set[str]:
    rows = SessionRecord.objects.filter(search.condition(q), user__isnull=False)
    return set(rows.values_list("user__username", flat=True))


@pytest.fixture
def people(django_user_model: Any, make_session: Any) -> dict[str, Any]:
    """Alice Martin, and two who share one of her names each."""
    made = {
        "alice": django_user_model.objects.create_user(
            "amartin", email="am@example.com", first_name="Alice", last_name="Martin"
        ),
        "alicia": django_user_model.objects.create_user(
            "abernard", email="ab@example.com", first_name="Alice", last_name="Bernard"
        ),
        "tom": django_user_model.objects.create_user(
            "tmartin", email="tm@example.com", first_name="Tom", last_name="Martin"
        ),
    }
    for user in made.values():
        make_session(user=user, application="")
    return made


# -- full names ---------------------------------------------------------------------------


@pytest.mark.parametrize("path_taken", ["index", "copy", "user table"])
@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("alice martin", {"amartin"}),
        ("Alice Martin", {"amartin"}),
        ("  alice   martin ", {"amartin"}),
        ("martin alice", {"amartin"}),
        ("alice mar", {"amartin"}),  # a word too short for trigrams beside a long one
        ("al ma", {"amartin"}),  # only short words
        ("alice", {"amartin", "abernard"}),
        ("martin", {"amartin", "tmartin"}),
        ("alice bernard", {"abernard"}),
        ("alice smith", set()),
    ],
)
def test_a_full_name_finds_its_user(people, monkeypatch, path_taken, q, expected):
    if path_taken == "user table":
        monkeypatch.setattr(trigram, "available", lambda alias: False)
    elif path_taken == "copy":  # the copy scanned, as for words too short for trigrams
        monkeypatch.setattr(trigram, "serves", lambda needle: False)
    assert found(q) == expected


def test_the_page_finds_a_full_name_in_as_many_queries_as_one_word(admin_client, people):
    admin_client.get(page_url(), {"q": "warm up"}, **HTMX)
    with CaptureQueriesContext(connection) as one_word:
        alice = admin_client.get(page_url(), {"q": "alice"}, **HTMX)
    with CaptureQueriesContext(connection) as full_name:
        response = admin_client.get(page_url(), {"q": "Alice Martin"}, **HTMX)
    assert len(handles_in(body(alice))) == 2
    html = body(response)
    assert len(handles_in(html)) == 1
    assert "amartin" in html
    assert len(full_name) == len(one_word)
    assert all(
        "auth_user" not in q["sql"] for q in full_name if " MATCH " in q["sql"]
    )  # served by the index, not a scan of the users


def test_a_name_never_matches_across_the_copys_fields(people):
    """The words are matched one by one: "martin\\nalice" is two words, not one text."""
    assert found("martin\nam@") == {"amartin"}
    assert found("\n") == set()


# -- seed_demo ----------------------------------------------------------------------------


def test_seed_demo_refuses_to_run_with_debug_off(settings, tmp_path, django_user_model):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG on.*--force"):
        call_command("seed_demo", credentials_file=str(tmp_path / "credentials"))
    assert not django_user_model.objects.exists()
    assert not SessionRecord.objects.exists()
    assert not (tmp_path / "credentials").exists()


def test_seed_demo_runs_with_debug_off_when_forced(settings, tmp_path, django_user_model):
    settings.DEBUG = False
    out = io.StringIO()
    call_command("seed_demo", "--force", credentials_file=str(tmp_path / "c"), stdout=out)
    assert "Admin login:  admin / " in out.getvalue()
    assert django_user_model.objects.get(username="alice").get_full_name() == "Alice Martin"


def test_seed_demo_says_which_required_field_it_cannot_fill(
    settings, tmp_path, django_user_model, monkeypatch
):
    settings.DEBUG = True
    monkeypatch.setattr(django_user_model, "REQUIRED_FIELDS", ["email", "date_joined"])
    with pytest.raises(CommandError, match="requires date_joined.*nothing was changed"):
        call_command("seed_demo", credentials_file=str(tmp_path / "credentials"))
    assert not django_user_model.objects.exists()


def test_seed_demo_fills_a_required_text_field_with_the_full_name(
    settings, tmp_path, django_user_model, monkeypatch
):
    settings.DEBUG = True
    monkeypatch.setattr(django_user_model, "REQUIRED_FIELDS", ["email", "first_name"])
    call_command("seed_demo", credentials_file=str(tmp_path / "c"), stdout=io.StringIO())
    assert django_user_model.objects.get(username="alice").first_name == "Alice"
    assert django_user_model.objects.get(username="admin").is_superuser


# -- killsessions --user ------------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("killsessions", *args, stdout=out)
    return out.getvalue()


def test_killsessions_takes_a_users_id(people):
    output = run("--user", str(people["alice"].pk))
    assert "of 1 user(s) and 0 guest(s): user amartin." in output
    assert not SessionRecord.objects.filter(user=people["alice"]).exists()
    assert SessionRecord.objects.count() == 2


def test_killsessions_refuses_a_login_that_is_another_users_id(people, django_user_model):
    numbered = django_user_model.objects.create_user(str(people["tom"].pk))
    with pytest.raises(CommandError, match="username of one user and the ID of another"):
        run("--user", numbered.username)
    assert SessionRecord.objects.count() == 3


# -- the mixin on the stock UserAdmin -----------------------------------------------------


class MixinUserAdmin(UserSessionsMixin, UserAdmin):  # type: ignore[type-arg]
    pass


staff_site = admin.AdminSite(name="staff")
staff_site.register(User, MixinUserAdmin)
staff_site.register(SessionRecord, SessionRecordAdmin)
urlpatterns = [path("admin/", admin.site.urls), path("staff/", staff_site.urls)]


@pytest.mark.urls(__name__)
def test_the_mixin_on_the_stock_useradmin_adds_the_section_once(admin_client, people):
    """The panel's ``admin/auth/user/change_form.html`` applies here too; with the mixin
    its tag stays silent, so the section is there once, linking to this site's page."""
    alice = people["alice"]
    html = body(admin_client.get(f"/staff/auth/user/{alice.pk}/change/"))
    assert html.count("sp-user-sessions") == 1
    assert f'<a href="/staff/sessions_panel/sessionrecord/?user={alice.pk}">' in html
    assert "1 live session." in html
    stock = body(admin_client.get(f"/admin/auth/user/{alice.pk}/change/"))
    assert 'id="sp-user-sessions"' in stock  # the template's section, as before
    assert usertext.search_fields() == ["username", "email", "first_name", "last_name"]
