"""Signals for integrations (SIEM, chat alerts, licence enforcement)."""

from __future__ import annotations

from django.dispatch import Signal

#: Sent after every kill action with ``audit`` (the :class:`AuditEntry`), ``actor``
#: (a user or ``None``), ``actor_repr`` (who acted, as the audit trail names them: the
#: username, or for ``killsessions`` the ``--actor`` and the operating-system user),
#: ``scope``, ``reason`` and ``short_ids`` (never raw keys).
session_killed = Signal()
