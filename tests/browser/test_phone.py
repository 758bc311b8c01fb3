"""The Sessions page on a phone (390×844, touch, mobile user agent): cards, not a table."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from sessions_panel.models import SessionRecord
from tests.browser.conftest import KILL_ROW, PANEL_URL, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CARDS = "#sp-results tr[data-handle]"
LONG_IPV6 = "2001:db8:85a3:1234:5678:8a2e:370:7334"


@pytest.fixture
def phone(new_page, admin_user, session_cookie, staff, make_session):
    """The admin's phone on the Sessions page, with alice, bob (long IPv6) and a guest."""
    make_session(user=staff("alice"), application="Support desk")
    make_session(user=staff("bob"), ip=LONG_IPV6, application="Administration")
    make_session(user=None, ip="198.51.100.66", application="Shop")
    page, _ = new_page(PHONE, cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sessions")
    expect(page.locator(CARDS)).to_have_count(4)
    return page


def assert_no_horizontal_scroll(page: Any) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"scrollWidth {width[0]} > innerWidth {width[1]}"


def assert_inside_viewport(page: Any, locator: Any) -> None:
    box = locator.bounding_box()
    assert box is not None
    viewport = page.viewport_size
    assert box["x"] >= 0 and box["y"] >= 0, box
    assert box["x"] + box["width"] <= viewport["width"], box
    assert box["y"] + box["height"] <= viewport["height"], box


def test_phone_shows_cards_not_a_table_without_horizontal_scroll(phone):
    cards = phone.locator(CARDS)
    for index in range(4):
        card = cards.nth(index)
        expect(card).to_be_visible()
        assert card.evaluate("(el) => getComputedStyle(el).display") == "grid"
        expect(card.get_by_role("button", name=KILL_ROW)).to_be_visible()
        expect(card.locator(":scope > td:nth-child(5) > span")).to_be_visible()  # the status
        box = card.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    # The header row stays for screen readers only: clipped to a 1 px box.
    header = phone.locator("#sp-results thead").bounding_box()
    assert header is not None and header["width"] <= 1 and header["height"] <= 1
    # Cards label their fields (the cells have no class: known by position).
    first = phone.locator(CARDS).first
    labels = [
        first.locator(f":scope > td:nth-child({n})").evaluate(
            "(el) => getComputedStyle(el, '::before').content"
        )
        for n in (2, 3, 4)
    ]
    assert labels == ['"Application: "', '"Last seen: "', '"Expires: "']
    assert_no_horizontal_scroll(phone)

    phone.locator("#sp-reveal-all").tap()  # the long IPv6 address, unmasked, still fits
    expect(phone.locator("button.sp-ip[aria-pressed=true]")).to_have_count(3)
    assert_no_horizontal_scroll(phone)


def test_phone_search_and_kill_work_from_a_card(phone):
    bob = SessionRecord.objects.get(user__username="bob")
    cards = phone.locator(CARDS)

    phone.locator("#sp-q").tap()
    phone.locator("#sp-q").press_sequentially("bob")
    expect(cards).to_have_count(1)
    card = cards.first
    expect(card).to_have_attribute("data-handle", bob.handle)
    assert_no_horizontal_scroll(phone)

    card.get_by_role("button", name=KILL_ROW).tap()
    dialog = phone.locator("#sp-kill-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-sp-field=user]")).to_have_text("bob")
    assert_inside_viewport(phone, dialog)
    dialog.get_by_role("button", name="Kill session", exact=True).tap()

    expect(dialog).to_be_hidden()
    expect(cards).to_have_count(0)
    # Of the three live sessions left, none matches "bob" now.
    expect(phone.locator("#sp-badge")).to_have_text("0 of 3 Active")
    expect(phone.locator("#sp-messages .messagelist li.success")).to_have_text(
        f"Session {bob.short_id} of bob was ended."
    )
    assert not SessionRecord.objects.filter(pk=bob.pk).exists()

    phone.locator("#sp-q").fill("")
    expect(cards).to_have_count(3)
    assert_no_horizontal_scroll(phone)


def test_phone_kill_all_dialog_fits_the_screen(phone):
    phone.get_by_role("button", name="Kill All", exact=True).tap()
    dialog = phone.locator("#sp-kill-all-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#sp-kill-all-summary")).to_have_text("This ends 3 listed sessions.")
    assert_inside_viewport(phone, dialog)
    assert_inside_viewport(phone, dialog.get_by_role("button", name="Cancel", exact=True))
    assert_inside_viewport(
        phone, dialog.get_by_role("button", name="Kill all sessions", exact=True)
    )
    assert_no_horizontal_scroll(phone)

    dialog.get_by_role("button", name="Cancel", exact=True).tap()
    expect(dialog).to_be_hidden()
    expect(phone.locator(CARDS)).to_have_count(4)
