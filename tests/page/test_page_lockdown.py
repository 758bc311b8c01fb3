"""Lockdowns on the Sessions page: "Lock down…" beside Kill All and "Lock down this
user…" on a user's view, each a confirmation dialog (duration, reason, the password
once the re-authentication window has passed); the kill permission for both and for
lifting; the banner on every admin page while the site is locked down, with a one-click
lift; a locked-down user's banner and flag; superusers out of lesser admins' reach."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from sessions_panel import termination
from sessions_panel.models import AuditEntry, Lockdown, SessionRecord
from sessions_panel.tracking import lockdowns
from tests.page_support import (
    HTMX,
    action_url,
    body,
    handles_in,
    logged_in,
    make_staff,
    page_url,
    row_html,
)

pytestmark = pytest.mark.django_db

OPENER = 'id="sp-lockdown-open"'
USER_OPENER = 'id="sp-lockdown-user-open"'
BANNER = 'class="sp-lockdown-banner warning"'
PASSWORD_FIELD = '<input type="password" name="password"'


def messages_of(response: Any) -> list[str]:
    """The messages this response's request added (not those left by earlier ones)."""
    storage = get_messages(response.wsgi_request)
    return [str(m) for m in storage._queued_messages]  # type: ignore[union-attr]


def lapse(client: Client, seconds: float = 601) -> None:
    own = SessionRecord.objects.filter(session_key=client.session.session_key)
    assert own.update(verified=time.time() - seconds) == 1


def is_signed_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


@pytest.fixture
def admin(admin_user: Any) -> Client:
    return logged_in(admin_user)


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password="pw", is_staff=True)


@pytest.fixture
def killer(django_user_model: Any) -> Any:
    """Staff with the kill permission, no superuser."""
    return make_staff(django_user_model, "killer", "view_sessionrecord", "delete_sessionrecord")


def site_lockdown(minutes: int | None = 60) -> Lockdown:
    """A site lockdown in force, as the page or the command leaves it (its kill is the
    service's business, tested there: here the admin's own session must live on)."""
    until = timezone.now() + timedelta(minutes=minutes) if minutes else None
    return Lockdown.objects.create(scope="site", until=until, actor_repr="cli")


def lock_site(admin: Client, **data: str) -> Any:
    return admin.post(action_url("lockdown"), {"scope": "site", "duration": "60", **data})


def lock_user(admin: Client, user: Any, **data: str) -> Any:
    return admin.post(
        action_url("lockdown") + f"?user={user.pk}",
        {"scope": "user", "user": str(user.pk), "duration": "lifted", **data},
    )


# -- the site: the control and its dialog --------------------------------------------------


def test_lock_down_sits_beside_kill_all_with_its_dialog(admin: Client) -> None:
    html = body(admin.get(page_url()))
    assert OPENER in html
    dialog = re.search(r'<dialog id="sp-lockdown-dialog".*?</dialog>', html, re.S)
    assert dialog
    text = dialog.group(0)
    assert f'action="{action_url("lockdown")}"' in text
    assert "hx-post" not in text  # a plain post: the banner shows on every page after it
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', text)
    assert [(v, label) for v, _, label in options] == [
        ("15", "15 minutes"),
        ("60", "1 hour"),
        ("240", "4 hours"),
        ("lifted", "Until lifted"),
    ]
    assert [v for v, selected, _ in options if selected] == ["60"]
    assert "Only superusers can sign in." in text
    assert PASSWORD_FIELD not in text  # within the re-authentication window


def test_past_the_window_the_dialog_asks_for_the_password(admin: Client) -> None:
    lapse(admin)
    html = body(admin.get(page_url()))
    dialog = re.search(r'<dialog id="sp-lockdown-dialog".*?</dialog>', html, re.S)
    assert dialog and PASSWORD_FIELD in dialog.group(0)
    # The refresh keeps its password field in step (out of band).
    assert 'id="sp-reauth-lockdown" class="sp-reauth" hx-swap-oob="true"' in body(
        admin.get(page_url(), **HTMX)
    )


