"""The package as an integrator gets it: the wheel, in a clean virtualenv, in a real host.

Issue 12. Every other test imports the package from this checkout; this one proves that
what a release ships works on its own. It

1. builds the wheel (``python -m build --wheel``) into a temporary directory;
2. makes a fresh virtualenv (``python -m venv``) and installs the wheel file (not
   editable), WhiteNoise and gunicorn there, with this run's Django version, and checks
   that ``sessions_panel`` is imported from that virtualenv's site-packages;
3. copies ``examples/backoffice/`` (a custom ``AdminSite`` at ``/backoffice/``, an
   email-login user model with a UUID key, German, Europe/Berlin, ``DEBUG`` off, static
   files through WhiteNoise, Django 6's strict CSP, SQLite) to a temporary directory
   and runs there, as its README says: ``check --deploy`` (clean: no
   ``sessions_panel.W001``, the site is registered), ``makemigrations --check``,
   ``migrate``, ``collectstatic``, ``createsuperuser`` by email, and ``backfill`` over a
   session Django's own engine made before;
4. serves it with gunicorn on a free loopback port and walks it in Chromium: login at
   ``/backoffice/login/``, the Sessions page in German with both sessions, its
   stylesheet and scripts served (hashed names, no 404), a live search through htmx, no
   console error or CSP violation, every sidebar and breadcrumb link under
   ``/backoffice/``, the expiry in Europe/Berlin time, a session ended through its
   dialog and recorded in the audit trail, and the custom user's change page with the
   "Sessions" section of ``UserSessionsMixin``.

**When it runs.** Once per CI run (``.ci/run``): it is part of the normal pytest run but
skips unless this run uses SQLite (``DATABASE_URL`` empty) and Django 6.1 or newer, so
of CI's jobs only "Django 6.1 / SQLite" runs it (not Django 5.2, not the lowest
dependencies, not PostgreSQL). Without Chromium or ``python -m venv`` (Debian's
``python3-venv``) it skips, and in CI (``CI`` set) fails instead. It needs pip's index
or a warm pip cache (pip's own cache is used); with a warm cache it takes about
twenty seconds, and :data:`SETUP_BUDGET` bounds the build, the installs and the setup.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib.util import find_spec
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import django
import pytest

from tests.browser.conftest import CHROMIUM_FLAGS, CSP_LISTENER, PageErrors, chromium_path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "backoffice"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        bool(os.environ.get("DATABASE_URL")),
        reason="the wheel test runs once, in the SQLite job (DATABASE_URL is set here)",
    ),
    pytest.mark.skipif(
        django.VERSION < (6, 1),
        reason="the wheel test runs once, in the Django 6.1 job",
    ),
]

#: Seconds for everything before the browser: the build, the virtualenv, pip (from the
#: index if its cache is cold), the management commands and the server's start.
SETUP_BUDGET = 360
PREFIX = "/backoffice/"
PANEL = f"{PREFIX}sessions_panel/sessionrecord/"
ADMIN_EMAIL = "admin@example.com"
#: A user whose session Django's own engine made before the site switched to a tracked
#: one: ``backfill`` must index it.
EARLIER_EMAIL = "erika@example.com"
BERLIN = ZoneInfo("Europe/Berlin")
#: German, from sessions_panel/locale/de/LC_MESSAGES/django.po (and Django's catalogue).
DE_SESSIONS = "Sitzungen"  # the model's plural: the page's title and the sidebar entry
DE_SEARCH_LABEL = "Sitzungen durchsuchen"
DE_SEARCH_PLACEHOLDER = "Benutzer, E-Mail, IP, Anwendung oder Sitzungs-ID"
DE_FIELD_LABEL = "Aktive Sitzungen"
DE_USER_LINK = "Sitzungen dieses Benutzers öffnen (dort können Sie alle beenden)"
DE_MONTHS = (
    *("Januar", "Februar", "März", "April", "Mai", "Juni"),
    *("Juli", "August", "September", "Oktober", "November", "Dezember"),
)
#: What the host's processes must not inherit from this test run.
NOT_THE_HOSTS = (
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "VIRTUAL_ENV",
    "DATABASE_URL",
    "REDIS_URL",
    "SESSION_ENGINE",
    "SQLITE_PATH",
    "STATIC_ROOT",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DEBUG",
    "HTTPS",
    "TIME_ZONE",
    "TRUSTED_PROXY_COUNT",
)
#: Made in a session by Django's own engine, before the switch (``shell -c``).
EARLIER_SESSION = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore

user = get_user_model().objects.create_user({email!r}, password=None)
store = SessionStore()
store[SESSION_KEY] = str(user.pk)
store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
store[HASH_SESSION_KEY] = user.get_session_auth_hash()
store.create()
"""
#: The index as the host's database has it: login, pk and expiry of each session.
LIST_RECORDS = """
import json
from sessions_panel.models import SessionRecord

print(json.dumps([
    {"user": r.user.email, "pk": str(r.user.pk), "expiry": r.expiry.isoformat()}
    for r in SessionRecord.objects.select_related("user")
]))
"""
#: Where the host imports from: the package must come from the new virtualenv only.
WHERE = """
import json, sys, django, django_htmx, sessions_panel
print(json.dumps({"panel": sessions_panel.__file__, "htmx": django_htmx.__file__,
                  "django": django.__version__, "path": sys.path}))
"""


