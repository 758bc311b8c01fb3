"""Real-browser fixtures: Debian's Chromium driven by Playwright, against live_server.

Every page opened here fails its test on a console error, an uncaught exception, a
CSP violation, or a failed request (status >= 400) the test did not announce with
``expect_status``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
    ),
}

# Reports CSP violations to the console, where the error collector sees them.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI);
});
"""


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright runs a loop
    path = chromium_path()
    if path is None:
        message = (
            "No Chromium found: install Debian's package (apt-get install chromium) or "
            "set CHROMIUM=/path/to/chromium. Playwright's own browser download is not used."
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@dataclass
class PageErrors:
    """What went wrong on a page; ``expect_status`` announces an intended failure."""

    errors: list[str] = field(default_factory=list)
    expected: set[int] = field(default_factory=set)

    def expect_status(self, *codes: int) -> None:
        self.expected.update(codes)

    def watch(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("response", self._response)
        page.on("requestfailed", self._failed)

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        url = str((message.location or {}).get("url", ""))
        if url.endswith("/favicon.ico"):
            return  # the browser's own favicon probe; the host project has no favicon
        self.errors.append(
            f"console: {message.text} ({url})" if url else f"console: {message.text}"
        )

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.status not in self.expected:
            self.errors.append(f"HTTP {response.status} {response.request.method} {response.url}")

    def _failed(self, request: Any) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" not in failure:  # htmx cancels superseded searches on purpose
            self.errors.append(f"request failed: {request.url} {failure}")


@pytest.fixture
def new_page(browser: Any, live_server: Any) -> Iterator[Callable[..., tuple[Any, PageErrors]]]:
    """Opens a page in a fresh context (``PHONE`` or ``DESKTOP`` options, cookies)."""
    contexts: list[Any] = []
    collected: list[PageErrors] = []

    def open_page(
        options: dict[str, Any] | None = None, cookies: list[dict[str, Any]] | None = None
    ) -> tuple[Any, PageErrors]:
        context = browser.new_context(base_url=live_server.url, **(options or DESKTOP))
        context.add_init_script(CSP_LISTENER)
        if cookies:
            context.add_cookies(cookies)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        errors = PageErrors()
        errors.watch(page)
        collected.append(errors)
        return page, errors

    yield open_page
    for context in contexts:
        context.close()
    problems = [e for errors in collected for e in errors.errors]
    assert not problems, "\n".join(problems)


@pytest.fixture
def session_cookie(live_server: Any) -> Callable[[Any], list[dict[str, Any]]]:
    """A logged-in session cookie for ``user``, made through the real login."""
    from django.conf import settings
    from django.test import Client

    def make(user: Any) -> list[dict[str, Any]]:
        client = Client()
        client.force_login(user)
        value = client.cookies[settings.SESSION_COOKIE_NAME].value
        return [{"name": settings.SESSION_COOKIE_NAME, "value": value, "url": live_server.url}]

    return make


@pytest.fixture
def cookie_for(live_server: Any) -> Callable[[Any], list[dict[str, Any]]]:
    """The cookie of an existing session (e.g. a guest's from ``make_session``)."""
    from django.conf import settings

    def make(session: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": session.session_key,
                "url": live_server.url,
            }
        ]

    return make


# -- the Sessions page: settings, users, login state, navigation --------------------------

PANEL_URL = "/admin/sessions_panel/sessionrecord/"
#: A row's (or card's) Kill button: its accessible name is "Kill session <id> of <user>".
KILL_ROW = re.compile(r"^Kill session ")
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _panel_settings(settings: Any) -> None:
    """No password prompt before Kill All (``REAUTH_WINDOW``); tests add what they need."""
    settings.SESSIONS_PANEL = {"REAUTH_WINDOW": 0}


@pytest.fixture
def staff(django_user_model: Any) -> Callable[[str], Any]:
    """A staff user without permissions: the admin index shows them logged in."""

    def make(username: str) -> Any:
        return django_user_model.objects.create_user(
            username, email=f"{username}@example.com", password=PASSWORD, is_staff=True
        )

    return make


def has_session_cookie(page: Any) -> bool:
    from django.conf import settings

    return any(c["name"] == settings.SESSION_COOKIE_NAME for c in page.context.cookies())


def assert_logged_in(page: Any, username: str) -> None:
    """The context's next request is served as ``username`` (the admin index, not login)."""
    from playwright.sync_api import expect

    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.locator("#user-tools")).to_contain_text(username)


def assert_logged_out(page: Any) -> None:
    """The context's next request is anonymous: the admin sends it to the login form,
    and the dead session's cookie is dropped."""
    from playwright.sync_api import expect

    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
    expect(page.locator("#id_username")).to_be_visible()
    expect(page.locator("#user-tools")).to_have_count(0)
    assert not has_session_cookie(page)


class NavigationWatch:
    """Proves a page was not reloaded or navigated away from since the watch began.

    A full navigation makes a navigation request for the main frame and throws away
    the window's globals; htmx's ``history.replaceState`` (``?q=``) does neither.
    (Playwright's ``framenavigated`` also fires for replaceState, so it cannot tell
    the two apart.)
    """

    MARK = "__spNoReload"

    def __init__(self, page: Any) -> None:
        self.page = page
        self.navigations: list[str] = []
        page.on("request", self._request)
        page.evaluate(f"window.{self.MARK} = true")

    def _request(self, request: Any) -> None:
        if request.is_navigation_request() and request.frame == self.page.main_frame:
            self.navigations.append(request.url)

    def assert_no_navigation(self) -> None:
        assert self.navigations == []
        assert self.page.evaluate(f"window.{self.MARK} === true"), "the page was reloaded"
