"""Helpers shared by the Sessions page tests (``test_page_*.py``)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from sessions_panel.models import SessionRecord
from tests.keys import indexed

HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


def page_url() -> str:
    return reverse("admin:sessions_panel_sessionrecord_changelist")


def action_url(name: str) -> str:
    return reverse(f"admin:sessions_panel_sessionrecord_{name}")


def make_staff(django_user_model: Any, username: str, *perms: str) -> Any:
    """A staff user with the given ``sessions_panel`` permission codenames."""
    user = django_user_model.objects.create_user(username, password="pw", is_staff=True)
    for codename in perms:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="sessions_panel", codename=codename)
        )
    return user


def logged_in(user: Any, **client_kwargs: Any) -> Client:
    client = Client(**client_kwargs)
    client.force_login(user)
    return client


def own_record(client: Client) -> SessionRecord:
    return SessionRecord.objects.get(session_key=indexed(client.session))


def body(response: Any) -> str:
    return str(response.content.decode())


def row_html(html: str, handle: str) -> str:
    """The markup of the table row for ``handle`` (empty when absent)."""
    match = re.search(
        rf'<tr class="sp-row[^"]*" data-handle="{re.escape(handle)}".*?</tr>',
        html,
        re.S,
    )
    return match.group(0) if match else ""


def handles_in(html: str) -> list[str]:
    return re.findall(r'<tr class="sp-row[^"]*" data-handle="([^"]+)"', html)


class Tags(HTMLParser):
    """Every start tag with its attributes, to check what a page contains."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.script_text.append(data)


def parse_tags(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    parser.close()
    return parser
