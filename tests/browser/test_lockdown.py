"""Lockdowns in a real browser: the site's (on from the Sessions page, its banner on
every admin page, a second browser's sign-in refused with the reason on the login form,
lifted in one click, sign-in working again) and a user's (on from their view, their
session ended and their sign-in refused, lifted from the banner on their view)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from sessions_panel.models import Lockdown
from sessions_panel.tracking import lockdowns
from tests.browser.conftest import PANEL_URL, PASSWORD, assert_logged_in, assert_logged_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BANNER = ".messagelist li.sp-lockdown-banner"


def sign_in(page: Any, username: str) -> None:
    """Through the admin's own login form, as a person would."""
    page.goto("/admin/login/?next=/admin/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_password").press("Enter")


def test_site_lockdown_on_banner_everywhere_login_refused_then_lifted(
    new_page: Any, staff: Any, django_user_model: Any
) -> None:
    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    staff("alice")
    admin, _ = new_page()
    sign_in(admin, "root")
    assert_logged_in(admin, "root")
    other, _ = new_page()
    sign_in(other, "alice")
    assert_logged_in(other, "alice")

    # On, from the Sessions page.
    admin.goto(PANEL_URL)
    admin.get_by_role("button", name="Lock down…").click()
    dialog = admin.locator("#sp-lockdown-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Only superusers can sign in.")
    dialog.get_by_label("Lock down for").select_option("15")
    dialog.get_by_label("Reason (optional, kept in the audit trail)").fill("stolen passwords")
    dialog.get_by_role("button", name="Lock down the site").click()

    lockdown = Lockdown.objects.get()
    until = lockdowns.moment(lockdown.until)  # type: ignore[arg-type]
    expect(admin.locator("#sp-messages .messagelist li.success")).to_contain_text(
        f"The site is locked down until {until}. Ended 1 session. Your own session was kept."
    )
    expect(admin.get_by_role("button", name="Lock down…")).to_have_count(0)

    # The banner on every admin page, with its lift.
    for url in ("/admin/", "/admin/auth/user/", PANEL_URL, "/admin/auth/user/add/"):
        admin.goto(url)
        banner = admin.locator(BANNER)
        expect(banner).to_have_count(1)
        expect(banner).to_contain_text(
            re.compile(rf"Site lockdown in effect since .+, until {re.escape(until)}\.")
        )
        expect(banner.get_by_role("button", name="Lift lockdown")).to_be_visible()

    # The other browser: its session ended, its sign-in refused with the reason.
    assert_logged_out(other)
    sign_in(other, "alice")
    expect(other).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
    expect(other.locator(".messagelist")).to_contain_text(
        f"Sign-in is paused: the site is locked down until {until}."
    )
    expect(other.locator("#user-tools")).to_have_count(0)

    # Lifted in one click, from the page the admin is on.
    admin.goto("/admin/auth/user/")
    admin.locator(BANNER).get_by_role("button", name="Lift lockdown").click()
    expect(admin).to_have_url(re.compile(r"/admin/auth/user/$"))
    expect(admin.locator(".messagelist li.success")).to_have_text(
        "The site’s lockdown was lifted: everyone can sign in again."
    )
    expect(admin.locator(BANNER)).to_have_count(0)
    admin.goto("/admin/")
    expect(admin.locator(BANNER)).to_have_count(0)

    sign_in(other, "alice")
    assert_logged_in(other, "alice")


def test_user_lockdown_on_and_off_from_their_view(
    new_page: Any, staff: Any, django_user_model: Any
) -> None:
    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    alice = staff("alice")
    staff("bob")
    admin, _ = new_page()
    sign_in(admin, "root")
    theirs, _ = new_page()
    sign_in(theirs, "alice")
    assert_logged_in(theirs, "alice")

    admin.goto(f"{PANEL_URL}?user={alice.pk}")
    admin.get_by_role("button", name="Lock down this user…").click()
    dialog = admin.locator("#sp-lockdown-user-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Lock down for")).to_have_value("lifted")
    dialog.get_by_role("button", name="Lock down alice").click()

    expect(admin.locator("#sp-messages .messagelist li.success")).to_have_text(
        "alice is locked down until you lift it: ended 1 session."
    )
    banner = admin.locator(".sp-lockdown-user")
    expect(banner).to_contain_text("alice is locked down since")
    expect(banner).to_contain_text("until lifted: sign-in is refused.")
    expect(admin.locator(BANNER)).to_have_count(0)  # the site is open

    assert_logged_out(theirs)
    sign_in(theirs, "alice")
    expect(theirs.locator(".messagelist")).to_contain_text(
        "This account is locked; contact an administrator."
    )
    expect(theirs.locator("#user-tools")).to_have_count(0)
    bobs, _ = new_page()
    sign_in(bobs, "bob")  # everyone else signs in as usual
    assert_logged_in(bobs, "bob")

    banner.get_by_role("button", name="Lift lockdown").click()
    expect(admin).to_have_url(re.compile(rf"\?user={alice.pk}$"))
    expect(admin.locator(".messagelist li.success")).to_have_text(
        "The lockdown of alice was lifted: they can sign in again."
    )
    expect(admin.locator(".sp-lockdown-user")).to_have_count(0)
    expect(admin.get_by_role("button", name="Lock down this user…")).to_be_visible()

    sign_in(theirs, "alice")
    assert_logged_in(theirs, "alice")
