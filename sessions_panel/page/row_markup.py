"""The HTML of the list's rows, built in Python.

A row holds some forty values and a dozen translated labels. Through the template
engine a 50-row page cost ~30 ms and the live refresh of 1,000 loaded rows ~0.5 s (each
variable, filter and ``{% translate %}`` is a node resolved per row); here the labels
are translated once per page and each row is one format string, about ten times
faster. Every value goes through :func:`escape`, which is what autoescaping applies.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.formats import date_format as localized_date
from django.utils.formats import get_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from sessions_panel.query.listing import Row


def escape(value: Any) -> str:
    """Django's ``escape`` (``html.escape`` with quotes) without the ``SafeString`` cost."""
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class Labels:
    """The row labels in the active language, translated and escaped once per page."""

    this_session: str
    unknown_browser: str
    risk_flags: str
    application: str
    last_seen: str
    expires: str
    authenticated: str
    guest: str
    masked_title: str
    masked: str
    unknown_ip: str
    kill: str
    logs_you_out: str
    #: Not escaped: formatted with the row's values first, then escaped whole.
    expires_in: str
    only_superusers: str
    superuser_only: str
    #: Escaped, with ``%(time)s`` left for the ``<time>`` element.
    idle_out: str
    lifetime_end: str

    @classmethod
    def current(cls) -> Labels:
        return cls(
            this_session=escape(_("This session")),
            unknown_browser=escape(_("Unknown browser")),
            risk_flags=escape(_("Risk flags")),
            application=escape(_("Application")),
            last_seen=escape(_("Last seen")),
            expires=escape(_("Expires")),
            authenticated=escape(_("Authenticated")),
            guest=escape(_("Guest")),
            masked_title=escape(_("Masked: you may not see full IP addresses")),
            masked=escape(_("IP address, masked")),
            unknown_ip=escape(_("Unknown")),
            kill=escape(_("Kill")),
            logs_you_out=escape(_("Logs you out")),
            expires_in=_("in %(delta)s"),
            only_superusers=escape(_("Only a superuser can end this session.")),
            # Short, where the Kill button would be: the sentence above is read out.
            superuser_only=escape(_("Superuser only")),
            # Translators: in the Expires cell, when IDLE_TIMEOUT ends the session unless
            # it is used again before then; %(time)s is a clock time or a date and time.
            idle_out=escape(_("idle-out %(time)s")),
            # Translators: in the Expires cell, when ABSOLUTE_LIFETIME ends the session
            # (a fixed time after its login); %(time)s is a clock time or a date and time.
            lifetime_end=escape(_("lifetime ends %(time)s")),
        )


#: Format characters that show more than the minute (seconds, their fractions, or a
#: whole timestamp): a format holding one is worked out for each value.
_FINER_THAN_MINUTES = frozenset("sucrvU")


class _DateTexts:
    """Localized date texts for one page, each worked out once per minute it shows.

    Django's ``date_format`` parses the format and translates month and "p.m." names
    on every call: two or three per row, a sixth of a page's time. The rows of page 1
    were mostly seen in the same few minutes, and a format without seconds says the
    same for every moment of a minute (the escape ``\\s`` counts as seconds here: a
    miss, never a wrong text).
    """

    def __init__(self) -> None:
        self._texts: dict[tuple[str, datetime], str] = {}
        self._exact: dict[str, bool] = {}

    def __call__(self, value: datetime, name: str) -> str:
        exact = self._exact.get(name)
        if exact is None:
            exact = self._exact[name] = bool(_FINER_THAN_MINUTES & set(get_format(name)))
        key = (name, value if exact else value.replace(second=0, microsecond=0))
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = localized_date(value, name)
        return text


def _local(value: datetime) -> datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


def _moment(value: datetime, today: Any, dates: _DateTexts) -> str:
    """A ``<time>`` element: the clock time today, else the short date and time."""
    local = _local(value)
    text = dates(local, "TIME_FORMAT" if local.date() == today else "SHORT_DATETIME_FORMAT")
    return (
        f'<time datetime="{escape(date_format(local, "c"))}" '
        f'title="{escape(dates(local, "DATETIME_FORMAT"))}">{escape(text)}</time>'
    )


