"""Timing helpers: a direct WSGI client (server time, no test-client overhead) and sampling."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory

BROWSER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


@dataclass
class Sample:
    """Wall-clock seconds of each measured run (the warm-up is not in it)."""

    times: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def runs(self) -> int:
        return len(self.times)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.times), max(self.times)

    def ms(self) -> float:
        return self.median * 1000


def sample(
    fn: Callable[[], Any],
    *,
    runs: int = 5,
    warmup: int = 1,
    min_seconds: float = 0.3,
    max_runs: int = 60,
    budget: float = 45.0,
    min_runs: int = 3,
) -> Sample:
    """Median-ready timings: ``warmup`` unrecorded calls, then at least ``runs`` calls.

    Fast calls repeat until ``min_seconds`` have passed (up to ``max_runs``) so their
    median is stable; slow ones stop at ``runs``, or earlier (never under 3) once
    ``budget`` seconds are spent (never under ``min_runs``), which the table reports as
    the number of runs.
    """
    for _ in range(warmup):
        fn()
    result = Sample()
    started = time.perf_counter()
    while True:
        t = time.perf_counter()
        fn()
        result.times.append(time.perf_counter() - t)
        spent = time.perf_counter() - started
        if result.runs >= max_runs:
            break
        if result.runs >= runs and spent >= min_seconds:
            break
        if spent >= budget and result.runs >= min(min_runs, runs):
            break
    return result


class Wsgi:
    """Calls a Django WSGI handler directly: what a WSGI server would, minus the socket."""

    def __init__(self, handler: WSGIHandler | None = None) -> None:
        self.handler = handler or WSGIHandler()
        self.factory = RequestFactory()
        #: The response headers of the last call.
        self.last_headers: dict[str, str] = {}

    def environ(
        self,
        path: str,
        *,
        session_key: str | None = None,
        htmx: bool = False,
        remote_addr: str = "81.2.69.142",
        user_agent: str = BROWSER_UA,
    ) -> dict[str, Any]:
        headers = {"User-Agent": user_agent, "Accept": "text/html"}
        if htmx:
            headers["HX-Request"] = "true"
        request = self.factory.get(path, headers=headers, REMOTE_ADDR=remote_addr)
        environ = dict(request.environ)
        if session_key:
            environ["HTTP_COOKIE"] = f"{settings.SESSION_COOKIE_NAME}={session_key}"
        return environ

    def call(self, environ: dict[str, Any]) -> tuple[int, bytes]:
        status: list[str] = []

        def start_response(value: str, headers: Any, exc_info: Any = None) -> None:
            status.append(value)
            merged: dict[str, str] = {}
            for name, value in headers:  # Set-Cookie may come more than once
                merged[name] = f"{merged[name]}, {value}" if name in merged else value
            self.last_headers = merged

        response = self.handler(dict(environ), start_response)
        try:
            body = b"".join(response)
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()
        return int(status[0][:3]), body
