"""Risk flags: why a session deserves a second look.

Each flag is computed for a page of rows with a fixed number of indexed queries
(never one per row), and each can filter the list (:func:`filter_rows`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sessions_panel.conf import conf
from sessions_panel.models import Lockdown, SeenAddress, SessionRecord
from sessions_panel.tracking import policies

MULTIPLE = "multiple"
NEW_IP = "new-ip"
SWARM = "swarm"
CHANGED = "changed"
AT_CAP = "at-cap"
#: The user is locked down (no filter chip: a lockdown ends the user's sessions, so
#: this marks only what is left of them, e.g. after a store fault).
LOCKED = "locked"

LABELS = {
    MULTIPLE: _("Multiple sessions"),
    NEW_IP: _("New IP"),
    SWARM: _("Guest swarm"),
    CHANGED: _("IP or browser changed"),
    AT_CAP: _("Session limit reached"),
}

LOCKED_LABEL = _("Locked down")

# A session notes its address when it is created; this much slack covers the gap.
_SLACK = timedelta(seconds=5)


@dataclass(frozen=True)
class Flag:
    code: str
    label: str
    #: What the label alone does not say (a disclosure on the page); empty when the
    #: label says it all ("Multiple sessions (3)"), and the flag is written as its label.
    why: str = ""


def flags_for(rows: Sequence[SessionRecord]) -> dict[int, list[Flag]]:
    """The flags of each row (by primary key), in three queries whatever the page size."""
    live = SessionRecord.objects.live()
    user_ids = {r.user_id for r in rows if r.user_id is not None}
    guest_ips = {r.ip for r in rows if r.user_id is None and r.ip}
    pairs = {(r.user_id, r.ip) for r in rows if r.user_id is not None and r.ip}

    per_user: dict[Any, int] = {}
    locked: set[Any] = set()
    first_seen: dict[tuple[Any, str], Any] = {}
    history_start: dict[Any, Any] = {}
    if user_ids:
        # With each user's count, whether they are locked down (in the same query).
        lockdown = Lockdown.objects.in_force().filter(
            scope=Lockdown.USER, user_id=OuterRef("user_id")
        )
        for user_id, n, is_locked in (
            live.filter(user_id__in=user_ids)
            .values_list("user_id")
            .annotate(n=Count("pk"), locked=Exists(lockdown))
            .values_list("user_id", "n", "locked")
        ):
            per_user[user_id] = n
            if is_locked:
                locked.add(user_id)
        # Every address of these users, in one query on the user index: both when each
        # address was first seen and where each user's history starts. (Filtering on
        # "ip IN (...)" as well made the database probe every user × address pair:
        # 120 ms for 1,000 rows.)
        for user_id, ip, first in SeenAddress.objects.filter(user_id__in=user_ids).values_list(
            "user_id", "ip", "first_seen"
        ):
            if (user_id, ip) in pairs:
                first_seen[(user_id, ip)] = first
            earliest = history_start.get(user_id)
            if earliest is None or first < earliest:
                history_start[user_id] = first
    per_ip: dict[str | None, int] = {}
    if guest_ips:
        # Guests are counted in the aggregate, not the WHERE: "user_id IS NULL" there
        # lures the planner onto the (user, last_seen) index and every guest row.
        per_ip = dict(
            live.filter(ip__in=guest_ips)
            .values_list("ip")
            .annotate(n=Count("pk", filter=Q(user__isnull=True)))
            .values_list("ip", "n")
        )

    threshold = conf.GUEST_SWARM_THRESHOLD
    caps = _caps(rows) if policies.cap_configured() else {}
    result: dict[int, list[Flag]] = {}
    for row in rows:
        flags: list[Flag] = []
        if row.user_id in locked:
            flags.append(
                Flag(
                    LOCKED,
                    str(LOCKED_LABEL),
                    str(
                        _("This user is locked down: their sign-in is refused until it is lifted.")
                    ),
                )
            )
        count = per_user.get(row.user_id, 0)
        cap = caps.get(row.user_id, 0)
        if row.user_id is not None and cap and count >= cap:
            flags.append(
                Flag(
                    AT_CAP,
                    f"{LABELS[AT_CAP]} ({count}/{cap})",
                    ngettext(
                        "This user has %(n)d live session, the most allowed "
                        "(a new login ends the oldest or is refused).",
                        "This user has %(n)d live sessions, the most allowed is %(max)d "
                        "(a new login ends the oldest or is refused).",
                        count,
                    )
                    % {"n": count, "max": cap},
                )
            )
        if row.user_id is not None and count > 1:
            # No reason: "This user has 3 live sessions at once" would only restate the
            # label, on most rows of a busy page (issue 17: ~100 bytes each).
            flags.append(Flag(MULTIPLE, f"{LABELS[MULTIPLE]} ({count})"))
        seen = first_seen.get((row.user_id, row.ip)) if row.ip else None
        start = history_start.get(row.user_id)
        if seen is not None and start is not None and _is_new(seen, start, row):
            flags.append(
                Flag(
                    NEW_IP,
                    str(LABELS[NEW_IP]),
                    str(_("This user had never used this IP address before this session.")),
                )
            )
        guests = per_ip.get(row.ip or "", 0) if row.user_id is None else 0
        if guests > threshold:
            flags.append(
                Flag(
                    SWARM,
                    f"{LABELS[SWARM]} ({guests})",
                    ngettext(
                        "%(n)d guest session from this IP address.",
                        "%(n)d guest sessions from this IP address (more than %(max)d).",
                        guests,
                    )
                    % {"n": guests, "max": threshold},
                )
            )
        if row.client_changed:
            flags.append(
                Flag(
                    CHANGED,
                    str(LABELS[CHANGED]),
                    str(_("The IP address or browser changed during this session.")),
                )
            )
        result[row.pk] = flags
    return result


def _caps(rows: Sequence[SessionRecord]) -> dict[Any, int]:
    """Each listed user's session cap (``MAX_SESSIONS_PER_USER``, or what
    ``MAX_SESSIONS_RESOLVER`` says for them: asked once per user, with the user the
    page's row query has loaded)."""
    if conf.MAX_SESSIONS_RESOLVER is None:
        cap = conf.MAX_SESSIONS_PER_USER
        return {row.user_id: cap for row in rows if row.user_id is not None}
    caps: dict[Any, int] = {}
    for row in rows:
        if row.user_id is not None and row.user_id not in caps and row.user is not None:
            caps[row.user_id] = policies.cap_for(row.user)
    return caps