def _policy_ends(row: Row, labels: Labels, today: Any, dates: _DateTexts) -> str:
    """When a session policy ends the session, if before its expiry: a moment, never a
    countdown, so the row stays the same while time passes (``freshness``)."""
    parts = [
        f' <span class="sp-policy-end sp-policy-{kind}">'
        f"{label % {'time': _moment(moment, today, dates)}}</span>"
        for kind, moment, label in (
            ("idle", row.idle_out, labels.idle_out),
            ("lifetime", row.lifetime_end, labels.lifetime_end),
        )
        if moment is not None and moment < row.expiry
    ]
    return "".join(parts)


def _user_cell(row: Row, labels: Labels) -> str:
    if row.is_authenticated:
        # A query alone: the list's own address with only this user's filter.
        user_param = escape(quote(str(row.user_id), safe="/"))
        name = f'<a class="sp-username" href="?user={user_param}">{escape(row.user_label)}</a>'
    else:
        name = f'<span class="sp-username sp-guest">{escape(row.user_label)}</span>'
    full_name = (
        f' <span class="sp-fullname">{escape(row.full_name)}</span>' if row.full_name else ""
    )
    this = f' <span class="sp-this">{labels.this_session}</span>' if row.is_current else ""
    browser = escape(row.browser) if row.browser else labels.unknown_browser
    flags = ""
    if row.flags:
        # A reason is a disclosure, not a tooltip: a ``title`` is out of reach by touch and
        # keyboard, and a title plus hidden text was read twice. The label is read once,
        # "collapsed"; opened, the reason follows it. A flag without a reason (its label
        # says it all) is its label alone.
        items = "".join(
            f'<li data-sp-flag="{escape(flag.code)}"><details><summary>'
            f"{escape(flag.label)}</summary>{escape(flag.why)}</details></li>"
            if flag.why
            else f'<li data-sp-flag="{escape(flag.code)}">{escape(flag.label)}</li>'
            for flag in row.flags
        )
        flags = f'<ul class="sp-flags" aria-label="{labels.risk_flags}">{items}</ul>'
    # Three lines, known by place in the CSS (no class, some fifty bytes a row): the
    # user, the session (short ID, "This session"), the browser; then the flags.
    return (
        f"<td><div>{name}{full_name}</div>"
        f'<div><span class="sp-short-id">{escape(row.short_id)}</span>{this}'
        f"</div><div>{browser}</div>{flags}</td>"
    )


def _ip_cell(row: Row, labels: Labels) -> str:
    if row.ip_masked:
        return (
            f'<span class="sp-ip sp-ip-masked" title="{labels.masked_title}">'
            f'<span class="sp-visually-hidden">{labels.masked} </span>'
            f'<span class="sp-ip-value">{escape(row.ip)}</span></span>'
        )
    if row.ip:
        # Blurred until pressed (the CSS); the script makes it a toggle, named by the
        # list's one label while blurred ("IP address, hidden…") and by its value once
        # revealed: attributes it sets on every badge after each swap anyway.
        return (
            f'<button type="button" class="sp-ip"><span class="sp-ip-value">'
            f"{escape(row.ip)}</span></button>"
        )
    return f'<span class="sp-ip sp-ip-unknown">{labels.unknown_ip}</span>'


def _action_cell(row: Row, labels: Labels) -> str:
    """The row's Kill button: it submits the list's one kill form (``#sp-kill-form`` in
    ``results.html``), which holds the CSRF token once for every row and the table itself
    (so the button names no form). With JavaScript it opens a dialog first, which reads
    what it shows (user, application, IP, session ID) from the row's own cells; the
    script also names it ("Kill session 1a2b3c4d of alice", from the form's
    :func:`kill_label_attributes`) and says it opens a dialog. No class: the CSS and the
    script know it as the row's one ``button[name=handle]``."""
    note = f' <span class="sp-own-note">{labels.logs_you_out}</span>' if row.is_current else ""
    return (
        f'<td><button name="handle" value="{escape(row.handle)}">{labels.kill}</button>{note}</td>'
    )


