"""Who may see full IP addresses, and what everyone else sees instead.

Without the ``reveal_ip`` permission the server never sends a full address: the page
gets a masked value (the network part only), so nothing in the HTML, the dialogs or
the data attributes can be "revealed". Search by IP prefix stays available up to the
part the mask shows, so it cannot be used as an oracle for the hidden part. The audit
trail masks the same way (:func:`mask_search`, :func:`mask_ips_in_text`).

Who may see which users' names: every user with a live session is on the page with
their name; any other account is named only to staff with the ``view`` permission on
the user model (:func:`can_view_users`), and is "User #N" to everyone else
(:func:`user_label`), so that ``?user=N`` cannot list every account.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.utils.translation import gettext as _

from sessions_panel.models import SessionRecord

#: What stands for a hidden group of an address.
HIDDEN = "•••"
#: Groups of an address shown to users without the permission (IPv4 octets, IPv6 hextets).
VISIBLE_GROUPS = 2


def reveal_permission() -> str:
    opts = SessionRecord._meta
    return f"{opts.app_label}.reveal_ip"


def can_reveal_ip(request: HttpRequest) -> bool:
    user: Any = getattr(request, "user", None)
    return bool(user is not None and user.has_perm(reveal_permission()))


def view_users_permission() -> str:
    """The ``view`` permission on ``AUTH_USER_MODEL``, whatever app defines it."""
    opts = get_user_model()._meta
    return f"{opts.app_label}.view_{opts.model_name}"


def can_view_users(request: HttpRequest) -> bool:
    """Whether the admin may see any account's name, with or without sessions.

    Answered from the permission cache the admin's own checks have filled by then: no
    query of its own on the page.
    """
    user: Any = getattr(request, "user", None)
    return bool(user is not None and user.has_perm(view_users_permission()))


def user_label(pk: Any) -> str:
    """What stands for an account the admin may not see by name: it says no more than
    the id the admin already has (and the same whether the account exists or not)."""
    return _("User #%(id)s") % {"id": pk}


def mask_ip(address: str | None) -> str | None:
    """``198.51.100.7`` → ``198.51.•••.•••``; ``2001:db8::1`` → ``2001:db8:•••``."""
    if not address:
        return address
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return HIDDEN
    if parsed.version == 4:
        octets = str(parsed).split(".")
        return ".".join(octets[:VISIBLE_GROUPS] + [HIDDEN] * (4 - VISIBLE_GROUPS))
    hextets = [group.lstrip("0") or "0" for group in parsed.exploded.split(":")]
    return ":".join(hextets[:VISIBLE_GROUPS] + [HIDDEN])


def prefix_is_visible(needle: str) -> bool:
    """Whether an IP-prefix search reveals nothing beyond what :func:`mask_ip` shows."""
    if "::" in needle:
        return False  # "2001::" would tell that the hidden groups are zeros
    separator = ":" if ":" in needle else "."
    parts = needle.split(separator)
    return len(parts) <= VISIBLE_GROUPS or (len(parts) == VISIBLE_GROUPS + 1 and parts[-1] == "")


# Runs of what an address is written with: candidates for :func:`mask_ips_in_text`.
_ADDRESS_RUN = re.compile(r"[0-9A-Fa-f.:]*[.:][0-9A-Fa-f.:]*")
_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def _parses(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if _parses(run):
        return str(mask_ip(run))
    core = run.strip(".:")  # "…at 192.0.2.1." or "ip:192.0.2.1"
    if core and _parses(core):
        start = run.index(core)
        return run[:start] + str(mask_ip(core)) + run[start + len(core) :]
    # Glued to other hex digits or colons: any dotted quad inside still goes.
    return _DOTTED_QUAD.sub(
        lambda quad: str(mask_ip(quad.group(0))) if _parses(quad.group(0)) else quad.group(0),
        run,
    )


def mask_ips_in_text(text: str) -> str:
    """``text`` with every IP address in it as :func:`mask_ip` shows it.

    For free text (audit details written before filters were kept as data): whatever
    parses as an address is masked; numbers, times and versions that do not are left.
    """
    return _ADDRESS_RUN.sub(_mask_run, text)


def mask_search(text: str) -> str:
    """A search text (or an IP filter) as far as a viewer without ``reveal_ip`` may
    see it: what it says of an address stops where :func:`mask_ip` stops.

    A whole address is masked as the page masks it; a prefix longer than the mask
    (``192.0.2``, ``2001:db8:85a3``) keeps its visible groups (``192.0.•••``), since a
    search by it tells the hidden part of the addresses it found. Other text keeps
    everything but the addresses in it.
    """
    if not _ADDRESS_RUN.fullmatch(text):
        return mask_ips_in_text(text)
    if _parses(text):
        return str(mask_ip(text))
    if "." in text and ":" in text:
        return HIDDEN  # neither an address nor a prefix the page would search by
    if prefix_is_visible(text):
        return text
    separator = ":" if ":" in text else "."
    groups = text.split(separator)[:VISIBLE_GROUPS]
    if "" in groups:  # "2001::…": compression, the groups after it are not known
        groups = groups[: groups.index("")]
    return separator.join([*groups, HIDDEN])
