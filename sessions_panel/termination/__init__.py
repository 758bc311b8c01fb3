"""The kill service: the one place that ends sessions.

Views, admin actions, management commands and signal receivers all call this package,
through the names below (``from sessions_panel.termination import kill_sessions``, the
documented path). Every path writes a revocation first (so the kill holds even against
a request in flight, and on every process at once), then deletes from the real store,
then checks the store with a fresh read: a kill is reported only when the store
confirms it. Every action writes one :class:`AuditEntry` and sends
:data:`~sessions_panel.signals.session_killed`.

- :mod:`.scopes`: one session, a filter's matches, :func:`kill_sessions` (the API);
- :mod:`.epochs`: every session of a user, or of the site, by a "not before" epoch;
- :mod:`.purge`: the stored data and index rows a revocation already refuses;
- :mod:`.preview`: what a kill would end, before it runs;
- :mod:`.audit`: the result and the record every kill leaves;
- :mod:`.guard`: whether kills can hold on this site as it runs;
- :mod:`.policy`: session policies ending sessions (on load, at login, in ``prune``);
- :mod:`.reauth`: the password asked again before a multi-session kill;
- :mod:`.protection`: superusers' sessions spared from a lesser admin's kills;
- :mod:`.lockdown`: the site's or a user's sessions ended, then their sign-in refused
  until lifted (or a set time);
- :mod:`.receivers`: sessions ended when a user is deactivated, deleted or changes
  password.
"""

from __future__ import annotations

from sessions_panel.termination.audit import Actor, KillResult
from sessions_panel.termination.epochs import kill_all, kill_user
from sessions_panel.termination.guard import NotTracked, configuration_problem, ensure_tracked
from sessions_panel.termination.lockdown import (
    LockdownRefused,
    LockdownResult,
    lock_site,
    lock_user,
)
from sessions_panel.termination.lockdown import lift as lift_lockdown
from sessions_panel.termination.policy import (
    end_over_cap,
    end_refused,
    purge_by_policy,
    refuse_login,
)
from sessions_panel.termination.preview import PREVIEW_CAP, Preview, preview
from sessions_panel.termination.purge import purge_refused, refused_rows
from sessions_panel.termination.scopes import (
    kill_matching,
    kill_records,
    kill_session,
    kill_sessions,
    matching,
)

__all__ = [
    "PREVIEW_CAP",
    "Actor",
    "KillResult",
    "LockdownRefused",
    "LockdownResult",
    "NotTracked",
    "Preview",
    "configuration_problem",
    "end_over_cap",
    "end_refused",
    "ensure_tracked",
    "kill_all",
    "kill_matching",
    "kill_records",
    "kill_session",
    "kill_sessions",
    "kill_user",
    "lift_lockdown",
    "lock_site",
    "lock_user",
    "matching",
    "preview",
    "purge_by_policy",
    "purge_refused",
    "refuse_login",
    "refused_rows",
]
