"""Hardening (issue 7, items 1-5): every actor against every endpoint, forged requests,
hostile handles, hostile search input and hostile stored values.

Wherever nothing may be ended, the victim's session is checked with a fresh read of the
real store (``exists`` and ``load``, which also applies revocations), not the index.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from sessions_panel.models import AuditEntry, SessionRecord
from sessions_panel.tracking.useragent import describe
from tests.keys import indexed
from tests.page_support import (
    HTMX,
    action_url,
    body,
    handles_in,
    logged_in,
    make_staff,
    page_url,
    parse_tags,
    row_cells,
)

pytestmark = pytest.mark.django_db

VICTIM_IP = "198.51.100.77"
MASKED_IP = "198.51.•••.•••"
LOGIN = "/admin/login/?next="
EVIL = "https://evil.example"
ACTIONS = ["kill", "kill_user", "kill_matching", "kill_all"]
ALREADY_ENDED = "That session had already ended."
REDIRECT_HEADERS = ("Location", "HX-Redirect", "HX-Location", "HX-Replace-Url", "HX-Push-Url")


def record_of(session: Any) -> SessionRecord:
    return SessionRecord.objects.get(session_key=indexed(session))


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def assert_alive(store_class: Callable[[], Any], session: Any, user: Any = None) -> None:
    """A fresh read of the real store finds the session, still signed in."""
    store = store_class()
    assert store().exists(session.session_key)
    loaded = store(session.session_key)
    data = loaded.load()
    assert loaded.session_key == session.session_key, "the load was refused (ended or revoked)"
    if user is not None:
        assert data.get(SESSION_KEY) == str(user.pk)


def assert_dead(store_class: Callable[[], Any], session: Any) -> None:
    store = store_class()
    assert not store().exists(session.session_key)
    assert SESSION_KEY not in store(session.session_key).load()


def assert_same_site(value: str) -> None:
    """A redirect target is a path on this site: no scheme, no host, no ``//`` trick."""
    assert value.startswith("/"), value
    assert not value.startswith(("//", "/\\")), value
    parts = urlsplit(value)
    assert parts.scheme == "" and parts.netloc == "", value
    assert "evil" not in value, value
    for target in parse_qs(parts.query).get("next", []):
        assert_same_site(target)


def assert_no_off_site_redirect(response: Any) -> None:
    for name in REDIRECT_HEADERS:
        value = response.headers.get(name)
        if value is None:
            continue
        if value.startswith("{"):  # HX-Location may be JSON
            value = json.loads(value)["path"]
        assert_same_site(value)


