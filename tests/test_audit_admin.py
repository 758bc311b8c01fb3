"""The audit trail in the admin: read-only, searchable, filterable, never a raw key; and
every kill from the page shows in the admin's "Recent actions"."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from sessions_panel import termination
from sessions_panel.models import AuditEntry, SessionRecord
from tests.keys import indexed
from tests.page_support import action_url, body, logged_in, make_staff, page_url

pytestmark = pytest.mark.django_db

LIST = "/admin/sessions_panel/auditentry/"


def change_url(entry: AuditEntry) -> str:
    return reverse("admin:sessions_panel_auditentry_change", args=[entry.pk])


@pytest.fixture
def trail(admin_client, admin_user, django_user_model, make_session):
    """Three kills from the page: one session, a user's sessions, all matching a search."""
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    one = make_session(user=bob)
    alices = [make_session(user=alice) for _ in range(2)]
    shop = [make_session(application="Shop") for _ in range(2)]
    keys = [s.session_key for s in (one, *alices, *shop)]
    short_ids = {key: SessionRecord.objects.get(session_key=indexed(key)).short_id for key in keys}
    handle = SessionRecord.objects.get(session_key=indexed(one)).handle
    admin_client.post(action_url("kill"), {"handle": handle, "reason": "bob's stolen phone"})
    admin_client.post(action_url("kill_user"), {"user": str(alice.pk), "reason": "offboarding"})
    admin_client.post(action_url("kill_matching"), {"q": "shop", "reason": "scraper"})
    return {"keys": keys, "short_ids": short_ids, "alice": alice, "bob": bob}


def assert_no_raw_key(html: str, keys: list[str]) -> None:
    for key in keys:
        assert key not in html
        assert key[:12] not in html


def test_every_kill_from_the_page_writes_an_audit_row_and_a_log_entry(admin_user, trail):
    entries = list(AuditEntry.objects.order_by("pk"))
    assert [(e.scope, e.killed, e.reason) for e in entries] == [
        ("session", 1, "bob's stolen phone"),
        ("user", 2, "offboarding"),
        ("filter", 2, "scraper"),
    ]
    assert all(e.actor == admin_user and e.actor_repr == "admin" for e in entries)
    logs = list(LogEntry.objects.order_by("pk"))
    assert len(logs) == 3
    content_type = ContentType.objects.get_for_model(AuditEntry)
    for log, entry in zip(logs, entries, strict=True):
        assert (log.user_id, log.content_type, log.object_id) == (
            admin_user.pk,
            content_type,
            str(entry.pk),
        )
        assert log.action_flag == ADDITION
        assert log.get_admin_url() == change_url(entry)


def test_kill_all_from_the_page_writes_a_log_entry_too(admin_client, make_session):
    make_session()
    admin_client.post(action_url("kill_all"), {"reason": "incident"})
    entry = AuditEntry.objects.get()
    log = LogEntry.objects.get()
    assert log.object_id == str(entry.pk)
    assert log.object_repr == "Ended 1 session(s) (all)"


def test_recent_actions_on_the_admin_index_link_to_the_audit_entries(admin_client, trail):
    html = body(admin_client.get("/admin/"))
    for entry in AuditEntry.objects.all():
        assert f'href="{change_url(entry)}"' in html
    assert "Ended 2 session(s) (filter)" in html


def test_audit_rows_hold_short_ids_and_users_never_raw_keys(trail):
    for entry in AuditEntry.objects.all():
        text = " ".join(
            str(value)
            for value in (entry.reason, entry.detail, entry.short_ids, entry.user_ids, entry)
        )
        assert_no_raw_key(text, trail["keys"])
    user_entry = AuditEntry.objects.get(scope="user")
    assert user_entry.user_ids == [str(trail["alice"].pk)]
    assert user_entry.detail == "user alice"
    assert len(user_entry.short_ids) == 2
    assert set(user_entry.short_ids) <= set(trail["short_ids"].values())


def test_the_list_shows_when_by_scope_killed_failed_and_reason(admin_client, trail):
    response = admin_client.get(LIST)
    assert response.status_code == 200
    html = body(response)
    for column in ("When", "By", "Scope", "Sessions ended", "Sessions not ended", "Reason"):
        assert f">{column}</a>" in html or f">{column}</span>" in html, column
    assert "bob&#x27;s stolen phone" in html
    assert "all sessions of a user" in html
    assert "sessions matching a filter" in html
    assert_no_raw_key(html, trail["keys"])


