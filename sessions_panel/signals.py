"""Signals for integrations (SIEM, chat alerts, licence enforcement)."""

from __future__ import annotations

from django.dispatch import Signal

#: Sent after every kill action with ``audit`` (the :class:`AuditEntry`), ``actor``
#: (a user or ``None``), ``scope``, ``reason`` and ``short_ids`` (never raw keys).
session_killed = Signal()
