"""Drop index rows of expired sessions and revocation markers that can refuse nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from sessions_panel import records, revocation


class Command(BaseCommand):
    help = (
        "Remove expired sessions from the panel's index. Django's clearsessions does "
        "this too when a tracked engine is configured."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rows = records.prune()
        markers = revocation.prune()
        self.stdout.write(f"Pruned {rows:,} expired index rows and {markers:,} revocation markers.")
