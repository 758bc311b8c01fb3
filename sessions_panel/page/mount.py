"""Where the page lives on a site: its URL names and addresses, which request wants
the results fragment, who may kill, and the list state a request asks for.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from sessions_panel.conf import conf
from sessions_panel.query import listing, liststate, privacy
from sessions_panel.termination import reauth

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

PAGE_TEMPLATE = "sessions_panel/sessions.html"
UPDATE_TEMPLATE = "sessions_panel/update.html"
MORE_TEMPLATE = "sessions_panel/more.html"
ROW_GONE_TEMPLATE = "sessions_panel/row_gone.html"
#: Handles are ``secrets.token_urlsafe`` output; anything else is not worth a query.
HANDLE = re.compile(r"[A-Za-z0-9_-]{1,64}")
REASON_MAX_LENGTH = 500
#: Longer is never a password worth hashing (refused unchecked, as a failure).
PASSWORD_MAX_LENGTH = reauth.PASSWORD_MAX_LENGTH
URL_NAMES = (
    "changelist",
    "kill",
    "kill_user",
    "kill_all",
    "kill_matching",
    "lockdown",
    "lift_lockdown",
)


def url_name(model_admin: ModelAdmin[Any], name: str) -> str:
    opts = model_admin.opts
    return f"{opts.app_label}_{opts.model_name}_{name}"


def panel_urls(model_admin: ModelAdmin[Any]) -> dict[str, str]:
    """The page's URLs on the site that mounts it (a custom ``AdminSite`` too)."""
    site = model_admin.admin_site.name
    return {
        name: reverse(f"{site}:{url_name(model_admin, name)}", current_app=site)
        for name in URL_NAMES
    }


def wants_fragment(request: HttpRequest) -> bool:
    """An htmx swap wants the fragment; boosts and history restores want the page."""
    htmx = getattr(request, "htmx", None)
    if not htmx:
        return False
    return not (htmx.boosted or htmx.history_restore_request)


def can_kill(request: HttpRequest, model_admin: ModelAdmin[Any]) -> bool:
    return model_admin.has_view_permission(request) and bool(
        model_admin.has_delete_permission(request)
    )


def list_state(request: HttpRequest, params: Any) -> liststate.ListState:
    """The list state, narrowed to what the admin may see of IP addresses."""
    state = liststate.ListState.from_params(params, conf.PAGE_SIZE)
    if privacy.can_reveal_ip(request):
        return state
    if state.sort == "ip":
        # A position in the IP order means nothing in another order: start at the top.
        state = replace(state, sort=liststate.SORT_LAST_SEEN, after=None)
    if listing.looks_like_ip_prefix(state.q) and not privacy.prefix_is_visible(state.q):
        notice = _(
            "IP addresses are searched only as far as they are shown to you "
            "(you may not see full addresses)."
        )
        state = replace(state, notice=" ".join(filter(None, [state.notice, notice])))
    return state


def list_url(model_admin: ModelAdmin[Any], state: liststate.ListState) -> str:
    url = panel_urls(model_admin)["changelist"]
    return f"{url}?{state.query}" if state.query else url
