"""“Your sessions”: every signed-in user's page of their own sessions (issue 16, part 2).

The page lists the user's own live sessions, and only theirs; it ends one of them, or
every one but this device's, through the termination service (audited, the user as
the actor); it asks for the password when the re-authentication window has lapsed.
No handle of anyone else's (another user's, a guest's, an unknown or malformed one)
ends anything or tells anything: the answer is that of a session already ended.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sessions_panel import termination
from sessions_panel.account import rows, views
from sessions_panel.models import AuditEntry, SessionRecord
from sessions_panel.termination import reauth
from tests.keys import indexed
from tests.page_support import Tags, body, logged_in, own_record

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIELD = 'name="password" id="spa-password" autocomplete="current-password" required'
ALREADY_ENDED = ["That session had already ended."]


def page_url() -> str:
    return reverse("sessions_panel_account:sessions")


def end_url() -> str:
    return reverse("sessions_panel_account:end")


def end_others_url() -> str:
    return reverse("sessions_panel_account:end_others")


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def record_of(session: Any) -> SessionRecord:
    return SessionRecord.objects.get(session_key=indexed(session))


def handles_in(html: str) -> list[str]:
    return re.findall(r'<li class="spa-card[^"]*" data-handle="([^"]+)"', html)


def lapse(client: Client, seconds: float = 601) -> None:
    """The user logged in (or last confirmed their password) ``seconds`` ago."""
    own = SessionRecord.objects.filter(session_key=indexed(client.session))
    assert own.update(verified=time.time() - seconds) == 1


def is_signed_in(client: Client) -> bool:
    return client.get(page_url()).status_code == 200


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def bob(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("bob", password=PASSWORD)


@pytest.fixture
def browser(alice: Any) -> Client:
    """Alice's browser (not staff: the page is for every signed-in user)."""
    client = logged_in(alice, HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="192.0.2.10")
    assert client.get(page_url()).status_code == 200  # indexes its IP and user agent
    return client


# -- who may see it -----------------------------------------------------------------------


@pytest.mark.parametrize("login_url", ["/accounts/login/", "/sign-in/"])
def test_anonymous_visitors_go_to_the_login_url(client, settings, login_url):
    settings.LOGIN_URL = login_url
    response = client.get(page_url())
    assert response.status_code == 302
    assert response["Location"] == f"{login_url}?next={page_url()}"
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("url", [end_url, end_others_url])
def test_anonymous_posts_end_nothing(client, make_session, alice, store_class, url):
    victim = make_session(user=alice)
    response = client.post(url(), {"handle": record_of(victim).handle})
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={page_url()}"
    assert "no-store" in response["Cache-Control"]
    assert store_class()().exists(victim.session_key)
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("url", [end_url, end_others_url])
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_actions_refuse_anything_but_post(browser, make_session, alice, url, method):
    victim = record_of(make_session(user=alice))
    response = getattr(browser, method)(url() + f"?handle={victim.handle}")
    assert response.status_code == 405
    assert SessionRecord.objects.filter(pk=victim.pk).exists()


@pytest.mark.parametrize("url", [end_url, end_others_url])
def test_actions_need_the_csrf_token(alice, make_session, store_class, url):
    victim = make_session(user=alice)
    client = logged_in(alice, enforce_csrf_checks=True)
    assert client.post(url(), {"handle": record_of(victim).handle}).status_code == 403
    assert store_class()().exists(victim.session_key)


def test_the_forms_carry_the_csrf_token(browser, make_session, alice):
    make_session(user=alice)
    html = body(browser.get(page_url()))
    forms = html.count("<form ")
    assert forms == 2  # this session's End, and "Sign out everywhere else"
    assert html.count('name="csrfmiddlewaretoken"') == forms


# -- what it shows ------------------------------------------------------------------------


