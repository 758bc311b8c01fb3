"""Plain HTTP to the test servers: people with cookies, probes, and the Sessions page.

Standard library only (``http.client``): no redirects are followed and no cookie is
kept unless a :class:`Browser` keeps it, so each test says exactly which cookie it
sends where. A browser shares its cookies between the hosts, as a real one shares them
between the ports of 127.0.0.1: one session cookie, served by whichever host answers.
"""

from __future__ import annotations

import html
import http.client
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

PAGE = "/admin/sessions_panel/sessionrecord/"
KILL = PAGE + "kill/"
KILL_USER = PAGE + "kill-user/"
KILL_ALL = PAGE + "kill-all/"
SESSION_COOKIE = "sessionid"
CSRF_COOKIE = "csrftoken"
#: Seconds one request may take; a Redis outage costs each request its retries.
TIMEOUT = 30.0

_MESSAGE = re.compile(r'<li(?: tabindex="-1")?(?: class="([^"]*)")?>(.*?)</li>', re.S)
_MESSAGES = re.compile(r'<ul class="messagelist">(.*?)</ul>', re.S)
_HANDLE = re.compile(r'data-handle="([^"]+)"')
#: Where each row starts (no class but the admin's own row's "sp-current").
_ROW_START = re.compile(r'<tr(?=(?: class="sp-current")? data-handle=)')
_SHORT_ID = re.compile(r'<span class="sp-short-id">([^<]+)</span>')


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    headers: list[tuple[str, str]]
    #: ``time.monotonic()`` when the request was sent and when its answer was read.
    sent: float
    done: float

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")

    def json(self) -> Any:
        return json.loads(self.body)

    def excerpt(self, size: int = 600) -> str:
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", self.body)).strip()
        return f"HTTP {self.status} {self.header('Location')} {text[:size]}"


@dataclass(frozen=True)
class Host:
    """One app server: a name for messages, its port, and its clock offset in seconds."""

    name: str
    port: int
    offset: float

    def __str__(self) -> str:
        return f"{self.name} ({self.offset:+g} s)"


