"""The rows built in Python (``row_markup``) escape every value as autoescaping would."""

from __future__ import annotations

from datetime import UTC, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.utils import timezone
from django.utils.html import escape as django_escape

from sessions_panel.page import row_markup
from sessions_panel.query.flags import Flag
from sessions_panel.query.listing import Row
from tests.page_support import kill_button, row_cells, row_html

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
        # One flag with a reason (a disclosure), one whose label says it all.
        "flags": (Flag(HOSTILE, HOSTILE, HOSTILE), Flag("2" + HOSTILE, HOSTILE)),
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
    html = row_markup.render_rows([hostile_row(ip_masked=masked)], can_kill=True)
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
        "button",
    }
    # The values come back intact, as text and attribute values, never as markup.
    assert any(HOSTILE in value for value in parsed.attributes)
    assert any(HOSTILE in text for text in parsed.text)
    assert "<script>" not in html
    # What the Kill dialog reads from the row's cells is the stored value, exactly.
    (cells,) = row_cells(html).values()
    assert cells["handle"] == "h" + HOSTILE
    assert cells["kill"]["value"] == "h" + HOSTILE
    assert cells["cells"] == 7  # the table's columns, the application second
    for name in ("user", "short-id", "application", "ip"):  # the IP: as the row shows it
        assert cells[name] == HOSTILE, name
    # What focus returns to after a refresh is found by what each control is (the
    # script's roleInRow), the flag by its code: nothing in the markup names it.
    ip = [] if masked else ["ip"]
    assert cells["focus"] == ["row", "user", f"flag-{HOSTILE}", *ip, "kill"]
    assert "data-sp-focus" not in html and "tabindex" not in html


def test_without_kill_permission_there_is_no_kill_button():
    html = row_markup.render_rows([hostile_row(is_current=False)], can_kill=False)
    assert kill_button(html) is None
    assert "<form" not in html and "<button name" not in html
    (cells,) = row_cells(html).values()
    assert cells["cells"] == 6  # no action cell: the table has no such column then
    assert html.startswith("<tr data-handle=")  # no class: known by its handle


def test_rows_hold_no_form_and_no_token_of_their_own():
    """The list's one kill form holds the CSRF token and the table; each row's Kill
    submits it (checked on the page in ``test_page_weight``)."""
    html = row_markup.render_rows(
        [hostile_row(is_current=False, handle=f"h{n}") for n in range(3)], can_kill=True
    )
    assert "<form" not in html and "<input" not in html
    assert "csrfmiddlewaretoken" not in html
    buttons = [kill_button(row_html(html, f"h{n}")) for n in range(3)]
    for n, button in enumerate(buttons):
        assert button is not None
        assert button.get("type", "submit") == "submit"  # a <button>'s default type
        assert "form" not in button  # the form that holds it: no id written each row
        assert "class" not in button  # known by its name: button[name=handle]
        assert (button["name"], button["value"]) == ("handle", f"h{n}")
        # Without the script it posts at once: the script says it opens a dialog
        # (aria-haspopup, checked in the browser tests), not the markup.
        assert "aria-haspopup" not in button


def test_own_row_says_killing_it_logs_you_out():
    own = row_markup.render_rows([hostile_row(short_id="abc123", is_current=True)], can_kill=True)
    other = row_markup.render_rows(
        [hostile_row(short_id="abc123", is_current=False, username="bob", user_id=7)],
        can_kill=True,
    )
    assert "Logs you out" in own and "sp-current" in own
    assert "Logs you out" not in other and "sp-current" not in other
    # The dialog's "your own session" warning and its link to the user's sessions.
    (own_cells,) = row_cells(own).values()
    (other_cells,) = row_cells(other).values()
    assert own_cells["current"] is True and other_cells["current"] is False
    assert other_cells["user_href"] == "?user=7"
    assert other_cells["authenticated"] is True
    # The Kill's name ("Kill session abc123 of bob") is the script's, from the list's
    # formats (the kill form's, once) and the row's cells: none in the row.
    assert "aria-label" not in own_cells["kill"] and "aria-label" not in other_cells["kill"]
    assert str(row_markup.kill_label_attributes()) == (
        'data-label-own="Kill session %(id)s, your own session" '
        'data-label-other="Kill session %(id)s of %(user)s"'
    )
    assert (other_cells["short-id"], other_cells["user"]) == ("abc123", "bob")
    assert own_cells["short-id"] == "abc123"


# -- dates: worked out once per minute shown ---------------------------------------------

_LANGUAGES = ["en", "de", "fr", "ja", "ar", "ru"]
_FORMATS = ["TIME_FORMAT", "SHORT_DATETIME_FORMAT", "DATETIME_FORMAT"]


def test_a_page_formats_each_minute_once(monkeypatch):
    """Fifty rows seen within one minute: one call of Django's formatter per format."""
    from datetime import datetime

    calls: list[str] = []
    from django.utils.formats import date_format as real

    def counting(value, name):
        calls.append(name)
        return real(value, name)

    monkeypatch.setattr(row_markup, "localized_date", counting)
    dates = row_markup._DateTexts()
    start = datetime(2026, 11, 30, 16, 5, 0, tzinfo=UTC)
    texts = {dates(start + timedelta(seconds=n), "DATETIME_FORMAT") for n in range(50)}
    assert len(texts) == 1 and calls == ["DATETIME_FORMAT"]
    dates(start + timedelta(minutes=1), "DATETIME_FORMAT")
    assert len(calls) == 2


def test_a_format_showing_seconds_is_worked_out_for_each_value(monkeypatch):
    from datetime import datetime

    monkeypatch.setattr(row_markup, "get_format", lambda name: "H:i:s")
    monkeypatch.setattr(
        row_markup, "localized_date", lambda value, name: value.strftime("%H:%M:%S")
    )
    dates = row_markup._DateTexts()
    start = datetime(2026, 11, 30, 16, 5, 0, tzinfo=UTC)
    assert dates(start, "TIME_FORMAT") == "16:05:00"
    assert dates(start + timedelta(seconds=7), "TIME_FORMAT") == "16:05:07"


def test_the_kept_date_texts_are_djangos_in_every_language():
    """Property: whatever the moments and their order, each text is the one Django's
    ``date_format`` gives for that very moment, in each language's formats."""
    from datetime import datetime

    from django.utils import translation
    from django.utils.formats import date_format
    from hypothesis import given
    from hypothesis import settings as hypothesis_settings
    from hypothesis import strategies as st

    moments = st.lists(
        st.datetimes(
            min_value=datetime(2000, 1, 1),
            max_value=datetime(2100, 1, 1),
            timezones=st.just(UTC),
        ),
        min_size=1,
        max_size=20,
    )

    @hypothesis_settings(max_examples=60, deadline=None)
    @given(moments, st.sampled_from(_LANGUAGES))
    def check(values, language):
        with translation.override(language):
            dates = row_markup._DateTexts()
            for value in values + [v.replace(second=59) for v in values]:
                local = timezone.localtime(value)
                for name in _FORMATS:
                    assert dates(local, name) == date_format(local, name)

    check()
