"""The Sessions page in a real browser at 1280×800: each flow a person goes through.

Every page comes from ``new_page``, so a console error, an uncaught exception, a CSP
violation or an unannounced HTTP status >= 400 fails the test that caused it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from sessions_panel.models import SessionRecord
from tests.browser.conftest import (
    KILL_ROW,
    PANEL_URL,
    PASSWORD,
    NavigationWatch,
    assert_logged_in,
    assert_logged_out,
    has_session_cookie,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = "#sp-results tr[data-handle]"


def handle_of(session: Any) -> str:
    return str(SessionRecord.objects.get(session_key=session.session_key).handle)


def row(page: Any, handle: str) -> Any:
    return page.locator(f'{ROWS}[data-handle="{handle}"]')


def live_count() -> int:
    return int(SessionRecord.objects.live().count())


def open_panel(page: Any) -> None:
    page.goto(PANEL_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sessions")


def assert_at_top(page: Any, message: Any) -> None:
    """The message is in view without scrolling, above the title and the list."""
    box = message.bounding_box()
    assert box is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"]
    title = page.get_by_role("heading", level=1).bounding_box()
    assert title is not None and box["y"] < title["y"]


# -- log in, find the page, read it -----------------------------------------------------


def test_login_then_sessions_link_shows_title_subtitle_and_live_count(
    new_page, admin_user, staff, make_session
):
    alice, bob = staff("alice"), staff("bob")
    make_session(user=alice, application="Shop")
    make_session(user=bob, application="Blog")
    make_session(user=None, application="Shop")  # a guest
    page, _ = new_page()

    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
    page.fill("#id_username", admin_user.get_username())
    page.fill("#id_password", "password")  # pytest-django's admin_user
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))

    page.locator("#content-main").get_by_role("link", name="Sessions", exact=True).click()

    expect(page).to_have_url(re.compile(re.escape(PANEL_URL) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sessions")
    expect(page.locator(".sp-subtitle")).to_have_text("Active user connections across all apps")
    assert live_count() == 4  # three made above, plus the admin's own login
    expect(page.locator("#sp-badge")).to_have_text("4 Active")
    expect(page.locator(ROWS)).to_have_count(4)
    expect(page.locator(f"{ROWS}.sp-current")).to_have_count(1)
    expect(page.locator("#sp-results").get_by_role("columnheader")).to_have_text(
        ["User", "Application", "Last seen", "Expires", "Status", "IP address", "Action"]
    )
    # The default order is visible: the column it sorts by says so.
    headers = page.locator("#sp-results").get_by_role("columnheader")
    expect(headers.nth(2)).to_have_attribute("aria-sort", "descending")
    page.locator(".sp-sort select").select_option("expiry")
    expect(headers.nth(3)).to_have_attribute("aria-sort", "ascending")
    expect(headers.nth(2)).not_to_have_attribute("aria-sort", "descending")


# -- live search ---------------------------------------------------------------------------


def test_search_filters_rows_as_you_type_without_navigation_and_clearing_restores(
    new_page, admin_user, session_cookie, staff, make_session
):
    alice, bob = staff("alice"), staff("bob")
    alice_sessions = [make_session(user=alice), make_session(user=alice, ip="198.51.100.4")]
    make_session(user=bob)
    make_session(user=None, application="Shop")
    page, _ = new_page(cookies=session_cookie(admin_user))
    open_panel(page)
    rows = page.locator(ROWS)
    expect(rows).to_have_count(5)
    watch = NavigationWatch(page)

    page.locator("#sp-q").press_sequentially("alic")

    expect(rows).to_have_count(2)
    for session in alice_sessions:
        expect(row(page, handle_of(session))).to_be_visible()
    expect(page.locator(f"{ROWS} .sp-username")).to_have_text(["alice", "alice"])
    expect(page).to_have_url(re.compile(re.escape(PANEL_URL) + r"\?q=alic$"))
    expect(page.locator("#sp-q")).to_have_value("alic")

    page.locator("#sp-q").fill("nobody-like-this")
    expect(page.locator(".sp-empty-title")).to_have_text("No sessions match “nobody-like-this”.")
    expect(rows).to_have_count(0)

    page.locator("#sp-q").fill("")

    expect(rows).to_have_count(5)
    expect(page).to_have_url(re.compile(re.escape(PANEL_URL) + "$"))
    expect(page.locator("#sp-badge")).to_have_text("5 Active")  # the count never filters
    watch.assert_no_navigation()


# -- Kill one ------------------------------------------------------------------------------


def test_kill_cancel_keeps_the_row_confirm_ends_it_and_logs_that_browser_out(
    new_page, admin_user, session_cookie, staff, make_session
):
    bob = staff("bob")
    make_session(user=staff("alice"))
    bob_page, _ = new_page(cookies=session_cookie(bob))
    assert_logged_in(bob_page, "bob")
    bob_record = SessionRecord.objects.get(user=bob)
    page, _ = new_page(cookies=session_cookie(admin_user))
    open_panel(page)
    expect(page.locator("#sp-badge")).to_have_text("3 Active")
    bob_row = row(page, bob_record.handle)
    dialog = page.locator("#sp-kill-dialog")
    watch = NavigationWatch(page)

    bob_row.get_by_role("button", name=KILL_ROW).click()
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-sp-field=user]")).to_have_text("bob")
    expect(dialog.locator("[data-sp-field=short-id]")).to_have_text(bob_record.short_id)
    dialog.get_by_role("button", name="Cancel", exact=True).click()

    expect(dialog).to_be_hidden()
    expect(bob_row).to_be_visible()
    expect(page.locator("#sp-badge")).to_have_text("3 Active")
    assert_logged_in(bob_page, "bob")  # Cancel ended nothing

    bob_row.get_by_role("button", name=KILL_ROW).click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Kill session", exact=True).click()

    expect(dialog).to_be_hidden()
    expect(bob_row).to_have_count(0)
    expect(page.locator(ROWS)).to_have_count(2)
    expect(page.locator("#sp-badge")).to_have_text("2 Active")
    message = page.locator("#sp-messages .messagelist li.success")
    expect(message).to_have_text(f"Session {bob_record.short_id} of bob was ended.")
    assert_at_top(page, message)
    watch.assert_no_navigation()  # htmx swapped the list; the page stayed
    assert_logged_out(bob_page)


# -- Kill All ------------------------------------------------------------------------------


def test_kill_all_logs_out_every_other_browser_and_keeps_the_admin(
    new_page, admin_user, session_cookie, cookie_for, staff, make_session
):
    users = [staff(name) for name in ("alice", "bob", "carol")]
    browsers = []
    for user in users:
        other, _ = new_page(cookies=session_cookie(user))
        assert_logged_in(other, user.get_username())
        browsers.append(other)
    guest = make_session(user=None, application="Shop", cart=["book"])
    guest_page, _ = new_page(cookies=cookie_for(guest))
    guest_page.goto("/admin/login/")
    assert has_session_cookie(guest_page)  # a live session keeps its cookie
    page, _ = new_page(cookies=session_cookie(admin_user))
    open_panel(page)
    expect(page.locator("#sp-badge")).to_have_text("5 Active")

    page.get_by_role("button", name="Kill All", exact=True).click()
    dialog = page.locator("#sp-kill-all-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#sp-kill-all-summary")).to_have_text("This ends 4 listed sessions.")
    dialog.get_by_role("button", name="Kill all sessions", exact=True).click()

    expect(dialog).to_be_hidden()
    message = page.locator("#sp-messages .messagelist li.success")
    expect(message).to_have_text("Ended 4 sessions. Your own session was kept.")
    assert_at_top(page, message)
    expect(page.locator("#sp-badge")).to_have_text("1 Active")
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator(f"{ROWS}.sp-current")).to_have_count(1)

    for other in browsers:
        assert_logged_out(other)
    guest_page.goto("/admin/login/")
    assert not has_session_cookie(guest_page)  # the dead session's cookie is dropped
    assert not SessionRecord.objects.filter(session_key=guest.session_key).exists()
    page.reload()
    expect(page).to_have_url(re.compile(re.escape(PANEL_URL) + "$"))
    expect(page.locator("#user-tools")).to_contain_text("admin")
    expect(page.locator(ROWS)).to_have_count(1)


# -- IP badge ------------------------------------------------------------------------------


def test_ip_badge_is_blurred_then_click_and_enter_toggle_it(
    new_page, admin_user, session_cookie, staff, make_session
):
    session = make_session(user=staff("alice"), ip="203.0.113.7")
    page, _ = new_page(cookies=session_cookie(admin_user))
    open_panel(page)
    badge = row(page, handle_of(session)).locator("button.sp-ip")
    value = badge.locator(".sp-ip-value")
    expect(value).to_have_text("203.0.113.7")

    def assert_masked(masked: bool) -> None:
        expect(badge).to_have_attribute("aria-pressed", "false" if masked else "true")
        # Waits out the 0.15 s filter transition.
        condition = "f.includes('blur(5px)')" if masked else "f === 'none'"
        page.wait_for_function(
            f"(el) => {{ const f = getComputedStyle(el).filter; return {condition}; }}",
            arg=value.element_handle(),
        )

    assert_masked(True)
    badge.click()
    assert_masked(False)
    badge.click()
    assert_masked(True)

    badge.focus()
    page.keyboard.press("Enter")
    assert_masked(False)
    page.keyboard.press("Enter")
    assert_masked(True)
    page.keyboard.press("Space")
    assert_masked(False)


# -- live refresh --------------------------------------------------------------------------


def test_live_refresh_shows_a_session_logged_in_elsewhere_without_reload(
    new_page, admin_user, session_cookie, staff, settings
):
    settings.SESSIONS_PANEL = {**settings.SESSIONS_PANEL, "REFRESH_INTERVAL": 1}
    dave = staff("dave")
    page, _ = new_page(cookies=session_cookie(admin_user))
    open_panel(page)
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator("#sp-badge")).to_have_text("1 Active")
    watch = NavigationWatch(page)

    elsewhere, _ = new_page()  # dave logs in through the form, in another browser
    elsewhere.goto("/admin/login/")
    elsewhere.fill("#id_username", "dave")
    elsewhere.fill("#id_password", PASSWORD)
    elsewhere.get_by_role("button", name="Log in").click()
    expect(elsewhere).to_have_url(re.compile(r"/admin/$"))
    dave_record = SessionRecord.objects.get(user=dave)

    expect(row(page, dave_record.handle)).to_be_visible(timeout=5_000)
    expect(page.locator(ROWS)).to_have_count(2)
    expect(page.locator("#sp-badge")).to_have_text("2 Active")
    watch.assert_no_navigation()


def test_load_more_appends_rows_moves_focus_and_the_refresh_keeps_them(
    new_page, admin_user, session_cookie, make_session, settings
):
    settings.SESSIONS_PANEL = {**settings.SESSIONS_PANEL, "PAGE_SIZE": 3, "REFRESH_INTERVAL": 1}
    for _ in range(6):
        make_session()
    page, _ = new_page(cookies=session_cookie(admin_user))
    open_panel(page)
    expect(page.locator(ROWS)).to_have_count(3)
    first = page.locator(ROWS).evaluate_all("rows => rows.map(r => r.dataset.handle)")
    watch = NavigationWatch(page)

    with page.expect_response(lambda r: "after=" in r.url):
        page.get_by_role("link", name="Load more").click()
    expect(page.locator(ROWS)).to_have_count(6)
    handles = page.locator(ROWS).evaluate_all("rows => rows.map(r => r.dataset.handle)")
    assert handles[:3] == first and len(set(handles)) == 6
    expect(page.locator(ROWS).nth(3)).to_be_focused()  # the first new row
    expect(page).to_have_url(re.compile(r"\?page=2$"))
    page.locator(ROWS).nth(3).evaluate("(el) => { window.spBefore = el; }")

    # The live refresh now covers every row on screen, not only the first page.
    with page.expect_response(lambda r: "page=2" in r.url and "after=" not in r.url):
        pass
    expect(page.locator(ROWS)).to_have_count(6)
    # ...and the focus stays on that row (the same handle) of the list swapped in.
    page.wait_for_function(
        """([handle]) => { const active = document.activeElement;
            return active !== window.spBefore && active.matches("tr[data-handle]")
                && active.dataset.handle === handle; }""",
        arg=[handles[3]],
    )
    page.get_by_role("link", name="Load more").click()
    expect(page.locator(ROWS)).to_have_count(7)  # six guests and the admin
    expect(page.get_by_role("link", name="Load more")).to_have_count(0)
    watch.assert_no_navigation()


# -- layout -----------------------------------------------------------------------------


def test_desktop_table_fits_beside_the_nav_sidebar_without_horizontal_scroll(
    new_page, admin_user, make_session, django_user_model, session_cookie
):
    # The widest content a row can have: a long IPv6 address, a flag, a long user agent.
    alice = django_user_model.objects.create_user("alice", email="alice@example.com")
    for ip in ("2001:db8:ffff:ffff:ffff:ffff:ffff:fffe", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"):
        make_session(user=alice, ip=ip, application="Administration")
    page, _ = new_page(cookies=session_cookie(admin_user))
    open_panel(page)
    page.locator("#sp-reveal-all").click()
    sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1], f"scrollWidth {sizes[0]} > innerWidth {sizes[1]}"
