"""Every width from a phone to a wide screen, with the admin's nav sidebar open and
closed: no horizontal scroll, and the list picks table or cards by the width it has
(it once scrolled sideways by up to 294 px beside the sidebar at 768–1099 px); the
search box shows its placeholder whole (a phone once cut it to "…or session I")."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PANEL_URL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [320, 390, 800, 1024, 1280, 1440]
SIZES = """() => {
    const results = document.querySelector('#sp-results');
    const row = document.querySelector('#sp-results tr[data-handle]');
    return {
        page: document.documentElement.scrollWidth - window.innerWidth,
        list: results.scrollWidth - results.clientWidth,
        cards: row !== null && getComputedStyle(row).display === 'grid',
        listWidth: results.clientWidth,
        // The search's placeholder ("User, email, IP, app or session ID") in full.
        placeholderCut: (() => {
            const field = document.getElementById('sp-q');
            const style = getComputedStyle(field);
            const canvas = document.createElement('canvas').getContext('2d');
            canvas.font = style.font;
            const room = field.clientWidth - parseFloat(style.paddingLeft)
                - parseFloat(style.paddingRight);
            return canvas.measureText(field.placeholder).width > room;
        })(),
    };
}"""


@pytest.mark.parametrize("sidebar", [True, False], ids=["sidebar", "no-sidebar"])
def test_no_horizontal_scroll_at_any_width(
    new_page, admin_user, session_cookie, staff, make_session, sidebar
):
    windows = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    )
    for name in ("alice", "bob"):
        make_session(user=staff(name), user_agent=windows)
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    page.evaluate(
        f"localStorage.setItem('django.admin.navSidebarIsOpen', '{str(sidebar).lower()}')"
    )
    problems: list[tuple[object, ...]] = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(PANEL_URL)
        sizes = page.evaluate(SIZES)
        if sizes["page"] > 0 or sizes["list"] > 0:
            problems.append((width, sizes))
        if sizes["cards"] != (sizes["listWidth"] < 760):
            problems.append((width, "layout", sizes))
        if sizes["placeholderCut"]:
            problems.append((width, "placeholder cut off", sizes))
    assert problems == []
