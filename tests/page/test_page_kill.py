"""Kill, kill a user's sessions and Kill All, from the page, on every tracked engine."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.messages import get_messages
from django.test import Client

from sessions_panel import termination
from sessions_panel.models import AuditEntry, SessionRecord
from tests.keys import indexed
from tests.page_support import (
    HTMX,
    action_url,
    body,
    handles_in,
    logged_in,
    own_record,
    page_url,
)

pytestmark = pytest.mark.django_db

#: What one htmx kill may cost: the admin's session and user, the kill (its marker,
#: the store, the index, the audit and admin log entries) and the badge's count.
QUERIES_PER_KILL = 20


@pytest.fixture
def admin(engine, admin_user):
    """The admin's browser, logged in through the engine under test."""
    return logged_in(admin_user)


def record_of(session) -> SessionRecord:
    return SessionRecord.objects.get(session_key=indexed(session))


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def is_anonymous(client: Client) -> bool:
    """The next request of that browser finds no logged-in user."""
    response = client.get(page_url())
    return response.status_code == 302 and "/login/" in response["Location"]


# -- kill one ---------------------------------------------------------------------------


def test_kill_ends_the_session_in_the_real_store(
    admin, make_session, store_class, django_user_model
):
    bob = django_user_model.objects.create_user("bob")
    victim = make_session(user=bob)
    record = record_of(victim)
    response = admin.post(action_url("kill"), {"handle": record.handle})
    assert response.status_code == 302
    assert response["Location"] == page_url()
    assert not store_class()().exists(victim.session_key)  # a fresh read
    assert store_class()(victim.session_key).load() == {}
    assert not SessionRecord.objects.filter(pk=record.pk).exists()
    assert messages_of(response) == [f"Session {record.short_id} of bob was ended."]
    audit = AuditEntry.objects.get()
    assert audit.scope == AuditEntry.SCOPE_SESSION
    assert audit.killed == 1
    assert audit.actor_repr == "admin"


def test_killed_users_next_request_is_anonymous(admin, django_user_model):
    bob = django_user_model.objects.create_user("bob", is_staff=True, is_superuser=True)
    bob_browser = logged_in(bob)
    assert bob_browser.get(page_url()).status_code == 200
    record = own_record(bob_browser)
    admin.post(action_url("kill"), {"handle": record.handle})
    assert is_anonymous(bob_browser)


def test_htmx_kill_takes_the_row_out_and_updates_badge_and_messages_out_of_band(
    admin, make_session
):
    victim = record_of(make_session())
    keep = record_of(make_session())
    response = admin.post(action_url("kill"), {"handle": victim.handle}, **HTMX)
    assert response.status_code == 200
    html = body(response)
    # Not the list again: its other rows stand, and the dialog's target is left alone.
    assert response["HX-Reswap"] == "none"
    assert 'id="sp-results"' not in html
    assert handles_in(html) == []
    assert keep.handle not in html
    assert f"""hx-swap-oob="delete:#sp-rows tr[data-handle='{victim.handle}']\"""" in html
    assert '<span id="sp-badge" class="sp-badge" hx-swap-oob="true">2 Active</span>' in html
    assert 'id="sp-kill-all-summary" hx-swap-oob="true"' in html
    assert "This ends <strong>1</strong> listed session." in html
    assert '<div id="sp-messages" hx-swap-oob="innerHTML">' in html
    assert f"Session {victim.short_id} of a guest was ended." in html
    assert 'class="success"' in html
    assert "no-store" in response["Cache-Control"]
    assert "HX-Request" in response["Vary"]
    assert not SessionRecord.objects.filter(pk=victim.pk).exists()


def test_htmx_kill_of_one_costs_a_fixed_number_of_queries_whatever_the_list(
    admin, make_session, django_assert_max_num_queries
):
    """The answer reads no row of the list: a kill costs the same beside 3 or 30."""
    admin.get(page_url())  # the admin's own session indexed and seen
    counts = []
    for others in (3, 30):
        for _ in range(others):
            make_session()
        victim = record_of(make_session())
        # Seen again since the last kill: the same start each time, whether or not the
        # session cache keeps the admin's revocation state (a kill makes it stale).
        admin.get(page_url())
        with django_assert_max_num_queries(QUERIES_PER_KILL) as captured:
            admin.post(action_url("kill"), {"handle": victim.handle}, **HTMX)
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_htmx_kill_from_a_search_answers_with_the_list_and_its_counts(admin, make_session):
    """A search's match counts would need the search again: the list is re-rendered."""
    victim = record_of(make_session(application="Shop"))
    keep = record_of(make_session(application="Shop"))
    response = admin.post(action_url("kill"), {"handle": victim.handle, "q": "shop"}, **HTMX)
    html = body(response)
    assert "HX-Reswap" not in response
    assert html.startswith('<div id="sp-results"')
    assert handles_in(html) == [keep.handle]
    assert "1 session matches." in html


