"""Per-user view: a username filters to that user's sessions, whose "Kill all sessions of
<user>" ends them all; the user's own admin page links there."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages

from sessions_panel.models import AuditEntry, SessionRecord
from tests.keys import indexed
from tests.page_support import (
    HTMX,
    action_url,
    body,
    handles_in,
    logged_in,
    make_staff,
    own_record,
    page_url,
    row_cells,
    row_html,
)

pytestmark = pytest.mark.django_db


def record_of(session) -> SessionRecord:
    return SessionRecord.objects.get(session_key=indexed(session))


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def people(django_user_model, make_session):
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    return {
        "alice": alice,
        "bob": bob,
        "alice1": make_session(user=alice, ip="198.51.100.1"),
        "alice2": make_session(user=alice, ip="198.51.100.2", application="Shop"),
        "bob1": make_session(user=bob),
        "guest": make_session(),
    }


# -- the view ---------------------------------------------------------------------------


def test_username_links_to_that_users_sessions(admin_client, people):
    html = body(admin_client.get(page_url()))
    row = row_html(html, record_of(people["alice1"]).handle)
    # A query alone: the list's own address with only this user's filter, whatever
    # search, order or filter the page had.
    href = row_cells(row)[record_of(people["alice1"]).handle]["user_href"]
    assert href == f"?user={people['alice'].pk}"
    for where in (page_url(), f"{page_url()}?q=bob&sort=user&status=guest"):
        assert urljoin(f"http://testserver{where}", href) == (
            f"http://testserver{page_url()}?user={people['alice'].pk}"
        )
    assert f'<a class="sp-username" href="{href}">alice</a>' in row
    assert f"?user={people['alice'].pk}" not in row_html(html, record_of(people["guest"]).handle)


def test_user_filter_lists_only_that_users_sessions_with_their_kill_action(admin_client, people):
    alice = people["alice"]
    response = admin_client.get(page_url(), {"user": alice.pk})
    html = body(response)
    assert set(handles_in(html)) == {
        record_of(people["alice1"]).handle,
        record_of(people["alice2"]).handle,
    }
    assert f'Sessions of <a href="/admin/auth/user/{alice.pk}/change/">alice</a>' in html
    assert "Show every user" in html
    assert 'data-sp-open="sp-kill-user-dialog"' in html
    assert ">Kill all sessions of alice</a>" in html
    assert '<dialog id="sp-kill-user-dialog"' in html
    assert f'<input type="hidden" name="user" value="{alice.pk}">' in html
    assert '<p id="sp-kill-user-summary">This ends <strong>2</strong> listed sessions.</p>' in html
    # The badge counts every live session, and says how many of them are listed.
    assert ">2 of 5 Active<" in html
    assert ">2 sessions match.</p>" in html


def test_user_filter_combines_with_search_status_and_paging(admin_client, people):
    alice = people["alice"]
    shop = admin_client.get(page_url(), {"user": alice.pk, "q": "shop"}, **HTMX)
    assert handles_in(body(shop)) == [record_of(people["alice2"]).handle]
    assert shop["HX-Replace-Url"] == f"{page_url()}?q=shop&user={alice.pk}"
    guests = body(admin_client.get(page_url(), {"user": alice.pk, "status": "guest"}, **HTMX))
    assert handles_in(guests) == []
    assert "No sessions match “" not in guests  # the search's empty state: there is none
    assert "No live sessions of alice match." in guests
    poll = body(admin_client.get(page_url(), {"user": alice.pk, "q": "shop"}, **HTMX))
    assert f'hx-get="{page_url()}?q=shop&amp;user={alice.pk}"' in poll
    page = body(admin_client.get(page_url(), {"user": alice.pk}))
    search_form = page.split('id="sp-search-form"')[1].split("</form>")[0]
    assert f'<input type="hidden" name="user" value="{alice.pk}">' in search_form


@pytest.mark.parametrize("value", ["999999", "0", "-4", "abc", "1 OR 1=1", "9" * 40, "x" * 100])
def test_unknown_or_malformed_user_shows_an_empty_list_and_says_why(admin_client, people, value):
    response = admin_client.get(page_url(), {"user": value}, **HTMX)
    assert response.status_code == 200
    html = body(response)
    assert handles_in(html) == []
    assert (
        "No user has the ID “999999”: it may have been deleted." in html
        if value == "999999"
        else "That user ID is not valid." in html
    )
    assert "sp-kill-user-dialog" not in html


def test_a_user_without_sessions_gets_no_kill_button(admin_client, people, django_user_model):
    carol = django_user_model.objects.create_user("carol")
    html = body(admin_client.get(page_url(), {"user": carol.pk}))
    assert "Sessions of" in html
    assert "No live sessions of carol match." in html
    assert 'data-sp-open="sp-kill-user-dialog"' not in html


def test_viewer_sees_the_user_filter_but_no_kill_action(django_user_model, people):
    viewer = logged_in(make_staff(django_user_model, "viewer", "view_sessionrecord"))
    html = body(viewer.get(page_url(), {"user": people["alice"].pk}))
    assert len(handles_in(html)) == 2
    assert "Kill all sessions of" not in html
    assert "sp-kill-user-dialog" not in html


# -- killing by user id -----------------------------------------------------------------


def test_kill_user_by_id_ends_that_users_sessions_and_leaves_the_others(
    engine, admin_user, django_user_model, make_session, store_class
):
    admin = logged_in(admin_user)
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    alices = [make_session(user=alice) for _ in range(3)]
    bobs = make_session(user=bob)
    guest = make_session()
    response = admin.post(
        action_url("kill_user") + f"?user={alice.pk}",
        {"user": str(alice.pk), "reason": "stolen laptop"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"{page_url()}?user={alice.pk}"
    assert messages_of(response) == ["Ended 3 sessions of alice."]
    for session in alices:
        assert not store_class()().exists(session.session_key)  # a fresh read
    for survivor in (bobs, guest):
        assert store_class()().exists(survivor.session_key)
    assert store_class()().exists(admin.session.session_key)
    assert not SessionRecord.objects.filter(user=alice).exists()
    audit = AuditEntry.objects.get()
    assert (audit.scope, audit.killed, audit.reason) == ("user", 3, "stolen laptop")
    assert audit.user_ids == [str(alice.pk)]


def test_htmx_kill_user_by_id_answers_with_the_users_empty_list(admin_client, people):
    alice = people["alice"]
    response = admin_client.post(
        action_url("kill_user"),
        {"user": str(alice.pk), "q": "", "status": "all", "sort": "last_seen", "page": "1"},
        **HTMX,
    )
    html = body(response)
    assert handles_in(html) == []
    assert "Ended 2 sessions of alice." in html
    assert '<p id="sp-kill-user-summary" hx-swap-oob="true">' in html
    assert SessionRecord.objects.filter(user=people["bob"]).count() == 1


def test_kill_user_target_is_the_posted_id_and_nothing_else(admin_client, people):
    """The search in the posted state neither widens nor narrows who is targeted."""
    bob = people["bob"]
    response = admin_client.post(
        action_url("kill_user") + "?q=alice&status=guest", {"user": str(bob.pk)}
    )
    assert messages_of(response) == ["Ended 1 session of bob."]
    assert SessionRecord.objects.filter(user=people["alice"]).count() == 2
    assert not SessionRecord.objects.filter(user=bob).exists()


def test_conflicting_user_ids_end_nothing(admin_client, people):
    alice, bob = people["alice"], people["bob"]
    response = admin_client.post(action_url("kill_user"), {"user": [str(alice.pk), str(bob.pk)]})
    assert messages_of(response) == ["Say whose sessions to end."]
    assert SessionRecord.objects.filter(user__in=[alice, bob]).count() == 3
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("999999", "That user no longer exists."),
        ("abc", "Say whose sessions to end."),
        ("", "Say whose sessions to end."),
        ("9" * 40, "Say whose sessions to end."),
    ],
)
def test_unknown_or_malformed_user_id_ends_nothing(admin_client, people, value, message):
    before = SessionRecord.objects.count()
    response = admin_client.post(action_url("kill_user"), {"user": value})
    assert response.status_code == 302
    assert messages_of(response) == [message]
    assert SessionRecord.objects.count() == before


def test_a_handle_and_a_user_that_disagree_end_nothing(admin_client, people):
    """The row's dialog posts a handle plus the list state, which may name a user: they
    must name the same person, or the request is refused (IDOR)."""
    bob = record_of(people["bob1"])
    response = admin_client.post(
        action_url("kill_user"), {"handle": bob.handle, "user": str(people["alice"].pk)}
    )
    assert messages_of(response) == [
        f"Session {bob.short_id} does not belong to that user; nothing was ended."
    ]
    assert SessionRecord.objects.filter(user=people["alice"]).count() == 2
    assert SessionRecord.objects.filter(pk=bob.pk).exists()


def test_kill_user_by_id_of_yourself_keeps_your_current_session(admin_client, admin_user):
    other = logged_in(admin_user)
    response = admin_client.post(action_url("kill_user"), {"user": str(admin_user.pk)})
    assert messages_of(response) == ["Ended 1 session of admin. Your own session was kept."]
    assert admin_client.get(page_url()).status_code == 200
    assert other.get(page_url()).status_code == 302
    assert own_record(admin_client).user_id == admin_user.pk


def test_kill_user_by_id_needs_the_delete_permission(django_user_model, people):
    viewer = logged_in(make_staff(django_user_model, "viewer", "view_sessionrecord"))
    response = viewer.post(action_url("kill_user"), {"user": str(people["alice"].pk)})
    assert response.status_code == 403
    assert SessionRecord.objects.filter(user=people["alice"]).count() == 2


# -- the user's own admin page ----------------------------------------------------------


def test_user_change_page_has_a_sessions_section_linking_to_the_per_user_view(admin_client, people):
    alice = people["alice"]
    html = body(admin_client.get(f"/admin/auth/user/{alice.pk}/change/"))
    assert '<fieldset class="module aligned sp-user-sessions" id="sp-user-sessions">' in html
    assert "2 live sessions." in html
    assert f'<a href="{page_url()}?user={alice.pk}">' in html
    assert "you can end them all there" in html
    assert html.index('id="sp-user-sessions"') < html.index('class="submit-row"')


def test_user_change_page_counts_only_live_sessions(admin_client, django_user_model):
    carol = django_user_model.objects.create_user("carol")
    assert "0 live sessions." in body(admin_client.get(f"/admin/auth/user/{carol.pk}/change/"))


def test_user_change_page_section_needs_the_view_permission(django_user_model, people):
    editor = make_staff(django_user_model, "editor")
    editor.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="auth", codename__endswith="_user")
    )
    client = logged_in(editor)
    response = client.get(f"/admin/auth/user/{people['alice'].pk}/change/")
    assert response.status_code == 200
    assert "sp-user-sessions" not in body(response)
    viewer = make_staff(django_user_model, "viewer", "view_sessionrecord")
    viewer.user_permissions.add(*editor.user_permissions.all())
    html = body(logged_in(viewer).get(f"/admin/auth/user/{people['alice'].pk}/change/"))
    assert "sp-user-sessions" in html
    assert "you can end them all there" not in html  # no delete permission


def test_user_add_page_has_no_sessions_section(admin_client):
    assert "sp-user-sessions" not in body(admin_client.get("/admin/auth/user/add/"))


def test_a_hostile_username_is_escaped_in_the_per_user_view(
    admin_client, django_user_model, make_session
):
    from tests.page.test_page_security import SCRIPT, assert_inert

    user = django_user_model.objects.create_user(SCRIPT)
    make_session(user=user)
    html = body(admin_client.get(page_url(), {"user": user.pk}))
    assert_inert(html)
    assert "Kill all sessions of &lt;script&gt;alert(1)&lt;/script&gt;?" in html
    assert_inert(body(admin_client.get(page_url(), {"user": user.pk}, **HTMX)))
    response = admin_client.post(action_url("kill_user"), {"user": str(user.pk)}, **HTMX)
    assert "Ended 1 session of &lt;script&gt;" in body(response)
    assert_inert(body(response))
