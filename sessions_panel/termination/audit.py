"""What every kill leaves on the record: the result, one :class:`AuditEntry`, a
"Recent actions" entry for an actor who is a user, a log line and :data:`session_killed`.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from django.db import DatabaseError, transaction

from sessions_panel.models import AuditEntry
from sessions_panel.signals import session_killed

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

logger = logging.getLogger("sessions_panel")

#: Who ends sessions: a user (the page, or the API acting for one); a plain label for
#: an actor that is no user of the site (``killsessions``: who ran it, from where);
#: ``None`` for the site itself (signal receivers, the API on its own).
Actor: TypeAlias = "AbstractBaseUser | AnonymousUser | str | None"


@dataclass
class KillResult:
    """What a kill action achieved; ``failed`` sessions are still alive or unknown."""

    scope: str
    requested: int = 0
    killed: int = 0
    already_ended: int = 0
    failed: int = 0
    short_ids: list[str] = field(default_factory=list)
    user_ids: list[Any] = field(default_factory=list)
    audit: AuditEntry | None = None
    #: The kill holds (its revocation is written: the sessions are refused on every
    #: request), but the session store could not be cleaned; what is left is refused
    #: until it is purged (the next kill, ``manage.py prune``) or expires.
    store_fault: bool = False
    #: Superusers' sessions left alone (``spare_superusers``): neither targeted nor
    #: failed, so ``requested`` does not count them.
    spared: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0


def clean_reason(reason: str) -> str:
    # One line, bounded: a reason must not forge log lines or bloat the audit trail.
    # Control characters go too: PostgreSQL cannot store NUL (the audit row would be
    # lost), and ESC or BEL in the trail would drive the terminal of whoever reads it.
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in str(reason))
    return " ".join(text.split())[:500]


def _actor_fields(actor: Actor) -> dict[str, Any]:
    """The audit entry's ``actor`` and ``actor_repr``: a label is a name with no user
    behind it, so the trail says who acted rather than "the system"."""
    if isinstance(actor, str):
        return {"actor": None, "actor_repr": actor[:150]}
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {"actor": None, "actor_repr": ""}
    return {"actor": actor, "actor_repr": actor.get_username()[:150]}


def finish(
    result: KillResult,
    actor: Any,
    reason: str,
    detail: str = "",
    filters: Mapping[str, Any] | None = None,
) -> KillResult:
    """Audit entry, admin log entry, log line and signal for one kill action.

    ``filters`` (a filter-wide kill's list filters) go into the audit entry alone, as
    data the admin masks for each reader: never into "Recent actions" or the log line,
    which every reader of those sees whole.
    """
    reason = clean_reason(reason)
    try:
        # A savepoint: a failed audit insert must not poison the caller's transaction.
        with transaction.atomic():
            result.audit = AuditEntry.objects.create(
                scope=result.scope,
                reason=reason,
                requested=result.requested,
                killed=result.killed,
                failed=result.failed,
                spared=result.spared,
                user_ids=[str(u) for u in dict.fromkeys(result.user_ids)][:1000],
                short_ids=result.short_ids[:1000],
                detail=detail,
                filters={
                    str(key)[:20]: clean_reason(str(value))
                    for key, value in (filters or {}).items()
                },
                **_actor_fields(actor),
            )
            _log_entry(result, actor)
    except DatabaseError:
        logger.exception("could not write the audit entry of a kill action")
    logger.info(
        "sessions killed: scope=%s actor=%r requested=%d killed=%d already_ended=%d "
        "failed=%d spared=%d reason=%r",
        result.scope,
        _actor_fields(actor)["actor_repr"],
        result.requested,
        result.killed,
        result.already_ended,
        result.failed,
        result.spared,
        reason,
    )
    fields = _actor_fields(actor)
    session_killed.send(
        sender=KillResult,
        audit=result.audit,
        # A user or None, as documented; who acted otherwise (the command's OS user and
        # --actor) is ``actor_repr``, the audit entry's "by".
        actor=fields["actor"],
        actor_repr=fields["actor_repr"],
        scope=result.scope,
        reason=reason,
        short_ids=result.short_ids,
    )
    return result


def _log_entry(result: KillResult, actor: Any) -> None:
    """A row in the admin's "Recent actions", linking to the audit entry."""
    if actor is None or not getattr(actor, "is_authenticated", False) or result.audit is None:
        return
    from django.contrib.admin.models import ADDITION, LogEntry
    from django.contrib.contenttypes.models import ContentType

    LogEntry.objects.create(
        user_id=actor.pk,
        content_type=ContentType.objects.get_for_model(AuditEntry),
        object_id=str(result.audit.pk),
        object_repr=f"Ended {result.killed} session(s) ({result.scope})"[:200],
        action_flag=ADDITION,
        change_message=f"Ended {result.killed} session(s); {result.failed} not ended.",
    )
