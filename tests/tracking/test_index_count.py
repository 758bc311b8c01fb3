"""The badge's count, kept by triggers on the index table: exact, and without a scan."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from sessions_panel import termination
from sessions_panel.models import IndexCount, SessionRecord
from sessions_panel.tracking import index_count, index_writer
from tests.keys import indexed

pytestmark = pytest.mark.django_db

SCAN = 'COUNT(*) AS "__count"'


def exact() -> int:
    return SessionRecord.objects.live().count()


def badge() -> int:
    caches["default"].clear()
    return index_writer.live_count()


def test_the_count_is_kept_by_this_database():
    assert index_count.maintained("default")
    assert IndexCount.objects.exists()


def test_creating_and_ending_sessions_keeps_the_count_exact_without_a_scan(
    engine, make_session, django_user_model, django_assert_max_num_queries
):
    bob = django_user_model.objects.create_user("bob")
    sessions = [make_session(user=bob if i % 2 else None) for i in range(7)]
    with django_assert_max_num_queries(1) as captured:
        counted = badge()
    assert counted == 7 == exact()
    assert not any(SCAN in query["sql"] for query in captured)
    termination.kill_session(SessionRecord.objects.get(session_key=indexed(sessions[0])).handle)
    assert badge() == 6 == exact()
    termination.kill_user(bob)
    assert badge() == 3 == exact()
    sessions[2].delete()
    assert badge() == 2 == exact()


def test_raw_and_bulk_writes_are_counted_too(make_session):
    for _ in range(5):
        make_session()
    SessionRecord.objects.filter(pk__in=SessionRecord.objects.values("pk")[:2]).delete()
    assert badge() == 3 == exact()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {SessionRecord._meta.db_table}")
    assert badge() == 0 == exact()


def test_kill_all_empties_the_index_and_keeps_the_count_of_survivors(
    engine, make_session, admin_user
):
    own = make_session(user=admin_user)
    for _ in range(6):
        make_session()
    termination.kill_all(keep=own)
    assert badge() == 1 == exact()
    make_session()
    assert badge() == 2 == exact()


def test_expired_rows_waiting_for_prune_are_not_counted_live(make_session):
    for _ in range(4):
        make_session()
    SessionRecord.objects.filter(pk__in=SessionRecord.objects.values("pk")[:3]).update(
        expiry=timezone.now() - timedelta(minutes=1)
    )
    assert badge() == 1 == exact()


def test_too_many_expired_rows_fall_back_to_counting(make_session, monkeypatch):
    for _ in range(4):
        make_session()
    SessionRecord.objects.update(expiry=timezone.now() - timedelta(minutes=1))
    monkeypatch.setattr(index_count, "EXPIRED_CAP", 2)
    assert index_count.live(timezone.now(), "default") is None
    assert badge() == 0 == exact()


def test_without_its_rows_the_count_is_not_trusted_and_prune_restores_it(make_session):
    for _ in range(3):
        make_session()
    IndexCount.objects.all().delete()  # as a test's flush leaves it
    assert index_count.live(timezone.now(), "default") is None
    assert badge() == 3
    call_command("prune", stdout=io.StringIO())
    assert index_count.live(timezone.now(), "default") == 3


def test_prune_sets_a_drifted_count_right(make_session):
    for _ in range(3):
        make_session()
    IndexCount.objects.update(total=0)
    IndexCount.objects.filter(slot=0).update(total=40)
    assert badge() == 40
    call_command("prune", stdout=io.StringIO())
    assert badge() == 3 == exact()
