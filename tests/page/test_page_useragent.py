"""User agents shown as "Browser major · OS"."""

from __future__ import annotations

import pytest

from sessions_panel.tracking.useragent import describe


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox 133 · Windows",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome Mobile 131 · Android",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            "Mobile Safari 17 · iOS",
        ),
        ("python-requests/2.31", "Python Requests 2"),
        ("", ""),
        ("<script>alert(1)</script>", ""),
        ("x" * 512, ""),
    ],
)
def test_user_agent_is_described_as_browser_and_system(user_agent, expected):
    assert describe(user_agent) == expected


def test_descriptions_are_cached():
    describe.cache_clear()
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
    describe(ua)
    describe(ua)
    assert describe.cache_info().hits == 1