def cannot_run(message: str) -> NoReturn:
    """Skips on a machine without the tools; in CI the wheel test must run."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class Budget:
    """One deadline for several steps, so the whole setup is bounded, not each step."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def left(self, step: str) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"the wheel test's {self.seconds}s setup ran out before {step}")
        return left


def run(
    args: list[str], *, step: str, budget: Budget, cwd: Path, env: dict[str, str] | None = None
) -> str:
    """Runs a command to its end; its stdout and stderr, or the test fails with them."""
    try:
        done = subprocess.run(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=budget.left(step),
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{step}: still running when the setup budget ran out\n{exc.output or ''}")
    output = done.stdout + done.stderr
    if done.returncode:
        pytest.fail(f"{step} exited with {done.returncode}:\n{output}")
    return output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Output:
    """Collects a server's output in a thread, so a full pipe never blocks it."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.lines: list[str] = []
        self._stream = process.stdout
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(line.rstrip("\n"))

    def close(self) -> None:
        self._thread.join(timeout=10)
        self._stream.close()

    def text(self) -> str:
        return "\n".join(self.lines)


def stop(process: subprocess.Popen[str]) -> None:
    """Ends gunicorn's arbiter and its workers: the process group it was started in."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) == 200
    except (OSError, urllib.error.URLError):
        return False


@dataclass
class Host:
    """The example host, installed from the wheel and set up."""

    venv: Path
    site: Path
    env: dict[str, str]
    password: str
    outputs: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    server: Output | None = None

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def manage(self, *args: str, budget: Budget, env: dict[str, str] | None = None) -> str:
        """``manage.py ARGS`` in the host's directory; its output is also kept in
        ``outputs`` under the command's name."""
        output = run(
            [self.python, "manage.py", *args],
            step="manage.py " + " ".join(a for a in args if "\n" not in a),
            budget=budget,
            cwd=self.site,
            env={**self.env, **(env or {})},
        )
        self.outputs[args[0]] = output
        return output

    def records(self) -> list[dict[str, str]]:
        """The index rows, read by the host itself (``shell -c``)."""
        out = run(
            [self.python, "manage.py", "shell", "-c", LIST_RECORDS],
            step="manage.py shell (the index rows)",
            budget=Budget(60),
            cwd=self.site,
            env=self.env,
        )
        rows: list[dict[str, str]] = json.loads(out.strip().splitlines()[-1])
        return rows


def build_wheel(out: Path, budget: Budget) -> Path:
    if find_spec("build") is None:  # pyproject's release group, as scripts/check-dist
        run(
            [sys.executable, "-m", "pip", "install", "-q", "--group", "release"],
            step="pip install --group release",
            budget=budget,
            cwd=ROOT,
        )
    run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        step="python -m build --wheel",
        budget=budget,
        cwd=ROOT,
    )
    wheels = list(out.glob("django_sessions_panel-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def make_venv(venv: Path, budget: Budget) -> None:
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(venv)],
            check=True,
            capture_output=True,
            text=True,
            timeout=budget.left("python -m venv"),
        )
    except subprocess.TimeoutExpired:
        pytest.fail("python -m venv: still running when the setup budget ran out")
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        cannot_run(f"cannot create a virtualenv (Debian: apt-get install python3-venv): {detail}")


def host_env(venv: Path, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_THE_HOSTS}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
        PYTHONNOUSERSITE="1",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SQLITE_PATH=str(tmp / "db.sqlite3"),
        STATIC_ROOT=str(tmp / "staticfiles"),
    )
    return env


