"""A Sessions page inside the Django admin: see every live session, search it, end one."""

from __future__ import annotations

# The one place the version lives: pyproject.toml reads it ([tool.hatch.version]).
__version__ = "0.2.0"