@pytest.fixture
def bob(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("bob", password="pw")


@pytest.fixture
def victim(bob: Any, make_session: Callable[..., Any]) -> Any:
    """bob's signed-in session: the target of every forged or refused request."""
    return make_session(user=bob, ip=VICTIM_IP)


def action_data(victim: Any, bob: Any) -> dict[str, str]:
    """A post that names the victim in every way an action reads a target."""
    return {
        "handle": record_of(victim).handle,
        "user": str(bob.pk),
        "q": "bob",
        "reason": "forged",
    }


# -- 1. access: every actor against every endpoint ------------------------------------

ACTORS = ["anonymous", "non_staff", "inactive_staff", "staff_no_perms", "view_only"]
REDIRECTED = {"anonymous", "non_staff", "inactive_staff"}
#: (endpoint, action URL name or None for the list, htmx, extra GET params)
ENDPOINTS: dict[str, tuple[str | None, bool, dict[str, str]]] = {
    "list": (None, False, {}),
    "rows": (None, True, {}),
    "reveal_ip": (None, False, {"sort": "ip"}),
    "reveal_ip_rows": (None, True, {"sort": "ip"}),
    "kill": ("kill", False, {}),
    "kill_htmx": ("kill", True, {}),
    "kill_user": ("kill_user", False, {}),
    "kill_user_htmx": ("kill_user", True, {}),
    "kill_matching": ("kill_matching", False, {}),
    "kill_matching_htmx": ("kill_matching", True, {}),
    "kill_all": ("kill_all", False, {}),
    "kill_all_htmx": ("kill_all", True, {}),
}


def actor_client(role: str, django_user_model: Any) -> Client:
    if role == "anonymous":
        return Client()
    if role == "non_staff":
        return logged_in(django_user_model.objects.create_user("plain", password="pw"))
    if role == "inactive_staff":
        # Every permission, and even superuser: an inactive account has none of them.
        user = make_staff(
            django_user_model,
            "inactive",
            "view_sessionrecord",
            "delete_sessionrecord",
            "reveal_ip",
        )
        client = logged_in(user)
        # A queryset update: no deactivation receiver ends the session, so it is still
        # live and only the account's inactivity stands between it and the page.
        django_user_model.objects.filter(pk=user.pk).update(is_active=False, is_superuser=True)
        return client
    if role == "staff_no_perms":
        return logged_in(make_staff(django_user_model, "noperms"))
    assert role == "view_only"
    return logged_in(make_staff(django_user_model, "viewer", "view_sessionrecord"))


def request_endpoint(client: Client, endpoint: str, data: dict[str, str], **extra: Any) -> Any:
    name, htmx, params = ENDPOINTS[endpoint]
    headers = {**(HTMX if htmx else {}), **extra}
    if name is None:
        return client.get(page_url(), params, **headers)
    return client.post(action_url(name), data, **headers)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("role", ACTORS)
def test_access_matrix(role, endpoint, django_user_model, bob, victim, store_class, make_session):
    guest = make_session()
    client = actor_client(role, django_user_model)
    response = request_endpoint(client, endpoint, action_data(victim, bob))
    name, htmx, _ = ENDPOINTS[endpoint]
    if role in REDIRECTED:
        if htmx:  # the login page replaces the whole page, never swapped into the table
            assert response.status_code == 200
            assert response["HX-Redirect"].startswith(LOGIN)
            assert response.content == b""
        else:
            assert response.status_code == 302
            assert response["Location"].startswith(LOGIN)
    elif role == "staff_no_perms" or name is not None:
        assert response.status_code == 403
    else:  # a view-only admin sees the list, with masked addresses only
        assert response.status_code == 200
        html = body(response)
        assert record_of(victim).handle in handles_in(html)
        assert MASKED_IP in html
        for hidden in (VICTIM_IP, "100.77", "203.0.113.7"):
            assert hidden not in html
        assert "sp-kill-form" not in html
    assert_no_off_site_redirect(response)
    assert_alive(store_class, victim, bob)
    assert_alive(store_class, guest)
    assert SessionRecord.objects.filter(session_key=indexed(victim)).exists()
    assert not AuditEntry.objects.exists()


# -- 2. request forgery ---------------------------------------------------------------


@pytest.mark.parametrize("name", ACTIONS)
@pytest.mark.parametrize("method", ["get", "head", "put", "delete"])
def test_kill_endpoints_refuse_every_method_but_post(
    admin_client, bob, victim, store_class, name, method
):
    data = action_data(victim, bob)
    url = action_url(name)
    if method in ("get", "head"):
        response = getattr(admin_client, method)(url, data)
    else:
        encoded = "&".join(f"{k}={v}" for k, v in data.items())
        response = getattr(admin_client, method)(
            url, encoded, content_type="application/x-www-form-urlencoded"
        )
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert_alive(store_class, victim, bob)
    assert not AuditEntry.objects.exists()


def csrf_browser(admin_user: Any) -> tuple[Client, str]:
    browser = logged_in(admin_user, enforce_csrf_checks=True)
    browser.get(page_url())  # sets the CSRF cookie, as the page would
    return browser, browser.cookies["csrftoken"].value


WRONG_TOKEN = "A" * 64

CSRF_FORGERIES: dict[str, Callable[[str], tuple[dict[str, str], dict[str, Any]]]] = {
    "no_token": lambda token: ({}, {}),
    "no_token_htmx": lambda token: ({}, HTMX),
    "wrong_token": lambda token: ({"csrfmiddlewaretoken": WRONG_TOKEN}, {}),
    "wrong_header_token_htmx": lambda token: ({}, {"HTTP_X_CSRFTOKEN": WRONG_TOKEN, **HTMX}),
    "foreign_origin_https": lambda token: (
        {"csrfmiddlewaretoken": token},
        {"secure": True, "HTTP_ORIGIN": EVIL},
    ),
    "foreign_origin_https_htmx": lambda token: (
        {},
        {"secure": True, "HTTP_ORIGIN": EVIL, "HTTP_X_CSRFTOKEN": token, **HTMX},
    ),
    "foreign_referer_https": lambda token: (
        {"csrfmiddlewaretoken": token},
        {"secure": True, "HTTP_REFERER": EVIL + page_url()},
    ),
    "no_referer_https": lambda token: ({"csrfmiddlewaretoken": token}, {"secure": True}),
}


@pytest.mark.parametrize("forgery", list(CSRF_FORGERIES))
@pytest.mark.parametrize("name", ACTIONS)
def test_forged_posts_are_refused_by_csrf(
    admin_user, bob, victim, store_class, make_session, name, forgery
):
    guest = make_session()
    browser, token = csrf_browser(admin_user)
    fields, extra = CSRF_FORGERIES[forgery](token)
    response = browser.post(action_url(name), {**action_data(victim, bob), **fields}, **extra)
    assert response.status_code == 403
    assert_alive(store_class, victim, bob)
    assert_alive(store_class, guest)
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    "extra",
    [{"HTTP_ORIGIN": "https://testserver"}, {"HTTP_REFERER": "https://testserver" + page_url()}],
    ids=["same_origin", "same_referer"],
)
def test_the_same_token_over_https_from_this_site_is_accepted(
    admin_user, victim, store_class, extra
):
    """The control for the forgeries above: only the forged part made them fail."""
    browser, token = csrf_browser(admin_user)
    response = browser.post(
        action_url("kill"),
        {"handle": record_of(victim).handle, "csrfmiddlewaretoken": token},
        secure=True,
        **extra,
    )
    assert response.status_code == 302
    assert response["Location"] == page_url()
    assert_dead(store_class, victim)


