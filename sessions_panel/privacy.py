"""Who may see full IP addresses, and what everyone else sees instead.

Without the ``reveal_ip`` permission the server never sends a full address: the page
gets a masked value (the network part only), so nothing in the HTML, the dialogs or
the data attributes can be "revealed". Search by IP prefix stays available up to the
part the mask shows, so it cannot be used as an oracle for the hidden part.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.http import HttpRequest

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
