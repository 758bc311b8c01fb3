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


#: A row's start tag: no class (the admin's own row has "sp-current"), its handle.
ROW_START = r'<tr(?: class="sp-current")? data-handle='


def row_html(html: str, handle: str) -> str:
    """The markup of the table row for ``handle`` (empty when absent)."""
    match = re.search(rf'{ROW_START}"{re.escape(handle)}".*?</tr>', html, re.S)
    return match.group(0) if match else ""


def handles_in(html: str) -> list[str]:
    return re.findall(rf'{ROW_START}"([^"]+)"', html)


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


def is_kill(tag: str, attrs: dict[str, str | None]) -> bool:
    """A row's Kill, as the script and the CSS find it: its ``button[name=handle]``."""
    return tag == "button" and attrs.get("name") == "handle"


def kill_button(row: str) -> dict[str, str | None] | None:
    """The attributes of a row's Kill button (``None`` when the row has none): a submit
    button of the list's kill form, posting the row's handle."""
    buttons = [attrs for tag, attrs in parse_tags(row).tags if is_kill(tag, attrs)]
    assert len(buttons) <= 1, buttons
    return buttons[0] if buttons else None


class _RowCells(HTMLParser):
    """What the Kill dialog is filled from, per row, read as ``sessions_panel.js`` reads it:
    the text of the row's cells (unescaped, as ``textContent``), never data attributes.

    The cells carry no classes: the application is the row's second ``<td>``
    (``:scope > td:nth-child(2)``), as the script and the CSS find it; the browser is the
    third line (``<div>``) of the first cell, as the CSS finds it."""

    #: Fields found by a chain of classes (``".sp-ip .sp-ip-value"``): the first match.
    FIELDS = {
        "user": ("sp-username",),
        "ip": ("sp-ip", "sp-ip-value"),
        "short-id": ("sp-short-id",),
    }
    #: Fields that are the text of the row's Nth cell (1-based, as ``nth-child``).
    CELLS = {"application": 2}
    #: Fields that are the text of the Nth ``<div>`` of a cell: (cell, div), 1-based.
    LINES = {"browser": (1, 3)}
    #: A control's role in its row, as ``roleInRow`` in the script finds it: by what it is.
    ROLES = {("a", "sp-username"): "user", ("button", "sp-ip"): "ip"}
    VOID = {"input", "br", "img", "meta", "link", "hr", "wbr", "source", "col"}

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, Any]] = {}
        self._row: dict[str, Any] | None = None
        self._stack: list[tuple[str, set[str]]] = []
        self._cell = 0
        self._divs = 0
        self._flag: str | None = None

    def _inside(self, *classes: str) -> bool:
        """Whether the open elements hold ``classes`` as a descendant chain."""
        wanted = list(classes)
        for _, have in self._stack:
            if wanted and wanted[0] in have:
                wanted.pop(0)
        return not wanted

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        classes = set((values.get("class") or "").split())
        if tag == "tr" and "data-handle" in values:
            self._row = {
                "handle": values["data-handle"],
                "current": "sp-current" in classes,
                "user_href": None,
                "kill": None,
                "focus": ["row"],
                "cells": 0,
                **dict.fromkeys(self.FIELDS),
                **dict.fromkeys(self.CELLS),
                **dict.fromkeys(self.LINES),
            }
            self.rows[str(values["data-handle"])] = self._row
            self._stack, self._cell, self._flag, self._divs = [], 0, None, 0
            return
        if self._row is None:
            return
        if tag == "td" and not self._stack:  # a cell of the row itself
            self._cell += 1
            self._divs = 0
            self._row["cells"] = self._cell
            for name, position in self.CELLS.items():
                if position == self._cell:
                    self._row[name] = ""
                    classes = classes | {f"sp-field-{name}"}
        if tag == "div" and len(self._stack) == 1:  # a line of a cell
            self._divs += 1
            for name, place in self.LINES.items():
                if place == (self._cell, self._divs):
                    self._row[name] = ""
                    classes = classes | {f"sp-field-{name}"}
        for (role_tag, role_class), role in self.ROLES.items():
            if tag == role_tag and role_class in classes:
                self._row["focus"].append(role)
        if is_kill(tag, values):
            self._row["focus"].append("kill")
            self._row["kill"] = values
        if tag == "li" and "data-sp-flag" in values:
            self._flag = values["data-sp-flag"]
        if tag == "summary" and self._flag is not None:
            self._row["focus"].append(f"flag-{self._flag}")
        if tag == "a" and "sp-username" in classes and self._row["user_href"] is None:
            self._row["user_href"] = values.get("href")
        if tag not in self.VOID:
            self._stack.append((tag, classes))
            for name, chain in self.FIELDS.items():
                # The first match, as querySelector: an element that opens the chain.
                if self._row[name] is None and chain[-1] in classes and self._inside(*chain):
                    self._row[name] = ""
                    self._stack[-1] = (
                        self._stack[-1][0],
                        self._stack[-1][1] | {f"sp-field-{name}"},
                    )

    def handle_endtag(self, tag: str) -> None:
        if self._row is None:
            return
        if tag == "tr":
            self._row, self._stack = None, []
            return
        if tag == "li":
            self._flag = None
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == tag:
                del self._stack[index:]
                break

    def handle_data(self, data: str) -> None:
        if self._row is None:
            return
        for _, classes in self._stack:
            for name in (*self.FIELDS, *self.CELLS, *self.LINES):
                if f"sp-field-{name}" in classes:
                    self._row[name] += data


def row_cells(html: str) -> dict[str, dict[str, Any]]:
    """Per handle, what the Kill dialog shows of that row (``sessions_panel.js``
    ``openKillDialog``): ``user``, ``application`` (the second cell; "" for "—"), ``ip``
    (as shown, "" when unknown), ``short-id``, ``current``, ``authenticated`` (the
    username is a link), ``user_href``; and the row's ``browser`` text, ``kill`` button
    (its attributes), number of ``cells``, and the ``focus`` roles its controls have for
    the script (``roleInRow``: "row", "user", "ip", "kill", "flag-CODE")."""
    parser = _RowCells()
    parser.feed(html)
    parser.close()
    for row in parser.rows.values():
        for name in (*parser.FIELDS, *parser.CELLS, *parser.LINES):
            row[name] = (row[name] or "").strip()
        if row["application"] == "\u2014":
            row["application"] = ""
        row["authenticated"] = row["user_href"] is not None
    return parser.rows