def test_kill_keeps_the_search_the_admin_was_looking_at(admin, make_session):
    victim = record_of(make_session(application="Shop"))
    response = admin.post(action_url("kill") + "?q=shop&status=guest", {"handle": victim.handle})
    assert response["Location"] == page_url() + "?q=shop&status=guest"
    htmx = admin.post(
        action_url("kill"),
        {"handle": record_of(make_session()).handle, "q": "nomatch", "status": "guest"},
        **HTMX,
    )
    assert "No sessions match “nomatch”." in body(htmx)


def test_without_javascript_the_message_shows_after_the_redirect(admin, make_session):
    victim = record_of(make_session())
    response = admin.post(action_url("kill"), {"handle": victim.handle}, follow=True)
    html = body(response)
    assert response.status_code == 200
    assert f"Session {victim.short_id} of a guest was ended." in html
    assert 'id="sp-messages"' in html
    assert 'aria-live="polite"' in html


@pytest.mark.parametrize(
    "handle", ["no-such-handle", "", "../../etc/passwd", "x" * 10_000, "a\x00b", "ü"]
)
def test_unknown_or_malformed_handle_says_already_ended(admin, make_session, handle):
    bystander = make_session()
    response = admin.post(action_url("kill"), {"handle": handle})
    assert response.status_code == 302
    assert messages_of(response) == ["That session had already ended."]
    assert SessionRecord.objects.filter(session_key=indexed(bystander)).exists()


def test_killing_twice_says_already_ended_the_second_time(admin, make_session):
    handle = record_of(make_session()).handle
    admin.post(action_url("kill"), {"handle": handle})
    response = admin.post(action_url("kill"), {"handle": handle}, **HTMX)
    assert response.status_code == 200
    assert "That session had already ended." in body(response)


def test_session_gone_from_the_store_but_listed_is_reported_already_ended(
    admin, make_session, store_class
):
    victim = make_session()
    record = record_of(victim)
    store_class()().delete(victim.session_key)
    SessionRecord.objects.bulk_create([record])  # a stale index row
    response = admin.post(action_url("kill"), {"handle": record.handle})
    assert messages_of(response) == [f"Session {record.short_id} had already ended."]
    assert not SessionRecord.objects.filter(handle=record.handle).exists()


def test_a_kill_the_store_does_not_confirm_is_refused_and_stays_listed_for_clean_up(
    engine, admin, make_session, monkeypatch, store_class
):
    victim = make_session()
    record = record_of(victim)
    store = store_class()
    monkeypatch.setattr(store, "delete", lambda self, session_key=None: None)
    if engine == "signed_cookies":
        # Its store is the marker the kill writes first, and it confirms at once: a
        # store that does not confirm is one that still finds the session.
        monkeypatch.setattr(store, "exists", lambda self, session_key=None: True)
    response = admin.post(action_url("kill"), {"handle": record.handle}, **HTMX)
    html = body(response)
    assert "is refused on every request from now on" in html
    assert 'class="warning"' in html
    assert "was ended" not in html
    assert record.handle in handles_in(html)
    monkeypatch.undo()
    assert store(victim.session_key).load() == {}  # the marker holds all the same


@pytest.mark.parametrize("name", ["kill", "kill_user", "kill_all", "kill_matching"])
@pytest.mark.parametrize("method", ["get", "head", "put", "delete", "options"])
def test_actions_refuse_anything_but_post(admin_client, make_session, name, method):
    record = record_of(make_session())
    response = getattr(admin_client, method)(action_url(name) + f"?handle={record.handle}")
    assert response.status_code == 405
    assert SessionRecord.objects.filter(pk=record.pk).exists()


@pytest.mark.parametrize("name", ["kill", "kill_user", "kill_all", "kill_matching"])
def test_actions_need_the_csrf_token(admin_user, make_session, store_class, name):
    victim = make_session()
    browser = logged_in(admin_user, enforce_csrf_checks=True)
    handle = record_of(victim).handle
    assert browser.post(action_url(name), {"handle": handle}).status_code == 403
    assert browser.post(action_url(name), {"handle": handle}, **HTMX).status_code == 403
    assert store_class()().exists(victim.session_key)


