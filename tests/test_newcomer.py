"""The newcomer path: a fresh clone, the README's run command, and nothing else.

Clones the committed HEAD into a temporary directory, runs ``make run PORT=<free port>``
there (it builds its own virtualenv, migrates, seeds the demo and starts the server),
waits for ``/admin/login/``, then logs in with the credentials the command printed and
checks that the Sessions page lists the seeded sessions. Needs ``git``, ``make`` and
pip's index (or a warm pip cache); takes about a minute with a warm cache.
"""

from __future__ import annotations

import html
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import NoReturn

import pytest

PANEL_PATH = "/admin/sessions_panel/sessionrecord/"
#: Building the clone's virtualenv dominates; a cold pip cache needs the most.
STARTUP_TIMEOUT = 300
ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: What a newcomer's shell would not have: this suite's settings, make's variables
#: (``make pytest VENV=...`` exports them through MAKEFLAGS), CI's external services.
NOT_A_NEWCOMERS = (
    "DATABASE_URL",
    "REDIS_URL",
    "SESSION_ENGINE",
    "SQLITE_PATH",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "PYTEST_ADDOPTS",
)


def cannot_run(message: str) -> NoReturn:
    """Skips on a machine without the tools; in CI the newcomer path must run."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def repository_root() -> Path:
    if shutil.which("make") is None:
        cannot_run("`make` is not installed: the README's run command needs it")
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--show-toplevel"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        cannot_run(f"not a git checkout, or no git: {exc}")
    return Path(out.strip())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Output:
    """Collects a process's output in a thread, so a full pipe never blocks it."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        self._stream = process.stdout
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(ANSI.sub("", line.rstrip("\n")))

    def join(self) -> None:
        self._thread.join(timeout=10)

    def close(self) -> None:
        self.join()
        self._stream.close()

    def text(self) -> str:
        return "\n".join(self.lines)

    def tail(self, count: int = 60) -> str:
        return "\n".join(self.lines[-count:])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) == 200
    except (OSError, urllib.error.URLError):
        return False


def wait_until_served(process: subprocess.Popen[str], output: Output, url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output.join()
            pytest.fail(f"`make run` exited with {process.returncode}:\n{output.tail()}")
        if answers(url):
            return
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {STARTUP_TIMEOUT}s:\n{output.tail()}")


def stop(process: subprocess.Popen[str]) -> None:
    """Ends make, runserver and its autoreloader child: the whole process group."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def log_in(base: str, username: str, password: str) -> tuple[str, str]:
    """Logs in through the admin's form; returns the final URL and page of ``next``."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    login_url = f"{base}/admin/login/?{urllib.parse.urlencode({'next': PANEL_PATH})}"
    with opener.open(login_url, timeout=10) as response:
        form = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token, "no CSRF token on the login form"
    data = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token.group(1),
            "username": username,
            "password": password,
            "next": PANEL_PATH,
        }
    ).encode()
    with opener.open(login_url, data=data, timeout=10) as response:  # follows the 302
        return str(response.geturl()), response.read().decode()


def test_fresh_clone_make_run_serves_the_admin_and_the_seeded_sessions(tmp_path: Path) -> None:
    root = repository_root()
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", "--depth", "1", f"file://{root}", str(clone)],
        check=True,
        timeout=120,
    )
    env = {k: v for k, v in os.environ.items() if k not in NOT_A_NEWCOMERS}
    env["PYTHONUNBUFFERED"] = "1"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=clone,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so stop() reaches runserver
    )
    output = Output(process)
    try:
        wait_until_served(process, output, f"{base}/admin/login/")

        credentials = re.search(r"^\s*Admin login:  (\S+) / (\S+)\s*$", output.text(), re.M)
        assert credentials, f"no admin credentials printed:\n{output.tail()}"
        username, password = credentials.groups()
        seeded = re.search(r"Seeded (\d+) demo sessions for (\d+) users\.", output.text())
        assert seeded, output.tail()
        assert f"Sessions page: {base}{PANEL_PATH}" in output.text()

        url, page = log_in(base, username, password)

        assert url == base + PANEL_PATH
        assert "<h1>Sessions</h1>" in page
        live = int(seeded.group(1)) + 1  # the demo's sessions and this login
        badge = re.search(r'<span id="sp-badge"[^>]*>([^<]*)</span>', page)
        assert badge and badge.group(1) == f"{live} Active"
        assert len(re.findall(r'<tr(?: class="sp-current")? data-handle=', page)) == live
        cells = re.findall(r'<(span|a) class="sp-username[^"]*"[^>]*>(.*?)</\1>', page, re.S)
        cells = [text for _, text in cells]
        usernames = {html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells}
        assert {"admin", "alice", "bob", "judy"} <= usernames
    finally:
        stop(process)
        output.close()
        shutil.rmtree(clone, ignore_errors=True)
