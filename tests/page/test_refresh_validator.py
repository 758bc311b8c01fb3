"""The live refresh costs nothing when nothing changed: an ETag, and a bodiless 304."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from django.test import Client
from django.utils import formats, timezone

from sessions_panel import termination
from sessions_panel.models import SessionRecord
from tests.keys import indexed
from tests.page_support import HTMX, body, page_url, row_html

pytestmark = pytest.mark.django_db

POLL: dict[str, Any] = {**HTMX, "HTTP_HX_TRIGGER": "sp-poller"}


@pytest.fixture
def crowd(admin_client: Client, django_user_model: Any, make_session: Any) -> list[Any]:
    """Five sessions, and an admin who has the page open already (their own session's
    "last seen" moved it to the top of the list at their first request)."""
    users = [django_user_model.objects.create_user(f"user{i}") for i in range(5)]
    sessions = [make_session(user=u, ip=f"198.51.100.{i + 1}") for i, u in enumerate(users)]
    assert admin_client.get(page_url()).status_code == 200
    return sessions


def poll(client: Client, tag: str | None = None, **params: str) -> Any:
    """The poller's request; ``HTTP_*`` keys are headers, the rest the query."""
    extra = dict(POLL)
    if tag is not None:
        extra["HTTP_IF_NONE_MATCH"] = tag
    extra.update({k: v for k, v in params.items() if k.startswith("HTTP_")})
    query = {k: v for k, v in params.items() if not k.startswith("HTTP_")}
    return client.get(page_url(), query, **extra)


def test_an_unchanged_list_answers_304_with_no_body(admin_client: Client, crowd: Any) -> None:
    first = poll(admin_client)
    assert first.status_code == 200
    tag = first["ETag"]
    assert tag.startswith('"') and tag.endswith('"')

    again = poll(admin_client, tag)

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == tag
    # The footer's time travels in a header: the client says when it last checked.
    assert unquote(again["SP-Updated"]).startswith("Updated at ")
    # Still never stored by a cache between the admin and the server.
    assert "no-store" in again["Cache-Control"]


def test_two_answers_differ_only_in_their_tokens_and_time_yet_share_a_tag(
    admin_client: Client, crowd: Any
) -> None:
    first, second = poll(admin_client), poll(admin_client)
    # Fresh masks of the CSRF token each time: the bytes differ, what is shown does not.
    assert first.content != second.content
    assert first["ETag"] == second["ETag"]


def test_a_new_session_changes_the_tag(
    admin_client: Client, crowd: Any, django_user_model: Any, make_session: Any
) -> None:
    tag = poll(admin_client)["ETag"]
    make_session(user=django_user_model.objects.create_user("newcomer"), ip="192.0.2.8")

    answer = poll(admin_client, tag)

    assert answer.status_code == 200
    assert "newcomer" in body(answer)
    assert answer["ETag"] != tag


def test_a_killed_session_changes_the_tag(admin_client: Client, crowd: Any) -> None:
    tag = poll(admin_client)["ETag"]
    record = SessionRecord.objects.filter(user_id__isnull=False).exclude(
        session_key=indexed(admin_client.session)
    )[0]
    termination.kill_session(record.handle, actor=None, reason="test")

    answer = poll(admin_client, tag)

    assert answer.status_code == 200
    assert record.handle not in body(answer)


def test_another_search_never_answers_304_with_a_tag_of_the_whole_list(
    admin_client: Client, crowd: Any
) -> None:
    tag = poll(admin_client)["ETag"]

    answer = poll(admin_client, tag, q="user3")

    assert answer.status_code == 200
    assert "user3" in body(answer)


def test_another_admin_never_gets_a_304_on_a_tag_made_for_someone_else(
    admin_client: Client, admin_user: Any, crowd: Any
) -> None:
    tag = poll(admin_client)["ETag"]
    other = Client()
    other.force_login(admin_user)

    # Same list, same permissions: but the page's CSRF tokens are this client's own.
    answer = poll(other, tag)

    assert answer.status_code == 200


def test_a_stale_or_foreign_validator_gets_the_list(admin_client: Client, crowd: Any) -> None:
    for tag in ('"0123"', "*garbage", 'W/"x"', "", '"' + "a" * 5000 + '"'):
        answer = poll(admin_client, tag)
        assert answer.status_code == 200, tag
        assert "user1" in body(answer)


def test_the_full_page_is_not_tagged(admin_client: Client, crowd: Any) -> None:
    page = admin_client.get(page_url())
    assert page.status_code == 200
    assert "ETag" not in page


def test_behind_gzip_middleware_the_weak_tag_it_passes_on_still_answers_304(
    admin_user: Any, crowd: Any, settings: Any
) -> None:
    settings.MIDDLEWARE = ["django.middleware.gzip.GZipMiddleware", *settings.MIDDLEWARE]
    client = Client()  # a client loads the middleware at its first request
    client.force_login(admin_user)
    client.get(page_url())
    first = poll(client, HTTP_ACCEPT_ENCODING="gzip")
    assert first["Content-Encoding"] == "gzip"
    tag = first["ETag"]
    assert tag.startswith('W/"')  # GZipMiddleware weakens the tag it compresses

    again = poll(client, tag, HTTP_ACCEPT_ENCODING="gzip")

    assert again.status_code == 304
    assert again.content == b""


def test_minutes_passing_leave_an_unchanged_list_unchanged(
    admin_client: Client, crowd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row says when it was last seen, not how long ago: "5 minutes ago" changed every
    minute on every row, and a refresh of 50 rows almost never found the list unchanged."""
    tag = poll(admin_client)["ETag"]
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(minutes=7))

    assert poll(admin_client, tag).status_code == 304


def test_a_row_says_when_it_was_last_seen(admin_client: Client, crowd: Any) -> None:
    record = SessionRecord.objects.filter(user__username="user2").get()
    earlier = timezone.now() - timedelta(days=3)
    SessionRecord.objects.filter(pk=record.pk).update(last_seen=earlier)

    html = body(poll(admin_client))

    row = row_html(html, record.handle)
    shown = formats.date_format(timezone.localtime(earlier), "SHORT_DATETIME_FORMAT")
    # Plain text in the third cell: the short date and time, another day.
    assert f'<td data-label="Last seen">{shown}</td>' in row
    # Seen today: the time alone ("9:31 a.m.", or "10 a.m." on the hour).
    recent = SessionRecord.objects.get(user__username="user3")
    time_only = formats.date_format(timezone.localtime(recent.last_seen), "TIME_FORMAT")
    assert f'<td data-label="Last seen">{time_only}</td>' in row_html(html, recent.handle)