FORGED_HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": EVIL + "/steal"}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("role", ["anonymous", "staff_no_perms"])
def test_forged_htmx_headers_bypass_nothing(
    role, endpoint, django_user_model, bob, victim, store_class
):
    client = actor_client(role, django_user_model)
    response = request_endpoint(
        client, endpoint, action_data(victim, bob), **FORGED_HX, HTTP_REFERER=EVIL
    )
    if role == "anonymous":
        assert response.status_code == 200
        assert response["HX-Redirect"] == f"{LOGIN}{page_url().replace('/', '%2F')}"
    else:
        assert response.status_code == 403
    assert_no_off_site_redirect(response)
    assert_alive(store_class, victim, bob)
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
@pytest.mark.parametrize("name", [*ACTIONS, "own_kill", "list"])
def test_forged_current_url_never_makes_an_off_site_redirect(
    admin_user, bob, victim, make_session, name, htmx
):
    """Allowed requests: every redirect header still points at this site."""
    admin = logged_in(admin_user)
    headers = {
        "HTTP_HX_CURRENT_URL": EVIL + "/steal",
        "HTTP_REFERER": EVIL + "/steal",
        "HTTP_HX_TARGET": "sp-results",
        **(HTMX if htmx else {}),
    }
    make_session(application="Shop")
    if name == "list":
        response = admin.get(page_url(), {"q": "shop", "next": EVIL}, **headers)
        assert response.status_code == 200
    elif name == "own_kill":
        own = SessionRecord.objects.get(session_key=indexed(admin.session))
        response = admin.post(action_url("kill"), {"handle": own.handle, "next": EVIL}, **headers)
        target = response["HX-Redirect" if htmx else "Location"]
        assert target.startswith(LOGIN)
    else:
        data = {**action_data(victim, bob), "next": EVIL}
        response = admin.post(action_url(name), data, **headers)
        assert response.status_code == (200 if htmx else 302)
        if not htmx:
            assert response["Location"].startswith(page_url())
    assert_no_off_site_redirect(response)
    assert EVIL not in body(response)


# -- 3. handles -----------------------------------------------------------------------


@pytest.fixture
def admin(engine: str, admin_user: Any) -> Client:
    """The admin's browser, logged in through the engine under test."""
    return logged_in(admin_user)