def test_the_page_lists_the_users_own_sessions_with_their_details(
    browser, make_session, alice, bob
):
    phone = make_session(
        user=alice, ip="198.51.100.23", user_agent=CHROME_WINDOWS, application="Shop"
    )
    others = [make_session(user=bob, ip="203.0.113.99"), make_session(user=None)]
    response = browser.get(page_url())
    html = body(response)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    own = own_record(browser)
    assert handles_in(html) == [own.handle, record_of(phone).handle]  # this device first
    assert '<h1 class="spa-title">Your sessions</h1>' in html
    assert "Chrome 131 · Windows" in html
    assert "Firefox 133 · Ubuntu" in html or "Firefox 133 · Linux" in html
    assert "198.51.100.23" in html  # their own address, in full
    assert "192.0.2.10" in html
    assert "Shop" in html
    assert html.count('<span class="spa-this">') == 1
    assert "just now" in html
    for session in others:
        assert record_of(session).handle not in html
    assert "203.0.113.99" not in html
    for key in SessionRecord.objects.values_list("session_key", flat=True):
        assert key not in html  # never a raw session key
    # This device has no End button (signing out does that); the other one has.
    assert html.count('name="handle"') == 1
    assert f'value="{record_of(phone).handle}"' in html
    assert 'aria-label="End session: Chrome 131 · Windows, 198.51.100.23"' in html


def test_last_seen_says_how_long_ago(browser, make_session, alice):
    old = make_session(user=alice)
    SessionRecord.objects.filter(session_key=indexed(old)).update(
        last_seen=record_of(old).last_seen.replace(microsecond=0) - rows.JUST_NOW * 125
    )
    assert "2\xa0hours ago" in body(browser.get(page_url()))


def test_expired_sessions_are_not_listed(browser, make_session, alice):
    gone = make_session(user=alice)
    SessionRecord.objects.filter(session_key=indexed(gone)).update(expiry=record_of(gone).created)
    assert record_of(gone).handle not in body(browser.get(page_url()))


def test_with_no_other_session_there_is_no_sign_out_everywhere_else(browser):
    html = body(browser.get(page_url()))
    assert "Sign out everywhere else" not in html
    assert "<form " not in html


def test_user_controlled_values_are_escaped(browser, make_session, alice):
    make_session(user=alice, user_agent="<script>alert(1)</script>", application="<b>x</b>")
    html = body(browser.get(page_url()))
    assert "<script>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_no_inline_script_or_style_and_htmx_by_address_only(browser, make_session, alice):
    make_session(user=alice)
    html = body(browser.get(page_url()))
    tags = Tags()
    tags.feed(html)
    # Scripts by address only (htmx, under the CSP's 'self'), never inline code.
    scripts = [a for t, a in tags.tags if t == "script"]
    assert scripts and all((a.get("src") or "").startswith("/static/") for a in scripts)
    assert "".join(tags.script_text).strip() == ""
    assert not [t for t, _ in tags.tags if t == "style"]
    assert not [a for _, a in tags.tags if "style" in a or any(k.startswith("on") for k in a)]
    assert '<link rel="stylesheet" href="/static/sessions_panel/account.css">' in html


def test_the_page_costs_the_same_queries_whatever_the_number_of_sessions(
    browser, make_session, alice
):
    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            assert browser.get(page_url()).status_code == 200
        listing = [q for q in queries if '"sessions_panel_sessionrecord"."handle"' in q["sql"]]
        return len(queries), len(listing)

    few = count()
    for _ in range(30):
        make_session(user=alice)
    many = count()
    assert few == many
    assert many[0] <= 4  # the session, the user, the list (and at most a last-seen touch)
    assert many[1] == 1  # the list is one query


def test_past_the_limit_the_most_recent_are_shown_and_this_device_first(
    browser, make_session, alice, monkeypatch
):
    monkeypatch.setattr(rows, "LIMIT", 3)
    own = own_record(browser)
    SessionRecord.objects.filter(pk=own.pk).update(last_seen=own.created - rows.JUST_NOW * 10)
    recent = [record_of(make_session(user=alice)) for _ in range(4)]
    html = body(browser.get(page_url()))
    shown = handles_in(html)
    assert len(shown) == 3
    assert shown[0] == own.handle
    assert set(shown[1:]) <= {r.handle for r in recent}
    assert "Only your 3 most recently used sessions are shown." in html
    assert "This ends all your other sessions. This device stays signed in." in html


