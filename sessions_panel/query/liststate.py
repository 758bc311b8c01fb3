"""What a request asks the list for: search text, status, flag, user, order and page,
read from the query string once, bounded and validated (:class:`ListState`), and
written back as a query string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sessions_panel.query import cursor, flags

#: Longer search text is cut: nothing we match against is longer.
MAX_QUERY_LENGTH = 200
#: "Load more" stops here; past it the admin narrows the list with search or filters.
MAX_ROWS = 1000
#: Up to this many matching users are looked up by id; past it, one subquery.

STATUS_ALL = "all"
STATUS_AUTHENTICATED = "authenticated"
STATUS_GUEST = "guest"
STATUSES = (STATUS_ALL, STATUS_AUTHENTICATED, STATUS_GUEST)

SORT_LAST_SEEN = "last_seen"
SORTS: Mapping[str, tuple[Any, ...]] = {sort: cursor.order_by(sort) for sort in cursor.ORDERS}


def parse_user_id(value: Any) -> tuple[str, str]:
    """The ``user`` filter as a canonical primary key string, or an error to show.

    Only the format is checked here (no query): an unknown user is an empty list.
    """
    raw = str(value or "").strip()
    if not raw:
        return "", ""
    invalid = _("That user ID is not valid.")
    if len(raw) > 64:
        return "", invalid
    pk = get_user_model()._meta.pk
    assert pk is not None
    try:
        parsed = pk.to_python(raw)
    except (ValidationError, TypeError, ValueError):
        return "", invalid
    # Out of range for a database integer: an error, not an OverflowError later.
    if isinstance(parsed, int) and not 0 < parsed < 2**63:
        return "", invalid
    return str(parsed), ""


def _page_number(value: str | None, last: int) -> int:
    try:
        number = int(value or 1)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), last)


@dataclass(frozen=True)
class ListState:
    """What the admin asked to see, parsed from the query string and made safe."""

    q: str = ""
    status: str = STATUS_ALL
    sort: str = SORT_LAST_SEEN
    page: int = 1
    page_size: int = 50
    #: A risk flag code (see :mod:`sessions_panel.query.flags`): only rows carrying it.
    flag: str = ""
    #: A user's primary key (as text): only that user's sessions.
    user: str = ""
    #: Set when the search text cannot be used at all; the page shows it, no rows.
    error: str = ""
    #: Set when the search text was usable after a change (e.g. shortened).
    notice: str = ""
    #: "Load more": the sort values of the last row shown; only rows after it, one page.
    after: tuple[Any, ...] | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any], page_size: int) -> ListState:
        """Never raises: every bad value falls back to its default or is clamped."""
        page_size = max(1, int(page_size))
        raw = str(params.get("q") or "")
        error = notice = ""
        if "\x00" in raw:
            error = _("The search text contains a character that is not allowed.")
            raw = raw.replace("\x00", "")
        if len(raw) > MAX_QUERY_LENGTH:
            notice = ngettext(
                "The search text was shortened to %(count)d character.",
                "The search text was shortened to %(count)d characters.",
                MAX_QUERY_LENGTH,
            ) % {"count": MAX_QUERY_LENGTH}
            raw = raw[:MAX_QUERY_LENGTH]
        status = str(params.get("status") or STATUS_ALL)
        sort = str(params.get("sort") or SORT_LAST_SEEN)
        flag = str(params.get("flag") or "")
        user, user_error = parse_user_id(params.get("user"))
        sort = sort if sort in SORTS else SORT_LAST_SEEN
        raw_after = str(params.get("after") or "")
        after = cursor.parse(raw_after, sort) if raw_after else None
        if raw_after and after is None:
            notice = " ".join(filter(None, [notice, _("The list is shown from the top again.")]))
        return cls(
            q=raw.strip(),
            status=status if status in STATUSES else STATUS_ALL,
            sort=sort,
            page=_page_number(params.get("page"), max(1, MAX_ROWS // page_size)),
            page_size=page_size,
            flag=flag if flag in flags.LABELS else "",
            user=user,
            error=error or user_error,
            notice=notice,
            after=after,
        )

    @property
    def narrowed(self) -> bool:
        """Search, status or flag filter in force (what "Kill N matching" acts on)."""
        return bool(self.q or self.status != STATUS_ALL or self.flag)

    @property
    def filtered(self) -> bool:
        return self.narrowed or bool(self.user)

    @property
    def last_page(self) -> int:
        return max(1, MAX_ROWS // self.page_size)

    @property
    def limit(self) -> int:
        return self.page * self.page_size

    @property
    def query(self) -> str:
        """The canonical query string of this state, defaults left out."""
        return self.query_with()

    @property
    def next_query(self) -> str:
        return self.query_with(page=self.page + 1)

    def query_with(self, **changes: Any) -> str:
        """The query string of the whole list up to ``page`` (never the position)."""
        state = replace(self, **changes)
        params: dict[str, str] = {}
        if state.q:
            params["q"] = state.q
        if state.status != STATUS_ALL:
            params["status"] = state.status
        if state.flag:
            params["flag"] = state.flag
        if state.user:
            params["user"] = state.user
        if state.sort != SORT_LAST_SEEN:
            params["sort"] = state.sort
        if state.page != 1:
            params["page"] = str(state.page)
        return urlencode(params)