def kill_label_attributes() -> SafeString:
    """The kill form's ``data-label-own`` and ``data-label-other``: the formats of a
    row's Kill button's name, translated once for the list."""
    own = _("Kill session %(id)s, your own session")
    other = _("Kill session %(id)s of %(user)s")
    return mark_safe(f'data-label-own="{escape(own)}" data-label-other="{escape(other)}"')


#: The IP cell's class for an IPv4 address.
V4 = ' class="sp-ip-v4"'
#: The class of the admin's own row.
CURRENT = ' class="sp-current"'


def render_rows(
    rows: Iterable[Row],
    *,
    can_kill: bool,
    superusers_protected: bool = False,
) -> SafeString:
    """The ``<tr>`` of each row; without ``can_kill`` there is no Kill column.

    ``superusers_protected``: the viewer may not end superusers' sessions, so a
    superuser's row says so where its Kill button would be (the view refuses anyway).

    Under 1 KB a row: the kill form, its CSRF token and the dialog's data are the
    list's, once, not each row's; the handle is written twice (the row and its Kill
    button's value), and what focus returns to is named by role within the row. The
    rows and their Kill buttons carry no class: the CSS and the script know them by
    place (``tr[data-handle]``, ``button[name=handle]``), fifteen bytes each a row.
    """
    labels = Labels.current()
    status = {
        True: f'<span class="sp-status-auth">{labels.authenticated}</span>',
        False: f'<span class="sp-status-guest">{labels.guest}</span>',
    }
    protected_cell = (
        f'<td><span class="sp-protected" '
        f'title="{labels.only_superusers}"><span aria-hidden="true">'
        f"{labels.superuser_only}</span>"
        f'<span class="sp-visually-hidden">{labels.only_superusers}</span></span></td>'
    )
    parts: list[str] = []
    today = _local(timezone.now()).date()
    dates = _DateTexts()
    for row in rows:
        expiry = _local(row.expiry)
        if not can_kill:
            action_cell = ""
        elif superusers_protected and row.is_superuser:
            action_cell = protected_cell
        else:
            action_cell = _action_cell(row, labels)
        expires_in = escape(labels.expires_in % {"delta": row.expires_in})
        # When, not how long ago: "5 minutes ago" would change every minute on every
        # row, and the live refresh could never answer "unchanged" (freshness.py).
        seen = _local(row.last_seen)
        seen_text = escape(
            dates(seen, "TIME_FORMAT" if seen.date() == today else "SHORT_DATETIME_FORMAT")
        )
        parts.append(
            f'<tr{CURRENT if row.is_current else ""} data-handle="{escape(row.handle)}">'
            f"{_user_cell(row, labels)}"
            f'<td data-label="{labels.application}">'
            f"{escape(row.application or '—')}</td>"
            f'<td data-label="{labels.last_seen}">{seen_text}</td>'
            # The expiry, then how far off it is (known by place in the CSS), then the
            # policy ends, if any.
            f'<td data-label="{labels.expires}">'
            f"<span>{escape(dates(expiry, 'DATETIME_FORMAT'))}</span> "
            f"<span>{expires_in}</span>{_policy_ends(row, labels, today, dates)}"
            "</td>"
            f"<td>{status[row.is_authenticated]}</td>"
            # An IPv4 address stays whole; a long IPv6 one may break (see the CSS).
            f"<td{V4 if row.ip and ':' not in row.ip else ''}>"
            f"{_ip_cell(row, labels)}</td>{action_cell}</tr>\n"
        )
    # Safe: every value was escaped above.
    return mark_safe("".join(parts))


def context_rows(context: Any, rows: Iterable[Row]) -> SafeString:
    """:func:`render_rows` with what a page's template context holds."""
    return render_rows(
        rows,
        can_kill=bool(context.get("can_kill")),
        superusers_protected=bool(context.get("superusers_protected")),
    )
