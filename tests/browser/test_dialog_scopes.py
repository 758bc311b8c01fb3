"""A dialog's scope never widens by accident: Enter in the Kill dialog ends that one
session, never all of the user's (it once posted to kill-user: "Ended 4 sessions of
alice"); ending all of a user's sessions is a separate step with its own dialog."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sessions_panel.models import SessionRecord
from tests.browser.conftest import KILL_ROW, PANEL_URL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def row(page: Any, handle: str) -> Any:
    return page.locator(f'#sp-results tr[data-handle="{handle}"]')


@pytest.mark.parametrize("guest", [False, True], ids=["alices-session", "guest-session"])
def test_enter_in_the_kill_dialogs_reason_ends_only_that_session(
    new_page, admin_user, session_cookie, staff, make_session, guest
):
    alice = staff("alice")
    sessions = [make_session(user=None if guest else alice) for _ in range(3)]
    victim = SessionRecord.objects.get(session_key=sessions[0].session_key)
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    posted: list[str] = []
    page.on(
        "request", lambda request: posted.append(request.url) if request.method == "POST" else None
    )

    row(page, victim.handle).get_by_role("button", name=KILL_ROW).click()
    dialog = page.locator("#sp-kill-dialog")
    expect(dialog).to_be_visible()
    reason = dialog.locator("input[name=reason]")
    reason.fill("typed a reason, then Enter")
    reason.press("Enter")

    expect(dialog).to_be_hidden()
    expect(page.locator("#sp-messages .messagelist li.success")).to_have_text(
        f"Session {victim.short_id} of {'a guest' if guest else 'alice'} was ended."
    )
    assert [url.rsplit("/", 2)[-2] for url in posted] == ["kill"]
    alive = set(SessionRecord.objects.values_list("session_key", flat=True))
    assert sessions[0].session_key not in alive
    assert {s.session_key for s in sessions[1:]} <= alive  # the other two stay


def test_all_of_a_users_sessions_is_a_separate_step_with_its_own_dialog(
    new_page, admin_user, session_cookie, staff, make_session
):
    alice = staff("alice")
    sessions = [make_session(user=alice) for _ in range(2)]
    victim = SessionRecord.objects.get(session_key=sessions[0].session_key)
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    row(page, victim.handle).get_by_role("button", name=KILL_ROW).click()
    dialog = page.locator("#sp-kill-dialog")
    expect(dialog.get_by_role("button")).to_have_text(["Cancel", "Kill session"])
    dialog.get_by_role("link", name="All sessions of this user…").click()

    expect(page).to_have_url(f"{page.url.split('?')[0]}?user={alice.pk}")
    assert SessionRecord.objects.filter(user=alice).count() == 2  # nothing ended yet


def test_the_kill_dialog_shows_the_ip_as_the_row_does(
    new_page, admin_user, session_cookie, staff, make_session
):
    """Blurred in the row, hidden in the dialog (it once showed the full address); once
    revealed in the row, shown in the dialog too."""
    session = make_session(user=staff("alice"), ip="198.51.100.66")
    handle = SessionRecord.objects.get(session_key=session.session_key).handle
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    dialog = page.locator("#sp-kill-dialog")
    ip = dialog.locator("[data-sp-field=ip]")

    row(page, handle).get_by_role("button", name=KILL_ROW).click()
    expect(ip).to_have_text("Hidden")
    expect(dialog).not_to_contain_text("198.51.100.66")
    dialog.get_by_role("button", name="Cancel", exact=True).click()

    row(page, handle).locator("button.sp-ip").click()  # revealed in the row
    row(page, handle).get_by_role("button", name=KILL_ROW).click()
    expect(ip).to_have_text("198.51.100.66")


def test_kill_all_and_cancel_are_buttons_that_space_works_on(
    new_page, admin_user, session_cookie, make_session
):
    make_session(cart=[1])
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    opener = page.get_by_role("button", name="Kill All", exact=True)
    opener.focus()
    page.keyboard.press("Space")
    dialog = page.locator("#sp-kill-all-dialog")
    expect(dialog).to_be_visible()
    cancel = dialog.get_by_role("button", name="Cancel", exact=True)
    cancel.focus()
    page.keyboard.press("Space")
    expect(dialog).to_be_hidden()
    assert SessionRecord.objects.count() == 2  # nothing ended


def test_without_javascript_kill_all_still_opens_its_dialog(browser, live_server, admin_user):
    """The links stay links without JavaScript: the dialog shows in place (:target)."""
    from django.test import Client

    client = Client()
    client.force_login(admin_user)
    context = browser.new_context(java_script_enabled=False)
    context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": client.cookies["sessionid"].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.goto(live_server.url + PANEL_URL)
    page.get_by_role("link", name="Kill All", exact=True).click()
    expect(page.locator("#sp-kill-all-dialog")).to_be_visible()
    context.close()


def test_a_blurred_ip_is_announced_as_hidden_not_read_out(
    new_page, admin_user, session_cookie, staff, make_session
):
    session = make_session(user=staff("alice"), ip="198.51.100.66")
    handle = SessionRecord.objects.get(session_key=session.session_key).handle
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    badge = row(page, handle).locator("button.sp-ip")
    # Named by the list's one label while blurred, the address not read out...
    expect(badge).to_have_attribute("aria-pressed", "false")
    expect(badge).to_have_accessible_name("IP address, hidden, press to show")
    expect(badge.locator(".sp-ip-value")).to_have_attribute("aria-hidden", "true")
    badge.click()
    # ...and by the address once revealed.
    expect(badge).to_have_attribute("aria-pressed", "true")
    expect(badge).to_have_accessible_name("IP address 198.51.100.66")
    badge.click()
    expect(badge).to_have_attribute("aria-pressed", "false")
    expect(badge).to_have_accessible_name("IP address, hidden, press to show")


def test_in_forced_colours_the_selected_chip_stands_out_and_both_groups_are_labelled(
    new_page, admin_user, session_cookie
):
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.emulate_media(forced_colors="active")
    page.goto(PANEL_URL)
    style = """(span) => { const s = getComputedStyle(span);
        return [s.borderTopStyle, s.borderTopWidth, s.color].join(" "); }"""
    chips = page.locator("fieldset.sp-chips").first.locator("label.sp-chip span")
    selected = chips.nth(0).evaluate(style)
    other = chips.nth(1).evaluate(style)
    assert selected != other, (selected, other)
    legends = page.locator("fieldset.sp-chips legend")
    expect(legends.nth(0)).to_be_visible()
    expect(legends.nth(0)).to_have_text("Status")
    expect(legends.nth(1)).to_be_visible()


CONTROLS = {"user": "a.sp-username", "ip": "button.sp-ip", "kill": "button[name=handle]"}


@pytest.mark.parametrize("control", list(CONTROLS))
def test_a_refresh_keeps_the_focus_on_a_rows_control(
    new_page, admin_user, session_cookie, staff, make_session, control
):
    """Rows name no focus target in their markup: the script knows a control by what it
    is (the username link, the IP badge, the Kill button) and finds it again in the same
    row of the list swapped in. The badges' state and the Kill's popup survive it too."""
    session = make_session(user=staff("alice"), ip="198.51.100.66")
    other = make_session(user=staff("bob"), ip="198.51.100.67")
    handle = SessionRecord.objects.get(session_key=session.session_key).handle
    other_handle = SessionRecord.objects.get(session_key=other.session_key).handle
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    row(page, handle).locator("button.sp-ip").click()  # revealed: stays so
    target = row(page, handle).locator(CONTROLS[control])
    target.focus()
    target.evaluate("(el) => { window.spBefore = el; }")
    scroll = page.evaluate("window.scrollY")
    with page.expect_response(lambda response: "sessionrecord" in response.url) as answer:
        page.evaluate("htmx.trigger('#sp-poller', 'sp-refresh')")
    assert answer.value.status == 200  # a new list, swapped in (not a 304)
    page.wait_for_function("() => !document.contains(window.spBefore)")
    page.wait_for_timeout(200)  # the swap settles
    focused = page.evaluate(
        """(selector) => { const active = document.activeElement;
            const row = active.closest("tr[data-handle]");
            return [row && row.dataset.handle, active.matches(selector),
                    document.contains(active)]; }""",
        CONTROLS[control],
    )
    # The same control, in the same row, of the list swapped in.
    assert focused == [handle, True, True]
    assert page.evaluate("window.scrollY") == scroll
    badge, other_badge = (row(page, h).locator("button.sp-ip") for h in (handle, other_handle))
    expect(badge).to_have_attribute("aria-pressed", "true")
    expect(badge).to_have_accessible_name("IP address 198.51.100.66")
    expect(other_badge).to_have_attribute("aria-pressed", "false")
    expect(other_badge).to_have_accessible_name("IP address, hidden, press to show")
    # Every Kill of the new list is named and opens a dialog, as before the swap.
    kills = page.locator("#sp-results button[name=handle]")
    expect(kills).to_have_count(3)
    expect(
        kills.and_(page.locator("[aria-haspopup=dialog][aria-label^='Kill session ']"))
    ).to_have_count(3)


def test_after_a_kill_by_keyboard_focus_is_on_the_message_in_view(
    new_page, admin_user, session_cookie, staff, make_session
):
    session = make_session(user=staff("alice"))
    victim = SessionRecord.objects.get(session_key=session.session_key)
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    row(page, victim.handle).get_by_role("button", name=KILL_ROW).focus()
    page.keyboard.press("Enter")  # opens the dialog (focus on Cancel)
    dialog = page.locator("#sp-kill-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("input[name=reason]").focus()
    page.keyboard.press("Enter")
    message = page.locator("#sp-messages .messagelist li")
    expect(message).to_be_focused()
    expect(message).to_be_in_viewport()
    ring = message.evaluate("(el) => getComputedStyle(el).outlineStyle")
    assert ring != "none"


def test_the_kill_dialog_says_what_the_row_shows(
    new_page, admin_user, session_cookie, staff, make_session
):
    """The dialog is filled from the row's own cells (rows carry no dialog data): the
    user, the application ("—" for none), the session ID, the warning on one's own
    session, and the link to the user's sessions whatever the page's order."""
    alice = staff("alice")
    shop = SessionRecord.objects.get(
        session_key=make_session(user=alice, application="Shop").session_key
    )
    guest = SessionRecord.objects.get(session_key=make_session(application=None).session_key)
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(f"{PANEL_URL}?sort=user")
    own = page.locator("#sp-results tr.sp-current")
    dialog = page.locator("#sp-kill-dialog")
    field = {name: dialog.locator(f"[data-sp-field={name}]") for name in ("user", "application")}
    short_id = dialog.locator("[data-sp-field=short-id]")
    warning = dialog.locator("[data-sp-if=current]")
    user_link = dialog.get_by_role("link", name="All sessions of this user…")

    kill = row(page, shop.handle).get_by_role("button", name=KILL_ROW)
    # The script names it after its row and says it opens a dialog.
    expect(kill).to_have_accessible_name(f"Kill session {shop.short_id} of alice")
    expect(kill).to_have_attribute("aria-haspopup", "dialog")
    own_id = SessionRecord.objects.exclude(pk__in=[shop.pk, guest.pk]).get().short_id
    expect(own.get_by_role("button", name=KILL_ROW)).to_have_accessible_name(
        f"Kill session {own_id}, your own session"
    )
    expect(row(page, guest.handle).get_by_role("button", name=KILL_ROW)).to_have_accessible_name(
        f"Kill session {guest.short_id} of Guest"
    )
    kill.click()
    expect(field["user"]).to_have_text("alice")
    expect(field["application"]).to_have_text("Shop")
    expect(short_id).to_have_text(shop.short_id)
    expect(warning).to_be_hidden()
    expect(dialog.locator("[data-sp-field=handle]")).to_have_value(shop.handle)
    href = user_link.get_attribute("href") or ""
    assert href.endswith(f"{PANEL_URL}?user={alice.pk}"), href  # not "?sort=user&…"
    dialog.get_by_role("button", name="Cancel", exact=True).click()

    row(page, guest.handle).get_by_role("button", name=KILL_ROW).click()
    expect(field["user"]).to_have_text("Guest")
    expect(field["application"]).to_have_text("—")
    expect(short_id).to_have_text(guest.short_id)
    expect(user_link).to_be_hidden()
    dialog.get_by_role("button", name="Cancel", exact=True).click()

    own.get_by_role("button", name=KILL_ROW).click()
    expect(field["user"]).to_have_text(admin_user.get_username())
    expect(warning).to_be_visible()
    expect(user_link).to_be_visible()
    dialog.get_by_role("button", name="Cancel", exact=True).click()
    assert SessionRecord.objects.count() == 3  # nothing ended


def test_a_kill_is_named_after_its_row_whatever_the_username(
    new_page, admin_user, session_cookie, staff, make_session
):
    """The script fills the list's format with the row's text as it is: a "$&" or "$'"
    in a username (an email login may hold both) is no replacement pattern."""
    name = "o$'n$&il$$"
    record = SessionRecord.objects.get(session_key=make_session(user=staff(name)).session_key)
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    expect(row(page, record.handle).get_by_role("button", name=KILL_ROW)).to_have_accessible_name(
        f"Kill session {record.short_id} of {name}"
    )


def test_without_javascript_a_rows_kill_posts_the_lists_form(
    browser, live_server, admin_user, staff, make_session
):
    """Each row's Kill submits the list's one form (which holds the table): its handle
    and the form's CSRF token, nothing else of the list, and that session alone ends."""
    from django.test import Client

    alice = staff("alice")
    sessions = [make_session(user=alice) for _ in range(3)]
    victim = SessionRecord.objects.get(session_key=sessions[1].session_key)
    client = Client()
    client.force_login(admin_user)
    context = browser.new_context(java_script_enabled=False)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    page.goto(f"{live_server.url}{PANEL_URL}?sort=expiry")
    # Named "Kill" alone without the script (which names it after its row).
    kill = row(page, victim.handle).get_by_role("button", name="Kill", exact=True)
    with page.expect_request(lambda request: request.method == "POST") as posted:
        kill.click()
    fields = dict(parse_qsl(posted.value.post_data or ""))
    assert fields.keys() == {"csrfmiddlewaretoken", "handle"}
    assert fields["handle"] == victim.handle
    expect(page.locator(".messagelist li.success")).to_have_text(
        f"Session {victim.short_id} of alice was ended."
    )
    assert page.url.endswith(f"{PANEL_URL}?sort=expiry")  # back to the same list
    alive = set(SessionRecord.objects.values_list("session_key", flat=True))
    assert victim.session_key not in alive
    assert {sessions[0].session_key, sessions[2].session_key} <= alive
    context.close()


