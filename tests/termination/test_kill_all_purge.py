"""Kill All at scale: one epoch ends everything; the index is emptied in one statement."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions_panel import termination
from sessions_panel.models import SessionRecord
from sessions_panel.termination import purge
from sessions_panel.tracking import index_writer, revocation
from tests.keys import indexed
from tests.page_support import body, handles_in, logged_in, page_url

pytestmark = pytest.mark.django_db


def test_kill_all_out_of_purge_time_empties_the_index_in_one_statement(
    engine, admin_user, make_session, store_class, monkeypatch
):
    victims = [make_session() for _ in range(30)]
    admin = logged_in(admin_user)
    own = SessionRecord.objects.get(session_key=indexed(admin.session))
    monkeypatch.setattr(purge, "PURGE_SECONDS", 0.0)  # as with a million sessions

    with CaptureQueriesContext(connection) as queries:
        result = termination.kill_all(keep=admin.session)

    assert result.killed == 30
    emptied = [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("DELETE", "TRUNCATE"))
        and SessionRecord._meta.db_table in q["sql"]
    ]
    # One statement, not one per session however many there are: on PostgreSQL a
    # TRUNCATE (DELETE marks every row), on SQLite a DELETE without WHERE (it frees pages).
    assert len(emptied) == 1 and "WHERE" not in emptied[0]
    assert emptied[0].startswith("TRUNCATE" if connection.vendor == "postgresql" else "DELETE")
    assert list(SessionRecord.objects.all()) == [own]
    assert all(store_class()(v.session_key).load() == {} for v in victims)
    index_writer.forget_live_count()
    assert index_writer.live_count() == 1
    assert handles_in(body(admin.get(page_url()))) == [own.handle]


def test_a_session_started_during_kill_all_keeps_its_row(engine, make_session, monkeypatch):
    make_session()
    monkeypatch.setattr(purge, "PURGE_SECONDS", 0.0)
    late: list[str] = []
    real_revoke_all = revocation.revoke_all

    def revoke_then_someone_logs_in(epoch=None):
        value = real_revoke_all(epoch)
        late.append(make_session().session_key)  # between the epoch and the clean-up
        return value

    monkeypatch.setattr(revocation, "revoke_all", revoke_then_someone_logs_in)
    termination.kill_all()
    assert [r.session_key for r in SessionRecord.objects.all()] == late


def test_a_row_that_outlived_its_sessions_kill_goes_on_the_next_load(
    engine, make_session, store_class, monkeypatch
):
    monkeypatch.setattr(purge, "PURGE_SECONDS", 0.0)  # the stored data stays
    victim = make_session()
    row = SessionRecord.objects.get(session_key=indexed(victim))
    termination.kill_all()
    SessionRecord.objects.bulk_create([row])  # e.g. a save that raced the clean-up
    assert store_class()(victim.session_key).load() == {}
    assert not SessionRecord.objects.filter(session_key=indexed(victim)).exists()
