"""A risk flag's reason is reachable by keyboard and touch (a disclosure, not a title
tooltip), is read once, and stays open across the live refresh."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sessions_panel.models import SessionRecord
from tests.browser.conftest import PANEL_URL, PHONE

axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WHY = "This user has 2 live sessions at once."


@pytest.fixture
def two_devices(staff, make_session):
    alice = staff("alice")
    sessions = [make_session(user=alice, ip="198.51.100.7") for _ in range(2)]
    return SessionRecord.objects.get(session_key=sessions[0].session_key)


def flag_of(page, record):
    return page.locator(f'tr[data-handle="{record.handle}"] li[data-sp-flag="multiple"]')


def test_keyboard_opens_a_flags_reason_and_a_refresh_keeps_it_open_and_focused(
    new_page, admin_user, session_cookie, two_devices, settings, staff, make_session
):
    settings.SESSIONS_PANEL = {**settings.SESSIONS_PANEL, "REFRESH_INTERVAL": 1}
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    flag = flag_of(page, two_devices)
    summary = flag.locator("summary")
    why = flag.locator(".sp-why")
    expect(why).to_be_hidden()
    # Read once: the label is the control's name; no title repeats the reason.
    expect(summary).to_have_accessible_name("Multiple sessions (2)")
    assert flag.get_attribute("title") is None

    summary.focus()
    page.keyboard.press("Enter")
    expect(why).to_be_visible()
    expect(why).to_have_text(WHY)

    # Something changes, so the next refresh swaps the list (not a 304).
    make_session(user=staff("bob"))
    with page.expect_response(
        lambda r: r.request.headers.get("hx-trigger") == "sp-poller" and r.status == 200
    ):
        pass
    expect(page.locator("#sp-results tr.sp-row")).to_have_count(4)
    expect(why).to_be_visible()
    expect(summary).to_be_focused()

    page.keyboard.press("Enter")
    expect(why).to_be_hidden()


def test_a_tap_opens_a_flags_reason_on_a_phone(new_page, admin_user, session_cookie, two_devices):
    page, _ = new_page(PHONE, cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    flag = flag_of(page, two_devices)
    flag.locator("summary").tap()
    expect(flag.locator(".sp-why")).to_be_visible()
    expect(flag.locator(".sp-why")).to_have_text(WHY)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], "an open reason must not widen the page"
    results = axe_playwright.Axe().run(
        page,
        context={"include": [["#content"]]},
        options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}},
    )
    assert [
        v["id"] for v in results.response["violations"] if v["impact"] in ("serious", "critical")
    ] == []