@pytest.fixture(scope="module")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        cannot_run("No Chromium found: apt-get install chromium, or set CHROMIUM=/path/to/it.")
    return path


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Iterator[Host]:
    """Builds, installs and sets up the example host, then serves it with gunicorn."""
    if not (EXAMPLE / "manage.py").is_file():
        pytest.fail(f"no example host at {EXAMPLE}")
    tmp = tmp_path_factory.mktemp("wheel")
    budget = Budget(SETUP_BUDGET)
    wheel = build_wheel(tmp / "dist", budget)
    venv = tmp / "venv"
    make_venv(venv, budget)
    run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            str(wheel),  # a file, not -e: what `pip install django-sessions-panel` gets
            f"django=={django.__version__}",  # this job's Django
            "whitenoise",  # the host's choice, not the package's dependency
            "gunicorn",
        ],
        step="pip install (the wheel, whitenoise, gunicorn)",
        budget=budget,
        cwd=tmp,
    )
    run(
        [str(venv / "bin" / "python"), "-m", "pip", "check"],
        step="pip check",
        budget=budget,
        cwd=tmp,
    )
    site = tmp / "backoffice"
    shutil.copytree(
        EXAMPLE, site, ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3*", "staticfiles")
    )
    host = Host(venv=venv, site=site, env=host_env(venv, tmp), password=secrets.token_urlsafe(16))
    host.outputs["where"] = run(
        [host.python, "-c", WHERE],
        step="import sessions_panel",
        budget=budget,
        cwd=site,
        env=host.env,
    )
    # The production settings (HTTPS: secure cookies, HSTS, redirect): a clean deploy check.
    host.manage("check", "--deploy", "--fail-level", "WARNING", budget=budget)
    host.manage("makemigrations", "--check", "--dry-run", budget=budget)
    host.manage("migrate", "--noinput", budget=budget)
    host.manage("collectstatic", "--noinput", budget=budget)
    host.manage(
        "createsuperuser",
        "--noinput",
        budget=budget,
        env={"DJANGO_SUPERUSER_EMAIL": ADMIN_EMAIL, "DJANGO_SUPERUSER_PASSWORD": host.password},
    )
    host.manage("shell", "-c", EARLIER_SESSION.format(email=EARLIER_EMAIL), budget=budget)
    host.manage("backfill", budget=budget)

    # Served over plain HTTP on the loopback interface: no secure cookies, no redirect.
    port = free_port()
    host.base_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            str(venv / "bin" / "gunicorn"),
            "backoffice.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            "--workers=2",
            "--access-logfile=-",
            "--error-logfile=-",
        ],
        cwd=site,
        env={**host.env, "HTTPS": "0"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: stop() reaches the workers
    )
    host.server = Output(process)
    try:
        login = f"{host.base_url}{PREFIX}login/"
        while not answers(login):
            if process.poll() is not None:
                host.server.close()
                pytest.fail(f"gunicorn exited with {process.returncode}:\n{host.server.text()}")
            if time.monotonic() > budget.deadline:
                pytest.fail(f"{login} did not answer in time:\n{host.server.text()}")
            time.sleep(0.2)
        yield host
    finally:
        stop(process)
        host.server.close()
        shutil.rmtree(tmp, ignore_errors=True)  # the virtualenv: tens of megabytes


# -- the installed package ----------------------------------------------------------------


def test_the_package_is_imported_from_the_wheel_in_its_own_virtualenv(host: Host) -> None:
    where = json.loads(host.outputs["where"].strip().splitlines()[-1])
    site_packages = next((host.venv / "lib").glob("python3*/site-packages"))
    assert Path(where["panel"]).is_relative_to(site_packages), where["panel"]
    assert Path(where["htmx"]).is_relative_to(site_packages), where["htmx"]
    assert where["django"] == django.__version__
    assert str(ROOT) not in where["path"]
    # No editable install's path hook back into this checkout.
    for pth in site_packages.glob("*.pth"):
        assert str(ROOT) not in pth.read_text(), pth
    assert not list(site_packages.glob("__editable__*"))


