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
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from sessions_panel.query.listing import Row


def escape(value: Any) -> str:
    """Django's ``escape`` (``html.escape`` with quotes) without the ``SafeString`` cost."""
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class Labels:
    """The row labels in the active language, translated and escaped once per page."""

    only_user: str
    session_id: str
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
    toggle_title: str
    ip_address: str
    ip_hidden: str
    unknown_ip: str
    kill: str
    logs_you_out: str
    #: Not escaped: formatted with the row's values first, then escaped whole.
    expires_in: str
    kill_own: str
    kill_other: str
    only_superusers: str
    superuser_only: str
    #: Escaped, with ``%(time)s`` left for the ``<time>`` element.
    idle_out: str
    lifetime_end: str

    @classmethod
    def current(cls) -> Labels:
        return cls(
            only_user=escape(_("Show only the sessions of this user")),
            session_id=escape(_("Session ID")),
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
            toggle_title=escape(_("Show or hide the IP address")),
            ip_address=escape(_("IP address")),
            ip_hidden=escape(_("hidden, press to show")),
            unknown_ip=escape(_("Unknown")),
            kill=escape(_("Kill")),
            logs_you_out=escape(_("Logs you out")),
            expires_in=_("in %(delta)s"),
            kill_own=_("Kill session %(id)s, your own session"),
            kill_other=_("Kill session %(id)s of %(user)s"),
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


def _local(value: datetime) -> datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


def _moment(value: datetime, today: Any) -> str:
    """A ``<time>`` element: the clock time today, else the short date and time."""
    local = _local(value)
    text = (
        localized_date(local, "TIME_FORMAT")
        if local.date() == today
        else localized_date(local, "SHORT_DATETIME_FORMAT")
    )
    return (
        f'<time datetime="{escape(date_format(local, "c"))}" '
        f'title="{escape(localized_date(local, "DATETIME_FORMAT"))}">{escape(text)}</time>'
    )


def _policy_ends(row: Row, labels: Labels, today: Any) -> str:
    """When a session policy ends the session, if before its expiry: a moment, never a
    countdown, so the row stays the same while time passes (``freshness``)."""
    parts = [
        f'\n      <span class="sp-policy-end sp-policy-{kind}">'
        f"{label % {'time': _moment(moment, today)}}</span>"
        for kind, moment, label in (
            ("idle", row.idle_out, labels.idle_out),
            ("lifetime", row.lifetime_end, labels.lifetime_end),
        )
        if moment is not None and moment < row.expiry
    ]
    return "".join(parts)


def _user_cell(row: Row, labels: Labels, changelist_url: str) -> str:
    if row.is_authenticated:
        user_param = escape(quote(str(row.user_id), safe="/"))
        name = (
            f'<span class="sp-username"><a href="{changelist_url}?user={user_param}" '
            f'data-sp-focus="{escape(row.handle)}:user" '
            f'title="{labels.only_user}">{escape(row.user_label)}</a></span>'
        )
    else:
        name = f'<span class="sp-username sp-guest">{escape(row.user_label)}</span>'
    full_name = f'<span class="sp-fullname">{escape(row.full_name)}</span>' if row.full_name else ""
    this = f'<span class="sp-this">{labels.this_session}</span>' if row.is_current else ""
    title = f' title="{escape(row.user_agent)}"' if row.user_agent else ""
    browser = escape(row.browser) if row.browser else labels.unknown_browser
    flags = ""
    if row.flags:
        # A disclosure, not a tooltip: a ``title`` is out of reach by touch and keyboard,
        # and a title plus hidden text was read twice. The label is read once, "collapsed";
        # opened, the reason follows it.
        handle = escape(row.handle)
        items = "".join(
            f'\n        <li class="sp-flag sp-flag-{escape(flag.code)}" '
            f'data-sp-flag="{escape(flag.code)}"><details><summary '
            f'data-sp-focus="{handle}:flag-{escape(flag.code)}">{escape(flag.label)}</summary>'
            f'<span class="sp-flag-why">{escape(flag.why)}</span></details></li>'
            for flag in row.flags
        )
        flags = f'<ul class="sp-flags" aria-label="{labels.risk_flags}">{items}\n      </ul>'
    return (
        f'<td class="sp-cell-user">\n      <div class="sp-user">\n        {name}\n'
        f"        {full_name}\n      </div>\n"
        f'      <div class="sp-meta">\n        <span class="sp-short-id" title="'
        f'{labels.session_id}">{escape(row.short_id)}</span>\n        {this}\n'
        f"      </div>\n"
        f'      <div class="sp-browser"{title}>{browser}</div>\n      {flags}\n    </td>'
    )


def _ip_cell(row: Row, labels: Labels) -> str:
    if row.ip_masked:
        return (
            f'<span class="sp-ip sp-ip-masked" title="{labels.masked_title}">'
            f'<span class="sp-visually-hidden">{labels.masked} </span>'
            f'<span class="sp-ip-value">{escape(row.ip)}</span></span>'
        )
    if row.ip:
        handle = escape(row.handle)
        return (
            f'<button type="button" class="sp-ip" aria-pressed="false" data-handle="{handle}" '
            f'data-sp-focus="{handle}:ip"\n        title="{labels.toggle_title}">'
            f'<span class="sp-visually-hidden">{labels.ip_address} </span>'
            f'<span class="sp-visually-hidden sp-ip-hidden">{labels.ip_hidden}</span>'
            f'<span class="sp-ip-value" aria-hidden="true">{escape(row.ip)}</span></button>'
        )
    return f'<span class="sp-ip sp-ip-unknown">{labels.unknown_ip}</span>'


def _action_cell(
    row: Row, labels: Labels, action: str, csrf_input: str, changelist_url: str
) -> str:
    # The user's own view, for the Kill dialog's link: ending all of their sessions is a
    # step of its own there, never a second button in this dialog's form.
    # The row's IP is blurred until its badge is pressed: the dialog hides it likewise.
    ip_toggle = ' data-ip-toggle="true"' if row.ip and not row.ip_masked else ""
    user_url = (
        f' data-user-url="{changelist_url}?user={escape(quote(str(row.user_id), safe="/"))}"'
        if row.is_authenticated
        else ""
    )
    if row.is_current:
        aria = labels.kill_own % {"id": row.short_id}
        note = f'\n        <span class="sp-own-note">{labels.logs_you_out}</span>'
    else:
        aria = labels.kill_other % {"id": row.short_id, "user": row.user_label}
        note = ""
    handle = escape(row.handle)
    return (
        f'<td class="sp-cell-action">\n      <form method="post" action="{action}" '
        f'class="sp-kill-form"\n'
        f'            data-user="{escape(row.user_label)}" '
        f'data-application="{escape(row.application)}" data-ip="{escape(row.ip or "")}"\n'
        f'            data-short-id="{escape(row.short_id)}" '
        f'data-current="{"true" if row.is_current else "false"}"\n'
        f'            data-authenticated="{"true" if row.is_authenticated else "false"}"'
        f"{user_url}{ip_toggle}>\n"
        f"        {csrf_input}\n"
        f'        <input type="hidden" name="handle" value="{handle}">\n'
        f'        <button type="submit" class="sp-button sp-danger" data-sp-focus="{handle}:kill" '
        f'aria-haspopup="dialog"\n                aria-label="{escape(aria)}">{labels.kill}'
        f"</button>{note}\n      </form>\n    </td>"
    )


def render_rows(
    rows: Iterable[Row],
    *,
    changelist_url: str,
    kill_url: str | None,
    csrf_token: str = "",
    superusers_protected: bool = False,
) -> SafeString:
    """The ``<tr>`` of each row; ``kill_url`` ``None`` leaves out the Kill column.

    ``superusers_protected``: the viewer may not end superusers' sessions, so a
    superuser's row says so where its Kill button would be (the view refuses anyway).
    """
    labels = Labels.current()
    changelist = escape(changelist_url)
    status = {
        True: f'<span class="sp-status sp-status-auth">{labels.authenticated}</span>',
        False: f'<span class="sp-status sp-status-guest">{labels.guest}</span>',
    }
    csrf_input = (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(csrf_token)}">'
        if csrf_token
        else ""
    )
    action = escape(kill_url) if kill_url is not None else ""
    parts: list[str] = []
    today = _local(timezone.now()).date()
    for row in rows:
        expiry = _local(row.expiry)
        handle = escape(row.handle)
        action_cell = (
            "\n    " + _action_cell(row, labels, action, csrf_input, changelist)
            if kill_url is not None
            else ""
        )
        if kill_url is not None and superusers_protected and row.is_superuser:
            action_cell = (
                f'\n    <td class="sp-cell-action"><span class="sp-protected" '
                f'title="{labels.only_superusers}"><span aria-hidden="true">'
                f"{labels.superuser_only}</span>"
                f'<span class="sp-visually-hidden">{labels.only_superusers}</span></span></td>'
            )
        expires_in = escape(labels.expires_in % {"delta": row.expires_in})
        # When, not how long ago: "5 minutes ago" would change every minute on every
        # row, and the live refresh could never answer "unchanged" (freshness.py).
        seen = _local(row.last_seen)
        seen_text = escape(
            localized_date(seen, "TIME_FORMAT")
            if seen.date() == today
            else localized_date(seen, "SHORT_DATETIME_FORMAT")
        )
        parts.append(
            f'\n  <tr class="sp-row{" sp-current" if row.is_current else ""}" '
            f'data-handle="{handle}" data-sp-focus="{handle}:row" '
            f'tabindex="-1">\n    {_user_cell(row, labels, changelist)}\n'
            f'    <td class="sp-cell-app" data-label="{labels.application}">'
            f"{escape(row.application or '—')}</td>\n"
            f'    <td class="sp-cell-seen" data-label="{labels.last_seen}">'
            f'<time datetime="{escape(date_format(seen, "c"))}" '
            f'title="{escape(localized_date(seen, "DATETIME_FORMAT"))}">{seen_text}</time></td>\n'
            f'    <td class="sp-cell-expires" data-label="{labels.expires}">\n'
            f'      <time datetime="{escape(date_format(expiry, "c"))}">'
            f"{escape(localized_date(expiry, 'DATETIME_FORMAT'))}</time>\n"
            f'      <span class="sp-relative">{expires_in}</span>{_policy_ends(row, labels, today)}'
            "\n    </td>\n"
            f'    <td class="sp-cell-status">{status[row.is_authenticated]}</td>\n'
            # An IPv4 address stays whole; a long IPv6 one may break (see the CSS).
            f'    <td class="sp-cell-ip{" sp-ip-v4" if row.ip and ":" not in row.ip else ""}">'
            f"{_ip_cell(row, labels)}</td>{action_cell}\n  </tr>"
        )
    # Safe: every value was escaped above.
    return mark_safe("".join(parts) + "\n")


def context_rows(context: Any, rows: Iterable[Row]) -> SafeString:
    """:func:`render_rows` with what a page's template context holds."""
    urls = context.get("urls") or {}
    state = context.get("state")
    kill_url = None
    if context.get("can_kill"):
        query = getattr(state, "query", "")
        kill_url = f"{urls['kill']}?{query}" if query else urls["kill"]
    token = str(context.get("csrf_token") or "")
    return render_rows(
        rows,
        changelist_url=urls.get("changelist", ""),
        kill_url=kill_url,
        csrf_token="" if token == "NOTPROVIDED" else token,  # as {% csrf_token %} does
        superusers_protected=bool(context.get("superusers_protected")),
    )
