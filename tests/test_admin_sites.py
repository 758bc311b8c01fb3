"""The Sessions page and the audit trail on every kind of admin site (issue 12, point 1).

Three set-ups, the same tests for each:

- ``default``: the stock ``admin.site`` at ``/admin/``;
- ``backoffice``: an extra ``AdminSite(name="backoffice")`` at ``/backoffice/``, given
  the panel by the one documented line (``tests.admin_sites_urls``);
- ``office``: ``AdminConfig.default_site`` names the project's own class, so
  ``admin.site`` is an ``OfficeSite``, served at ``/office/``. Which class ``admin.site``
  is gets fixed when the admin app is set up, once per process, so this set-up runs in
  a pytest process of its own (``tests.admin_sites_office_settings``), collecting this
  very module.

For each: the index lists the page and the trail, every link the page builds stays
under the site's prefix, a kill redirects back there, the trail is reachable, the
permissions hold. Then check ``sessions_panel.W001``, by ID.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.core.checks import CheckMessage, run_checks
from django.test import Client, override_settings
from django.urls import resolve

from sessions_panel.admin import SessionRecordAdmin
from sessions_panel.models import AuditEntry, SessionRecord
from sessions_panel.query.liststate import STATUS_GUEST
from sessions_panel.sites import register
from tests.keys import indexed
from tests.page_support import HTMX, body, logged_in, make_staff, parse_tags

pytestmark = pytest.mark.django_db

OFFICE_SITE = "tests.admin_sites_office.OfficeSite"
URL_ATTRIBUTES = ("href", "action", "formaction", "hx-get", "hx-post", "src")


@dataclass(frozen=True)
class SetUp:
    name: str
    prefix: str
    urlconf: str

    @property
    def page(self) -> str:
        return f"{self.prefix}sessions_panel/sessionrecord/"

    @property
    def audit(self) -> str:
        return f"{self.prefix}sessions_panel/auditentry/"

    @property
    def login(self) -> str:
        return f"{self.prefix}login/"

    def site(self) -> AdminSite:
        """The site serving the prefix, as the URLconf resolves it."""
        site = resolve(self.prefix).func.admin_site  # type: ignore[attr-defined]
        assert isinstance(site, AdminSite)
        return site


DEFAULT = SetUp("default", "/admin/", "tests.admin_sites_urls")
BACKOFFICE = SetUp("backoffice", "/backoffice/", "tests.admin_sites_urls")
OFFICE = SetUp("office", "/office/", "tests.admin_sites_office_urls")


def in_office_process() -> bool:
    default_site: str = getattr(apps.get_app_config("admin"), "default_site", "")
    return default_site == OFFICE_SITE


SET_UPS = [OFFICE] if in_office_process() else [DEFAULT, BACKOFFICE]


@pytest.fixture(params=SET_UPS, ids=lambda s: s.name)
def setup(request: pytest.FixtureRequest) -> Iterator[SetUp]:
    with override_settings(ROOT_URLCONF=request.param.urlconf):
        yield request.param


@pytest.fixture
def killer(django_user_model: Any) -> Client:
    """Staff with every panel permission (not a superuser: the permissions are real)."""
    return logged_in(
        make_staff(
            django_user_model,
            "killer",
            "view_sessionrecord",
            "delete_sessionrecord",
            "view_auditentry",
        )
    )


def local_urls(html: str) -> list[str]:
    """Every site-relative URL in the page's tags (links, forms, htmx, scripts)."""
    urls = []
    for _tag, attrs in parse_tags(html).tags:
        for name in URL_ATTRIBUTES:
            value = attrs.get(name)
            if value and value.startswith("/"):
                urls.append(value)
    return urls


def assert_all_under(setup: SetUp, html: str) -> None:
    """Links stay on the site: its prefix, or the static files and the "View site" root."""
    stray = [
        url
        for url in local_urls(html)
        if not url.startswith((setup.prefix, "/static/")) and url != "/"
    ]
    assert stray == []
    if setup.prefix != "/admin/":
        assert '"/admin/' not in html


def messages_in(html: str) -> str:
    return html.split('id="sp-messages"', 1)[1].split("</div>", 1)[0]


# -- the three set-ups ------------------------------------------------------------------


def test_the_index_lists_the_sessions_page_and_the_audit_trail(setup, killer):
    html = body(killer.get(setup.prefix))
    assert f'href="{setup.page}"' in html
    assert f'href="{setup.audit}"' in html
    assert ">Sessions<" in html
    assert ">Audit trail<" in html