def test_the_base_template_is_the_hosts_choice(browser, settings, tmp_path):
    (tmp_path / "host_base.html").write_text(
        '<!DOCTYPE html><html lang="en"><title>{% block title %}{% endblock %} · Host'
        "</title><body><header>HOST CHROME</header><main>{% block content %}{% endblock %}"
        "</main></body></html>"
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], str(tmp_path)]}
    ]
    settings.SESSIONS_PANEL = {"ACCOUNT_BASE_TEMPLATE": "host_base.html"}
    html = body(browser.get(page_url()))
    assert "HOST CHROME" in html
    assert "<title>Your sessions · Host</title>" in html
    settings.SESSIONS_PANEL = {}
    assert views.base_template() == "sessions_panel/account/base.html"
    html = body(browser.get(page_url()))
    assert "HOST CHROME" not in html
    assert '<main id="content">' in html


# -- ending one session -------------------------------------------------------------------


def test_ending_one_of_your_sessions_ends_it_in_the_real_store(
    engine, alice, make_session, store_class
):
    client = logged_in(alice)
    phone = make_session(user=alice, user_agent=CHROME_WINDOWS)
    laptop = make_session(user=alice)
    record = record_of(phone)
    response = client.post(end_url(), {"handle": record.handle})
    assert response.status_code == 302
    assert response["Location"] == page_url()
    assert messages_of(response) == ["The session on Chrome 131 · Windows was signed out."]
    assert not store_class()().exists(phone.session_key)  # a fresh read
    assert store_class()().exists(laptop.session_key)
    assert not SessionRecord.objects.filter(pk=record.pk).exists()
    assert is_signed_in(client)
    audit = AuditEntry.objects.get()
    assert audit.scope == AuditEntry.SCOPE_SESSION
    assert audit.killed == 1
    assert audit.actor == alice
    assert audit.actor_repr == "alice"
    assert audit.short_ids == [record.short_id]


def test_the_ended_sessions_next_request_is_anonymous(browser, alice):
    phone = logged_in(alice)
    assert is_signed_in(phone)
    browser.post(end_url(), {"handle": own_record(phone).handle})
    response = phone.get(page_url())
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_without_javascript_the_message_shows_after_the_redirect(browser, make_session, alice):
    record = record_of(make_session(user=alice, user_agent=CHROME_WINDOWS))
    response = browser.post(end_url(), {"handle": record.handle}, follow=True)
    html = body(response)
    assert response.status_code == 200
    assert "The session on Chrome 131 · Windows was signed out." in html
    assert 'class="spa-messages" role="status" tabindex="-1" autofocus' in html
    assert record.handle not in handles_in(html)


def test_this_device_is_not_ended_here(browser):
    own = own_record(browser)
    response = browser.post(end_url(), {"handle": own.handle})
    assert messages_of(response) == ["This is the session you are using now: to end it, sign out."]
    assert is_signed_in(browser)
    assert not AuditEntry.objects.exists()


def test_ending_twice_says_already_ended(browser, make_session, alice):
    handle = record_of(make_session(user=alice)).handle
    browser.post(end_url(), {"handle": handle}, follow=True)
    assert messages_of(browser.post(end_url(), {"handle": handle})) == ALREADY_ENDED


def test_ending_goes_through_the_termination_service(browser, make_session, alice, monkeypatch):
    calls: list[tuple[str, dict[str, Any]]] = []
    real = termination.kill_session

    def spy(handle: str, **kwargs: Any) -> Any:
        calls.append((handle, kwargs))
        return real(handle, **kwargs)

    monkeypatch.setattr(termination, "kill_session", spy)
    record = record_of(make_session(user=alice))
    browser.post(end_url(), {"handle": record.handle})
    [(handle, kwargs)] = calls
    assert handle == record.handle
    assert kwargs == {"actor": alice, "reason": views.REASON_ONE}


