"""The rows built in Python (``row_markup``) escape every value as autoescaping would."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.utils import timezone
from django.utils.html import escape as django_escape

from sessions_panel.page import row_markup
from sessions_panel.query.flags import Flag
from sessions_panel.query.listing import Row

HOSTILE = "\"'><script>alert(1)</script>&amp;"


@pytest.mark.parametrize("text", [HOSTILE, "plain", "", "é ü ☃", "a\nb", "1 < 2 & 3 > 2"])
def test_escape_matches_djangos(text):
    assert row_markup.escape(text) == django_escape(text)


def hostile_row(**changes: Any) -> Row:
    now = timezone.now()
    values: dict[str, Any] = {
        "handle": "h" + HOSTILE,
        "short_id": HOSTILE,
        "user_id": HOSTILE,
        "username": HOSTILE,
        "full_name": HOSTILE,
        "ip": HOSTILE,
        "application": HOSTILE,
        "user_agent": HOSTILE,
        "browser": HOSTILE,
        "expiry": now + timedelta(hours=1),
        "expires_in": HOSTILE,
        "last_seen": now,
        "is_current": True,
        "flags": (Flag(HOSTILE, HOSTILE, HOSTILE),),
    }
    values.update(changes)
    return Row(**values)


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [value or "" for _, value in attrs]

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.parametrize("masked", [False, True], ids=["revealed", "masked"])
def test_a_row_of_hostile_values_stays_inert_text(masked):
    html = row_markup.render_rows(
        [hostile_row(ip_masked=masked)],
        changelist_url="/admin/?x=<y>",
        kill_url="/kill/?q=<z>&a=1",
        csrf_token=HOSTILE,
    )
    parsed = Collect()
    parsed.feed(html)
    assert "script" not in parsed.tags
    assert set(parsed.tags) <= {
        "tr",
        "td",
        "div",
        "span",
        "a",
        "ul",
        "li",
        "details",
        "summary",
        "time",
        "form",
        "input",
        "button",
    }
    # The values come back intact, as text and attribute values, never as markup.
    assert any(HOSTILE in value for value in parsed.attributes)
    assert any(HOSTILE in text for text in parsed.text)
    assert "<script>" not in html and "<y>" not in html and "<z>" not in html


def test_without_kill_permission_there_is_no_form_and_no_token():
    html = row_markup.render_rows(
        [hostile_row(is_current=False)], changelist_url="/", kill_url=None, csrf_token="tok"
    )
    assert "<form" not in html and "tok" not in html
    assert 'class="sp-row"' in html


def test_own_row_says_killing_it_logs_you_out():
    own = row_markup.render_rows(
        [hostile_row(short_id="abc123", is_current=True)],
        changelist_url="/",
        kill_url="/kill/",
        csrf_token="tok",
    )
    other = row_markup.render_rows(
        [hostile_row(short_id="abc123", is_current=False, username="bob", user_id=7)],
        changelist_url="/",
        kill_url="/kill/",
        csrf_token="tok",
    )
    assert 'aria-label="Kill session abc123, your own session"' in own
    assert "Logs you out" in own and "sp-current" in own
    assert 'aria-label="Kill session abc123 of bob"' in other
    assert "Logs you out" not in other and 'href="/?user=7"' in other
