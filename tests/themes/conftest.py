"""Browser fixtures for the theme tests: ``tests/browser``'s own (a fresh context per
page that fails on console errors, CSP violations and failed requests, the panel's
settings), so a theme must pass the same page-health checks as the stock admin, with a
Chromium of their own.

Why not ``tests/browser``'s ``browser``: that fixture is session-scoped and visible only
under ``tests/browser``; imported here it would be a second session-wide Playwright, and
Playwright's sync API cannot start twice in one thread. This one lives for the module
only, so ``pytest tests/themes tests/browser`` works; when ``tests/browser``'s Chromium is
already running in this process (the whole suite), the theme tests skip and say where
they run instead: ``scripts/theme-tests`` (every theme, the stock admin included, each in
its own process) or ``pytest tests/themes``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM_FLAGS, _panel_settings, chromium_path, new_page

__all__ = ["_panel_settings", "browser", "new_page"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright, for one test module."""
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
    from playwright.sync_api import Error, sync_playwright

    try:
        playwright = sync_playwright().start()
    except Error as exc:
        if "asyncio loop" not in str(exc):
            raise
        pytest.skip(
            "tests/browser's Chromium is running in this process; the theme tests run on "
            "their own: scripts/theme-tests, or pytest tests/themes"
        )
    try:
        chromium = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
