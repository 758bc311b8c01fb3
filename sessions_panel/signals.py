"""Signals for integrations (SIEM, chat alerts, licence enforcement)."""

from __future__ import annotations

from django.dispatch import Signal

#: Sent after every kill action with ``audit`` (the :class:`AuditEntry`), ``actor``
#: (a user or ``None``), ``actor_repr`` (who acted, as the audit trail names them: the
#: username, or for ``killsessions`` the ``--actor`` and the operating-system user),
#: ``scope``, ``reason`` and ``short_ids`` (never raw keys).
session_killed = Signal()

#: Sent when a user signs in from a browser (family and system) or an address their
#: account has not used before, and has signed in before: ``user``, ``request``,
#: ``ip`` (as stored, per ``IP_STORAGE``), ``browser`` ("Firefox · Windows"),
#: ``new_browser`` and ``new_address``. Every such sign-in, not rate-limited (the
#: email is: ``NEW_SIGN_IN_INTERVAL``).
new_sign_in = Signal()
