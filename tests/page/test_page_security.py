"""Hostile values render inert, raw keys never leave the server, and the page runs
under a strict Content-Security-Policy."""

from __future__ import annotations

import logging
import re

import django
import pytest

from sessions_panel.models import SessionRecord
from tests.keys import indexed
from tests.page_support import (
    HTMX,
    action_url,
    body,
    own_record,
    page_url,
    parse_tags,
    row_cells,
)

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
SVG = '"><svg onload=alert(1)>'
IMG = "<img src=x onerror=alert(3)>"
JSON_BREAK = '"},"handle":"other'


@pytest.fixture
def hostile(django_user_model, make_session):
    """A user, a user agent and an application that each try to inject markup."""
    user = django_user_model.objects.create_user(
        SCRIPT, email=f"{SVG}@x.test", first_name=SVG, last_name=IMG
    )
    session = make_session(user=user, user_agent=f"{SVG}{SCRIPT}{JSON_BREAK}", application=IMG)
    return SessionRecord.objects.get(session_key=indexed(session))


def assert_inert(html: str) -> None:
    """No payload survives as markup: only as escaped text."""
    for payload in (SCRIPT, SVG, IMG, JSON_BREAK):
        assert payload not in html, payload
    tags = parse_tags(html)
    assert not tags.script_text
    for tag, attrs in tags.tags:
        assert tag != "img", attrs
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
    assert "hx-vals" not in html
    assert "hx-on" not in html


def test_hostile_values_are_escaped_in_the_page(admin_client, hostile):
    html = body(admin_client.get(page_url()))
    assert_inert(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, as text
    # What the Kill dialog reads from the row's cells: the stored values, as text.
    cells = row_cells(html)[hostile.handle]
    assert cells["user"] == SCRIPT
    assert cells["application"] == IMG
    assert '<td data-label="Application">&lt;img src=x onerror=alert(3)&gt;<' in html


def test_hostile_values_are_escaped_in_fragments_and_messages(admin_client, hostile):
    assert_inert(body(admin_client.get(page_url(), {"q": SCRIPT}, **HTMX)))
    assert_inert(body(admin_client.get(page_url(), {"q": "alert"}, **HTMX)))
    response = admin_client.post(action_url("kill"), {"handle": hostile.handle}, **HTMX)
    html = body(response)
    assert "of &lt;script&gt;alert(1)&lt;/script&gt; was ended" in html
    assert_inert(html)


def test_hostile_search_text_is_escaped_everywhere_it_is_echoed(admin_client):
    html = body(admin_client.get(page_url(), {"q": SVG + SCRIPT}))
    assert_inert(html)
    assert "No sessions match" in html


def test_a_forged_hx_current_url_is_not_followed(admin_client, make_session):
    handle = SessionRecord.objects.get(session_key=indexed(make_session())).handle
    response = admin_client.post(
        action_url("kill"),
        {"handle": handle},
        HTTP_HX_CURRENT_URL="https://evil.example/steal",
    )
    assert response["Location"] == page_url()


@pytest.fixture
def many_keys(admin_client, make_session, django_user_model):
    bob = django_user_model.objects.create_user("bob")
    sessions = [make_session(user=bob), make_session(), make_session(user=bob)]
    return [s.session_key for s in sessions] + [admin_client.session.session_key]


def assert_no_key(response, keys) -> None:
    text = response.content.decode() + " ".join(
        f"{name}: {value}" for name, value in response.headers.items()
    )
    for key in keys:
        assert key not in text


def test_raw_session_keys_never_appear_in_any_response(admin_client, many_keys, caplog):
    caplog.set_level(logging.DEBUG)
    records = list(SessionRecord.objects.exclude(session_key=indexed(many_keys[-1])))
    responses = [
        admin_client.get(page_url()),
        admin_client.get(page_url(), **HTMX),
        admin_client.get(page_url(), {"q": many_keys[0][:8]}, **HTMX),
        admin_client.get(page_url(), {"page": "2", "sort": "user"}),
        admin_client.post(action_url("kill"), {"handle": records[0].handle}, **HTMX),
        admin_client.post(action_url("kill"), {"handle": records[0].handle}),
        admin_client.post(action_url("kill_user"), {"handle": records[1].handle}, follow=True),
        admin_client.get(action_url("kill")),
        admin_client.post(action_url("kill_all"), **HTMX),
        admin_client.post(action_url("kill_all"), follow=True),
        admin_client.post(action_url("kill"), {"handle": own_record(admin_client).handle}),
    ]
    for response in responses:
        assert_no_key(response, many_keys)
    for record in caplog.records:
        for key in many_keys:
            assert key not in record.getMessage()


def test_pages_have_no_inline_script_or_style(admin_client, hostile):
    for response in (
        admin_client.get(page_url()),
        admin_client.get(page_url(), **HTMX),
    ):
        html = body(response)
        tags = parse_tags(html)
        assert not tags.script_text, "inline script"
        for tag, attrs in tags.tags:
            assert tag != "style"
            assert "style" not in attrs, (tag, attrs)
            assert not any(name.startswith(("on", "hx-on")) for name in attrs), attrs
            if tag == "script":
                assert attrs.get("src")
        assert "javascript:" not in html


def test_htmx_is_bundled_and_configured_for_a_strict_policy(admin_client):
    html = body(admin_client.get(page_url()))
    assert re.search(r'<script src="/static/django_htmx/htmx-2\.min\.js"', html)
    assert "unpkg.com" not in html and "cdn" not in html.lower()
    assert '"includeIndicatorStyles": false' in html
    assert '"allowEval": false' in html


@pytest.mark.skipif(django.VERSION < (6, 0), reason="CSP middleware is new in Django 6")
def test_page_works_under_djangos_csp_middleware_with_nonces(admin_client, settings):
    assert "django.middleware.csp.ContentSecurityPolicyMiddleware" in settings.MIDDLEWARE
    response = admin_client.get(page_url())
    policy = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce, policy
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    tags = parse_tags(body(response))
    scripts = [attrs for tag, attrs in tags.tags if tag == "script"]
    assert len(scripts) >= 3  # the admin's, htmx, ours
    for attrs in scripts:
        if django.VERSION < (6, 1) and (attrs.get("src") or "").startswith("/static/admin/"):
            continue  # Django 6.0's admin templates put no nonce on their own scripts
        assert attrs.get("nonce") == nonce.group(1), attrs
    sources = {attrs["src"] for attrs in scripts}
    assert "/static/sessions_panel/sessions_panel.js" in sources