def test_the_setup_commands_succeed_as_the_readme_gives_them(host: Host) -> None:
    check = host.outputs["check"]
    assert "System check identified no issues" in check, check
    assert "sessions_panel.W001" not in check
    assert "No changes detected" in host.outputs["makemigrations"]
    collected = host.outputs["collectstatic"]
    assert re.search(r"\d+ static files copied", collected), collected
    static = Path(host.env["STATIC_ROOT"])
    assert (static / "sessions_panel" / "sessions_panel.css").is_file()
    assert (static / "sessions_panel" / "sessions_panel.js").is_file()
    manifest = json.loads((static / "staticfiles.json").read_text())["paths"]
    assert "sessions_panel/sessions_panel.css" in manifest
    assert "Indexed 1 of 1 live sessions in the store." in host.outputs["backfill"]


# -- the backoffice in a browser ----------------------------------------------------------


def test_the_backoffice_serves_the_panel_in_german_under_csp(host: Host, chromium: str) -> None:
    # A thread of its own: Playwright's sync API refuses to start in a thread where
    # another one runs (tests/browser/'s session-wide browser, when the suites share a run).
    with ThreadPoolExecutor(max_workers=1) as pool:
        responses = pool.submit(browse, host, chromium).result()
    check_static_files(responses)
    server = host.server.text() if host.server else ""
    assert "Traceback" not in server and "Internal Server Error" not in server, server