def test_a_failed_kill_says_so_and_ends_nothing(browser, make_session, alice, monkeypatch):
    record = record_of(make_session(user=alice))
    monkeypatch.setattr(
        termination,
        "kill_session",
        lambda handle, **kw: termination.KillResult(scope="session", requested=1, failed=1),
    )
    response = browser.post(end_url(), {"handle": record.handle})
    assert messages_of(response) == [
        "The session could not be ended: nothing was changed. Try again."
    ]


def test_an_untracked_engine_ends_nothing_and_says_so(browser, make_session, alice, settings):
    record = record_of(make_session(user=alice))
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "sessions_panel.middleware.SessionsPanelMiddleware"
    ]
    html = body(browser.get(page_url()))
    assert "Sessions cannot be ended on this site at the moment." in html
    assert "<form " not in html
    response = browser.post(end_url(), {"handle": record.handle})
    assert messages_of(response) == [
        "Sessions cannot be ended on this site at the moment. Nothing was ended."
    ]
    assert SessionRecord.objects.filter(pk=record.pk).exists()


# -- nobody else's sessions ---------------------------------------------------------------


def test_no_handle_but_your_own_ends_anything_or_tells_anything(
    engine, alice, bob, make_session, store_class
):
    """Every handle of another user's sessions, of guests', unknown and malformed ones:
    each is answered exactly as a session that has already ended, and ends nothing."""
    client = logged_in(alice)
    bobs = [make_session(user=bob, ip="203.0.113.5") for _ in range(3)]
    guests = [make_session(user=None) for _ in range(2)]
    mine = make_session(user=alice)
    ended = record_of(make_session(user=alice)).handle
    client.post(end_url(), {"handle": ended}, follow=True)
    AuditEntry.objects.all().delete()

    def answer(handle: Any) -> tuple[int, str, list[str], bytes]:
        response = client.post(end_url(), {"handle": handle})
        client.get(page_url())  # shows (and so consumes) the message
        return response.status_code, response["Location"], messages_of(response), response.content

    expected = answer(ended)
    assert expected[:3] == (302, page_url(), ALREADY_ENDED)
    foreign = [record_of(s).handle for s in [*bobs, *guests]]
    garbage = ["no-such-handle", "", "../../etc/passwd", "x" * 10_000, "a\x00b", "ü", " " + ended]
    for handle in [*foreign, *garbage]:
        assert answer(handle) == expected, handle
    # Repeated, and with a password the prompt would ask for: still the same answer.
    lapse(client)
    for handle in foreign:
        assert answer(handle) == expected, handle
        response = client.post(end_url(), {"handle": handle, "password": PASSWORD})
        assert messages_of(response) == ALREADY_ENDED
        client.get(page_url())
    for session in [*bobs, *guests, mine]:
        assert store_class()().exists(session.session_key)
        assert SessionRecord.objects.filter(session_key=indexed(session)).exists()
    assert not AuditEntry.objects.exists()
    html = body(client.get(page_url()))
    for handle in foreign:
        assert handle not in html
    assert "203.0.113.5" not in html


def test_several_handles_at_once_end_nothing_of_anyone_else(browser, bob, make_session):
    theirs = record_of(make_session(user=bob))
    response = browser.post(end_url(), {"handle": [theirs.handle, "x", theirs.handle]})
    assert messages_of(response) == ALREADY_ENDED
    assert SessionRecord.objects.filter(pk=theirs.pk).exists()


def test_sign_out_everywhere_else_touches_nobody_else(browser, alice, bob, make_session):
    bobs = make_session(user=bob)
    guest = make_session()
    browser.post(end_others_url(), {"user": bob.pk, "handle": record_of(bobs).handle})
    assert SessionRecord.objects.filter(session_key=indexed(bobs)).exists()
    assert SessionRecord.objects.filter(session_key=indexed(guest)).exists()