def fetch(
    host: Host,
    method: str,
    path: str,
    *,
    cookies: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> Reply:
    """One request on a fresh connection to 127.0.0.1."""
    all_headers = dict(headers or {})
    if cookies:
        all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = None
    if form is not None:
        body = urlencode(form).encode()
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection = http.client.HTTPConnection("127.0.0.1", host.port, timeout=timeout)
    sent = time.monotonic()
    try:
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
        return Reply(response.status, text, response.getheaders(), sent, time.monotonic())
    finally:
        connection.close()


def who(host: Host, session_key: str, *, write: bool = False, agent: str = "") -> Reply:
    """Asks ``host`` whose the session behind ``session_key`` is (``""``: nobody's).

    The cookie is sent as it is and never replaced by what the answer sets, so a killed
    cookie keeps being the killed cookie.
    """
    path = "/probe/write/" if write else "/probe/whoami/"
    headers = {"User-Agent": agent} if agent else None
    return fetch(host, "GET", path, cookies={SESSION_COOKIE: session_key}, headers=headers)


def user_of(host: Host, session_key: str, agent: str = "") -> str:
    """The username ``host`` sees for this cookie, or a description of what went wrong."""
    reply = who(host, session_key, agent=agent)
    if reply.status != 200:
        return f"<HTTP {reply.status}>"
    return str(reply.json()["user"])


@dataclass(frozen=True)
class Row:
    """One row of the Sessions page: the session's public handle and the row's markup."""

    handle: str
    markup: str

    @property
    def short_id(self) -> str:
        """The session ID the row shows."""
        found = _SHORT_ID.search(self.markup)
        return found.group(1) if found else ""


class Browser:
    """One person's browser: cookies (shared across the hosts) and a user agent.

    The user agent names the browser in the servers' logs. Which rows of the Sessions page
    are its sessions, the session IDs they show say (rows show a browser's name, never
    its user agent): ``short_id_of`` gives the ID of a session key as the servers do.
    """

    def __init__(self, label: str, short_id_of: Callable[[str], str]) -> None:
        self.label = label
        self.agent = f"sp-multihost/{label}"
        self.cookies: dict[str, str] = {}
        self.short_id_of = short_id_of
        #: The session ID of every session cookie this browser was given.
        self.short_ids: set[str] = set()

    @property
    def session_key(self) -> str:
        return self.cookies.get(SESSION_COOKIE, "")

    def request(
        self, host: Host, method: str, path: str, form: Mapping[str, str] | None = None
    ) -> Reply:
        headers = {"User-Agent": self.agent}
        reply = fetch(host, method, path, cookies=self.cookies, form=form, headers=headers)
        self._absorb(reply)
        return reply

    def get(self, host: Host, path: str) -> Reply:
        return self.request(host, "GET", path)

    def post(self, host: Host, path: str, form: Mapping[str, str]) -> Reply:
        token = self.cookies.get(CSRF_COOKIE, "")
        return self.request(host, "POST", path, {"csrfmiddlewaretoken": token, **form})

    def _absorb(self, reply: Reply) -> None:
        for name, value in reply.headers:
            if name.lower() != "set-cookie":
                continue
            parsed: SimpleCookie = SimpleCookie()
            parsed.load(value)
            for key, morsel in parsed.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = morsel.value
                    if key == SESSION_COOKIE:
                        self.short_ids.add(self.short_id_of(morsel.value))

    def owns(self, row: Row) -> bool:
        """Whether ``row`` lists one of this browser's sessions."""
        return row.short_id in self.short_ids

    def who(self, host: Host) -> str:
        """The username ``host`` sees for this browser's session cookie."""
        return user_of(host, self.session_key, self.agent)

    # -- logging in --------------------------------------------------------------------

    def log_in(self, host: Host, username: str, password: str) -> None:
        """Logs in with Django's ``login`` through the probe (for people who are not staff)."""
        reply = self.post(host, "/probe/login/", {"username": username, "password": password})
        if reply.status != 200 or reply.json()["user"] != username or not self.session_key:
            raise AssertionError(f"{username} could not log in on {host}: {reply.excerpt()}")

    def admin_log_in(self, host: Host, username: str, password: str) -> None:
        """Logs in through the admin's own login form, CSRF token and all."""
        self.get(host, "/admin/login/")
        reply = self.post(
            host,
            "/admin/login/?next=/admin/",
            {"username": username, "password": password, "next": "/admin/"},
        )
        if reply.status != 302 or "/login/" in reply.header("Location") or not self.session_key:
            raise AssertionError(f"{username} could not log in on {host}: {reply.excerpt()}")

    # -- the Sessions page -------------------------------------------------------------

    def page(self, host: Host, query: str = "") -> Reply:
        return self.get(host, PAGE + (f"?{urlencode({'q': query})}" if query else ""))

    def rows(self, host: Host, query: str = "") -> list[Row]:
        """The rows the Sessions page on ``host`` lists for a search."""
        reply = self.page(host, query)
        if reply.status != 200:
            raise AssertionError(f"the Sessions page on {host} answered {reply.excerpt()}")
        chunks = _ROW_START.split(reply.body)[1:]
        rows = []
        for chunk in chunks:
            found = _HANDLE.search(chunk)
            if found:
                markup = chunk.split("</tr>", 1)[0]
                rows.append(Row(html.unescape(found.group(1)), html.unescape(markup)))
        return rows

    def handle_of(self, host: Host, username: str, victim: Browser) -> str:
        """The handle of ``victim``'s session, found on the page by its session ID."""
        found = [r.handle for r in self.rows(host, username) if victim.owns(r)]
        if len(found) != 1:
            raise AssertionError(
                f"the Sessions page on {host} lists {len(found)} rows for {victim.label}"
            )
        return found[0]

    def act(self, host: Host, path: str, form: Mapping[str, str]) -> Action:
        """Posts a kill form as the page's no-JavaScript form does, then reads the page
        it redirects to for the messages. Never raises on a bad answer: the caller
        decides what is acceptable."""
        reply = self.post(host, path, form)
        action = Action(reply=reply, page=None)
        location = reply.header("Location")
        if reply.status == 302 and location.startswith(PAGE):
            action.page = self.get(host, location)
        return action


@dataclass
class Action:
    """A kill posted from the page: the POST's answer and the page it led to."""

    reply: Reply
    page: Reply | None

    @property
    def messages(self) -> list[tuple[str, str]]:
        """``(level, text)`` of each message the page shows after the action."""
        if self.page is None:
            return []
        block = _MESSAGES.search(self.page.body)
        if block is None:
            return []
        return [
            (level or "", html.unescape(re.sub(r"<[^>]+>", "", text)).strip())
            for level, text in _MESSAGE.findall(block.group(1))
        ]

    def describe(self) -> str:
        shown = self.page.excerpt(300) if self.page is not None else "no page"
        return f"POST: {self.reply.excerpt(300)}; then {shown}; messages {self.messages}"
