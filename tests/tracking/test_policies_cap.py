"""MAX_SESSIONS_PER_USER: at each login, the user's oldest sessions over the cap end
("end_oldest", audited once per login), or the login is refused with a message on the
login form ("refuse"), through the admin's login and Django's stock ``LoginView``; per
user through MAX_SESSIONS_RESOLVER; guests and dead sessions never count; and two
logins at the cap at once never leave cap + 1 (threads, on the configured database)."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import alogin
from django.contrib.messages import get_messages
from django.contrib.sessions.backends.base import SessionBase
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone

from sessions_panel.models import AuditEntry, SessionRecord, short_id_for
from sessions_panel.termination import policy
from sessions_panel.tracking import policies, revocation
from tests.keys import indexed
from tests.policy_support import (
    PASSWORD,
    idle_for,
    killed_signals,  # noqa: F401 (a fixture)
    log_in,
    login_client,
    move_back,
    policy_entries,
    row,
    whoami,
)
from tests.revocation_support import session_queries

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_policies")]

CAP = 3
REFUSED = "Sign-in refused: your account already has 3 active sessions, the most allowed."


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)


@pytest.fixture
def end_oldest(settings: Any) -> int:
    settings.SESSIONS_PANEL = {"MAX_SESSIONS_PER_USER": CAP}
    return CAP


@pytest.fixture
def refuse(settings: Any) -> int:
    settings.SESSIONS_PANEL = {"MAX_SESSIONS_PER_USER": CAP, "MAX_SESSIONS_ACTION": "refuse"}
    return CAP


def sessions_of(user: Any) -> set[str]:
    return set(
        SessionRecord.objects.live().filter(user_id=user.pk).values_list("session_key", flat=True)
    )


def per_user_cap(user: Any) -> int | None:
    """A resolver: one session for "solo", no cap for superusers, the setting for the rest."""
    if user.get_username() == "solo":
        return 1
    if user.is_superuser:
        return 0
    return None


# -- end_oldest ---------------------------------------------------------------------------


def test_a_login_over_the_cap_ends_the_oldest_session(
    engine: str,
    end_oldest: int,
    alice: Any,
    killed_signals: list[dict[str, Any]],  # noqa: F811
) -> None:
    clients = [login_client("alice") for _ in range(CAP)]
    assert sessions_of(alice) == {indexed(key) for _, key in clients}
    assert policy_entries() == []

    newest, newest_key = login_client("alice")

    first, first_key = clients[0]
    assert whoami(first) == b""
    assert [whoami(c) for c, _ in clients[1:]] == [b"alice", b"alice"]
    assert whoami(newest) == b"alice"
    assert sessions_of(alice) == {indexed(key) for _, key in clients[1:]} | {indexed(newest_key)}
    [entry] = policy_entries()
    assert entry.reason == "over the cap of 3"
    assert entry.detail == "user alice: a login beyond the cap ended the oldest sessions"
    assert (entry.requested, entry.killed) == (1, 1)
    assert entry.short_ids == [short_id_for(indexed(first_key))]
    assert [s["scope"] for s in killed_signals] == [AuditEntry.SCOPE_POLICY]


def test_oldest_means_oldest_login_not_oldest_use(engine: str, end_oldest: int, alice: Any) -> None:
    clients = [login_client("alice") for _ in range(CAP)]
    move_back(clients[1][1], 3600, "logged_in")  # the second login is the oldest
    idle_for(clients[0][1], 3000)  # the first is the least recently used

    login_client("alice")

    assert whoami(clients[1][0]) == b""
    assert whoami(clients[0][0]) == b"alice"


def test_a_lower_cap_ends_as_many_as_it_takes_in_one_entry(
    engine: str, settings: Any, alice: Any
) -> None:
    clients = [login_client("alice") for _ in range(4)]
    settings.SESSIONS_PANEL = {"MAX_SESSIONS_PER_USER": 2}

    login_client("alice")

    assert [whoami(c) for c, _ in clients] == [b"", b"", b"", b"alice"]
    [entry] = policy_entries()
    assert entry.killed == 3
    assert entry.reason == "over the cap of 2"


def test_guest_sessions_never_count(
    engine: str, end_oldest: int, make_session: Any, alice: Any
) -> None:
    guests = [make_session(cart=[n]).session_key for n in range(5)]
    clients = [login_client("alice") for _ in range(CAP)]
    assert all(row(key) is not None for key in guests)
    assert all(whoami(c) == b"alice" for c, _ in clients)
    assert policy_entries() == []


def test_another_users_sessions_never_count(
    engine: str, end_oldest: int, alice: Any, django_user_model: Any
) -> None:
    django_user_model.objects.create_user("bob", password=PASSWORD, is_staff=True)
    bobs = [login_client("bob") for _ in range(CAP)]
    alices = [login_client("alice") for _ in range(CAP)]
    assert all(whoami(c) == b"bob" for c, _ in bobs)
    assert all(whoami(c) == b"alice" for c, _ in alices)


def test_the_cap_is_off_by_default(engine: str, alice: Any) -> None:
    clients = [login_client("alice") for _ in range(6)]
    assert all(whoami(c) == b"alice" for c, _ in clients)
    assert policy_entries() == []


def test_an_async_login_holds_the_cap_too(
    engine: str, end_oldest: int, alice: Any, store_class: Any
) -> None:
    clients = [login_client("alice") for _ in range(CAP)]
    request = HttpRequest()
    request.session = store_class()()

    async_to_sync(alogin)(request, alice)
    request.session.save()

    assert whoami(clients[0][0]) == b""
    assert len(sessions_of(alice)) == CAP
    assert row(request.session.session_key).logged_in is not None  # type: ignore[arg-type, union-attr]


# -- refuse -------------------------------------------------------------------------------


def test_refuse_sends_the_admin_login_back_to_its_form_with_the_reason(
    engine: str,
    refuse: int,
    alice: Any,
    killed_signals: list[dict[str, Any]],  # noqa: F811
) -> None:
    clients = [login_client("alice") for _ in range(CAP)]
    late = Client()

    response = log_in(late, "alice")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"  # the form, not /admin/
    form = late.get(response["Location"])
    assert form.status_code == 200
    assert REFUSED in form.content.decode()
    assert whoami(late) == b""
    assert all(whoami(c) == b"alice" for c, _ in clients)
    assert sessions_of(alice) == {indexed(key) for _, key in clients}
    [entry] = policy_entries()
    assert entry.reason == "login refused: over the cap of 3"
    assert entry.detail == "user alice: login refused"
    assert entry.user_ids == [str(alice.pk)]
    assert [s["scope"] for s in killed_signals] == [AuditEntry.SCOPE_POLICY]


def test_refuse_with_djangos_stock_login_view(engine: str, refuse: int, alice: Any) -> None:
    for _ in range(CAP):
        login_client("alice")
    late = Client()

    response = log_in(late, "alice", url="/accounts/login/", next="/private/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/private/"
    assert REFUSED in late.get(response["Location"]).content.decode()
    assert late.get("/private/").status_code == 302  # still anonymous


def test_refuse_lets_a_login_in_below_the_cap(engine: str, refuse: int, alice: Any) -> None:
    clients = [login_client("alice") for _ in range(CAP)]
    assert all(whoami(c) == b"alice" for c, _ in clients)
    assert policy_entries() == []


def test_dead_sessions_never_hold_a_login_back(
    engine: str, settings: Any, alice: Any, store_class: Any
) -> None:
    """Sessions a load would refuse (idle, killed but not yet purged) do not count."""
    settings.SESSIONS_PANEL = {
        "MAX_SESSIONS_PER_USER": CAP,
        "MAX_SESSIONS_ACTION": "refuse",
        "IDLE_TIMEOUT": 1800,
    }
    clients = [login_client("alice") for _ in range(CAP)]
    idle_for(clients[0][1], 1801)
    revocation.revoke_key(indexed(clients[1][1]))  # killed; the row and data still there

    late, _ = login_client("alice")

    assert whoami(late) == b"alice"


def test_the_refused_message_is_left_for_the_login_form(
    engine: str, refuse: int, alice: Any, store_class: Any
) -> None:
    for _ in range(CAP):
        login_client("alice")
    from django.contrib.auth import login
    from django.contrib.messages.storage.fallback import FallbackStorage

    request = HttpRequest()
    request.session = store_class()()
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]

    login(request, alice)

    assert request.session.is_empty()  # logged out again: nothing left to save
    assert getattr(request, policies.REFUSED_LOGIN) is True
    assert [str(m) for m in get_messages(request)][0].startswith(REFUSED)


# -- per user -----------------------------------------------------------------------------


def test_a_resolver_sets_a_cap_per_user(
    engine: str, settings: Any, django_user_model: Any, alice: Any
) -> None:
    settings.SESSIONS_PANEL = {
        "MAX_SESSIONS_PER_USER": CAP,
        "MAX_SESSIONS_RESOLVER": "tests.tracking.test_policies_cap.per_user_cap",
    }
    django_user_model.objects.create_user("solo", password=PASSWORD, is_staff=True)
    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)

    solo = [login_client("solo") for _ in range(2)]
    roots = [login_client("root") for _ in range(CAP + 2)]
    alices = [login_client("alice") for _ in range(CAP + 1)]

    assert [whoami(c) for c, _ in solo] == [b"", b"solo"]
    assert all(whoami(c) == b"root" for c, _ in roots)  # 0: no cap for them
    assert [whoami(c) for c, _ in alices] == [b""] + [b"alice"] * CAP  # None: the setting


def test_the_cap_costs_a_login_a_few_queries_and_a_request_none(
    engine: str, end_oldest: int, alice: Any
) -> None:
    from django.test.utils import CaptureQueriesContext

    client, _ = login_client("alice")
    whoami(client)
    with CaptureQueriesContext(connection) as context:
        assert whoami(client) == b"alice"
    # the session (and its state), the user
    assert len(context.captured_queries) == session_queries(engine) + 1


# -- concurrency --------------------------------------------------------------------------


def _race(count: int, monkeypatch: pytest.MonkeyPatch) -> list[Client]:
    """``count`` logins of alice at once: all of them reach the cap check together, and
    each holds its lock a while, so without one they would all count the same sessions."""
    barrier = threading.Barrier(count, timeout=10)
    real_cap_for, real_lock = policies.cap_for, policies.lock_user

    def cap_for(user: Any) -> int:
        cap = real_cap_for(user)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return cap

    def lock_user(using: str, user_pk: Any) -> None:
        real_lock(using, user_pk)
        time.sleep(0.05)  # counted, not yet committed: the window a race would use

    monkeypatch.setattr(policies, "cap_for", cap_for)
    monkeypatch.setattr(policies, "lock_user", lock_user)
    clients = [Client() for _ in range(count)]
    errors: list[BaseException] = []

    def run(client: Client) -> None:
        try:
            response = log_in(client, "alice")
            # 400: a later login of the race ended this one's session (the oldest by
            # then) before its response saved it: Django's SessionInterrupted.
            assert response.status_code in (302, 400)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return clients


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", ["end_oldest", "refuse"])
def test_concurrent_logins_at_the_cap_never_leave_cap_plus_one(
    engine: str,
    settings: Any,
    django_user_model: Any,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
) -> None:
    alice = django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)
    settings.SESSIONS_PANEL = {"MAX_SESSIONS_PER_USER": CAP, "MAX_SESSIONS_ACTION": action}
    existing = [login_client("alice") for _ in range(CAP - 1)]  # one place left

    clients = _race(4, monkeypatch)

    monkeypatch.undo()
    alive = [c for c in clients if whoami(c) == b"alice"]
    alive_before = [c for c, _ in existing if whoami(c) == b"alice"]
    live = sessions_of(alice)
    assert len(live) == CAP, (connection.vendor, len(live))
    assert len(alive) + len(alive_before) == CAP
    if action == "refuse":
        assert len(alive) == 1  # the one place left; three were refused
        assert len(alive_before) == CAP - 1
        assert len(policy_entries()) == 3
    else:
        assert len(alive) == CAP  # each login ended the oldest then
        assert alive_before == []


def test_the_lock_is_the_databases(end_oldest: int) -> None:
    """PostgreSQL: an advisory lock per user; SQLite: its single writer."""
    from django.db import transaction

    with transaction.atomic():
        policies.lock_user("default", 1)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                )
                assert cursor.fetchone()[0] >= 1
        else:
            assert connection.in_atomic_block


def test_expired_sessions_never_count(engine: str, refuse: int, alice: Any) -> None:
    clients = [login_client("alice") for _ in range(CAP)]
    SessionRecord.objects.filter(session_key=indexed(clients[0][1])).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )
    late, _ = login_client("alice")
    assert whoami(late) == b"alice"


def test_a_login_without_a_tracked_session_is_left_alone(end_oldest: int, alice: Any) -> None:
    request = HttpRequest()
    request.session = SessionBase()  # no tracked engine: nothing to count or end
    policy.on_login(sender=None, request=request, user=alice)
    assert policy_entries() == []