# -- signing out everywhere else ----------------------------------------------------------


def test_sign_out_everywhere_else_ends_every_other_session_and_keeps_this_one(
    engine, alice, bob, make_session, store_class
):
    client = logged_in(alice)
    assert is_signed_in(client)
    phone = logged_in(alice)
    mine = [make_session(user=alice) for _ in range(2)]
    unindexed = make_session(user=alice)
    SessionRecord.objects.filter(session_key=indexed(unindexed)).delete()
    bobs = make_session(user=bob)
    response = client.post(end_others_url())
    assert response.status_code == 302
    assert response["Location"] == page_url()
    assert messages_of(response) == ["Signed out of 3 other sessions. This device stays signed in."]
    assert is_signed_in(client)
    assert not is_signed_in(phone)
    for session in mine:
        assert not store_class()().exists(session.session_key)
    assert "_auth_user_id" not in store_class()(unindexed.session_key).load()  # the epoch
    assert store_class()().exists(bobs.session_key)
    audit = AuditEntry.objects.get()
    assert audit.scope == AuditEntry.SCOPE_USER
    assert audit.actor == alice
    assert audit.reason == views.REASON_OTHERS


def test_sign_out_everywhere_else_goes_through_kill_user_keeping_this_session(
    browser, alice, make_session, monkeypatch
):
    calls: list[tuple[Any, dict[str, Any]]] = []
    real = termination.kill_user

    def spy(user: Any, **kwargs: Any) -> Any:
        calls.append((user, kwargs))
        return real(user, **kwargs)

    monkeypatch.setattr(termination, "kill_user", spy)
    make_session(user=alice)
    browser.post(end_others_url())
    [(user, kwargs)] = calls
    assert user == alice
    assert kwargs["actor"] == alice
    assert kwargs["keep"].session_key == browser.session.session_key


def test_with_no_other_session_sign_out_everywhere_else_says_so(browser):
    response = browser.post(end_others_url())
    assert messages_of(response) == ["You have no other sessions."]
    assert not AuditEntry.objects.exists()


def test_one_other_session_is_singular(browser, make_session, alice):
    make_session(user=alice)
    assert "This ends your other session. This device stays signed in." in body(
        browser.get(page_url())
    )
    response = browser.post(end_others_url())
    assert messages_of(response) == ["Signed out of 1 other session. This device stays signed in."]


# -- the password -------------------------------------------------------------------------


@pytest.fixture
def lapsed(browser: Client) -> Client:
    lapse(browser)
    assert reauth.needs_password(browser.get(page_url()).wsgi_request)
    return browser


def test_within_the_window_no_password_is_asked(browser, make_session, alice):
    record = record_of(make_session(user=alice))
    response = browser.post(end_url(), {"handle": record.handle})
    assert response.status_code == 302
    assert not SessionRecord.objects.filter(pk=record.pk).exists()