def test_an_admin_off_the_allow_list_is_told_before_anything(killer: Any) -> None:
    client = logged_in(killer)
    html = body(client.get(page_url()))
    dialog = re.search(r'<dialog id="sp-lockdown-dialog".*?</dialog>', html, re.S)
    assert dialog
    assert "You are not on the lockdown’s allow-list" in dialog.group(0)
    assert 'type="submit"' not in dialog.group(0)
    assert 'id="sp-reauth-lockdown"' not in body(client.get(page_url(), **HTMX))

    response = lock_site(client)

    assert not Lockdown.objects.exists()
    assert messages_of(response) == [
        "You are not on the lockdown’s allow-list, so it would lock you out. Only superusers "
        "can sign in. Nothing was changed."
    ]


def test_viewers_see_no_lock_down_and_may_not_post_it(django_user_model: Any) -> None:
    viewer = logged_in(make_staff(django_user_model, "viewer", "view_sessionrecord"))
    assert OPENER not in body(viewer.get(page_url()))
    assert lock_site(viewer).status_code == 403
    assert not Lockdown.objects.exists()


def test_lock_down_is_post_only_and_behind_the_admin_login(admin: Client, client: Client) -> None:
    assert admin.get(action_url("lockdown")).status_code == 405
    assert admin.get(action_url("lift_lockdown")).status_code == 405
    response = client.post(action_url("lockdown"), {"scope": "site", "duration": "60"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Lockdown.objects.exists()


# -- the site: locking down --------------------------------------------------------------


def test_locking_the_site_down_ends_the_others_and_keeps_the_admin(
    admin: Client, alice: Any, make_session: Any, store_class: Any
) -> None:
    victims = [make_session(user=alice), make_session()]

    response = lock_site(admin, reason="incident 7")

    assert response.status_code == 302 and response["Location"] == page_url()
    lockdown = Lockdown.objects.get()
    assert lockdown.until is not None
    [text] = messages_of(response)
    assert text == (
        f"The site is locked down until {lockdowns.moment(lockdown.until)}. Ended 2 sessions. "
        "Your own session was kept. Only superusers can sign in."
    )
    assert not any(store_class()().exists(v.session_key) for v in victims)
    assert is_signed_in(admin)
    entry = AuditEntry.objects.get(scope=AuditEntry.SCOPE_LOCKDOWN)
    assert (entry.actor_repr, entry.reason, entry.killed) == ("admin", "incident 7", 2)
    html = body(admin.get(page_url()))
    assert OPENER not in html  # on: the banner says so, with its lift


def test_until_lifted(admin: Client) -> None:
    response = lock_site(admin, duration="lifted")
    assert Lockdown.objects.get().until is None
    assert messages_of(response)[0].startswith("The site is locked down until you lift it.")


@pytest.mark.parametrize("duration", ["", "30", "forever", "60 "])
def test_a_duration_not_offered_changes_nothing(admin: Client, duration: str) -> None:
    response = lock_site(admin, duration=duration)
    assert messages_of(response) == ["Choose how long the lockdown lasts. Nothing was changed."]
    assert not Lockdown.objects.exists()


def test_a_scope_not_offered_changes_nothing(admin: Client) -> None:
    response = admin.post(action_url("lockdown"), {"scope": "all", "duration": "60"})
    assert messages_of(response) == ["Say what to lock down: the site or a user."]
    assert not Lockdown.objects.exists()


def test_past_the_window_no_password_locks_nothing_down(
    admin: Client, alice: Any, make_session: Any, store_class: Any
) -> None:
    victim = make_session(user=alice)
    lapse(admin)

    assert messages_of(lock_site(admin)) == ["Enter your password to confirm. Nothing was ended."]
    assert messages_of(lock_site(admin, password="wrong")) == [
        "That password is not correct. Nothing was ended."
    ]
    assert not Lockdown.objects.exists()
    assert store_class()().exists(victim.session_key)

    lock_site(admin, password="password")
    assert Lockdown.objects.filter(scope="site").count() == 1


def test_a_site_already_locked_down_is_not_locked_again(admin: Client) -> None:
    lock_site(admin)
    response = lock_site(admin)
    assert "The site is already locked down" in messages_of(response)[-1]
    assert Lockdown.objects.count() == 1


def test_an_htmx_post_is_sent_to_the_page_whole(admin: Client) -> None:
    response = admin.post(action_url("lockdown"), {"scope": "site", "duration": "15"}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == page_url()


# -- the banner on every admin page ------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/auth/user/",
        "/admin/auth/user/add/",
        "/admin/password_change/",
        page_url(),
        "/admin/sessions_panel/auditentry/",
    ],
)
def test_the_banner_is_on_every_admin_page_with_its_lift(admin: Client, url: str) -> None:
    lockdown = site_lockdown(60)

    html = body(admin.get(url))

    assert html.count(BANNER) == 1
    banner = re.search(rf"<li[^>]*{BANNER}[^>]*>(.*?)</li>", html, re.S)
    assert banner
    text = banner.group(1)
    since, until = lockdowns.moment(lockdown.created), lockdowns.moment(lockdown.until)  # type: ignore[arg-type]
    assert (
        f"Site lockdown in effect since {since}, until {until}. Only superusers can sign in."
        in text
    )
    assert f'action="{action_url("lift_lockdown")}"' in text
    assert f'name="lockdown" value="{lockdown.pk}"' in text
    assert f'name="next" value="{url}"' in text
    assert 'name="csrfmiddlewaretoken"' in text
    assert 'value="Lift lockdown"' in text


def test_no_banner_when_not_locked_down_nor_off_the_admin(
    admin: Client, settings: Any, client: Client
) -> None:
    assert BANNER not in body(admin.get("/admin/"))
    site_lockdown()
    assert BANNER not in body(client.get("/admin/login/"))  # anonymous: no banner
    assert body(admin.get("/account/sessions/")).count("Site lockdown") == 0  # not the admin


def test_a_staff_member_who_may_not_lift_sees_the_banner_without_the_button(
    django_user_model: Any,
) -> None:
    viewer = logged_in(make_staff(django_user_model, "viewer", "view_sessionrecord"))
    site_lockdown()
    html = body(viewer.get("/admin/"))
    assert "Site lockdown in effect since" in html
    assert "Lift lockdown" not in html


def test_the_banner_costs_one_query_per_admin_page(
    admin: Client, django_assert_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    admin.get("/admin/")
    with CaptureQueriesContext(connection) as before:
        admin.get("/admin/")
    site_lockdown()
    with CaptureQueriesContext(connection) as during:
        admin.get("/admin/")
    lockdown_queries = [
        q for q in before if q["sql"].startswith('SELECT "sessions_panel_lockdown"')
    ]
    assert len(lockdown_queries) == 1
    assert len(during) == len(before)


def test_the_page_and_the_banner_ask_once(admin: Client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        admin.get(page_url())
    reads = [q for q in queries if q["sql"].startswith('SELECT "sessions_panel_lockdown"')]
    assert len(reads) == 1


# -- lifting -----------------------------------------------------------------------------


def test_lift_in_one_click_back_to_the_page_it_was_clicked_on(admin: Client, alice: Any) -> None:
    lockdown = site_lockdown()

    response = admin.post(
        action_url("lift_lockdown"), {"lockdown": lockdown.pk, "next": "/admin/auth/user/"}
    )

    assert response.status_code == 302 and response["Location"] == "/admin/auth/user/"
    assert messages_of(response) == ["The site’s lockdown was lifted: everyone can sign in again."]
    assert lockdowns.site() is None
    assert BANNER not in body(admin.get("/admin/"))
    entry = AuditEntry.objects.get(scope=AuditEntry.SCOPE_LIFTED)
    assert (entry.actor_repr, entry.detail) == ("admin", "site lockdown lifted")
    assert Client().login(username="alice", password="pw")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", ""])
def test_lift_goes_nowhere_else_than_this_site(admin: Client, target: str) -> None:
    lockdown = site_lockdown()
    response = admin.post(action_url("lift_lockdown"), {"lockdown": lockdown.pk, "next": target})
    assert response["Location"] == page_url()


@pytest.mark.parametrize("value", ["", "abc", "999999", "-1", "1" * 30])
def test_lifting_what_is_not_there_says_so(admin: Client, value: str) -> None:
    site_lockdown()
    response = admin.post(action_url("lift_lockdown"), {"lockdown": value})
    assert messages_of(response) == ["That lockdown had already been lifted."]
    assert lockdowns.site() is not None


def test_lifting_twice_says_so(admin: Client) -> None:
    lockdown = site_lockdown()
    admin.post(action_url("lift_lockdown"), {"lockdown": lockdown.pk})
    response = admin.post(action_url("lift_lockdown"), {"lockdown": lockdown.pk})
    assert messages_of(response) == ["That lockdown had already been lifted."]
    assert AuditEntry.objects.filter(scope=AuditEntry.SCOPE_LIFTED).count() == 1


def test_a_lockdown_that_ran_out_is_not_lifted(admin: Client) -> None:
    lockdown = site_lockdown(15)
    Lockdown.objects.filter(pk=lockdown.pk).update(until=timezone.now() - timedelta(seconds=1))
    response = admin.post(action_url("lift_lockdown"), {"lockdown": lockdown.pk})
    assert messages_of(response) == ["That lockdown had already run out or been lifted."]
    assert not AuditEntry.objects.filter(scope=AuditEntry.SCOPE_LIFTED).exists()


def test_lifting_needs_the_kill_permission(django_user_model: Any) -> None:
    viewer = logged_in(make_staff(django_user_model, "viewer", "view_sessionrecord"))
    lockdown = site_lockdown()
    assert viewer.post(action_url("lift_lockdown"), {"lockdown": lockdown.pk}).status_code == 403
    assert lockdowns.site() is not None


# -- one user ----------------------------------------------------------------------------


def test_a_users_view_offers_lock_down_with_its_dialog(admin: Client, alice: Any) -> None:
    html = body(admin.get(page_url(), {"user": alice.pk}))
    assert USER_OPENER in html
    dialog = re.search(r'<dialog id="sp-lockdown-user-dialog".*?</dialog>', html, re.S)
    assert dialog
    text = dialog.group(0)
    assert "Lock down alice?" in text
    assert f'<input type="hidden" name="user" value="{alice.pk}">' in text
    assert '<input type="checkbox" name="unusable_password">' in text
    assert re.search(r'<option value="lifted" selected>Until lifted</option>', text)


def test_locking_a_user_down_from_their_view(
    admin: Client, alice: Any, make_session: Any, store_class: Any
) -> None:
    theirs = [make_session(user=alice), make_session(user=alice)]

    response = lock_user(admin, alice, reason="phished", unusable_password="on")

    assert response["Location"] == f"{page_url()}?user={alice.pk}"
    assert messages_of(response) == [
        "alice is locked down until you lift it: ended 2 sessions. Their password is unusable "
        "now: they must set a new one."
    ]
    assert not any(store_class()().exists(s.session_key) for s in theirs)
    alice.refresh_from_db()
    assert not alice.has_usable_password()
    lockdown = Lockdown.objects.get(scope="user")
    assert (lockdown.user_id, lockdown.reason, lockdown.password_unusable) == (
        alice.pk,
        "phished",
        True,
    )

    html = body(admin.get(page_url(), {"user": alice.pk}))
    assert USER_OPENER not in html
    banner = re.search(r'<div class="sp-warning sp-lockdown-user".*?</div>', html, re.S)
    assert banner
    assert "alice is locked down since" in banner.group(0)
    assert "until lifted: sign-in is refused." in banner.group(0)
    assert "Their password was made unusable" in banner.group(0)
    assert f'name="lockdown" value="{lockdown.pk}"' in banner.group(0)
    # The same banner in the list's refresh.
    assert "alice is locked down since" in body(admin.get(page_url(), {"user": alice.pk}, **HTMX))


def test_lifting_a_users_lockdown_from_their_view(admin: Client, alice: Any) -> None:
    lock_user(admin, alice, unusable_password="on")
    lockdown = Lockdown.objects.get()
    back = f"{page_url()}?user={alice.pk}"

    response = admin.post(action_url("lift_lockdown"), {"lockdown": lockdown.pk, "next": back})

    assert response["Location"] == back
    assert messages_of(response) == [
        "The lockdown of alice was lifted: they can sign in again. Their password is still "
        "unusable: they must set a new one first."
    ]
    assert USER_OPENER in body(admin.get(back))


def test_a_locked_down_users_leftover_session_is_flagged(
    admin: Client, alice: Any, make_session: Any
) -> None:
    termination.lock_user(alice, actor="cli")
    leftover = make_session(user=alice)  # e.g. a store that failed the kill's clean-up
    record = SessionRecord.objects.get(session_key=leftover.session_key)

    html = body(admin.get(page_url()))

    assert record.handle in handles_in(html)
    assert 'data-sp-flag="locked"' in row_html(html, record.handle)
    assert "Locked down" in row_html(html, record.handle)


def test_no_lock_down_of_yourself(admin: Client, admin_user: Any) -> None:
    assert USER_OPENER not in body(admin.get(page_url(), {"user": admin_user.pk}))
    response = lock_user(admin, admin_user)
    assert messages_of(response) == ["You cannot lock down your own account. Nothing was changed."]
    assert not Lockdown.objects.exists()


def test_a_user_lockdown_needs_a_user(admin: Client) -> None:
    for user in ("", "abc", "987654"):
        response = admin.post(
            action_url("lockdown"), {"scope": "user", "user": user, "duration": "60"}
        )
        assert messages_of(response) == ["Say which user to lock down. Nothing was changed."]
    assert not Lockdown.objects.exists()


def test_lesser_admins_cannot_lock_down_or_lift_a_superuser(
    killer: Any, admin_user: Any, make_session: Any, store_class: Any
) -> None:
    client = logged_in(killer)
    theirs = make_session(user=admin_user)
    assert USER_OPENER not in body(client.get(page_url(), {"user": admin_user.pk}))

    response = lock_user(client, admin_user)

    # Named: the list shows their session anyway.
    assert messages_of(response) == [
        "admin was not locked down: only a superuser can lock down a superuser."
    ]
    assert not Lockdown.objects.exists()
    assert store_class()().exists(theirs.session_key)

    other = type(admin_user).objects.create_superuser("root2", "r@example.com", "pw")
    lockdown = termination.lock_user(other, actor="cli").lockdown
    response = client.post(action_url("lift_lockdown"), {"lockdown": lockdown.pk})
    assert messages_of(response) == [
        "The lockdown was not lifted: only a superuser can lift a superuser’s."
    ]
    assert lockdowns.of_user(other.pk) is not None


@pytest.mark.urls("tests.admin_sites_urls")
def test_the_banner_and_its_lift_stay_on_the_site_they_are_shown_on(admin: Client) -> None:
    """An extra AdminSite with the panel (``register(backoffice)``): the banner shows
    there too, and its lift posts to that site's own URL."""
    lockdown = site_lockdown()
    lift_url = "/backoffice/sessions_panel/sessionrecord/lift-lockdown/"

    html = body(admin.get("/backoffice/auth/user/"))

    assert BANNER in html
    assert f'action="{lift_url}"' in html
    response = admin.post(lift_url, {"lockdown": lockdown.pk, "next": "/backoffice/auth/user/"})
    assert response["Location"] == "/backoffice/auth/user/"
    assert lockdowns.site() is None


# -- the audit trail ---------------------------------------------------------------------


def test_the_audit_trail_shows_lockdowns_and_lifts(
    admin: Client, alice: Any, django_user_model: Any
) -> None:
    """Filterable by scope; a user's lockdown or lift that ended no session names the
    account only to a reader who may see users (as a kill-user entry does)."""
    lock_user(admin, alice)
    admin.post(action_url("lift_lockdown"), {"lockdown": Lockdown.objects.get().pk})
    trail = "/admin/sessions_panel/auditentry/"

    html = body(admin.get(trail))
    assert "?scope__exact=lockdown" in html and "?scope__exact=lifted" in html
    assert "lockdown lifted" in html
    assert body(admin.get(trail, {"scope__exact": "lifted"})).count('class="field-created') == 1

    auditor = logged_in(make_staff(django_user_model, "auditor", "view_auditentry"))
    for entry in AuditEntry.objects.all():
        page = body(auditor.get(f"{trail}{entry.pk}/change/"))
        assert "alice" not in page
        assert f"User #{alice.pk}" in page
        assert "alice" in body(admin.get(f"{trail}{entry.pk}/change/"))
