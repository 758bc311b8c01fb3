"""Filter-wide kill: "Kill N matching" ends exactly what the current search and filters
match, recomputed on the server, and the dialog's preview is what gets killed."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages

from sessions_panel.models import AuditEntry, SessionRecord
from sessions_panel.termination import purge
from tests.keys import indexed
from tests.page_support import (
    HTMX,
    action_url,
    body,
    handles_in,
    logged_in,
    make_staff,
    page_url,
)

pytestmark = pytest.mark.django_db

STATE = {"q": "", "status": "all", "sort": "last_seen", "page": "1", "flag": "", "user": ""}


def record_of(session) -> SessionRecord:
    return SessionRecord.objects.get(session_key=indexed(session))


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def state(**changes: str) -> dict[str, str]:
    return {**STATE, **changes}


@pytest.fixture
def shop(django_user_model, make_session):
    """Shop: alice ×2, bob and two guests; elsewhere: carol and a guest."""
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    carol = django_user_model.objects.create_user("carol")
    return {
        "shop": [
            make_session(user=alice, application="Shop"),
            make_session(user=alice, application="Shop"),
            make_session(user=bob, application="Shop"),
            make_session(application="Shop"),
            make_session(application="Shop"),
        ],
        "other": [make_session(user=carol, application="Blog"), make_session(application="Blog")],
    }


# -- the button and its preview ---------------------------------------------------------


def test_no_kill_matching_button_without_a_search_or_filter(admin_client, shop):
    html = body(admin_client.get(page_url()))
    assert 'id="sp-kill-matching-open"' not in html
    assert '<dialog id="sp-kill-matching-dialog"' in html  # ready for a live search
    assert "Search or filter the list first." in html


def test_search_shows_kill_n_matching_and_the_dialog_previews_sessions_and_users(
    admin_client, shop
):
    html = body(admin_client.get(page_url(), {"q": "shop"}))
    assert 'data-sp-open="sp-kill-matching-dialog" aria-haspopup="dialog">Kill 5 matching</a>' in (
        html
    )
    assert (
        "<p>This ends 5 sessions. They belong to 2 users. 2 of them are guest sessions.</p>\n"
        '<input type="hidden" name="expected" value="5">'
    ) in html
    assert f'action="{action_url("kill_matching")}?q=shop"' in html


def test_live_search_updates_the_button_and_the_preview_out_of_band(admin_client, shop):
    html = body(admin_client.get(page_url(), {"q": "shop", "status": "authenticated"}, **HTMX))
    assert ">Kill 3 matching</a>" in html
    assert (
        '<div id="sp-kill-matching-summary" hx-swap-oob="true"><p>This ends 3 sessions. They belong to 2 users.</p>'
        in (html)
    )


def test_the_preview_leaves_out_the_admins_own_session(admin_client, shop):
    html = body(admin_client.get(page_url(), {"status": "authenticated"}))
    assert len(handles_in(html)) == 5  # alice ×2, bob, carol, and the admin's own
    assert ">Kill 4 matching</a>" in html
    assert "This ends 4 sessions. They belong to 3 users." in html


def test_viewer_gets_no_kill_matching(django_user_model, shop):
    viewer = logged_in(make_staff(django_user_model, "viewer", "view_sessionrecord"))
    html = body(viewer.get(page_url(), {"q": "shop"}))
    assert "Kill 5 matching" not in html
    assert "sp-kill-matching-dialog" not in html


# -- the kill ---------------------------------------------------------------------------


def test_kill_matching_ends_exactly_what_the_preview_counted(engine, admin_user, shop, store_class):
    admin = logged_in(admin_user)
    short_ids = {record_of(session).short_id for session in shop["shop"]}
    html = body(admin.get(page_url(), {"q": "shop"}))
    assert "This ends 5 sessions. They belong to 2 users." in html
    response = admin.post(
        action_url("kill_matching") + "?q=shop", {"expected": "5", "reason": "card testing"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{page_url()}?q=shop"
    assert messages_of(response) == ["Ended 5 sessions matching the search and filters."]
    for session in shop["shop"]:
        assert not store_class()().exists(session.session_key)  # a fresh read
    for session in shop["other"]:
        assert store_class()().exists(session.session_key)
    assert store_class()().exists(admin.session.session_key)
    audit = AuditEntry.objects.get()
    assert (audit.scope, audit.requested, audit.killed, audit.failed) == ("filter", 5, 5, 0)
    assert audit.reason == "card testing"
    assert audit.detail == "filter q=shop"
    assert set(audit.short_ids) == short_ids


def test_htmx_kill_matching_answers_with_the_emptied_list(admin_client, shop):
    response = admin_client.post(action_url("kill_matching"), state(q="shop"), **HTMX)
    html = body(response)
    assert handles_in(html) == []
    assert "Ended 5 sessions matching the search and filters." in html
    assert 'class="success"' in html
    assert '<div id="sp-kill-matching-summary" hx-swap-oob="true">' in html
    assert SessionRecord.objects.count() == 3  # carol, a guest, the admin


def test_the_set_is_recomputed_on_the_server_from_the_posted_state(admin_client, shop):
    """A posted count or list of sessions is never what gets killed."""
    bystander = record_of(shop["other"][0])
    response = admin_client.post(
        action_url("kill_matching"),
        {**state(q="shop", status="guest"), "expected": "1", "handle": bystander.handle},
    )
    assert messages_of(response) == [
        "Ended 2 sessions matching the search and filters. "
        "The list had changed since the dialog showed 1 session."
    ]
    assert SessionRecord.objects.filter(pk=bystander.pk).exists()
    assert SessionRecord.objects.filter(application="Shop", user__isnull=False).count() == 3


def test_sessions_that_appear_after_the_preview_end_too_and_the_message_says_so(
    admin_client, shop, make_session
):
    assert "This ends 2 sessions." in body(
        admin_client.get(page_url(), {"q": "shop", "status": "guest"})
    )
    make_session(application="Shop")  # arrives while the dialog is open
    response = admin_client.post(
        action_url("kill_matching"), {**state(q="shop", status="guest"), "expected": "2"}
    )
    assert messages_of(response) == [
        "Ended 3 sessions matching the search and filters. "
        "The list had changed since the dialog showed 2 sessions."
    ]
    assert AuditEntry.objects.get().killed == 3


def test_kill_matching_keeps_the_admins_own_session(admin_client, admin_user, shop):
    response = admin_client.post(action_url("kill_matching"), state(q="admin"))
    assert messages_of(response) == ["Ended 0 sessions matching the search and filters."]
    assert admin_client.get(page_url()).status_code == 200


def test_a_flag_filter_ends_every_session_it_matched_not_only_the_first_batch(
    admin_client, shop, monkeypatch
):
    """ "Multiple sessions" stops matching alice's last session once the others end: the
    set is fixed before the first kill."""

    monkeypatch.setattr(purge, "PURGE_BATCH", 1)
    response = admin_client.post(action_url("kill_matching"), state(flag="multiple"))
    assert messages_of(response) == ["Ended 2 sessions matching the search and filters."]
    assert not SessionRecord.objects.filter(user__username="alice").exists()


def test_a_user_filter_and_a_flag_combine(admin_client, shop, django_user_model):
    alice = django_user_model.objects.get(username="alice")
    response = admin_client.post(
        action_url("kill_matching"), state(user=str(alice.pk), status="authenticated")
    )
    assert messages_of(response) == ["Ended 2 sessions matching the search and filters."]
    assert SessionRecord.objects.filter(user__username="bob").exists()


@pytest.mark.parametrize(
    "posted",
    [state(), state(status="bogus"), state(q="ali\x00ce"), state(user="abc"), {}],
    ids=["nothing", "bad-status", "nul", "bad-user", "empty"],
)
def test_without_a_usable_filter_nothing_is_killed(admin_client, shop, posted):
    before = SessionRecord.objects.count()
    response = admin_client.post(action_url("kill_matching"), posted)
    assert messages_of(response) == [
        "Search or filter the list first; to end every session, use Kill All."
    ]
    assert SessionRecord.objects.count() == before
    assert not AuditEntry.objects.exists()


def test_a_user_filter_alone_is_left_to_kill_all_of_that_user(
    admin_client, shop, django_user_model
):
    """Per-user view has its own action (which also ends sessions not listed yet)."""
    alice = django_user_model.objects.get(username="alice")
    html = body(admin_client.get(page_url(), {"user": alice.pk}))
    assert 'id="sp-kill-matching-open"' not in html
    assert 'id="sp-kill-user-open"' in html


def test_kill_matching_writes_a_log_entry_for_recent_actions(admin_client, admin_user, shop):
    admin_client.post(action_url("kill_matching"), state(q="shop", reason="x"))
    entry = LogEntry.objects.get()
    audit = AuditEntry.objects.get()
    assert entry.user_id == admin_user.pk
    assert entry.content_type == ContentType.objects.get_for_model(AuditEntry)
    assert entry.object_id == str(audit.pk)
    assert entry.object_repr == "Ended 5 session(s) (filter)"


# -- a capped preview -------------------------------------------------------------------


@pytest.fixture
def cap(monkeypatch):
    """The preview counts at most 3 sessions (the shop has 5)."""
    from sessions_panel import termination

    monkeypatch.setattr(termination, "PREVIEW_CAP", 3)
    return 3


def test_a_preview_past_its_cap_says_more_than_the_cap(admin_client, shop, cap):
    html = body(admin_client.get(page_url(), {"q": "shop"}))
    assert 'aria-haspopup="dialog">Kill 3+ matching</a>' in html
    assert (
        '<p>This ends more than 3 sessions.</p>\n<input type="hidden" name="expected" value="3+">'
    ) in html


def test_a_capped_preview_is_one_limited_query(admin_client, shop, cap):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        admin_client.get(page_url(), {"q": "shop"}, **HTMX)
    (preview,) = [q["sql"] for q in queries if "COUNT(DISTINCT" in q["sql"]]
    assert "LIMIT 5" in preview  # cap + 1, and a row for the admin's own session


def test_a_preview_at_its_cap_is_exact(admin_client, shop, monkeypatch):
    from sessions_panel import termination

    monkeypatch.setattr(termination, "PREVIEW_CAP", 5)
    html = body(admin_client.get(page_url(), {"q": "shop"}))
    assert ">Kill 5 matching</a>" in html
    assert (
        "<p>This ends 5 sessions. They belong to 2 users. 2 of them are guest sessions.</p>" in html
    )
    assert 'name="expected" value="5"' in html


def test_a_kill_confirmed_on_a_capped_preview_ends_all_and_reports_no_change(
    engine, admin_user, shop, store_class, cap
):
    """ "More than 3" was confirmed: 5 is what it meant, not a changed list."""
    admin = logged_in(admin_user)
    assert "This ends more than 3 sessions." in body(admin.get(page_url(), {"q": "shop"}))
    response = admin.post(action_url("kill_matching") + "?q=shop", {"expected": "3+"})
    assert messages_of(response) == ["Ended 5 sessions matching the search and filters."]
    for session in shop["shop"]:
        assert not store_class()().exists(session.session_key)
    for session in shop["other"]:
        assert store_class()().exists(session.session_key)
    assert AuditEntry.objects.get().killed == 5


def test_a_list_that_fell_to_the_cap_after_a_capped_preview_is_reported(admin_client, shop):
    response = admin_client.post(
        action_url("kill_matching"), {**state(q="shop", status="guest"), "expected": "3+"}
    )
    assert messages_of(response) == [
        "Ended 2 sessions matching the search and filters. "
        "The list had changed since the dialog showed more than 3 sessions."
    ]


@pytest.mark.parametrize(
    ("expected", "requested", "changed"),
    [
        ("5", 5, False),
        ("5", 6, True),
        ("5", 4, True),
        ("1000+", 1001, False),
        ("1000+", 250_000, False),
        ("1000+", 1000, True),
        ("1000+", 3, True),
        ("", 3, False),
        ("+", 3, False),
        ("many", 3, False),
        ("-1", 3, False),
    ],
)
def test_the_dialogs_count_is_compared_as_exact_or_as_more_than(expected, requested, changed):
    from sessions_panel.page.kill_many import _list_changed

    assert bool(_list_changed(expected, requested)) is changed


def test_a_capped_preview_groups_its_thousands(admin_client, make_session):
    """The real cap, past it: rows of the index alone (the page reads nothing else)."""
    from datetime import timedelta

    from django.utils import timezone

    from sessions_panel import termination
    from sessions_panel.models import short_id_for

    now = timezone.now()
    SessionRecord.objects.bulk_create(
        SessionRecord(
            session_key=f"k{n:039d}",
            short_id=short_id_for(f"k{n}"),
            application="Shop",
            created=now,
            last_seen=now,
            expiry=now + timedelta(hours=1),
        )
        for n in range(termination.PREVIEW_CAP + 1)
    )
    html = body(admin_client.get(page_url(), {"q": "shop"}))
    grouped = f"{termination.PREVIEW_CAP:,}"  # 1,000
    assert f">Kill {grouped}+ matching</a>" in html
    assert f"This ends more than {grouped} sessions." in html
    assert f'name="expected" value="{termination.PREVIEW_CAP}+"' in html


def test_the_preview_is_exact_without_a_cap(shop):
    from sessions_panel import termination

    rows = SessionRecord.objects.live().filter(application="Shop")
    assert termination.preview(rows) == termination.Preview(5, 2, 2)
    assert termination.preview(rows, cap=4) == termination.Preview(4, 2, 2, capped=True)
    assert termination.preview(rows, cap=5) == termination.Preview(5, 2, 2)
