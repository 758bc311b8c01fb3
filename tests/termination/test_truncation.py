"""Kill All's clean-up by truncation (issue 17: ≥ 100,000 sessions/s where the store
allows it): on PostgreSQL the index and the store's table are truncated around what
survives, in one short transaction; elsewhere, and whenever it cannot run, the batches
do the same work. Either way the survivors keep their data and rows, and every ended
session is gone from the store, the cache and the index."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions_panel import termination
from sessions_panel.models import IndexCount, SessionRecord, Sweep
from sessions_panel.termination import purge, sweep, truncation
from sessions_panel.tracking import index_writer, revocation
from tests.keys import indexed

pytestmark = pytest.mark.django_db

ON_POSTGRESQL = connection.vendor == "postgresql"
needs_postgresql = pytest.mark.skipif(
    not ON_POSTGRESQL, reason="TRUNCATE is PostgreSQL's; the CI's PostgreSQL run has it"
)


def truncates(engine: str) -> bool:
    """Where the clean-up truncates: PostgreSQL, with a store it can reach there."""
    return ON_POSTGRESQL and engine in ("db", "cached_db", "cache")


def statements(queries: CaptureQueriesContext, verb: str) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(verb)]


def cached(store: Any, session_key: str) -> Any:
    prefix = getattr(store, "cache_key_prefix", None)
    if prefix is None:
        return None
    return caches[settings.SESSION_CACHE_ALIAS].get(prefix + session_key)


def kill_all_leaving_the_clean_up(
    make_session: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Any], list[Any]]:
    """Five sessions ended by Kill All, and two that survive it: the admin's own (kept)
    and a login between the epoch and the clean-up. The clean-up has not run yet."""
    victims = [make_session(shown=n) for n in range(5)]
    own = make_session(shown="own")
    late: list[Any] = []
    real_revoke_all = revocation.revoke_all

    def revoke_then_someone_logs_in(epoch: Any = None) -> Any:
        value = real_revoke_all(epoch)
        late.append(make_session(shown="late"))
        return value

    monkeypatch.setattr(revocation, "revoke_all", revoke_then_someone_logs_in)
    monkeypatch.setattr(purge, "PURGE_SECONDS", 0.0)  # as with a million sessions
    termination.kill_all(keep=own)
    return victims, [own, *late]


@pytest.mark.parametrize("engine", ["db", "cached_db", "cache", "file"], indirect=True)
def test_the_clean_up_truncates_where_it_can_and_keeps_every_survivor(
    engine, make_session, store_class, monkeypatch
):
    victims, survivors = kill_all_leaving_the_clean_up(make_session, monkeypatch)
    store = store_class()
    rows = {s.session_key: SessionRecord.objects.get(session_key=indexed(s)) for s in survivors}
    if getattr(store, "cache_key_prefix", None) is not None:
        assert all(cached(store, v.session_key) is not None for v in victims)

    with CaptureQueriesContext(connection) as queries:
        count, finished = sweep.run(None)

    assert finished and not Sweep.objects.exists()
    assert bool(statements(queries, "TRUNCATE")) == truncates(engine)
    assert count == len(victims)
    # Every ended session is gone: stored data, cache entry, index row.
    assert not any(store().exists(v.session_key) for v in victims)
    assert all(cached(store, v.session_key) is None for v in victims)
    assert not SessionRecord.objects.filter(session_key__in=[indexed(v) for v in victims]).exists()
    # The survivors keep their data and their very rows (handle, issue time...).
    for survivor in survivors:
        assert store(survivor.session_key).load()["shown"] in ("own", "late")
        row = SessionRecord.objects.get(session_key=indexed(survivor))
        assert row == rows[survivor.session_key]
        assert (row.handle, row.issued, row.ip) == (
            rows[survivor.session_key].handle,
            rows[survivor.session_key].issued,
            rows[survivor.session_key].ip,
        )
    # The badge's kept total is exact after it.
    assert SessionRecord.objects.count() == len(survivors)
    index_writer.forget_live_count()
    assert index_writer.live_count() == len(survivors)
    if IndexCount.objects.exists():
        assert sum(IndexCount.objects.values_list("total", flat=True)) == len(survivors)


@pytest.mark.parametrize("engine", ["db", "cached_db", "cache"], indirect=True)
def test_out_of_time_the_clean_up_stops_and_goes_on_later(engine, make_session, monkeypatch):
    victims, survivors = kill_all_leaving_the_clean_up(make_session, monkeypatch)
    assert sweep.run(0.0) == (0, False)  # no time: nothing done, the sweep stays
    assert Sweep.objects.exists()
    assert SessionRecord.objects.count() == len(victims) + len(survivors)
    assert sweep.run(None) == (len(victims), True)
    assert SessionRecord.objects.count() == len(survivors)


@pytest.mark.parametrize("engine", ["db", "cached_db"], indirect=True)
def test_a_stored_session_and_its_index_row_are_written_together(
    engine, make_session, store_class, monkeypatch
):
    """A save whose index write fails leaves nothing stored: under the clean-up's lock,
    a stored session without its row is one no epoch spares."""
    kept = make_session(shown="before")

    def index_write_fails(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("index write failed")

    monkeypatch.setattr(index_writer, "upsert", index_write_fails)
    session = store_class()()
    session["shown"] = "new"
    with pytest.raises(RuntimeError):
        session.create()
    assert session.session_key is None or not store_class()().exists(session.session_key)
    assert store_class()().get_model_class().objects.count() == 1
    assert SessionRecord.objects.count() == 1
    kept["shown"] = "changed"
    with pytest.raises(RuntimeError):
        kept.save()
    assert store_class()(kept.session_key).load()["shown"] == "before"


@needs_postgresql
@pytest.mark.parametrize("engine", ["db"], indirect=True)
def test_the_clean_up_leaves_the_callers_lock_timeout_as_it_was(engine, make_session, monkeypatch):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '7s'")
    kill_all_leaving_the_clean_up(make_session, monkeypatch)
    assert truncation.run(Sweep.objects.get().epoch) == 5
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone() == ("7s",)


@needs_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("engine", ["db", "cached_db"], indirect=True)
def test_a_busy_table_makes_the_clean_up_delete_in_batches(
    engine, make_session, store_class, monkeypatch, caplog
):
    """A transaction reading the index holds its lock: the clean-up waits
    ``LOCK_WAIT``, gives up the truncation and deletes in batches, which it can."""
    import psycopg

    victims, survivors = kill_all_leaving_the_clean_up(make_session, monkeypatch)
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as reader:
        reader.execute(f"SELECT 1 FROM {SessionRecord._meta.db_table} LIMIT 1").fetchall()
        with caplog.at_level(logging.WARNING, logger="sessions_panel"):
            count, finished = sweep.run(None)
        reader.rollback()
    assert "could not truncate" in caplog.text
    assert (count, finished) == (len(victims), True)
    assert not any(store_class()().exists(v.session_key) for v in victims)
    assert SessionRecord.objects.count() == len(survivors)
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone() == ("0",)  # the failed attempt's setting went with it


@pytest.mark.parametrize("engine", ["db", "file"], indirect=True)
def test_batches_on_sqlite_pause_so_that_waiting_writers_get_the_lock(
    engine, make_session, monkeypatch
):
    """SQLite has one writer: a save waiting in its busy handler must find the lock free
    between two batches (elsewhere, writers do not queue behind the clean-up)."""
    victims, survivors = kill_all_leaving_the_clean_up(make_session, monkeypatch)
    monkeypatch.setattr(sweep, "BATCH", 2)
    monkeypatch.setattr(sweep, "SQLITE_BATCH", 2)
    pauses: list[float] = []
    monkeypatch.setattr(time, "sleep", pauses.append)
    assert sweep.run(None) == (len(victims), True)
    batched = not truncates(engine)
    on_sqlite = connection.vendor == "sqlite"
    # Five sessions in batches of two: a pause before the second and the third.
    assert pauses == ([sweep.SQLITE_PAUSE] * 2 if batched and on_sqlite else [])
    assert SessionRecord.objects.count() == len(survivors)


@pytest.mark.parametrize("engine", ["db"], indirect=True)
def test_batches_on_sqlite_are_small_enough_to_keep_each_write_short(
    engine, make_session, monkeypatch
):
    kill_all_leaving_the_clean_up(make_session, monkeypatch)
    sizes: list[int] = []
    real_purge_rows = purge.purge_rows

    def spy(*args: Any, **kwargs: Any) -> Any:
        sizes.append(kwargs["batch_size"])
        return real_purge_rows(*args, **kwargs)

    monkeypatch.setattr(purge, "purge_rows", spy)
    sweep.run(None)
    on_sqlite = connection.vendor == "sqlite"
    expected = [] if truncates(engine) else [sweep.SQLITE_BATCH if on_sqlite else sweep.BATCH]
    assert sizes == expected
    assert sweep.SQLITE_BATCH < sweep.BATCH
