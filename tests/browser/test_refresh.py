"""The live refresh in a browser: an unchanged list costs a bodiless 304 and stays as it
is; a refresh that a search or "Load more" overtakes is dropped, never aborted (htmx
logs an aborted request as a console error: "htmx:sendAbort") and never swapped over
the newer list."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from sessions_panel.models import SessionRecord
from sessions_panel.page import changelist
from tests.browser.conftest import PANEL_URL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = "#sp-results tr[data-handle]"


def is_poll(request: Any) -> bool:
    return bool(request.headers.get("hx-trigger") == "sp-poller")


@pytest.fixture
def slow_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server takes a while to answer the refresh (a big list, a busy database)."""
    fragment = changelist.fragment

    def slow(request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.headers.get("HX-Trigger") == "sp-poller":
            time.sleep(1.5)
        return fragment(request, *args, **kwargs)

    monkeypatch.setattr(changelist, "fragment", slow)


def test_an_unchanged_list_is_answered_304_and_kept(
    new_page, admin_user, session_cookie, staff, make_session, settings
):
    settings.SESSIONS_PANEL = {**settings.SESSIONS_PANEL, "REFRESH_INTERVAL": 1}
    for name in ("alice", "bob"):
        make_session(user=staff(name))
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    expect(page.locator(ROWS)).to_have_count(3)

    # The first refresh brings the list's tag; the next ones send it back.
    with page.expect_response(lambda r: is_poll(r.request) and r.status == 200) as first:
        pass
    tag = first.value.headers["etag"]
    with page.expect_response(lambda r: is_poll(r.request) and r.status == 304) as unchanged:
        pass
    assert unchanged.value.request.headers.get("if-none-match") == tag
    expect(page.locator(ROWS)).to_have_count(3)
    expect(page.locator("#sp-footer .sp-updated")).to_have_text(re.compile(r"^Updated at "))

    # A change still shows at the next refresh.
    carol = make_session(user=staff("carol"))
    handle = SessionRecord.objects.get(session_key=carol.session_key).handle
    expect(page.locator(f'{ROWS}[data-handle="{handle}"]')).to_be_visible(timeout=5_000)
    expect(page.locator(ROWS)).to_have_count(4)


def test_a_search_during_a_refresh_is_not_overwritten_and_logs_no_error(
    new_page, admin_user, session_cookie, staff, make_session, settings, slow_refresh
):
    settings.SESSIONS_PANEL = {**settings.SESSIONS_PANEL, "REFRESH_INTERVAL": 1}
    for name in ("alice", "bob", "dave"):
        make_session(user=staff(name))
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    expect(page.locator(ROWS)).to_have_count(4)

    with page.expect_response(lambda r: is_poll(r.request), timeout=10_000) as refresh:
        with page.expect_request(is_poll):
            pass
        # A refresh is out (and slow): the admin searches meanwhile.
        page.locator("#sp-q").fill("dave")
        expect(page.locator(ROWS)).to_have_count(1)
    # The refresh, sent before the search, answered the whole list: it is not shown.
    assert refresh.value.status == 200
    page.wait_for_timeout(300)
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator(ROWS).first).to_contain_text("dave")
    # No console error (the page's error watch fails the test on teardown).


def test_load_more_during_a_refresh_keeps_the_new_rows_and_logs_no_error(
    new_page, admin_user, session_cookie, make_session, settings, slow_refresh
):
    settings.SESSIONS_PANEL = {**settings.SESSIONS_PANEL, "PAGE_SIZE": 3, "REFRESH_INTERVAL": 1}
    for _ in range(6):
        make_session()
    page, _ = new_page(cookies=session_cookie(admin_user))
    page.goto(PANEL_URL)
    expect(page.locator(ROWS)).to_have_count(3)

    with page.expect_response(lambda r: is_poll(r.request), timeout=10_000):
        with page.expect_request(is_poll):
            pass
        page.get_by_role("link", name="Load more").click()
        expect(page.locator(ROWS)).to_have_count(6)
    page.wait_for_timeout(300)
    # The refresh sent before "Load more" covered three rows: it must not take three away.
    expect(page.locator(ROWS)).to_have_count(6)
