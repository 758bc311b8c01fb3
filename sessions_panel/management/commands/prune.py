"""Drop what the panel no longer needs: expired index rows, the stored data of sessions
a kill already refuses (what a bounded or interrupted purge left), sessions a policy
ends (idle too long, older than their lifetime: audited), spent revocation markers, and
history past its retention (IP history, audit entries)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db import router
from django.utils import timezone

from sessions_panel import termination
from sessions_panel.conf import conf
from sessions_panel.models import AuditEntry, SeenAddress, SeenBrowser, SessionRecord
from sessions_panel.termination import reauth, sweep
from sessions_panel.tracking import index_count, index_writer, revocation


class Command(BaseCommand):
    help = (
        "Remove expired sessions from the panel's index (Django's clearsessions does this "
        "too with a tracked engine), the data of sessions a kill already refuses, sessions "
        "a policy ends (IDLE_TIMEOUT, ABSOLUTE_LIFETIME), and IP history and audit entries "
        "past their retention."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        rows = index_writer.prune(now)
        # A Kill All's clean-up a stopped process left, to the end; then anything else
        # an epoch refuses.
        swept, _ = sweep.run(None)
        refused = swept + termination.purge_refused()
        policy = termination.purge_by_policy()
        markers = revocation.prune()
        history_start = now - timedelta(days=conf.HISTORY_RETENTION_DAYS)
        history, _ = SeenAddress.objects.filter(last_seen__lt=history_start).delete()
        browsers, _ = SeenBrowser.objects.filter(last_seen__lt=history_start).delete()
        throttles = reauth.prune_throttle()
        # The count the triggers keep, set exact again (and kept again after a flush).
        index_count.reconcile(router.db_for_write(SessionRecord))
        audit = 0
        if conf.AUDIT_RETENTION_DAYS > 0:
            audit, _ = AuditEntry.objects.filter(
                created__lt=now - timedelta(days=conf.AUDIT_RETENTION_DAYS)
            ).delete()
        self.stdout.write(
            f"Pruned {rows:,} expired index rows, "
            f"{refused:,} sessions ended by a kill, "
            f"{markers:,} revocation markers, "
            f"{policy:,} sessions ended by a policy, "
            f"{history:,} IP history entries, {browsers:,} browser history entries, "
            f"{throttles:,} password throttles and {audit:,} audit entries."
        )
