"""Races: kills hold against requests that are running while they happen."""

from __future__ import annotations

import threading

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django.db import connection
from django.test import Client

from sessions_panel import termination
from sessions_panel.models import SessionRecord
from tests.keys import indexed
from tests.page_support import action_url, logged_in, page_url

PROBE = "/admin/"


def is_anonymous(client: Client) -> bool:
    response = client.get(PROBE)
    return response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.django_db
def test_in_flight_request_cannot_save_a_killed_session_back(engine, make_session, store_class):
    victim = make_session(cart=[1])
    in_flight = store_class()(victim.session_key)
    assert in_flight["cart"] == [1]  # the request loaded the session before the kill ...
    record = SessionRecord.objects.get(session_key=indexed(victim))
    assert termination.kill_session(record.handle).killed == 1
    in_flight["cart"] = [1, 2]  # ... and saves it after
    with pytest.raises(UpdateError):
        in_flight.save()
    assert store_class()(victim.session_key).load() == {}
    assert not SessionRecord.objects.filter(session_key=indexed(victim)).exists()


@pytest.mark.django_db(transaction=True)
def test_kill_all_while_twenty_clients_keep_requesting_logs_every_one_out(
    engine, django_user_model, settings
):
    clients = [
        logged_in(django_user_model.objects.create_user(f"user{i}", is_staff=True))
        for i in range(20)
    ]
    stop = threading.Event()
    errors: list[str] = []

    def browse(client: Client) -> None:
        try:
            while not stop.is_set():
                status = client.get(PROBE).status_code
                if status not in (200, 302):
                    errors.append(str(status))
        finally:
            connection.close()

    threads = [threading.Thread(target=browse, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    try:
        result = termination.kill_all()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
    assert result.killed == 20
    assert [is_anonymous(c) for c in clients] == [True] * 20


@pytest.mark.django_db
def test_two_admins_killing_the_same_session_one_succeeds_one_is_told_it_had_ended(
    engine, admin_user, django_user_model, make_session
):
    other_admin = django_user_model.objects.create_superuser("root2", "r@example.com", "pw")
    first, second = logged_in(admin_user), logged_in(other_admin)
    victim = make_session()
    handle = SessionRecord.objects.get(session_key=indexed(victim)).handle
    one = first.post(action_url("kill"), {"handle": handle}, follow=True)
    two = second.post(action_url("kill"), {"handle": handle}, follow=True)
    assert one.status_code == two.status_code == 200
    assert "was ended" in one.content.decode()
    assert "had already ended" in two.content.decode()
    assert first.get(page_url()).status_code == 200