@pytest.fixture
def store_calls(monkeypatch: pytest.MonkeyPatch, store_class: Any, engine: str) -> list[Any]:
    """Every ``exists``/``delete`` the engine is asked for (install after the setup)."""
    calls: list[Any] = []
    store = store_class()
    real_exists, real_delete = store.exists, store.delete

    def exists(self: Any, session_key: str) -> bool:
        calls.append(("exists", session_key))
        return bool(real_exists(self, session_key))

    def delete(self: Any, session_key: str | None = None) -> None:
        calls.append(("delete", session_key))
        real_delete(self, session_key)

    monkeypatch.setattr(store, "exists", exists)
    monkeypatch.setattr(store, "delete", delete)
    return calls


def session_files(settings: Any) -> set[str]:
    return set(os.listdir(settings.SESSION_FILE_PATH))


def etc_passwd() -> tuple[int, int] | None:
    try:
        stat = os.stat("/etc/passwd")
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


MALFORMED: dict[str, Callable[[str], str]] = {
    "traversal": lambda handle: "../../etc/passwd",
    "traversal_from_a_real_handle": lambda handle: f"{handle}/../../../etc/passwd",
    "ten_kilobytes": lambda handle: "x" * 10 * 1024,
    "nul": lambda handle: "a\x00b",
    "real_handle_then_nul": lambda handle: f"{handle}\x00",
    "real_handle_then_newline": lambda handle: f"{handle}\n",
    "real_handle_then_like_wildcard": lambda handle: f"{handle[:-1]}%",
    "real_handle_with_a_space": lambda handle: f" {handle}",
    "unicode": lambda handle: "сессия🙂",
    "fullwidth_lookalike": lambda handle: "ａｂｃ",
    "sql": lambda handle: "' OR 1=1--",
    "sql_union": lambda handle: "x' UNION SELECT session_key FROM sessions_panel_sessionrecord--",
}


@pytest.mark.parametrize("name", ["kill", "kill_user"])
@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_handles_end_nothing_and_never_reach_the_store_or_the_database(
    admin, bob, victim, store_class, settings, request, name, kind
):
    handle = MALFORMED[kind](record_of(victim).handle)
    files, passwd = session_files(settings), etc_passwd()
    calls = request.getfixturevalue("store_calls")
    with CaptureQueriesContext(connection) as queries:
        response = admin.post(action_url(name), {"handle": handle, "reason": "probe"})
    assert response.status_code == 302
    assert response["Location"] == page_url()
    assert messages_of(response) == [ALREADY_ENDED]
    assert [c for c in calls if c[1] != admin.session.session_key] == []
    assert not [c for c in calls if c[0] == "delete"]
    marker = handle if len(handle) < 100 else handle[:100]
    for query in queries.captured_queries:
        assert '"handle" =' not in query["sql"]  # not even looked up in the index
        assert marker not in query["sql"]
        assert "\x00" not in query["sql"]
    assert session_files(settings) == files
    assert etc_passwd() == passwd
    assert_alive(store_class, victim, bob)
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("name", ["kill", "kill_user"])
def test_unknown_handle_is_already_ended_and_touches_no_store(
    admin, bob, victim, store_class, settings, request, name, htmx
):
    files = session_files(settings)
    calls = request.getfixturevalue("store_calls")
    unknown = "A" * 22  # well formed, nobody's
    response = admin.post(action_url(name), {"handle": unknown}, **(HTMX if htmx else {}))
    if htmx:
        assert response.status_code == 200
        assert ALREADY_ENDED in body(response)
        assert record_of(victim).handle in handles_in(body(response))
    else:
        assert response.status_code == 302
        assert messages_of(response) == [ALREADY_ENDED]
    assert [c for c in calls if c[1] != admin.session.session_key] == []
    assert session_files(settings) == files
    assert_alive(store_class, victim, bob)
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("name", ["kill", "kill_user"])
def test_an_already_killed_handle_is_already_ended_and_touches_no_store(
    admin, engine, bob, victim, make_session, store_class, settings, request, name
):
    bystander = make_session(user=bob)  # kill_user must not take the second session
    handle = record_of(victim).handle
    files = session_files(settings)
    short_id = record_of(victim).short_id
    first = admin.post(action_url("kill"), {"handle": handle}, follow=True)  # shows its message
    assert f"Session {short_id} of bob was ended." in body(first)
    assert_dead(store_class, victim)
    if engine == "file":  # exactly the victim's file went, nothing else
        assert files - session_files(settings) == {
            f"{settings.SESSION_COOKIE_NAME}{victim.session_key}"
        }
    assert session_files(settings) <= files
    files = session_files(settings)
    calls = request.getfixturevalue("store_calls")
    response = admin.post(action_url(name), {"handle": handle})
    assert response.status_code == 302
    assert messages_of(response) == [ALREADY_ENDED]
    assert [c for c in calls if c[1] != admin.session.session_key] == []
    assert session_files(settings) == files
    assert_alive(store_class, bystander, bob)
    assert AuditEntry.objects.count() == 1  # the first kill only


