"""axe-core on every state of the page: no serious or critical violation in what the
panel owns (the page's content, its dialogs), at desktop light and dark, tablet and
phone, each dialog open (kill one, kill matching, kill a user's, Kill All, lock down
the site or a user), a search with results and one with none, after a kill, the audit
trail, and a user and the site locked down (the banner). Violations in the
admin's own chrome (header, sidebar) are Django's.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from sessions_panel.models import SessionRecord
from tests.browser.conftest import KILL_ROW, PANEL_URL

axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: What the panel renders on its page: the content area and its dialogs.
OWNED = {"include": [["#content"]]}
RULES = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}


#: On the audit trail the panel owns the rows only: the rest is Django's change list
#: (its "Show all" link fails link-in-text-block on Django 5.2, stock or not).
AUDIT_ROWS = {"include": [["#result_list"]]}


def serious(page: Any, context: dict[str, Any] = OWNED) -> list[str]:
    results = axe_playwright.Axe().run(page, context=context, options=RULES)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def seeded(staff, make_session):
    alice = staff("alice")
    sessions = [make_session(user=alice, ip="198.51.100.7"), make_session(user=None)]
    return SessionRecord.objects.get(session_key=sessions[0].session_key)


@pytest.mark.parametrize(
    ("width", "height", "scheme"),
    [(1280, 800, "light"), (1280, 800, "dark"), (820, 1180, "light"), (390, 844, "light")],
    ids=["desktop-light", "desktop-dark", "tablet", "phone"],
)
def test_no_serious_violation_in_any_state(
    new_page, admin_user, session_cookie, seeded, width, height, scheme
):
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.set_viewport_size({"width": width, "height": height})
    page.emulate_media(color_scheme=scheme)
    found: dict[str, list[str]] = {}
    page.goto(PANEL_URL)
    found["page"] = serious(page)
    page.goto(PANEL_URL + "?q=alice")
    found["search"] = serious(page)
    page.locator("#sp-kill-matching-open").click()
    expect(page.locator("#sp-kill-matching-dialog")).to_be_visible()
    found["kill matching dialog"] = serious(page)
    page.keyboard.press("Escape")
    page.goto(f"{PANEL_URL}?user={seeded.user_id}")
    page.locator("#sp-kill-user-open").click()
    expect(page.locator("#sp-kill-user-dialog")).to_be_visible()
    found["kill user dialog"] = serious(page)
    page.keyboard.press("Escape")
    page.goto(PANEL_URL + "?q=nobody-at-all")
    found["no results"] = serious(page)
    page.goto(PANEL_URL)
    kill = page.locator(f'tr[data-handle="{seeded.handle}"]').get_by_role("button", name=KILL_ROW)
    kill.click()
    expect(page.locator("#sp-kill-dialog")).to_be_visible()
    found["kill dialog"] = serious(page)
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Kill All", exact=True).click()
    expect(page.locator("#sp-kill-all-dialog")).to_be_visible()
    found["kill all dialog"] = serious(page)
    page.keyboard.press("Escape")
    kill.click()
    page.locator("#sp-kill-dialog").get_by_role("button", name="Kill session").click()
    expect(page.locator("#sp-messages li")).to_have_count(1)
    found["after a kill"] = serious(page)
    page.goto("/admin/sessions_panel/auditentry/")
    found["audit trail"] = serious(page, AUDIT_ROWS)
    page.goto(f"{PANEL_URL}?user={seeded.user_id}")
    page.locator("#sp-lockdown-user-open").click()
    expect(page.locator("#sp-lockdown-user-dialog")).to_be_visible()
    found["lock down a user dialog"] = serious(page)
    page.locator("#sp-lockdown-user-dialog").get_by_role("button", name="Lock down alice").click()
    expect(page.locator(".sp-lockdown-user")).to_be_visible()
    found["a user locked down"] = serious(page)
    page.goto(PANEL_URL)
    page.locator("#sp-lockdown-open").click()
    expect(page.locator("#sp-lockdown-dialog")).to_be_visible()
    found["lock down dialog"] = serious(page)
    page.locator("#sp-lockdown-dialog").get_by_role("button", name="Lock down the site").click()
    expect(page.locator(".sp-lockdown-banner")).to_be_visible()
    found["the site locked down"] = serious(page, {"include": [["#content"], [".messagelist"]]})
    assert {state: v for state, v in found.items() if v} == {}