def test_killing_one_takes_its_row_out_and_leaves_the_rest_of_the_list(
    new_page, admin_user, session_cookie, staff, make_session, settings
):
    """The kill answers with the row taken out and the message (out of band), not a
    re-rendered list: the other rows are the very same elements, and focus lands on the
    message."""
    settings.SESSIONS_PANEL = {**settings.SESSIONS_PANEL, "REFRESH_INTERVAL": 60}
    alice = staff("alice")
    sessions = [make_session(user=alice) for _ in range(3)]
    victim = SessionRecord.objects.get(session_key=sessions[1].session_key)
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    rows = page.locator("#sp-results tr[data-handle]")
    expect(rows).to_have_count(4)
    kept = set(SessionRecord.objects.values_list("handle", flat=True)) - {victim.handle}
    page.evaluate(
        """() => { window.spKept = Array.from(document.querySelectorAll(
            "#sp-results tr[data-handle], #sp-results, #sp-rows")); }"""
    )
    requests: list[str] = []
    page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))

    row(page, victim.handle).get_by_role("button", name=KILL_ROW).click()
    page.locator("#sp-kill-dialog").get_by_role("button", name="Kill session", exact=True).click()

    message = page.locator("#sp-messages .messagelist li.success")
    expect(message).to_have_text(f"Session {victim.short_id} of alice was ended.")
    expect(message).to_be_focused()
    expect(rows).to_have_count(3)
    expect(page.locator("#sp-badge")).to_have_text("3 Active")
    page.wait_for_timeout(300)  # no refresh follows
    still = page.evaluate(
        """() => window.spKept.filter((el) => document.contains(el)).map(
            (el) => el.dataset.handle || el.id)"""
    )
    assert sorted(still) == sorted(["sp-results", "sp-rows", *kept])
    assert [r for r in requests if "/sessionrecord/" in r] == [
        f"POST {page.url.split('?')[0]}kill/"
    ], requests