def test_actions_accept_the_csrf_token_htmx_sends_as_a_header(admin_user, make_session):
    browser = logged_in(admin_user, enforce_csrf_checks=True)
    browser.get(page_url())  # sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    victim = record_of(make_session())
    response = browser.post(
        action_url("kill"), {"handle": victim.handle}, HTTP_X_CSRFTOKEN=token, **HTMX
    )
    assert response.status_code == 200
    assert not SessionRecord.objects.filter(pk=victim.pk).exists()


def test_killing_your_own_session_logs_you_out_cleanly(admin):
    own = own_record(admin)
    response = admin.post(action_url("kill"), {"handle": own.handle})
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")
    assert is_anonymous(admin)


def test_killing_your_own_session_over_htmx_redirects_the_whole_page(admin):
    own = own_record(admin)
    response = admin.post(action_url("kill"), {"handle": own.handle}, **HTMX)
    assert response["HX-Redirect"].startswith("/admin/login/?next=")
    assert is_anonymous(admin)


# -- kill a user's sessions -------------------------------------------------------------


def test_kill_user_ends_every_session_of_that_user_only(
    admin, make_session, store_class, django_user_model
):
    bob = django_user_model.objects.create_user("bob")
    carol = django_user_model.objects.create_user("carol")
    bobs = [make_session(user=bob) for _ in range(2)]
    carols = make_session(user=carol)
    response = admin.post(action_url("kill_user"), {"handle": record_of(bobs[0]).handle})
    assert response.status_code == 302
    assert messages_of(response) == ["Ended 2 sessions of bob."]
    for session in bobs:
        assert not store_class()().exists(session.session_key)
    assert store_class()().exists(carols.session_key)
    assert SessionRecord.objects.filter(user=carol).count() == 1


def test_kill_user_of_yourself_keeps_your_current_session(admin, admin_user):
    other_browser = logged_in(admin_user)
    response = admin.post(action_url("kill_user"), {"handle": own_record(admin).handle})
    assert messages_of(response) == ["Ended 1 session of admin. Your own session was kept."]
    assert admin.get(page_url()).status_code == 200
    assert is_anonymous(other_browser)


def test_kill_user_on_a_guest_session_explains_itself(admin, make_session):
    guest = record_of(make_session())
    response = admin.post(action_url("kill_user"), {"handle": guest.handle})
    assert messages_of(response) == [
        f"Session {guest.short_id} belongs to no user account; end it with Kill instead."
    ]
    assert SessionRecord.objects.filter(pk=guest.pk).exists()


# -- Kill All ---------------------------------------------------------------------------


def test_kill_all_keeps_the_caller_and_ends_every_other_session(
    admin, make_session, store_class, django_user_model
):
    bob = django_user_model.objects.create_user("bob", is_staff=True, is_superuser=True)
    bob_browser = logged_in(bob)
    guest = make_session()
    unindexed = make_session(user=bob)
    SessionRecord.objects.filter(session_key=indexed(unindexed)).delete()

    response = admin.post(action_url("kill_all"))

    assert response.status_code == 302
    assert messages_of(response) == ["Ended 2 sessions. Your own session was kept."]
    assert admin.get(page_url()).status_code == 200  # still logged in
    assert is_anonymous(bob_browser)
    assert not store_class()().exists(guest.session_key)
    # Never indexed, yet refused: the global epoch covers it.
    assert SESSION_KEY not in store_class()(unindexed.session_key).load()
    assert list(SessionRecord.objects.values_list("session_key", flat=True)) == [
        indexed(admin.session)
    ]
    assert AuditEntry.objects.get().scope == AuditEntry.SCOPE_ALL


def test_htmx_kill_all_updates_rows_badge_and_messages(admin, make_session):
    for _ in range(3):
        make_session()
    response = admin.post(action_url("kill_all"), {"reason": "incident 42"}, **HTMX)
    html = body(response)
    assert handles_in(html) == [own_record(admin).handle]
    assert '<span id="sp-badge" class="sp-badge" hx-swap-oob="true">1 Active</span>' in html
    assert "This ends <strong>0</strong> listed sessions." in html
    assert "Ended 3 sessions. Your own session was kept." in html
    assert AuditEntry.objects.get().reason == "incident 42"


def test_kill_all_goes_through_the_termination_service(admin, monkeypatch):
    calls = []
    real = termination.kill_all

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(termination, "kill_all", spy)
    admin.post(action_url("kill_all"), {"reason": "x" * 2000})
    assert len(calls) == 1
    assert calls[0]["keep"] is not None
    assert len(calls[0]["reason"]) == 500
