"""A risk flag's reason is reachable by keyboard and touch (a disclosure, not a title
tooltip), is read once, and stays open across the live refresh; a flag whose label says
it all ("Multiple sessions (2)") is its label alone, no control."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sessions_panel.models import SeenAddress, SessionRecord
from tests.browser.conftest import PANEL_URL, PHONE

axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WHY = "This user had never used this IP address before this session."

#: The reason as shown: the details' rendered text after its summary ("" while closed).
SHOWN_REASON = """details => details.innerText
  .replace(details.querySelector("summary").innerText, "")
  .trim()"""


@pytest.fixture
def two_devices(staff, make_session):
    """alice's session from an address she had never used (a month of history before),
    beside her usual one: "New IP", with a reason, and "Multiple sessions (2)"."""
    alice = staff("alice")
    make_session(user=alice, ip="198.51.100.7")
    then = timezone.now() - timedelta(days=30)
    SeenAddress.objects.filter(user=alice).update(first_seen=then, last_seen=then)
    session = make_session(user=alice, ip="203.0.113.9")
    return SessionRecord.objects.get(session_key=session.session_key)


def flag_of(page, record, code="new-ip"):
    return page.locator(f'tr[data-handle="{record.handle}"] li[data-sp-flag="{code}"]')


def test_a_flag_whose_label_says_it_all_is_no_control(
    new_page, admin_user, session_cookie, two_devices
):
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    multiple = flag_of(page, two_devices, "multiple")
    expect(multiple).to_have_text("Multiple sessions (2)")
    expect(multiple.locator("details, summary, button, [tabindex]")).to_have_count(0)
    # In the list named "Risk flags", beside the flag that has a reason.
    flags = page.locator(f'tr[data-handle="{two_devices.handle}"] ul')
    expect(flags).to_have_accessible_name("Risk flags")
    expect(flags.locator("li")).to_have_count(2)


def test_keyboard_opens_a_flags_reason_and_a_refresh_keeps_it_open_and_focused(
    new_page, admin_user, session_cookie, two_devices, settings, staff, make_session
):
    settings.SESSIONS_PANEL = {**settings.SESSIONS_PANEL, "REFRESH_INTERVAL": 1}
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    flag = flag_of(page, two_devices)
    summary = flag.locator("summary")
    details = flag.locator("details")
    assert details.evaluate(SHOWN_REASON) == ""
    # Read once: the label is the control's name; no title repeats the reason.
    expect(summary).to_have_accessible_name("New IP")
    assert flag.get_attribute("title") is None

    summary.focus()
    page.keyboard.press("Enter")
    expect(details).to_have_js_property("open", True)
    assert details.evaluate(SHOWN_REASON) == WHY

    # Something changes, so the next refresh swaps the list (not a 304).
    make_session(user=staff("bob"))
    with page.expect_response(
        lambda r: r.request.headers.get("hx-trigger") == "sp-poller" and r.status == 200
    ):
        pass
    expect(page.locator("#sp-results tr[data-handle]")).to_have_count(4)
    expect(details).to_have_js_property("open", True)
    assert details.evaluate(SHOWN_REASON) == WHY
    expect(summary).to_be_focused()

    page.keyboard.press("Enter")
    expect(details).to_have_js_property("open", False)
    assert details.evaluate(SHOWN_REASON) == ""


def test_a_tap_opens_a_flags_reason_on_a_phone(new_page, admin_user, session_cookie, two_devices):
    page, _ = new_page(PHONE, cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    flag = flag_of(page, two_devices)
    flag.locator("summary").tap()
    expect(flag.locator("details")).to_have_js_property("open", True)
    assert flag.locator("details").evaluate(SHOWN_REASON) == WHY
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
