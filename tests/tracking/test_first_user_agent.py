"""The user agent a session started with is stored only once it differs from the current
one, and the database fills it in with the statement that first changes it."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from sessions_panel.models import SessionRecord
from sessions_panel.query import flags
from sessions_panel.tracking import first_user_agent, index_count
from sessions_panel.tracking.client import ClientInfo
from tests.keys import indexed

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
EDGE = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Edg/131.0"

kept_by_database = pytest.mark.skipif(
    "not __import__('sessions_panel').tracking.first_user_agent.kept_by_database()",
    reason="a vendor without the trigger stores the first user agent on every row",
)


def row_of(session: Any) -> SessionRecord:
    return SessionRecord.objects.get(session_key=indexed(session))


def changed_rows() -> set[int]:
    return set(
        flags.filter_rows(SessionRecord.objects.all(), flags.CHANGED).values_list("pk", flat=True)
    )


@kept_by_database
def test_a_new_session_stores_its_user_agent_once(engine: str, make_session: Any) -> None:
    row = row_of(make_session(user_agent=FIREFOX))
    assert row.user_agent == FIREFOX
    assert row.initial_user_agent is None
    assert row.started_with_user_agent == FIREFOX
    assert not row.client_changed
    assert row.pk not in changed_rows()


def test_a_request_from_another_browser_keeps_the_first_one(
    engine: str, make_session: Any, store_class: Any
) -> None:
    session = make_session(user_agent=FIREFOX)
    store = store_class()(session.session_key)
    store.client = ClientInfo(ip="203.0.113.7", user_agent=CHROME, application="Administration")
    assert store.touch(60)
    row = row_of(session)
    assert (row.user_agent, row.started_with_user_agent) == (CHROME, FIREFOX)
    assert row.client_changed
    assert row.pk in changed_rows()


def test_a_save_from_another_browser_keeps_the_first_one(
    engine: str, make_session: Any, store_class: Any
) -> None:
    """The save's upsert changes the user agent: the trigger fires on it too."""
    session = make_session(user_agent=FIREFOX)
    store = store_class()(session.session_key)
    store.client = ClientInfo(ip="203.0.113.7", user_agent=CHROME, application="Administration")
    store["cart"] = 3
    store.save()
    row = row_of(store if engine == "signed_cookies" else session)
    assert (row.user_agent, row.started_with_user_agent) == (CHROME, FIREFOX)
    assert row.pk in changed_rows()


@pytest.mark.parametrize(
    ("later", "flagged"),
    [((CHROME, EDGE), True), ((CHROME, FIREFOX), False)],
    ids=["a second change keeps the first", "back on the first browser is not flagged"],
)
def test_later_changes_keep_the_user_agent_the_session_started_with(
    engine: str, make_session: Any, store_class: Any, later: tuple[str, str], flagged: bool
) -> None:
    session = make_session(user_agent=FIREFOX)
    for agent in later:
        store = store_class()(session.session_key)
        store.client = ClientInfo(ip="203.0.113.7", user_agent=agent, application="Administration")
        store.touch(60)
    row = row_of(session)
    assert row.initial_user_agent == FIREFOX  # written once, by the first change
    assert (row.user_agent, row.started_with_user_agent) == (later[-1], FIREFOX)
    assert row.client_changed is flagged
    assert (row.pk in changed_rows()) is flagged


def test_a_login_from_a_browser_stores_one_user_agent(django_user_model: Any) -> None:
    django_user_model.objects.create_user("alice", password="x" * 12, is_staff=True)
    client = Client(HTTP_USER_AGENT=FIREFOX)
    assert (
        client.post("/admin/login/", {"username": "alice", "password": "x" * 12}).status_code == 302
    )
    row = SessionRecord.objects.get(user__username="alice")
    assert row.user_agent == FIREFOX
    expected = None if first_user_agent.kept_by_database() else FIREFOX
    assert row.initial_user_agent == expected


@kept_by_database
@pytest.mark.django_db(transaction=True)
def test_the_migration_forgets_repeated_user_agents_and_keeps_every_trigger(
    make_session: Any,
) -> None:
    """Back to 0011 (every row holds both), then forward: repeated ones become NULL,
    different ones stay, and the index's other triggers survive SQLite's table remake."""
    executor = MigrationExecutor(connection)
    executor.migrate([("sessions_panel", "0011_index_triggers")])
    with connection.cursor() as cursor:
        for n, (agent, first) in enumerate([(FIREFOX, FIREFOX), (CHROME, FIREFOX)]):
            cursor.execute(
                "INSERT INTO sessions_panel_sessionrecord (session_key, handle, short_id, "
                "user_agent, initial_user_agent, application, created, last_seen, expiry) "
                "VALUES (%s, %s, %s, %s, %s, '', %s, %s, %s)",
                [f"key{n}", f"handle{n}", f"s{n}", agent, first] + ["2099-01-01 00:00:00"] * 3,
            )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes("sessions_panel"))
    rows = dict(SessionRecord.objects.values_list("session_key", "initial_user_agent"))
    assert rows == {"key0": None, "key1": FIREFOX}
    now = timezone.now()
    assert index_count.live(now, "default") == 2
    make_session(user_agent=FIREFOX)
    assert index_count.live(now, "default") == 3  # the count's triggers are back
    SessionRecord.objects.filter(session_key="key0").update(user_agent=CHROME)
    assert SessionRecord.objects.get(session_key="key0").initial_user_agent == FIREFOX