def _is_new(first_seen: Any, history_start: Any, row: SessionRecord) -> bool:
    # New: the address first appeared with this session, and the user has older history.
    return bool(first_seen >= row.created - _SLACK and history_start < row.created - _SLACK)


def filter_rows(rows: QuerySet[SessionRecord], code: str) -> QuerySet[SessionRecord]:
    """Only the rows carrying flag ``code`` (unknown codes filter nothing out)."""
    # Each flag is a correlated EXISTS, checked row by row as the page walks its index
    # and stops at a page: a GROUP BY over every live row (2.8 s at 1,000,000 for
    # "multiple") would come first otherwise.
    live = SessionRecord.objects.live()
    if code == MULTIPLE:
        other = live.filter(user_id=OuterRef("user_id")).exclude(pk=OuterRef("pk"))
        return rows.filter(user__isnull=False).filter(Exists(other))
    if code == SWARM:
        threshold = conf.GUEST_SWARM_THRESHOLD
        # More than ``threshold`` guests on the address: a row at that offset exists.
        guests = live.filter(ip=OuterRef("ip"), user__isnull=True).order_by("pk")
        return rows.filter(user__isnull=True, ip__isnull=False).filter(
            Exists(guests[threshold : threshold + 1])
        )
    if code == NEW_IP:
        introduced = SeenAddress.objects.filter(
            user_id=OuterRef("user_id"),
            ip=OuterRef("ip"),
            first_seen__gte=OuterRef("created") - _SLACK,
        )
        older = SeenAddress.objects.filter(
            user_id=OuterRef("user_id"), first_seen__lt=OuterRef("created") - _SLACK
        )
        return rows.filter(Exists(introduced), Exists(older))
    if code == AT_CAP:
        cap = conf.MAX_SESSIONS_PER_USER
        if not cap or conf.MAX_SESSIONS_RESOLVER is not None:
            return rows.none()  # per-user caps: no filter (see codes())
        # At least ``cap`` live sessions of the user: a row at that offset exists.
        same_user = live.filter(user_id=OuterRef("user_id")).order_by("pk")
        return rows.filter(user__isnull=False).filter(Exists(same_user[cap - 1 : cap]))
    if code == CHANGED:
        return rows.filter(
            ~Q(ip=F("initial_ip"))
            | Q(ip__isnull=True, initial_ip__isnull=False)
            | Q(ip__isnull=False, initial_ip__isnull=True)
            | (Q(initial_user_agent__isnull=False) & ~Q(user_agent=F("initial_user_agent")))
        )
    return rows


def codes() -> Iterable[tuple[str, str]]:
    """The flags the list can be filtered by. "Session limit reached" only with one cap
    for everyone: a cap per user (``MAX_SESSIONS_RESOLVER``) is no SQL filter."""
    offered = conf.MAX_SESSIONS_PER_USER and conf.MAX_SESSIONS_RESOLVER is None
    return [(code, str(label)) for code, label in LABELS.items() if code != AT_CAP or offered]