@pytest.fixture
def alice_and_bob(django_user_model: Any, make_session: Callable[..., Any]) -> dict[str, Any]:
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    return {
        "alice": alice,
        "bob": bob,
        "alices": [make_session(user=alice), make_session(user=alice)],
        "bobs": make_session(user=bob),
        "guest": make_session(),
    }


def test_kill_user_with_a_users_id_and_another_users_handle_is_refused_and_both_stay(
    admin, alice_and_bob, store_class
):
    """IDOR: user A's id with user B's handle names two targets; nothing ends."""
    people = alice_and_bob
    target = record_of(people["bobs"])
    response = admin.post(
        action_url("kill_user"),
        {"user": str(people["alice"].pk), "handle": target.handle},
    )
    assert messages_of(response) == [
        f"Session {target.short_id} does not belong to that user; nothing was ended."
    ]
    assert_alive(store_class, people["bobs"], people["bob"])
    for session in people["alices"]:
        assert_alive(store_class, session, people["alice"])
    assert_alive(store_class, people["guest"])
    assert not AuditEntry.objects.exists()


def test_kill_user_with_a_matching_user_id_and_handle_ends_that_users_sessions(
    admin, alice_and_bob, store_class
):
    people = alice_and_bob
    response = admin.post(
        action_url("kill_user"),
        {"user": str(people["bob"].pk), "handle": record_of(people["bobs"]).handle},
    )
    assert messages_of(response) == ["Ended 1 session of bob."]
    assert_dead(store_class, people["bobs"])
    for session in people["alices"]:
        assert_alive(store_class, session, people["alice"])
    assert AuditEntry.objects.get().user_ids == [str(people["bob"].pk)]


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        (lambda p: {"user": [str(p["alice"].pk), str(p["bob"].pk)]}, "Say whose sessions to end."),
        (lambda p: {"user": str(p["alice"].pk), "handle": "../bob"}, ALREADY_ENDED),
        (
            lambda p: {"user": str(p["alice"].pk), "handle": record_of(p["guest"]).handle},
            "does not belong to that user; nothing was ended.",
        ),
        (lambda p: {"user": "' OR 1=1--"}, "Say whose sessions to end."),
        (lambda p: {"user": str(10**20)}, "Say whose sessions to end."),
    ],
    ids=["two_users", "user_and_malformed_handle", "user_and_guest_handle", "sql", "overflow"],
)
def test_ambiguous_or_conflicting_kill_user_posts_end_nothing(
    admin, alice_and_bob, store_class, posted, message
):
    people = alice_and_bob
    response = admin.post(action_url("kill_user"), posted(people))
    assert response.status_code == 302
    [text] = messages_of(response)
    assert text.endswith(message)
    for session in people["alices"]:
        assert_alive(store_class, session, people["alice"])
    assert_alive(store_class, people["bobs"], people["bob"])
    assert_alive(store_class, people["guest"])
    assert not AuditEntry.objects.exists()


def test_kill_ends_only_the_handles_session_whoever_else_is_posted(
    admin, alice_and_bob, store_class
):
    people = alice_and_bob
    target = record_of(people["bobs"])
    response = admin.post(
        action_url("kill"),
        {"handle": target.handle, "user": str(people["alice"].pk), "q": "alice"},
    )
    assert messages_of(response) == [f"Session {target.short_id} of bob was ended."]
    assert_dead(store_class, people["bobs"])
    for session in people["alices"]:
        assert_alive(store_class, session, people["alice"])
    assert_alive(store_class, people["guest"])
    assert AuditEntry.objects.get().short_ids == [target.short_id]


