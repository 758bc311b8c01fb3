"""The Sessions page is mounted in the admin, on any AdminSite, behind its permissions."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.urls import path

from sessions_panel.admin import SessionRecordAdmin
from sessions_panel.models import SessionRecord
from tests.keys import indexed
from tests.page_support import (
    HTMX,
    action_url,
    body,
    logged_in,
    make_staff,
    page_url,
)

second_site = AdminSite(name="second")
second_site.register(SessionRecord, SessionRecordAdmin)

# This module doubles as the urlconf of the custom-site tests.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("second-admin/", second_site.urls),
]

pytestmark = pytest.mark.django_db


@pytest.fixture
def roles(django_user_model, client):
    """Anonymous, non-staff, staff without perms, view-only, view+delete, delete-only."""
    plain = django_user_model.objects.create_user("plain", password="pw")
    return {
        "anonymous": client,
        "non_staff": logged_in(plain),
        "staff": logged_in(make_staff(django_user_model, "staff")),
        "viewer": logged_in(make_staff(django_user_model, "viewer", "view_sessionrecord")),
        "killer": logged_in(
            make_staff(
                django_user_model,
                "killer",
                "view_sessionrecord",
                "delete_sessionrecord",
            )
        ),
        "delete_only": logged_in(make_staff(django_user_model, "deleter", "delete_sessionrecord")),
    }


def test_sessions_appear_on_the_admin_index_and_in_the_sidebar(admin_client):
    html = body(admin_client.get("/admin/"))
    assert f'href="{page_url()}"' in html
    assert ">Sessions<" in html
    sidebar = body(admin_client.get(page_url()))
    assert 'id="nav-sidebar"' in sidebar
    assert f'href="{page_url()}"' in sidebar


def test_page_extends_the_admin_with_title_subtitle_and_breadcrumbs(admin_client):
    html = body(admin_client.get(page_url()))
    assert 'id="header"' in html  # the admin's own chrome
    assert "<h1>Sessions</h1>" in html
    assert "Active user connections across all apps" in html
    breadcrumbs = html.split('class="breadcrumbs"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/admin/"' in breadcrumbs
    assert "Home" in breadcrumbs
    assert "Sessions" in breadcrumbs


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("anonymous", 302),
        ("non_staff", 302),
        ("staff", 403),
        ("viewer", 200),
        ("killer", 200),
        ("delete_only", 403),
    ],
)
def test_page_needs_staff_and_the_view_permission(roles, role, expected):
    response = roles[role].get(page_url())
    assert response.status_code == expected
    if expected == 302:
        assert response["Location"].startswith("/admin/login/?next=")


@pytest.mark.parametrize("name", ["kill", "kill_user", "kill_all", "kill_matching"])
@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("anonymous", 302),
        ("non_staff", 302),
        ("staff", 403),
        ("viewer", 403),
        ("delete_only", 403),
        ("killer", 302),
    ],
)
def test_actions_need_the_view_and_delete_permissions(
    roles, make_session, store_class, name, role, expected
):
    victim = make_session()
    record = SessionRecord.objects.get(session_key=indexed(victim))
    response = roles[role].post(action_url(name), {"handle": record.handle})
    assert response.status_code == expected
    survived = store_class()().exists(victim.session_key)
    # A guest has no user to end; with no search or filter, nothing "matches".
    if role == "killer" and name in ("kill", "kill_all"):
        assert not survived
        assert response["Location"] == page_url()
    else:
        assert survived
    if role in ("anonymous", "non_staff"):
        assert response["Location"].startswith("/admin/login/")


def test_viewer_sees_no_kill_controls(roles, make_session):
    make_session()
    html = body(roles["viewer"].get(page_url()))
    assert "sp-kill-form" not in html
    assert "sp-kill-all-dialog" not in html
    assert "Kill All" not in html


def test_a_forged_hx_request_header_changes_no_authorisation(roles, make_session):
    make_session()
    assert roles["staff"].get(page_url(), **HTMX).status_code == 403
    response = roles["viewer"].post(action_url("kill_all"), **HTMX)
    assert response.status_code == 403
    assert SessionRecord.objects.filter(user__isnull=True).exists()


def test_htmx_request_of_a_logged_out_admin_redirects_the_whole_page(client):
    response = client.get(page_url(), **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/admin/login/?next=")
    assert "no-store" in response["Cache-Control"]
    assert response.content == b""


def test_add_change_history_and_stock_delete_views_do_not_exist(admin_client):
    record = SessionRecord.objects.get()  # the admin's own session
    assert admin_client.get(page_url() + "add/").status_code == 404
    for suffix in ("change/", "history/", "delete/"):
        url = f"{page_url()}{record.pk}/{suffix}"
        assert admin_client.get(url).status_code == 404
        assert admin_client.post(url, {"post": "yes"}).status_code == 404
    assert SessionRecord.objects.filter(pk=record.pk).exists()


def test_add_and_change_permissions_are_always_refused(rf, admin_user):
    request = rf.get("/")
    request.user = admin_user
    model_admin = SessionRecordAdmin(SessionRecord, admin.site)
    assert model_admin.has_add_permission(request) is False
    assert model_admin.has_change_permission(request) is False
    assert model_admin.has_view_permission(request) is True
    assert model_admin.has_delete_permission(request) is True


@pytest.mark.urls("tests.page.test_page_access")
def test_page_works_on_a_custom_admin_site(admin_client, make_session):
    victim = make_session()
    url = "/second-admin/sessions_panel/sessionrecord/"
    response = admin_client.get(url)
    assert response.status_code == 200
    html = body(response)
    assert f'action="{url}kill/' in html
    assert f'action="{url}kill-all/' in html
    assert 'href="/second-admin/"' in html  # breadcrumbs and branding
    record = SessionRecord.objects.get(session_key=indexed(victim))
    response = admin_client.post(f"{url}kill/", {"handle": record.handle})
    assert response.status_code == 302
    assert response["Location"] == url
    assert not SessionRecord.objects.filter(pk=record.pk).exists()


@pytest.mark.urls("tests.page.test_page_access")
def test_custom_admin_site_sends_anonymous_users_to_its_own_login(client):
    response = client.get("/second-admin/sessions_panel/sessionrecord/")
    assert response.status_code == 302
    assert response["Location"].startswith("/second-admin/login/")


def test_staff_must_be_active(django_user_model):
    user = make_staff(django_user_model, "gone", "view_sessionrecord")
    client = logged_in(user)
    user.is_active = False
    user.save()
    assert client.get(page_url()).status_code == 302
