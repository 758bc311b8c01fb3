"""A Sessions page inside the Django admin: see every live session, search it, end one.

How the code is laid out: README.md, "How the code is laid out".
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

# The one place the version lives: pyproject.toml reads it ([tool.hatch.version]).
__version__ = "0.2.0"

#: Modules that moved (issue 15) but that applied migrations still import by their old
#: path (0003: ``from sessions_panel import trigram, usertext``); migrations are never
#: edited, so the old names resolve here, on first use, to the new modules.
_MOVED = {
    "trigram": "sessions_panel.query.trigram",
    "usertext": "sessions_panel.query.usertext",
}


def __getattr__(name: str) -> ModuleType:
    if name in _MOVED:
        return import_module(_MOVED[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
