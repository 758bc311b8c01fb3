"""Kill All's clean-up, after the response: the kill is the epoch, the rest can wait.

Kill All ends every session by writing one "not before" epoch; from then on each of
them is refused on load, on every host. What is left is housekeeping: their stored
data and their index rows, a million of each on a big site. Deleting those took
seconds (SQLite frees a million index rows' pages in ~5 s, with the write lock held),
and the admin waited for it. Now Kill All records a :class:`~sessions_panel.models.Sweep`
with the epoch in the same transaction, and answers:

- every list and count leaves out the rows the epoch refuses while the sweep is under
  way (``SessionRecordQuerySet.live``), through the ``issued`` index, so the page is
  right and fast at once;
- :func:`run` deletes them, and drops the ``Sweep`` when none is left: on PostgreSQL
  by truncating the tables around what survives (:mod:`.truncation`, a few
  milliseconds whatever their size), elsewhere in batches of :data:`BATCH` (each a short
  write of its own, so sessions keep being saved meanwhile), oldest first;
- it runs after the response has been sent (:func:`after_response`, on the Kill All
  answer and on any page of the panel shown while a sweep is under way), for up to
  :data:`SECONDS`; ``manage.py prune`` finishes whatever a stopped process left.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import connections
from django.db.models import Q

from sessions_panel.models import SessionRecord, Sweep, note_sweep, sweep_epoch
from sessions_panel.termination import purge, truncation
from sessions_panel.termination.guard import primary
from sessions_panel.tracking import index_writer

logger = logging.getLogger("sessions_panel")

#: Sessions per batch: one store delete and one index delete of this many keys. Each
#: index row sits in ten B-trees, so a batch dirties pages all over them: at 1,000,000
#: on SQLite, 2,000 rows held the write lock for ~0.9 s (sessions saved meanwhile
#: waited 2.5 s); 500 keep each write short.
BATCH = 500
#: Seconds a response's close spends sweeping (a worker is busy meanwhile; a WSGI
#: server's timeout must not catch it). What is left waits for the next page or prune.
SECONDS = 10.0


#: Seconds the clean-up waits after each batch on SQLite. A session save that finds the
#: write lock taken sleeps in SQLite's busy handler (steps of 1 to 100 ms, 25–50 ms
#: once it has waited ~0.1 s) and used to wake while the next batch held the lock again:
#: at 1,000,000 sessions a last-seen write waited up to 3.6 s. A pause longer than
#: those steps lets every waiter in, at a third of the clean-up's rate.
SQLITE_PAUSE = 0.06


#: Sessions per batch on SQLite, where every writer waits for each batch: at 1,000,000
#: sessions a batch of 500 held the write lock 320 ms (median; 530 ms at worst), and a
#: session save waited up to 440 ms; 150 keep a batch near 100 ms.
SQLITE_BATCH = 150


def _pause(using: str) -> float:
    return SQLITE_PAUSE if connections[using].vendor == "sqlite" else 0.0


def batch_size(using: str) -> int:
    """Sessions per clean-up batch on this database (see :data:`SQLITE_BATCH`)."""
    return SQLITE_BATCH if connections[using].vendor == "sqlite" else BATCH


def begin(epoch: float) -> None:
    """Record the clean-up of everything issued before ``epoch`` (call it in the
    transaction that writes the epoch: a Kill All never commits without it)."""
    using = primary()
    if not Sweep.objects.using(using).filter(epoch__gte=epoch).exists():
        Sweep.objects.using(using).create(epoch=epoch)
    note_sweep(using, max(epoch, sweep_epoch(using) or epoch))


def ended_rows(epoch: float) -> Any:
    """Index rows the epoch refuses: issued before it, or at an unknown time."""
    return SessionRecord.objects.using(primary()).filter(
        Q(issued__lt=epoch) | Q(issued__isnull=True)
    )


def run(seconds: float | None = SECONDS) -> tuple[int, bool]:
    """Delete ended sessions' data and index rows for up to ``seconds`` (``None``: until
    done); returns how many, and whether the sweep is over."""
    using = primary()
    epoch = sweep_epoch(using)
    if epoch is None:
        return 0, True
    deadline = None if seconds is None else time.monotonic() + seconds
    truncated = truncation.run(epoch, deadline)
    if truncated is not None:
        count, finished = max(truncated, 0), truncated >= 0
    else:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        count, _, _, finished = purge.purge_rows(
            ended_rows(epoch),
            None,
            left,
            batch_size=batch_size(using),
            index=True,
            pause=_pause(using),
        )
    if finished:
        Sweep.objects.using(using).filter(epoch__lte=epoch).delete()
        note_sweep(using, None)
        index_writer.forget_live_count()
        index_writer.recently_seen.clear()
    return count, finished


def after_response(response: Any) -> Any:
    """Sweep once ``response`` has been sent: WSGI and ASGI servers call its
    ``close()`` after the last byte (Django's test client, at once)."""
    close = response.close

    def close_then_sweep() -> None:
        close()
        try:
            count, finished = run(SECONDS)
        except Exception:
            logger.exception("the clean-up after Kill All failed; manage.py prune resumes it")
            return
        if not finished:
            logger.info("swept %d ended sessions; the next page or prune goes on", count)

    response.close = close_then_sweep
    return response