# -- 4. search and paging input -------------------------------------------------------


@pytest.fixture
def crowd(django_user_model: Any, make_session: Callable[..., Any]) -> dict[str, Any]:
    """Users whose names hold LIKE metacharacters, a plain user, and a guest."""
    names = {"percent": "pct%user", "underscore": "under_score", "backslash": "back\\slash"}
    people = {
        key: make_session(user=django_user_model.objects.create_user(name))
        for key, name in {**names, "plain": "plainuser"}.items()
    }
    people["guest"] = make_session()
    return people


@pytest.mark.parametrize(("q", "who"), [("%", "percent"), ("_", "underscore"), ("\\", "backslash")])
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "rows"])
def test_like_metacharacters_in_search_match_only_literally(admin_client, crowd, q, who, htmx):
    response = admin_client.get(page_url(), {"q": q}, **(HTMX if htmx else {}))
    assert response.status_code == 200
    assert handles_in(body(response)) == [record_of(crowd[who]).handle]


@pytest.mark.parametrize(("q", "who"), [("%", "percent"), ("_", "underscore"), ("\\", "backslash")])
def test_kill_matching_with_like_metacharacters_ends_only_the_literal_match(
    admin_client, crowd, store_class, q, who
):
    response = admin_client.post(action_url("kill_matching"), {"q": q, "expected": "1"})
    assert messages_of(response) == ["Ended 1 session matching the search and filters."]
    for key, session in crowd.items():
        (assert_dead if key == who else assert_alive)(store_class, session)
    assert admin_client.get(page_url()).status_code == 200  # the admin's own session kept


HOSTILE_SEARCHES: dict[str, tuple[str, str]] = {
    # name: (q, the text the results must show, HTML-escaped)
    "sql": ("' OR 1=1--", "No sessions match “&#x27; OR 1=1--”."),
    "script": ("<script>", "No sessions match “&lt;script&gt;”."),
    "nul": ("ali\x00ce", "The search text contains a character that is not allowed."),
    "hundred_kilobytes": ("x" * 100 * 1024, "The search text was shortened to 200 characters."),
    "hundred_kilobytes_of_percent": (
        "%" * 100 * 1024,
        "The search text was shortened to 200 characters.",
    ),
}


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "rows"])
@pytest.mark.parametrize("name", list(HOSTILE_SEARCHES))
def test_hostile_search_text_is_answered_clearly_with_no_rows(admin_client, crowd, name, htmx):
    q, shown = HOSTILE_SEARCHES[name]
    response = admin_client.get(page_url(), {"q": q}, **(HTMX if htmx else {}))
    assert response.status_code == 200
    html = body(response)
    assert shown in html
    assert handles_in(html) == []
    assert "<script>" not in html
    assert not parse_tags(html).script_text
    if len(q) > 200:
        assert q[:201] not in html
    if htmx:
        assert_same_site(response["HX-Replace-Url"])


@pytest.mark.parametrize("name", list(HOSTILE_SEARCHES))
def test_kill_matching_with_hostile_search_text_ends_nothing(
    admin_client, crowd, store_class, name
):
    q, _ = HOSTILE_SEARCHES[name]
    response = admin_client.post(action_url("kill_matching"), {"q": q})
    assert response.status_code == 302
    [text] = messages_of(response)
    if name == "nul":
        assert text == "Search or filter the list first; to end every session, use Kill All."
        assert not AuditEntry.objects.exists()
    else:
        assert text == "Ended 0 sessions matching the search and filters."
        assert AuditEntry.objects.get().killed == 0
    for session in crowd.values():
        assert_alive(store_class, session)


@pytest.mark.parametrize(
    "value", ["abc", "-1", "0", str(10**20), "1\x00", "1 OR 1=1", "x" * 100 * 1024]
)
def test_a_hostile_user_filter_is_a_clear_error(admin_client, crowd, value):
    response = admin_client.get(page_url(), {"user": value}, **HTMX)
    assert response.status_code == 200
    html = body(response)
    assert "That user ID is not valid." in html
    assert handles_in(html) == []


