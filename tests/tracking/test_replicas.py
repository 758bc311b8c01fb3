"""Reads that decide whether a session lives, or whether a kill worked, go to the
database the router writes to, never to a replica that lags.

The replica is a second connection to the test database holding an old snapshot open
(a read transaction begun before the kill): exactly what replication lag looks like.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connections

from sessions_panel import termination
from sessions_panel.models import SessionRecord
from tests.keys import indexed

pytestmark = pytest.mark.django_db(transaction=True)

REPLICA = "replica"


class ReadsFromTheReplica:
    """A common router: reads from the replica, writes to the primary."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return REPLICA

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return "default"

    def allow_relation(self, *args: Any, **hints: Any) -> bool:
        return True


@pytest.fixture
def lagging_replica(settings: Any, engine: str) -> Iterator[Any]:
    """Route reads to a replica; ``freeze()`` makes it stop seeing new writes."""
    connections.settings[REPLICA] = dict(connections["default"].settings_dict)
    replica = connections[REPLICA]
    settings.DATABASE_ROUTERS = [f"{__name__}.ReadsFromTheReplica"]

    class Replica:
        @staticmethod
        def freeze() -> None:
            # connect(), not ensure_connection(): the test case forbids aliases it did
            # not set up, and this one is set up here.
            replica.connect()
            if replica.vendor == "sqlite":
                replica.connection.execute("BEGIN DEFERRED")
            else:
                replica.set_autocommit(False)
                with replica.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            # The snapshot, of the whole database, starts with the first read. One table
            # only: a lock on the index would hold up Kill All's TRUNCATE on PostgreSQL,
            # which a real replica (another server) never does.
            with replica.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM django_session")

    yield Replica
    if replica.connection is not None:
        replica.connection.rollback()
    replica.close()
    del connections[REPLICA]
    del connections.settings[REPLICA]


@pytest.mark.parametrize("engine", ["db", "cached_db"], indirect=True)
@pytest.mark.parametrize("how", ["one", "user", "all"])
def test_a_session_killed_on_the_primary_is_refused_while_the_replica_lags(
    engine, lagging_replica, store_class, make_session, django_user_model, how
):
    alice = django_user_model.objects.create_user("alice")
    victim = make_session(user=alice)
    lagging_replica.freeze()  # still holds the session, and no revocation
    record = SessionRecord.objects.using("default").get(session_key=indexed(victim))
    if how == "one":
        result = termination.kill_session(record.handle)
    elif how == "user":
        result = termination.kill_user(alice)
    else:
        result = termination.kill_all()
    assert (result.killed, result.failed) == (1, 0)  # a good kill reported as good
    store = store_class()(victim.session_key)
    if engine == "cached_db":
        store._cache.clear()  # a cache miss: the load goes to the database
    assert SESSION_KEY not in store.load()


@pytest.mark.parametrize("engine", ["db"], indirect=True)
def test_a_save_racing_a_kill_is_refused_by_the_primary_while_the_replica_lags(
    engine, lagging_replica, store_class, make_session, django_user_model
):
    alice = django_user_model.objects.create_user("alice")
    victim = make_session(user=alice)
    in_flight = store_class()(victim.session_key)
    assert in_flight[SESSION_KEY] == str(alice.pk)
    lagging_replica.freeze()
    termination.kill_user(alice)
    in_flight["cart"] = [1]
    from django.contrib.sessions.backends.base import UpdateError

    with pytest.raises(UpdateError):
        in_flight.save()
