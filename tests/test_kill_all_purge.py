"""Kill All at scale: the epoch ends everything at once; the purge is bounded in time."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from sessions_panel import records, termination
from sessions_panel.models import SessionRecord
from tests.page_support import body, handles_in, logged_in, page_url

pytestmark = pytest.mark.django_db


def test_kill_all_that_runs_out_of_purge_time_still_ends_and_hides_every_session(
    engine, admin_user, make_session, store_class, monkeypatch
):
    victims = [make_session() for _ in range(5)]
    admin = logged_in(admin_user)
    own = SessionRecord.objects.get(session_key=admin.session.session_key)
    monkeypatch.setattr(termination, "PURGE_SECONDS", 0.0)

    result = termination.kill_all(keep=admin.session)

    assert result.killed == 5
    # Nothing purged yet: the rows and the stored data are still there ...
    assert SessionRecord.objects.count() == 6
    assert all(store_class()().exists(v.session_key) for v in victims)
    # ... but every one of those sessions is refused, and the list no longer shows them.
    assert all(store_class()(v.session_key).load() == {} for v in victims)
    assert list(SessionRecord.objects.live()) == [own]
    records.forget_live_count()
    assert records.live_count() == 1
    response = admin.get(page_url())
    assert handles_in(body(response)) == [own.handle]

    out = __import__("io").StringIO()
    call_command("prune", stdout=out)
    assert "Purged 5 sessions ended by Kill All" in out.getvalue()
    assert list(SessionRecord.objects.all()) == [own]
    assert not any(store_class()().exists(v.session_key) for v in victims)


def test_sessions_started_after_kill_all_are_listed_and_survive_the_purge(
    engine, make_session, monkeypatch
):
    make_session()
    monkeypatch.setattr(termination, "PURGE_SECONDS", 0.0)
    termination.kill_all()
    newcomer = make_session()
    assert [r.session_key for r in SessionRecord.objects.live()] == [newcomer.session_key]
    termination.purge_ended()
    assert [r.session_key for r in SessionRecord.objects.all()] == [newcomer.session_key]