def test_the_page_builds_every_link_under_the_sites_prefix(
    setup, killer, make_session, django_user_model, settings
):
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 1}  # two sessions: "Load more" shows
    bob = django_user_model.objects.create_user("bob")
    make_session(user=bob)
    make_session(user=bob)
    response = killer.get(setup.page, {"user": bob.pk})
    assert response.status_code == 200
    html = body(response)
    site = setup.site()
    assert str(site.site_header) in html  # the site's own chrome (each_context)
    breadcrumbs = html.split('class="breadcrumbs"', 1)[1].split("</nav>", 1)[0]
    assert f'href="{setup.prefix}"' in breadcrumbs
    assert f'href="{setup.audit}" id="sp-audit-link"' in html
    assert f'href="{setup.prefix}auth/user/{bob.pk}/change/"' in html  # "Sessions of bob"
    for action in ("kill/", "kill-user/", "kill-all/"):
        assert f'action="{setup.page}{action}' in html
    assert f'href="{setup.page}?' in html  # Load more, without JavaScript
    assert f'hx-get="{setup.page}?' in html  # Load more, and the poller
    assert_all_under(setup, html)


def test_htmx_answers_point_under_the_sites_prefix(setup, killer, make_session, settings):
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 1}
    for _ in range(3):
        make_session()
    fragment = killer.get(setup.page, {"status": STATUS_GUEST}, **HTMX)
    assert fragment.status_code == 200
    assert fragment["HX-Replace-Url"].startswith(setup.page)
    html = body(fragment)
    assert f'action="{setup.page}kill/' in html
    assert_all_under(setup, html)
    (more_url,) = [
        attrs["hx-get"]
        for _tag, attrs in parse_tags(html).tags
        if attrs.get("data-sp-focus") == "more" and attrs.get("hx-get")
    ]
    assert more_url is not None
    assert more_url.startswith(setup.page)
    more = killer.get(more_url, **HTMX)
    assert more.status_code == 200
    assert more["HX-Replace-Url"].startswith(setup.page)
    assert "<tr data-handle=" in body(more)
    assert_all_under(setup, body(more))


def test_a_kill_redirects_back_under_the_same_prefix(setup, killer, make_session):
    victim = make_session()
    record = SessionRecord.objects.get(session_key=indexed(victim))
    response = killer.post(f"{setup.page}kill/", {"handle": record.handle})
    assert response.status_code == 302
    assert response["Location"] == setup.page
    assert not SessionRecord.objects.filter(pk=record.pk).exists()
    assert f"Session {record.short_id} of a guest was ended." in messages_in(
        body(killer.get(setup.page))
    )


def test_an_htmx_kill_answers_with_the_fragment_of_the_same_site(setup, killer, make_session):
    victim = make_session()
    record = SessionRecord.objects.get(session_key=indexed(victim))
    response = killer.post(f"{setup.page}kill/", {"handle": record.handle}, **HTMX)
    assert response.status_code == 200
    assert not SessionRecord.objects.filter(pk=record.pk).exists()
    assert_all_under(setup, body(response))


def test_kill_all_redirects_back_under_the_same_prefix(setup, killer, make_session):
    make_session()
    response = killer.post(f"{setup.page}kill-all/")
    assert response.status_code == 302
    assert response["Location"] == setup.page


def test_the_audit_trail_is_reachable_and_shows_the_kill(setup, killer, make_session):
    victim = make_session()
    record = SessionRecord.objects.get(session_key=indexed(victim))
    killer.post(f"{setup.page}kill/", {"handle": record.handle, "reason": "stolen laptop"})
    entry = AuditEntry.objects.get()
    html = body(killer.get(setup.audit))
    assert "stolen laptop" in html
    assert f'href="{setup.audit}{entry.pk}/change/' in html
    assert_all_under(setup, html)
    assert killer.get(f"{setup.audit}{entry.pk}/change/").status_code == 200


def test_a_users_page_on_the_site_links_to_their_sessions_there(
    setup, admin_client, make_session, django_user_model
):
    bob = django_user_model.objects.create_user("bob")
    make_session(user=bob)
    html = body(admin_client.get(f"{setup.prefix}auth/user/{bob.pk}/change/"))
    assert f'href="{setup.page}?user={bob.pk}"' in html


def test_staff_without_the_view_permission_get_403(setup, django_user_model):
    staff = logged_in(make_staff(django_user_model, "staff"))
    assert staff.get(setup.page).status_code == 403
    assert staff.get(setup.audit).status_code == 403
    assert f'href="{setup.page}"' not in body(staff.get(setup.prefix))


def test_a_viewer_cannot_kill(setup, django_user_model, make_session):
    victim = make_session()
    record = SessionRecord.objects.get(session_key=indexed(victim))
    viewer = logged_in(make_staff(django_user_model, "viewer", "view_sessionrecord"))
    assert viewer.get(setup.page).status_code == 200
    for action in ("kill/", "kill-all/"):
        assert viewer.post(f"{setup.page}{action}", {"handle": record.handle}).status_code == 403
    assert SessionRecord.objects.filter(pk=record.pk).exists()
    assert "sp-audit-link" not in body(viewer.get(setup.page))  # no view_auditentry