@pytest.fixture
def six(admin_client: Client, make_session: Callable[..., Any], settings: Any) -> Client:
    """Six sessions (the admin's and five guests), two per page."""
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 2}
    for _ in range(5):
        make_session()
    return admin_client


@pytest.mark.parametrize(
    ("params", "rows", "replace_url"),
    [
        ({"page": "-1"}, 2, ""),
        ({"page": "abc"}, 2, ""),
        ({"page": str(10**20)}, 6, "?page=500"),  # clamped to the last page (1000 rows / 2)
        ({"page": "1", "page_size": str(10**6)}, 2, ""),
        ({"per_page": "100000", "PAGE_SIZE": "100000", "limit": "100000"}, 2, ""),
        ({"sort": "id; DROP TABLE x", "status": "<script>", "flag": "' OR 1=1--"}, 2, ""),
    ],
    ids=["negative", "not_a_number", "ten_to_the_twenty", "page_size", "size_aliases", "junk"],
)
def test_paging_and_filters_out_of_range_are_clamped(six, params, rows, replace_url):
    page = six.get(page_url(), params)
    assert page.status_code == 200
    assert len(handles_in(body(page))) == rows
    assert ("Load more" in body(page)) is (rows < 6)
    fragment = six.get(page_url(), params, **HTMX)
    assert fragment.status_code == 200
    assert len(handles_in(body(fragment))) == rows
    assert fragment["HX-Replace-Url"] == page_url() + replace_url


# -- 5. stored payloads ---------------------------------------------------------------

PAYLOADS = {
    "script": "<script>alert(1)</script>",
    "svg": '"><svg onload=alert(1)>',
    "end_script": "</script>",
    "json": '{"x":"y"}',
    "newlines": "a\nINFO sessions killed: forged\r\n'><svg onload=alert(2)>",
}


def assert_inert(html: str, payload: str) -> None:
    """The payload is only ever text: no tag, attribute or script of its own."""
    tags = parse_tags(html)
    scripts = [attrs for tag, attrs in tags.tags if tag == "script"]
    if payload == "</script>":  # the page's own scripts close; no extra closing tag
        assert html.count(payload) == len(scripts)
    else:
        assert payload not in html
    assert "hx-vals" not in html
    for text in tags.script_text:
        assert "alert" not in text and payload not in text
    for tag, attrs in tags.tags:
        assert not any(name.startswith(("on", "hx-on")) for name in attrs), (tag, attrs)
    for attrs in scripts:
        assert attrs.get("src") or attrs.get("type") == "application/json", attrs


@pytest.fixture(params=list(PAYLOADS))
def payload(request: pytest.FixtureRequest) -> str:
    return PAYLOADS[request.param]


@pytest.fixture
def hostile(django_user_model: Any, make_session: Callable[..., Any], payload: str) -> Any:
    """A user named, first-named and last-named by the payload, with two sessions whose
    user agent and application are the payload; and a killer whose username holds it."""
    user = django_user_model.objects.create_user(payload, first_name=payload, last_name=payload)
    sessions = [make_session(user=user, user_agent=payload, application=payload) for _ in "ab"]
    killer = django_user_model.objects.create_superuser(f"admin{payload}", password="pw")
    return {"user": user, "sessions": sessions, "killer": logged_in(killer)}


def test_stored_payloads_are_inert_in_the_list_rows_and_dialogs(hostile, payload):
    user, killer = hostile["user"], hostile["killer"]
    record = record_of(hostile["sessions"][0])
    for response in (
        killer.get(page_url()),
        killer.get(page_url(), **HTMX),
        killer.get(page_url(), {"user": str(user.pk)}),  # the kill-user dialog
        killer.get(page_url(), {"q": payload}, **HTMX),  # found by its name
    ):
        assert response.status_code == 200
        html = body(response)
        assert_inert(html, payload)
        # The cells the Kill dialog reads hold exactly the stored value, as text:
        # escaped, not cut, not broken out of.
        cells = row_cells(html)[record.handle]
        assert cells["kill"]["value"] == record.handle
        assert cells["user"] == payload
        assert cells["application"] == record.application == payload
        # The user agent is shown as what it was recognised as ("" here), never raw.
        assert cells["browser"] == (describe(payload) or "Unknown browser")
    dialog = body(killer.get(page_url(), {"user": str(user.pk)}))
    assert f"Kill all sessions of {escape(payload)}?" in dialog


