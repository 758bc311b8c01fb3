"""Human names for user agents: "Firefox 133 · Windows".

The Sessions page shows the browser and the operating system under each session, not
the raw header (which stays available as a tooltip). Parsing runs ua-parser's regexes,
so results are cached: a page shows the same few user agents over and over.
"""

from __future__ import annotations

from functools import lru_cache

import ua_parser

SEPARATOR = " · "


def _named(family: str | None) -> str | None:
    # ua-parser says "Other" when it does not recognise a browser or a system.
    if not family or family == "Other":
        return None
    return family


@lru_cache(maxsize=1024)
def describe(user_agent: str) -> str:
    """Browser and major version, then the OS; "" when neither is recognised."""
    if not user_agent:
        return ""
    result = ua_parser.parse(user_agent)
    parts: list[str] = []
    browser = result.user_agent
    if browser is not None and (name := _named(browser.family)):
        parts.append(f"{name} {browser.major}" if browser.major else name)
    system = result.os
    if system is not None and (name := _named(system.family)):
        parts.append(name)
    return SEPARATOR.join(parts)


@lru_cache(maxsize=1024)
def family(user_agent: str) -> str:
    """Browser and OS without versions ("Firefox · Windows"): a browser's update is no
    new device. "" when neither is recognised."""
    if not user_agent:
        return ""
    result = ua_parser.parse(user_agent)
    names = [
        name
        for part in (result.user_agent, result.os)
        if part is not None and (name := _named(part.family))
    ]
    return SEPARATOR.join(names)