def test_anonymous_visitors_go_to_the_sites_own_login(setup, client):
    response = client.get(setup.page)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{setup.login}?next=")
    htmx = client.get(setup.page, **HTMX)
    assert htmx["HX-Redirect"].startswith(f"{setup.login}?next=")
    assert client.get(setup.audit)["Location"].startswith(f"{setup.login}?next=")


def test_ending_your_own_session_logs_you_out_to_the_sites_login(setup, killer):
    own = SessionRecord.objects.get(session_key=indexed(killer.session))
    response = killer.post(f"{setup.page}kill/", {"handle": own.handle})
    assert response.status_code == 302
    assert response["Location"].startswith(f"{setup.login}?next=")
    assert setup.page in response["Location"].replace("%2F", "/")


def test_w001_is_silent_for_the_set_up(setup):
    assert w001() == []


# -- the default_site set-up, in its own process --------------------------------------


def per_set_up_tests() -> set[str]:
    return {
        name
        for name, function in globals().items()
        if name.startswith("test_") and "setup" in inspect.signature(function).parameters
    }


@pytest.mark.skipif(in_office_process(), reason="this is that process")
def test_the_default_site_set_up_in_a_process_of_its_own() -> None:
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rA",
            "-p",
            "no:cacheprovider",
            "--ds=tests.admin_sites_office_settings",
            "tests/test_admin_sites.py",
        ],
        cwd=root,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    passed = set(re.findall(r"^PASSED tests/test_admin_sites\.py::(\w+)\[office\]", output, re.M))
    assert passed == per_set_up_tests(), output[-6000:]


# -- sessions_panel.W001 ----------------------------------------------------------------


def w001() -> list[CheckMessage]:
    return [m for m in run_checks() if m.id == "sessions_panel.W001"]


@pytest.mark.urls("tests.admin_sites_unregistered_urls")
def test_w001_names_each_served_site_that_lists_users_but_not_the_panel() -> None:
    from tests.admin_sites_unregistered_urls import bare, plain

    # Not the default site, not helpdesk (sessions, no users).
    warnings = {m.obj: m for m in w001()}
    assert list(warnings) == [bare, plain]
    assert warnings[bare].msg == (
        "The admin site 'bare' (served at /staff/bare/) lists users but not "
        "the Sessions page or the sessions audit trail."
    )
    assert warnings[plain].msg.startswith("The admin site 'plain' (served at /plain/)")
    hint = warnings[bare].hint
    assert hint is not None
    assert "from sessions_panel.sites import register; register(<the site>)" in hint
    assert "SILENCED_SYSTEM_CHECKS" in hint


@pytest.mark.urls("tests.admin_sites_unregistered_urls")
def test_w001_goes_once_the_line_is_added() -> None:
    from tests.admin_sites_unregistered_urls import bare, plain

    try:
        register(bare)
        assert [m.obj for m in w001()] == [plain]
    finally:
        for model in (SessionRecord, AuditEntry):
            bare.unregister(model)
    assert [m.obj for m in w001()] == [bare, plain]


@pytest.mark.urls("tests.admin_sites_urls")
def test_w001_is_silent_when_every_served_site_has_the_panel() -> None:
    assert w001() == []


def test_w001_is_silent_on_the_projects_own_urls() -> None:
    assert w001() == []


@pytest.mark.skipif(in_office_process(), reason="runs on the stock default site")
def test_w001_catches_the_default_site_without_the_page() -> None:
    """A project that took the page off ``admin.site`` (or uses ``SimpleAdminConfig``)."""
    original = type(admin.site.get_model_admin(SessionRecord))
    admin.site.unregister(SessionRecord)
    try:
        (warning,) = w001()
        assert warning.msg == (
            "The admin site 'admin' (served at /admin/) lists users but not the Sessions page."
        )
    finally:
        admin.site.register(SessionRecord, original)
    assert w001() == []


@pytest.mark.urls("tests.admin_sites_unregistered_urls")
def test_w001_can_be_silenced(settings: Any) -> None:
    settings.SILENCED_SYSTEM_CHECKS = ["sessions_panel.W001"]
    assert [m.is_silenced() for m in w001()] == [True, True]


# -- register() -------------------------------------------------------------------------


def test_register_is_idempotent_and_keeps_a_hosts_own_admin() -> None:
    class HostSessionAdmin(SessionRecordAdmin):
        pass

    site = AdminSite(name="host")
    site.register(SessionRecord, HostSessionAdmin)
    register(site)
    register(site)
    assert type(site.get_model_admin(SessionRecord)) is HostSessionAdmin
    assert isinstance(site.get_model_admin(AuditEntry), admin.ModelAdmin)


def test_the_default_site_gets_the_panel_from_autodiscovery() -> None:
    """The stock site, or the ``default_site`` class (the office process runs this too)."""
    if in_office_process():
        assert type(admin.site._wrapped).__name__ == "OfficeSite"  # type: ignore[attr-defined]
    assert admin.site.is_registered(SessionRecord)
    assert admin.site.is_registered(AuditEntry)
