"""A browser made of direct WSGI calls: cookies kept, CSRF honoured, redirects visible.

The peer benchmark posts (kills) as well as reads, through the CSRF middleware that every
host runs; the test client would skip the CSRF check, and ``bench/timing.py``'s client
only sends GETs. What a WSGI server would call, minus the socket: the timings are the
server's time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory

BROWSER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
ADMIN_IP = "81.2.69.142"


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    #: Seconds until the body was complete (what the browser waits for), and until the
    #: server's ``close()`` returned: work a view defers past its answer runs there.
    answered: float = 0.0
    closed: float = 0.0

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")


@dataclass
class Browser:
    """One admin's browser against one handler: its cookie jar and its address."""

    handler: Callable[..., Any] = field(default_factory=WSGIHandler)
    remote_addr: str = ADMIN_IP
    user_agent: str = BROWSER_UA
    cookies: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.factory = RequestFactory()

    @property
    def csrf_token(self) -> str:
        return self.cookies.get(settings.CSRF_COOKIE_NAME, "")

    def environ(
        self,
        method: str,
        path: str,
        data: Mapping[str, Any] | None = None,
        *,
        htmx: bool = False,
        headers: Mapping[str, str] | None = None,
        remote_addr: str | None = None,
    ) -> dict[str, Any]:
        sent = {"User-Agent": self.user_agent, "Accept": "text/html", **(headers or {})}
        if htmx:
            sent["HX-Request"] = "true"
        address = remote_addr or self.remote_addr
        if method == "POST":  # a form post, as the browser sends it (not multipart)
            request = self.factory.post(
                path,
                data=urlencode(data or {}, doseq=True),
                content_type="application/x-www-form-urlencoded",
                headers=sent,
                REMOTE_ADDR=address,
            )
        else:
            request = self.factory.get(path, data=data or {}, headers=sent, REMOTE_ADDR=address)
        environ = dict(request.environ)
        if self.cookies:
            environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return environ

    def call(self, environ: dict[str, Any]) -> Response:
        """One request; the jar takes the response's cookies (and drops deleted ones)."""
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
            started.append((status, list(headers)))

        started_at = time.perf_counter()
        result = self.handler(dict(environ), start_response)
        try:
            body = b"".join(result)
            answered = time.perf_counter() - started_at
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        closed = time.perf_counter() - started_at
        status, headers = started[0]
        for name, value in headers:
            if name.lower() != "set-cookie":
                continue
            for morsel in SimpleCookie(value).values():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(morsel.key, None)
                else:
                    self.cookies[morsel.key] = morsel.value
        return Response(int(status[:3]), headers, body, answered, closed)

    def get(self, path: str, *, htmx: bool = False) -> Response:
        return self.call(self.environ("GET", path, htmx=htmx))

    def post(
        self,
        path: str,
        data: Mapping[str, Any],
        *,
        htmx: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        return self.call(self.environ("POST", path, data, htmx=htmx, headers=headers))