def browse(host: Host, chromium: str) -> list[tuple[int, str]]:
    """Logs in, checks the Sessions page and the user page; every response's status and URL."""
    from playwright.sync_api import expect, sync_playwright

    responses: list[tuple[int, str]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            context = browser.new_context(
                base_url=host.base_url,
                locale="de-DE",
                viewport={"width": 1280, "height": 800},
            )
            context.add_init_script(CSP_LISTENER)
            page = context.new_page()
            page.set_default_timeout(10_000)
            errors = PageErrors()
            errors.watch(page)
            page.on("response", lambda r: responses.append((r.status, r.url)))

            # Log in on the backoffice site's own login page.
            page.goto(PREFIX)
            expect(page).to_have_url(re.compile(rf"{PREFIX}login/\?next={PREFIX}$"))
            expect(page.locator("html")).to_have_attribute("lang", "de")
            page.fill("#id_username", ADMIN_EMAIL)
            page.fill("#id_password", host.password)
            page.locator("#login-form [type=submit]").click()
            expect(page).to_have_url(re.compile(rf"{PREFIX}$"))

            # The index lists the page under its German name; open it from there.
            entry = page.locator("#content-main").get_by_role("link", name=DE_SESSIONS, exact=True)
            expect(entry).to_have_attribute("href", PANEL)
            with page.expect_response(lambda r: r.url == host.base_url + PANEL) as served:
                entry.click()
            expect(page).to_have_url(re.compile(rf"{PANEL}$"))
            # The policy is enforced, so "no CSP violation" below means something.
            policy = served.value.headers.get("content-security-policy", "")
            assert "script-src 'self' 'nonce-" in policy, policy
            assert re.search(r"style-src 'self'(;|$)", policy), policy
            check_panel(page, host)

            # A live search: htmx (under CSP) asks the server and swaps the rows.
            page.fill("#sp-q", "erika")
            expect(page.locator("tr[data-handle]")).to_have_count(1)
            expect(page.locator("tr[data-handle]")).to_contain_text(EARLIER_EMAIL)
            page.fill("#sp-q", "")
            expect(page.locator("tr[data-handle]")).to_have_count(2)

            check_kill(page)
            check_user_page(page, host)
            assert not errors.errors, "\n".join(errors.errors)
        finally:
            browser.close()
    return responses


def check_panel(page: Any, host: Host) -> None:
    from playwright.sync_api import expect

    expect(page).to_have_title(f"{DE_SESSIONS} | Backoffice")
    expect(page.locator("#sp-page h1")).to_have_text(DE_SESSIONS)
    expect(page.locator("label[for=sp-q]")).to_have_text(DE_SEARCH_LABEL)
    expect(page.locator("#sp-q")).to_have_attribute("placeholder", DE_SEARCH_PLACEHOLDER)

    # The admin's own session (this login) and the backfilled one, nobody else's.
    expect(page.locator("tr[data-handle]")).to_have_count(2)
    own = page.locator("tr.sp-current")
    expect(own).to_have_count(1)
    expect(own).to_contain_text(ADMIN_EMAIL)
    expect(page.locator("tr[data-handle]:not(.sp-current)")).to_contain_text(EARLIER_EMAIL)

    # The stylesheet applies and htmx ran: both blocked or missing would still render.
    assert page.evaluate("typeof window.htmx") == "object"
    rules = page.evaluate(
        """() => [...document.styleSheets]
             .filter((s) => (s.href || "").includes("/sessions_panel/sessions_panel."))
             .map((s) => s.cssRules.length)"""
    )
    assert len(rules) == 1 and rules[0] > 0, rules

    # Every link of the site's chrome stays on the backoffice site.
    for selector in ("#nav-sidebar a", ".breadcrumbs a"):
        hrefs = page.locator(selector).evaluate_all("(links) => links.map((a) => a.href)")
        assert hrefs, f"no {selector} links"
        paths = [re.sub(r"^https?://[^/]+", "", h) for h in hrefs]
        assert all(p.startswith(PREFIX) for p in paths), (selector, paths)
    sidebar = page.locator(f"#nav-sidebar a[href='{PANEL}']")
    expect(sidebar).to_have_text(DE_SESSIONS)

    # The expiry in Europe/Berlin (an hour or two past UTC's), in German, in the Expires
    # cell (the fourth: cells are known by position).
    expiry = next(
        datetime.fromisoformat(r["expiry"]) for r in host.records() if r["user"] == ADMIN_EMAIL
    )
    local = expiry.astimezone(BERLIN)
    assert local.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
    german = f"{local.day}. {DE_MONTHS[local.month - 1]} {local.year} {local:%H:%M}"
    expect(own.locator(":scope > td:nth-child(4) > span:first-child")).to_have_text(german)


def check_kill(page: Any) -> None:
    """Ends the backfilled session through its dialog; the audit trail records it."""
    from playwright.sync_api import expect

    earlier = page.locator("tr[data-handle]:not(.sp-current)")
    short_id = earlier.locator(".sp-short-id").text_content()
    assert short_id and re.fullmatch(r"[0-9a-f]{8}", short_id), short_id
    earlier.get_by_role("button", name=f"Sitzung {short_id} ({EARLIER_EMAIL}) beenden").click()
    dialog = page.locator("#sp-kill-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Sitzung beenden", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#sp-messages .messagelist li.success")).to_have_text(
        f"Sitzung {short_id} von {EARLIER_EMAIL} wurde beendet."
    )
    expect(page.locator("tr[data-handle]")).to_have_count(1)

    audit = page.locator("#sp-audit-link")
    expect(audit).to_have_text("Audit-Protokoll")
    expect(audit).to_have_attribute("href", f"{PREFIX}sessions_panel/auditentry/")
    audit.click()
    entries = page.locator("#result_list tbody tr")
    expect(entries).to_have_count(1)
    expect(entries).to_contain_text(ADMIN_EMAIL)


def check_user_page(page: Any, host: Host) -> None:
    """The custom user's change page shows the section ``UserSessionsMixin`` adds."""
    from playwright.sync_api import expect

    admin_pk = next(r["pk"] for r in host.records() if r["user"] == ADMIN_EMAIL)
    page.goto(f"{PREFIX}accounts/user/")
    page.get_by_role("link", name=ADMIN_EMAIL, exact=True).click()
    expect(page).to_have_url(re.compile(rf"{PREFIX}accounts/user/{admin_pk}/change/$"))
    section = page.locator("fieldset.sp-user-sessions")
    expect(section).to_have_count(1)
    expect(section.locator("h2")).to_have_text(DE_SESSIONS)
    expect(section).to_contain_text(DE_FIELD_LABEL)
    expect(section).to_contain_text("1 aktive Sitzung.")
    link = section.get_by_role("link", name=DE_USER_LINK)
    expect(link).to_have_attribute("href", f"{PANEL}?user={admin_pk}")
    link.click()
    expect(page.locator("tr[data-handle]")).to_have_count(1)
    expect(page.locator("tr.sp-current")).to_contain_text(ADMIN_EMAIL)


def check_static_files(responses: list[tuple[int, str]]) -> None:
    """The page's CSS and JavaScript and django-htmx's htmx, by their hashed names
    (``collectstatic``'s manifest), each served once with 200; nothing answered >= 400."""
    assert not [r for r in responses if r[0] >= 400], responses
    for pattern in (
        r"/static/sessions_panel/sessions_panel\.[0-9a-f]{12}\.css$",
        r"/static/sessions_panel/sessions_panel\.[0-9a-f]{12}\.js$",
        r"/static/django_htmx/htmx-2\.min\.[0-9a-f]{12}\.js$",
    ):
        served = [status for status, url in responses if re.search(pattern, url)]
        assert served and set(served) <= {200, 304}, (pattern, responses)
