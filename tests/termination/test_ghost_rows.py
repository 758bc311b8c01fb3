"""A kill racing a save of the same session leaves no index row behind: the page never
lists, and the badge never counts, a session that was killed.

Each interleaving is forced by running the kill inside one step of the save: between
the store write and the index write, or after the index write and before the check
that follows it; and a "last seen" re-index racing a kill's purge.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import UpdateError

from sessions_panel import termination
from sessions_panel.models import SessionRecord
from sessions_panel.tracking import index_writer, revocation
from sessions_panel.tracking.client import ClientInfo
from tests.keys import indexed

pytestmark = pytest.mark.django_db

KILLS = ["one", "user", "all"]


def kill(how: str, key: str, user: Any) -> None:
    if how == "one":
        termination.kill_session(SessionRecord.objects.get(session_key=indexed(key)).handle)
    elif how == "user":
        termination.kill_user(user)
    else:
        termination.kill_all()


def assert_no_trace(store_class: Any, key: str) -> None:
    assert not SessionRecord.objects.filter(session_key=indexed(key)).exists()
    index_writer.forget_live_count()
    assert index_writer.live_count() == 0
    assert SESSION_KEY not in store_class()(key).load()


@pytest.mark.parametrize("how", KILLS)
def test_a_kill_between_the_stores_write_and_the_index_write(
    engine, store_class, make_session, django_user_model, monkeypatch, how
):
    alice = django_user_model.objects.create_user("alice")
    victim = make_session(user=alice)
    in_flight = store_class()(victim.session_key)
    assert in_flight[SESSION_KEY] == str(alice.pk)
    real_upsert = index_writer.upsert

    def kill_first(*args: Any, **kwargs: Any) -> None:
        monkeypatch.setattr(index_writer, "upsert", real_upsert)
        kill(how, victim.session_key, alice)
        real_upsert(*args, **kwargs)  # the row comes back: the check after must see it

    monkeypatch.setattr(index_writer, "upsert", kill_first)
    in_flight["cart"] = [1]
    with pytest.raises(UpdateError):
        in_flight.save()
    assert_no_trace(store_class, victim.session_key)


@pytest.mark.parametrize("how", KILLS)
def test_a_kill_whose_revocation_lands_before_the_save_and_its_purge_after(
    engine, store_class, make_session, django_user_model, monkeypatch, how
):
    alice = django_user_model.objects.create_user("alice")
    victim = make_session(user=alice)
    in_flight = store_class()(victim.session_key)
    assert in_flight[SESSION_KEY] == str(alice.pk)
    # The kill's first step only: the purge has not run when the save comes.
    if how == "one":
        revocation.revoke_key(indexed(victim))
    elif how == "user":
        revocation.revoke_user(alice.pk)
    else:
        revocation.revoke_all()
    in_flight["cart"] = [1]
    with pytest.raises(UpdateError):
        in_flight.save()
    assert_no_trace(store_class, victim.session_key)


@pytest.mark.parametrize("how", KILLS)
def test_a_last_seen_reindex_racing_the_purge_leaves_no_row(
    engine, store_class, make_session, django_user_model, how
):
    """A request that loaded the session before the kill touches "last seen" after the
    purge removed its row: re-indexing it would list a killed session."""
    alice = django_user_model.objects.create_user("alice")
    victim = make_session(user=alice)
    in_flight = store_class()(victim.session_key)
    assert in_flight[SESSION_KEY] == str(alice.pk)
    kill(how, victim.session_key, alice)
    index_writer.recently_seen.clear()
    in_flight.client = ClientInfo(ip="203.0.113.9", user_agent="ua", application="Shop")
    assert in_flight.touch(0) is False
    assert_no_trace(store_class, victim.session_key)