@pytest.fixture
def trail(hostile: Any, payload: str) -> list[AuditEntry]:
    """Every kind of kill, each with the payload as its reason, from the hostile admin."""
    killer = hostile["killer"]
    first, second = (record_of(s) for s in hostile["sessions"])
    for response in (
        killer.post(action_url("kill"), {"handle": first.handle, "reason": payload}, **HTMX),
        killer.post(action_url("kill_user"), {"handle": second.handle, "reason": payload}, **HTMX),
        killer.post(action_url("kill_matching"), {"q": "nobody", "reason": payload}, **HTMX),
        killer.post(action_url("kill_all"), {"reason": payload}, **HTMX),
    ):
        assert response.status_code == 200
        assert_inert(body(response), payload)
    return list(AuditEntry.objects.order_by("pk"))


def test_stored_payloads_are_inert_in_the_audit_trail(hostile, payload, trail):
    cleaned = " ".join(payload.split())
    assert [e.scope for e in trail] == ["session", "user", "filter", "all"]
    killer = hostile["killer"]
    listing = killer.get("/admin/sessions_panel/auditentry/")
    assert listing.status_code == 200
    html = body(listing)
    assert_inert(html, payload)
    assert html.count(escape(cleaned)) >= len(trail)  # each reason, shown as text
    for entry in trail:
        assert entry.reason == cleaned
        assert "\n" not in entry.reason and "\r" not in entry.reason
        detail = killer.get(reverse("admin:sessions_panel_auditentry_change", args=[entry.pk]))
        assert detail.status_code == 200
        assert_inert(body(detail), payload)
        assert escape(cleaned) in body(detail)
    searched = killer.get("/admin/sessions_panel/auditentry/", {"q": payload[:20]})
    assert searched.status_code == 200
    assert_inert(body(searched), payload)


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.INFO, logger="sessions_panel")
    yield caplog


def test_stored_payloads_cannot_forge_log_lines(hostile, payload, captured):
    captured.clear()
    killer = hostile["killer"]
    first, second = (record_of(s) for s in hostile["sessions"])
    killer.post(action_url("kill"), {"handle": first.handle, "reason": payload})
    killer.post(action_url("kill_user"), {"handle": second.handle, "reason": payload})
    killer.post(action_url("kill_matching"), {"q": "nobody", "reason": payload})
    killer.post(action_url("kill_all"), {"reason": payload})
    records = [r for r in captured.records if r.name.startswith("sessions_panel")]
    killed = [r for r in records if r.getMessage().startswith("sessions killed:")]
    assert [r.getMessage().split()[2] for r in killed] == [
        "scope=session",
        "scope=user",
        "scope=filter",
        "scope=all",
    ]
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    for record in records:
        line = formatter.format(record)
        assert "\n" not in line and "\r" not in line, line
    for record in killed:
        assert f"reason={' '.join(payload.split())!r}" in record.getMessage()
        assert f"actor={('admin' + payload)!r}" in record.getMessage()


CONTROL_REASON = "nul\x00 esc\x1b[31m red\x07 bell\x0b vt\u2028 line-separator"


@pytest.mark.parametrize("name", ACTIONS)
def test_a_reason_with_control_characters_is_stored_and_logged_safely(
    admin_client, bob, victim, store_class, captured, name
):
    """NUL cannot be stored by PostgreSQL and ESC/BEL would drive a terminal: the kill
    still happens, is audited, and neither character reaches the trail or the log."""
    data = {**action_data(victim, bob), "reason": CONTROL_REASON}
    if name == "kill_matching":
        data["q"] = "bob"
    response = admin_client.post(action_url(name), data)
    assert response.status_code == 302
    assert response["Location"].startswith(page_url())
    assert_dead(store_class, victim)
    entry = AuditEntry.objects.get()
    assert entry.killed == 1
    for char in "\x00\x1b\x07\x0b\u2028\n\r":
        assert char not in entry.reason
    assert entry.reason.startswith("nul")
    for record in captured.records:
        if record.name.startswith("sessions_panel"):
            line = record.getMessage()
            assert not any(ord(c) < 32 or c == "\u2028" for c in line), line
