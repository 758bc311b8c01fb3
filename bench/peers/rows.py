"""How the peers bench counts ours' rows on a page: kept apart from ``ours.py`` (which
needs the bench's Django 6 settings) so that the test suite checks it on every Django.

A row is a ``<tr>`` with the handle its Kill button sends: since the HTML trim the rows
carry no class, and the CSS and the script select them by that attribute.
"""

from __future__ import annotations

import re

ROW = re.compile(rb"<tr\b[^>]*\sdata-handle=")


def count(body: bytes) -> int:
    return len(ROW.findall(body))
