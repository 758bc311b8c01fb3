"""Render the README's screenshots from the seeded demo into docs/.

Starts its own server on a throwaway SQLite database, seeds the demo, logs in through
the admin login form and captures: desktop light, desktop dark, phone, Kill All dialog.
Usage: .venv/bin/python scripts/screenshots.py  (or: make screenshots)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGE = "/admin/sessions_panel/sessionrecord/"
ACCOUNT_PAGE = "/account/sessions/"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def main() -> None:
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not chromium:
        sys.exit("No Chromium: apt-get install chromium (or set CHROMIUM=/path).")
    workdir = Path(tempfile.mkdtemp(prefix="sp-shots-"))
    env = {
        **os.environ,
        "SQLITE_PATH": str(workdir / "demo.sqlite3"),
        "DJANGO_SETTINGS_MODULE": "sessionadmin.settings",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    manage(env, "migrate", "--noinput")
    out = manage(env, "seed_demo", "--credentials-file", str(workdir / "credentials"))
    password = (workdir / "credentials").read_text().strip()
    assert password in out
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/admin/login/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        DOCS.mkdir(exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=FLAGS)
            shots: list[tuple[str, dict[str, Any], bool]] = [
                (
                    "desktop-light.png",
                    {"viewport": {"width": 1280, "height": 800}, "color_scheme": "light"},
                    False,
                ),
                (
                    "desktop-dark.png",
                    {"viewport": {"width": 1280, "height": 800}, "color_scheme": "dark"},
                    False,
                ),
                ("mobile.png", {**PHONE, "color_scheme": "light"}, False),
                (
                    "kill-all-dialog.png",
                    {"viewport": {"width": 1280, "height": 800}, "color_scheme": "light"},
                    True,
                ),
            ]
            # Log in once and share the cookie, so the list shows one admin session.
            login = browser.new_context(base_url=base)
            page = login.new_page()
            page.goto("/admin/login/?next=" + PAGE)
            page.fill("#id_username", "admin")
            page.fill("#id_password", password)
            page.click("input[type=submit]")
            page.wait_for_url("**" + PAGE)
            state = login.storage_state()
            login.close()
            for name, options, dialog in shots:
                context = browser.new_context(base_url=base, storage_state=state, **options)
                page = context.new_page()
                page.goto(PAGE)
                page.wait_for_load_state("networkidle")
                if dialog:
                    page.click("[data-sp-open=sp-kill-all-dialog]")
                    page.wait_for_selector("#sp-kill-all-dialog[open]")
                page.screenshot(path=str(DOCS / name), full_page=not dialog)
                context.close()
                print("wrote", DOCS / name)
            # "Your sessions", as the admin (any signed-in user) sees their own.
            for name, options in (
                ("your-sessions.png", {"viewport": {"width": 1024, "height": 700}}),
                ("your-sessions-phone.png", dict(PHONE)),
            ):
                context = browser.new_context(base_url=base, storage_state=state, **options)
                page = context.new_page()
                page.goto(ACCOUNT_PAGE)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(DOCS / name), full_page=True)
                context.close()
                print("wrote", DOCS / name)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