def test_the_list_filters_by_scope_and_date(admin_client, trail):
    html = body(admin_client.get(LIST, {"scope__exact": "filter"}))
    assert "scraper" in html
    assert "offboarding" not in html
    AuditEntry.objects.filter(scope="user").update(created=timezone.now() - timedelta(days=40))
    listing = body(admin_client.get(LIST))
    assert "Any date" in listing
    today = re.search(r'<a href="(\?created__gte=[^"]+)">Today</a>', listing)
    assert today
    html = body(admin_client.get(LIST + today.group(1).replace("&amp;", "&")))
    assert "offboarding" not in html
    assert "scraper" in html


@pytest.mark.parametrize(
    ("q", "expected"),
    [("admin", 3), ("scraper", 1), ("OFFBOARD", 1), ("nothing-like-it", 0)],
)
def test_the_list_searches_actor_and_reason(admin_client, trail, q, expected):
    html = body(admin_client.get(LIST, {"q": q}))
    assert html.count('class="field-created') == expected


def test_the_list_searches_short_session_ids(admin_client, trail):
    entry = AuditEntry.objects.get(scope="user")
    html = body(admin_client.get(LIST, {"q": entry.short_ids[0]}))
    assert html.count('class="field-created') == 1
    assert "offboarding" in html


def test_the_detail_page_is_read_only_with_users_and_short_ids(admin_client, trail):
    entry = AuditEntry.objects.get(scope="user")
    response = admin_client.get(change_url(entry))
    assert response.status_code == 200
    html = body(response)
    assert f"alice (#{trail['alice'].pk})" in html
    for short_id in entry.short_ids:
        assert short_id in html
    assert '<div class="readonly">offboarding</div>' in html
    assert 'name="reason"' not in html
    assert 'name="_save"' not in html
    assert_no_raw_key(html, trail["keys"])


def test_deleted_users_still_show_by_id(admin_client, trail):
    entry = AuditEntry.objects.get(scope="session")
    bob_pk = trail["bob"].pk
    trail["bob"].delete()  # ends nothing more, but writes its own audit entry
    html = body(admin_client.get(change_url(entry)))
    assert f"deleted user (#{bob_pk})" in html


def test_nothing_can_be_added_changed_or_deleted(admin_client, trail):
    entry = AuditEntry.objects.earliest("pk")
    assert admin_client.get(f"{LIST}add/").status_code == 403
    assert admin_client.post(change_url(entry), {"reason": "rewritten"}).status_code == 403
    assert admin_client.get(f"{LIST}{entry.pk}/delete/").status_code == 403
    assert admin_client.post(f"{LIST}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    response = admin_client.post(
        LIST, {"action": "delete_selected", "_selected_action": [entry.pk]}
    )
    assert AuditEntry.objects.filter(pk=entry.pk, reason=entry.reason).exists()
    assert response.status_code in (200, 302)
    assert "delete_selected" not in body(admin_client.get(LIST))


def test_the_view_permission_alone_is_enough_to_read_it(django_user_model, trail):
    auditor = make_staff(django_user_model, "auditor", "view_auditentry")
    client = logged_in(auditor)
    assert client.get(LIST).status_code == 200
    assert client.get(change_url(AuditEntry.objects.earliest("pk"))).status_code == 200
    nobody = logged_in(make_staff(django_user_model, "nobody", "view_sessionrecord"))
    assert nobody.get(LIST).status_code == 403


def test_the_sessions_page_links_to_the_audit_trail_for_those_who_may_read_it(
    admin_client, django_user_model
):
    assert f'<a href="{LIST}" id="sp-audit-link"' in body(admin_client.get(page_url()))
    viewer = logged_in(make_staff(django_user_model, "viewer", "view_sessionrecord"))
    assert "sp-audit-link" not in body(viewer.get(page_url()))


def test_a_forged_reason_cannot_add_log_lines(admin_client, make_session, caplog):
    make_session()
    forged = "ok\nINFO sessions killed: scope=all actor='root'\r\n"
    admin_client.post(action_url("kill_all"), {"reason": forged})
    entry = AuditEntry.objects.get()
    assert "\n" not in entry.reason and "\r" not in entry.reason
    assert all("\n" not in r.getMessage() for r in caplog.records if r.name == "sessions_panel")


def test_the_api_writes_the_same_trail_without_an_actor(make_session):
    make_session()
    result = termination.kill_sessions(all=True, reason="cron")
    assert isinstance(result, termination.KillResult)
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.actor_repr, entry.reason) == (None, "", "cron")
    assert not LogEntry.objects.exists()  # "Recent actions" is per admin user


def test_the_audit_trail_has_one_name_on_the_index_the_sidebar_and_its_page(admin_client):
    html = admin_client.get("/admin/sessions_panel/auditentry/").content.decode()
    assert "<h1>Audit trail</h1>" in html
    assert "Select audit entry to view" not in html
    assert ">Audit trail</a>" in html  # the sidebar
    assert "Audit entries" not in admin_client.get("/admin/").content.decode()
