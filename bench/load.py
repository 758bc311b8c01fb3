"""Load run: the demo under gunicorn with PostgreSQL + Redis, users browsing while an
admin searches and kills. Bounded in time and requests; loopback only.

    .venv/bin/python bench/load.py [--users 50] [--duration 60] [--workers 4]

Needs DATABASE_URL (a scratch database is created next to it) and REDIS_URL, or uses
this machine's defaults. Prints requests served, errors, panel latency p50/p99, and
checks that every killed session stayed killed.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = "/admin/sessions_panel/sessionrecord/"
PASSWORD = "load-test-password-1"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    logged_out: int = 0
    panel_ms: list[float] = field(default_factory=list)
    killed_cookies: list[str] = field(default_factory=list)
    dead_keys: list[str] = field(default_factory=list)

    def add(self, n: int = 1) -> None:
        with self.lock:
            self.requests += n


class Browser:
    """A cookie jar and an opener that does not follow redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect
        )

    def set_cookie(self, name: str, value: str) -> None:
        self.jar.set_cookie(
            http.cookiejar.Cookie(
                0,
                name,
                value,
                None,
                False,
                "127.0.0.1",
                False,
                False,
                "/",
                True,
                False,
                None,
                False,
                None,
                None,
                {},
            )
        )

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def request(
        self, path: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str, dict[str, str]]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace"), dict(error.headers)

    def login(self, username: str) -> None:
        self.request("/admin/login/")
        token = self.cookie("csrftoken") or ""
        status, _, _ = self.request(
            "/admin/login/?next=/admin/",
            {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
            {"Referer": self.base + "/admin/login/"},
        )
        if status != 302:
            raise RuntimeError(f"login of {username} answered {status}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(env: dict[str, str], users: int) -> dict[str, str]:
    """Users and one logged-in session each, made through the real engine.

    Logging 50 users in through the form would spend the run hashing passwords (PBKDF2
    is slow on purpose); only users whose session gets killed log in through the form.
    """

    def manage(*args: str, stdin: str | None = None) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            check=True,
            input=stdin,
            text=True,
            capture_output=True,
        ).stdout

    manage("migrate", "--noinput")
    manage("collectstatic", "--noinput")
    script = f"""
from django.contrib.auth import get_user_model
from sessions_panel.models import SessionRecord
from django.contrib.sessions.models import Session
Session.objects.all().delete(); SessionRecord.objects.all().delete()
User = get_user_model()
User.objects.filter(username__startswith="load").delete()
admin = User.objects.create_superuser("loadadmin", "a@example.com", "{PASSWORD}")
from django.contrib.auth.hashers import make_password
from importlib import import_module
from django.conf import settings
from django.contrib.auth import SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY
from sessions_panel.tracking.client import ClientInfo
import json
hashed = make_password("{PASSWORD}")
cookies = {{}}
Store = import_module(settings.SESSION_ENGINE).SessionStore
for i in range({users}):
    u = User.objects.create(username=f"loaduser{{i}}", email=f"u{{i}}@example.com", is_staff=True, password=hashed)
    s = Store()
    s.client = ClientInfo(ip="127.0.0.1", user_agent="load.py", application="Administration")
    s[SESSION_KEY] = str(u.pk)
    s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    s[HASH_SESSION_KEY] = u.get_session_auth_hash()
    s.create()
    cookies[u.username] = s.session_key
print("COOKIES" + json.dumps(cookies))
"""
    out = manage("shell", "-c", script)
    line = next(x for x in out.splitlines() if x.startswith("COOKIES"))
    return dict(json.loads(line.removeprefix("COOKIES")))


def user_loop(base: str, name: str, key: str, stats: Stats, stop: threading.Event) -> None:
    browser = Browser(base)
    browser.set_cookie("sessionid", key)
    while not stop.is_set():
        status, _, headers = browser.request(random.choice(["/admin/", "/admin/password_change/"]))
        stats.add()
        if status == 302 and "/login/" in headers.get("Location", ""):
            with stats.lock:
                stats.logged_out += 1
                stats.dead_keys.append(key)
            browser = Browser(base)
            browser.login(name)  # a killed user logs in again, as a person would
            key = browser.cookie("sessionid") or ""
            stats.add(3)
        elif status != 200:
            with stats.lock:
                stats.errors.append(f"{name}: HTTP {status}")
        stop.wait(random.uniform(0.5, 2.0))  # a person reading a page between clicks


def admin_loop(base: str, stats: Stats, stop: threading.Event) -> None:
    admin = Browser(base)
    admin.login("loadadmin")
    stats.add(3)
    searches = ["", "loaduser1", "loaduser2", "127.0", "Administration", "zzz-no-match"]
    hx = {"HX-Request": "true"}
    while not stop.is_set():
        query = random.choice(searches)
        started = time.perf_counter()
        status, html, _ = admin.request(
            PAGE + "?" + urllib.parse.urlencode({"q": query}), headers=hx
        )
        stats.panel_ms.append((time.perf_counter() - started) * 1000)
        stats.add()
        if status != 200:
            stats.errors.append(f"admin search: HTTP {status}")
            continue
        handles = re.findall(r'data-handle="([A-Za-z0-9_-]+)"', html)
        if handles and random.random() < 0.3:
            handle = random.choice(handles)
            token = admin.cookie("csrftoken") or ""
            started = time.perf_counter()
            status, body, _ = admin.request(
                PAGE + "kill/",
                {"handle": handle},
                {**hx, "X-CSRFToken": token, "Referer": base + PAGE},
            )
            stats.panel_ms.append((time.perf_counter() - started) * 1000)
            stats.add()
            if status != 200:
                stats.errors.append(f"admin kill: HTTP {status}")
            elif "was ended" in body:
                stats.killed_cookies.append(handle)
        stop.wait(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    database = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    scratch = database.rsplit("/", 1)[0] + "/sessions_panel_load"
    import psycopg

    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS sessions_panel_load WITH (FORCE)")
        conn.execute("CREATE DATABASE sessions_panel_load")
    env = {
        **os.environ,
        "DATABASE_URL": scratch,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3"),
        "CACHE_KEY_PREFIX": f"sp-load-{os.getpid()}",
        "DEBUG": "0",
        "SECRET_KEY": "load-test-secret-key-not-for-production-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "sessionadmin.settings",
    }
    keys = prepare(env, args.users)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "sessionadmin.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(args.workers),
            "--threads",
            "8",
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    stats = Stats()
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/admin/login/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        stop = threading.Event()
        threads = [
            threading.Thread(target=user_loop, args=(base, name, key, stats, stop), daemon=True)
            for name, key in keys.items()
        ] + [threading.Thread(target=admin_loop, args=(base, stats, stop), daemon=True)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        stop.wait(args.duration)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        elapsed = time.perf_counter() - started
        # Every killed session must still be refused: its handle is gone from the list
        # and no row came back.
        admin = Browser(base)
        admin.login("loadadmin")
        _, html, _ = admin.request(PAGE + "?page=20", headers={"HX-Request": "true"})
        revived = [h for h in stats.killed_cookies if f'data-handle="{h}"' in html]
        # And every session a user was logged out of stays refused: replay its cookie.
        for dead in stats.dead_keys:
            replay = Browser(base)
            replay.set_cookie("sessionid", dead)
            status, _, headers = replay.request("/admin/")
            if not (status == 302 and "/login/" in headers.get("Location", "")):
                revived.append(dead[:4] + "…")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    panel = sorted(stats.panel_ms)
    report = {
        "users": args.users,
        "seconds": round(elapsed, 1),
        "requests": stats.requests,
        "requests_per_s": round(stats.requests / elapsed, 1),
        "errors": len(stats.errors),
        "logouts_of_killed_users": stats.logged_out,
        "kills": len(stats.killed_cookies),
        "killed_sessions_replayed": len(stats.dead_keys),
        "revived": len(revived),
        "panel_p50_ms": round(statistics.median(panel), 1) if panel else None,
        "panel_p99_ms": round(panel[int(len(panel) * 0.99) - 1], 1) if panel else None,
    }
    print("| figure | value |\n|---|---|")
    for key, value in report.items():
        print(f"| {key} | {value} |")
    if stats.errors:
        print("errors (first 10):", json.dumps(stats.errors[:10]))
    if stats.errors or revived:
        sys.exit(1)


if __name__ == "__main__":
    main()