@pytest.mark.parametrize("action", ["end", "end_others"])
def test_past_the_window_the_password_is_asked_first_and_nothing_ends(
    lapsed, make_session, alice, store_class, action
):
    victim = make_session(user=alice, user_agent=CHROME_WINDOWS, ip="198.51.100.23")
    record = record_of(victim)
    url = reverse(f"sessions_panel_account:{action}")
    response = lapsed.post(url, {"handle": record.handle})
    html = body(response)
    assert response.status_code == 200
    assert FIELD in html
    assert '<label for="spa-password">Your password</label>' in html
    assert "autofocus" in html
    assert f'action="{url}"' in html
    assert f'href="{page_url()}"' in html  # Cancel
    assert "aria-invalid" not in html  # no error the first time
    if action == "end":
        assert "You are about to end the session on Chrome 131 · Windows (198.51.100.23)." in html
        assert f'name="handle" value="{record.handle}"' in html
    else:
        assert "You are about to sign out of your other session." in html
    assert "no-store" in response["Cache-Control"]
    assert store_class()().exists(victim.session_key)
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("action", ["end", "end_others"])
@pytest.mark.parametrize(
    ("password", "error"),
    [
        ("wrong", "That password is not correct. Nothing was ended."),
        ("", "Enter your password to confirm. Nothing was ended."),
        ("x" * 5000, "That password is not correct. Nothing was ended."),
    ],
)
def test_a_wrong_or_missing_password_ends_nothing_and_says_why(
    lapsed, make_session, alice, store_class, action, password, error
):
    victim = make_session(user=alice)
    response = lapsed.post(
        reverse(f"sessions_panel_account:{action}"),
        {"handle": record_of(victim).handle, "password": password},
    )
    html = body(response)
    assert response.status_code == 200
    assert f'<p id="spa-password-error" class="spa-error" role="alert">{error}</p>' in html
    assert 'aria-invalid="true" aria-describedby="spa-password-error"' in html
    assert store_class()().exists(victim.session_key)
    assert SessionRecord.objects.filter(session_key=indexed(victim)).exists()
    assert not AuditEntry.objects.filter(killed__gt=0).exists()
    if password:
        assert password not in html  # never echoed back


@pytest.mark.parametrize("action", ["end", "end_others"])
def test_the_right_password_ends_it_and_restarts_the_window(
    lapsed, make_session, alice, store_class, action
):
    victim = make_session(user=alice)
    response = lapsed.post(
        reverse(f"sessions_panel_account:{action}"),
        {"handle": record_of(victim).handle, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert not store_class()().exists(victim.session_key)
    assert AuditEntry.objects.get().actor == alice
    assert not reauth.needs_password(lapsed.get(page_url()).wsgi_request)


def test_the_password_of_someone_else_is_not_enough(lapsed, make_session, alice, bob):
    victim = make_session(user=alice)
    bob.set_password("bobs own")
    bob.save()
    response = lapsed.post(end_url(), {"handle": record_of(victim).handle, "password": "bobs own"})
    assert "That password is not correct. Nothing was ended." in body(response)
    assert SessionRecord.objects.filter(session_key=indexed(victim)).exists()


def test_wrong_passwords_are_throttled_and_audited_as_on_the_admin_page(
    lapsed, make_session, alice, settings
):
    settings.SESSIONS_PANEL = {"REAUTH_MAX_FAILURES": 3, "REAUTH_LOCKOUT": 300}
    victim = make_session(user=alice)
    data = {"handle": record_of(victim).handle}
    for _ in range(2):
        html = body(lapsed.post(end_url(), {**data, "password": "wrong"}))
        assert "That password is not correct. Nothing was ended." in html
    html = body(lapsed.post(end_url(), {**data, "password": "wrong"}))
    assert re.search(
        r"That password is not correct\. Too many wrong passwords: try again at [^(]+ "
        r"\(in 5 minutes\)\. Nothing was ended\.",
        html,
    )
    html = body(lapsed.post(end_others_url(), {"password": PASSWORD}))  # the right one
    assert "Too many wrong passwords" in html
    assert SessionRecord.objects.filter(session_key=indexed(victim)).exists()
    failures = AuditEntry.objects.filter(scope=AuditEntry.SCOPE_REAUTH)
    assert failures.count() == 4
    assert set(failures.values_list("actor_repr", flat=True)) == {"alice"}
    assert {d.rsplit("; ", 1)[-1] for d in failures.values_list("detail", flat=True)} == {
        views.ACTION_ONE,
        views.ACTION_OTHERS,
    }
    assert not AuditEntry.objects.filter(killed__gt=0).exists()


def test_no_template_comment_leaks_into_the_page(browser, make_session, alice):
    make_session(user=alice)
    html = body(browser.get(page_url()))
    assert "{#" not in html and "#}" not in html and "{%" not in html