def test_killing_the_last_row_of_the_list_refreshes_it(
    new_page, admin_user, session_cookie, staff, make_session, settings
):
    """A kill takes its row out and leaves the rest of the list (the unfiltered list;
    a search is answered whole): when that was the list's last row, the script asks for
    the list again, rather than leave an empty table (here the next session sorted)."""
    settings.SESSIONS_PANEL = {**settings.SESSIONS_PANEL, "PAGE_SIZE": 1, "REFRESH_INTERVAL": 60}
    victim = SessionRecord.objects.get(session_key=make_session(user=staff("aaron")).session_key)
    page, _ = new_page(cookies=session_cookie(admin_user))
    # Expiring first: the one row the page shows.
    SessionRecord.objects.filter(pk=victim.pk).update(expiry=timezone.now() + timedelta(hours=1))
    page.goto(f"{PANEL_URL}?sort=expiry")
    rows = page.locator("#sp-results tr[data-handle]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-handle", victim.handle)
    own = SessionRecord.objects.exclude(pk=victim.pk).get()

    row(page, victim.handle).get_by_role("button", name=KILL_ROW).click()
    with page.expect_response(
        lambda r: r.request.headers.get("hx-trigger") == "sp-poller", timeout=5_000
    ) as refresh:
        with page.expect_response(lambda r: r.request.method == "POST") as killed:
            page.locator("#sp-kill-dialog").get_by_role(
                "button", name="Kill session", exact=True
            ).click()
        assert killed.value.headers.get("hx-reswap") == "none"  # the row taken out alone
    assert refresh.value.status == 200
    assert "sort=expiry" in refresh.value.url  # the same list, refreshed
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-handle", own.handle)
    message = page.locator("#sp-messages .messagelist li.success")
    expect(message).to_have_text(f"Session {victim.short_id} of aaron was ended.")
    expect(message).to_be_focused()
