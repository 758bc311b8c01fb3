"""“Your sessions” in a real browser: desktop and phone, keyboard only, under the strict
CSP of the demo host, and axe-core with no serious or critical violation."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from sessions_panel.models import AuditEntry, SessionRecord
from tests.browser.conftest import DESKTOP, PASSWORD, PHONE, NavigationWatch

axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

URL = "/account/sessions/"
CARDS = "ul.spa-list > li.spa-card"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
RULES = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}


def serious(page: Any) -> list[str]:
    """What axe finds serious or critical on the whole page (all of it is ours here)."""
    results = axe_playwright.Axe().run(page, options=RULES)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def carol(django_user_model: Any) -> Any:
    """A user who is not staff: the page is for everybody signed in."""
    return django_user_model.objects.create_user("carol", password=PASSWORD)


@pytest.fixture
def others(carol: Any, make_session: Any, staff: Any) -> dict[str, Any]:
    """Two more sessions of carol's, and sessions of someone else and of a guest."""
    return {
        "laptop": make_session(
            user=carol, ip="198.51.100.23", user_agent=CHROME_WINDOWS, application="Shop"
        ),
        "old": make_session(user=carol, ip="2001:db8:85a3:1234:5678:8a2e:370:7334"),
        "dave": make_session(user=staff("dave"), ip="203.0.113.99"),
        "guest": make_session(user=None, ip="203.0.113.100"),
    }


def open_page(new_page: Any, session_cookie: Any, user: Any, options: dict[str, Any]) -> Any:
    page, _ = new_page(options, cookies=session_cookie(user))
    page.goto(URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your sessions")
    return page


def alive(session: Any) -> bool:
    return SessionRecord.objects.filter(session_key=session.session_key).exists()


def assert_no_horizontal_scroll(page: Any) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"scrollWidth {width[0]} > innerWidth {width[1]}"


@pytest.mark.parametrize("options", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_users_own_sessions_as_cards(new_page, session_cookie, carol, others, options):
    page = open_page(new_page, session_cookie, carol, options)
    cards = page.locator(CARDS)
    expect(cards).to_have_count(3)  # this device and carol's two others; nobody else's
    expect(cards.first.locator(".spa-this")).to_have_text("This device")
    expect(page.locator(".spa-this")).to_have_count(1)
    laptop = cards.filter(has_text="198.51.100.23")
    expect(laptop.get_by_role("heading", level=3)).to_have_text("Chrome 131 · Windows")
    expect(laptop).to_contain_text("Shop")
    expect(page.get_by_text("2001:db8:85a3:1234:5678:8a2e:370:7334")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("203.0.113.99")
    expect(page.locator("body")).not_to_contain_text("203.0.113.100")
    expect(page.get_by_role("button", name="Sign out everywhere else")).to_be_visible()
    expect(
        page.get_by_role("button", name="End session: Chrome 131 · Windows, 198.51.100.23")
    ).to_be_visible()
    assert_no_horizontal_scroll(page)
    boxes = [cards.nth(i).bounding_box() for i in range(3)]
    assert all(box is not None for box in boxes)
    lefts = {round(box["x"]) for box in boxes if box is not None}
    if options is PHONE:
        assert len(lefts) == 1  # one column
        width = page.viewport_size["width"]
        for box in boxes:
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        button = laptop.get_by_role("button", name="End session: Chrome 131 · Windows")
        button_box = button.bounding_box()
        assert button_box is not None and button_box["height"] >= 44  # a touch target
    else:
        assert len(lefts) > 1  # side by side


@pytest.mark.parametrize("options", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_ending_a_session_by_keyboard_alone(new_page, session_cookie, carol, others, options):
    page = open_page(new_page, session_cookie, carol, options)
    button = page.get_by_role("button", name="End session: Chrome 131 · Windows, 198.51.100.23")
    for _ in range(20):  # Tab until the button has focus, as a keyboard user would
        page.keyboard.press("Tab")
        if button.evaluate("(el) => el === document.activeElement"):
            break
    else:
        pytest.fail("the End button cannot be reached with Tab")
    focus = button.evaluate("(el) => getComputedStyle(el).outlineStyle")
    assert focus != "none"  # a visible focus ring
    watch = NavigationWatch(page)
    page.keyboard.press("Enter")
    message = page.locator(".spa-messages")
    expect(message).to_have_text("The session on Chrome 131 · Windows was signed out.")
    expect(message).to_be_focused()  # autofocus: read first, no script needed
    watch.assert_no_navigation()  # htmx swapped the page's part in place
    expect(page.locator(CARDS)).to_have_count(2)
    assert not alive(others["laptop"])
    assert alive(others["dave"]) and alive(others["guest"])
    audit = AuditEntry.objects.get()
    assert audit.actor_repr == "carol"


def test_sign_out_everywhere_else_with_the_password_by_keyboard(
    new_page, session_cookie, carol, others, settings
):
    settings.SESSIONS_PANEL = {"REAUTH_WINDOW": 600}
    page = open_page(new_page, session_cookie, carol, PHONE)
    SessionRecord.objects.filter(user=carol).update(verified=time.time() - 3600)
    page.get_by_role("button", name="Sign out everywhere else").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm with your password")
    field = page.get_by_label("Your password")
    expect(field).to_be_focused()
    expect(page.locator("body")).to_contain_text(
        "You are about to sign out of your 2 other sessions."
    )
    page.keyboard.type("not my password")
    page.keyboard.press("Enter")
    error = page.get_by_role("alert")
    expect(error).to_have_text("That password is not correct. Nothing was ended.")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("aria-invalid", "true")
    assert alive(others["laptop"]) and alive(others["old"])
    assert not serious(page)
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your sessions")
    expect(page.locator(".spa-messages")).to_have_text(
        "Signed out of 2 other sessions. This device stays signed in."
    )
    expect(page.locator(CARDS)).to_have_count(1)
    assert not alive(others["laptop"]) and not alive(others["old"])
    assert alive(others["dave"]) and alive(others["guest"])


def test_cancel_on_the_password_prompt_ends_nothing(
    new_page, session_cookie, carol, others, settings
):
    settings.SESSIONS_PANEL = {"REAUTH_WINDOW": 600}
    page = open_page(new_page, session_cookie, carol, DESKTOP)
    SessionRecord.objects.filter(user=carol).update(verified=time.time() - 3600)
    page.get_by_role("button", name="End session: Chrome 131 · Windows").click()
    expect(page.locator("body")).to_contain_text(
        "You are about to end the session on Chrome 131 · Windows (198.51.100.23)."
    )
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your sessions")
    expect(page.locator(CARDS)).to_have_count(3)
    assert alive(others["laptop"])


@pytest.mark.parametrize(
    ("options", "scheme"),
    [(DESKTOP, "light"), (DESKTOP, "dark"), (PHONE, "light"), (PHONE, "dark")],
    ids=["desktop-light", "desktop-dark", "phone-light", "phone-dark"],
)
def test_no_serious_accessibility_violation(
    new_page, session_cookie, carol, others, settings, options, scheme
):
    page = open_page(new_page, session_cookie, carol, options)
    page.emulate_media(color_scheme=scheme)
    found: dict[str, list[str]] = {"page": serious(page)}
    page.get_by_role("button", name="End session: Chrome 131 · Windows").click()
    expect(page.locator(".spa-messages")).to_be_visible()
    found["after ending one"] = serious(page)
    settings.SESSIONS_PANEL = {"REAUTH_WINDOW": 600}
    SessionRecord.objects.filter(user=carol).update(verified=time.time() - 3600)
    page.get_by_role("button", name="Sign out everywhere else").click()
    found["password prompt"] = serious(page)
    page.get_by_label("Your password").fill("wrong")
    page.get_by_role("button", name="Sign out everywhere else").click()
    expect(page.get_by_role("alert")).to_be_visible()
    found["wrong password"] = serious(page)
    assert not any(found.values()), found
