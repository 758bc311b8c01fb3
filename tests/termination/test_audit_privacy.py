"""The audit trail shows no more of an IP address than its reader may see on the page
(issue 14, point 2): a filter-wide kill keeps its filter as data, and the entry's
detail is written out for each reader, masked without ``reveal_ip``; entries written
before that (free text only) are masked the same way."""

from __future__ import annotations

import logging
from html import unescape
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from sessions_panel import termination
from sessions_panel.models import AuditEntry, SessionRecord
from sessions_panel.query import privacy
from tests.keys import indexed
from tests.page_support import action_url, body, logged_in, make_staff

pytestmark = pytest.mark.django_db

LIST = "/admin/sessions_panel/auditentry/"
V4 = "192.0.2.102"
V6 = "2001:db8:85a3::8a2e:370:7334"


def change_url(entry: AuditEntry) -> str:
    return reverse("admin:sessions_panel_auditentry_change", args=[entry.pk])


def readonly_detail(html: str) -> str:
    """The text of the change page's "Detail" field."""
    field = html.split("field-detail")[1]
    return unescape(field.split('<div class="readonly">')[1].split("</div>")[0])


@pytest.fixture
def auditor(django_user_model: Any) -> Client:
    """Reads the audit trail; may not see full IP addresses."""
    return logged_in(make_staff(django_user_model, "auditor", "view_auditentry"))


@pytest.fixture
def revealing_auditor(django_user_model: Any) -> Client:
    return logged_in(make_staff(django_user_model, "revealer", "view_auditentry", "reveal_ip"))


@pytest.fixture
def ip_kill(admin_client: Client, make_session: Any) -> AuditEntry:
    """A superuser's "Kill 1 matching" for a search by a full address."""
    make_session(ip=V4)
    make_session(ip="198.51.100.1")
    response = admin_client.post(action_url("kill_matching"), {"q": V4, "reason": "scraper"})
    assert response.status_code == 302
    entry = AuditEntry.objects.get()
    assert (entry.scope, entry.killed) == (AuditEntry.SCOPE_FILTER, 1)
    return entry


def assert_no_full_address(text: str) -> None:
    for fragment in (V4, "192.0.2", "2.102", V6, "85a3", "7334"):
        assert fragment not in text, fragment


# -- what is stored ---------------------------------------------------------------------


def test_a_filter_wide_kill_stores_its_filter_as_data(ip_kill: AuditEntry) -> None:
    assert ip_kill.filters == {"q": V4}
    assert ip_kill.detail == f"filter q={V4}"  # the text stays, for old readers of it


def test_every_filter_of_the_list_is_stored(admin_client: Client, make_session: Any) -> None:
    make_session(ip=V4)
    admin_client.post(
        action_url("kill_matching"),
        {"q": "192.0", "status": "guest", "flag": "swarm", "sort": "ip", "page": "3"},
    )
    entry = AuditEntry.objects.get()
    assert entry.filters == {"q": "192.0", "status": "guest", "flag": "swarm"}


def test_the_api_and_other_scopes_store_no_filter(admin_client: Client, make_session: Any) -> None:
    make_session(ip=V4)
    termination.kill_sessions(ip=V4, reason="cron")
    make_session(ip=V4)
    admin_client.post(action_url("kill_all"), {"reason": "incident"})
    assert [e.filters for e in AuditEntry.objects.order_by("pk")] == [{}, {}]


# -- what each reader sees --------------------------------------------------------------


def test_a_reader_without_reveal_ip_sees_the_searched_address_masked(
    auditor: Client, ip_kill: AuditEntry
) -> None:
    response = auditor.get(change_url(ip_kill))
    assert response.status_code == 200
    html = body(response)
    assert readonly_detail(html) == "filter q=192.0.•••.•••"
    assert_no_full_address(html)
    assert_no_full_address(body(auditor.get(LIST)))


def test_a_reader_with_reveal_ip_sees_the_whole_filter(
    revealing_auditor: Client, admin_client: Client, ip_kill: AuditEntry
) -> None:
    for client in (revealing_auditor, admin_client):
        assert readonly_detail(body(client.get(change_url(ip_kill)))) == f"filter q={V4}"


@pytest.mark.parametrize(
    ("filters", "masked", "revealed"),
    [
        ({"q": V6}, "filter q=2001:db8:•••", f"filter q={V6}"),
        ({"q": "192.0.2"}, "filter q=192.0.•••", "filter q=192.0.2"),
        ({"q": "2001:db8:85a3"}, "filter q=2001:db8:•••", "filter q=2001:db8:85a3"),
        ({"q": "2001::"}, "filter q=2001:0:•••", "filter q=2001::"),
        ({"q": "192.0."}, "filter q=192.0.", "filter q=192.0."),  # no more than the mask
        ({"q": f"alice {V4}"}, "filter q=alice+192.0.•••.•••", f"filter q=alice+{V4}"),
        ({"ip": V4}, "filter ip=192.0.•••.•••", f"filter ip={V4}"),
        (
            {"user": "7", "flag": "swarm", "status": "guest", "q": "shop & co"},
            "filter q=shop+%26+co&status=guest&flag=swarm&user=7",
            "filter q=shop+%26+co&status=guest&flag=swarm&user=7",
        ),
    ],
)
def test_each_filter_is_shown_as_far_as_the_reader_may_see_it(
    auditor: Client,
    revealing_auditor: Client,
    filters: dict[str, str],
    masked: str,
    revealed: str,
) -> None:
    entry = AuditEntry.objects.create(
        scope=AuditEntry.SCOPE_FILTER, filters=filters, detail="filter (not read)"
    )
    assert readonly_detail(body(auditor.get(change_url(entry)))) == masked
    assert readonly_detail(body(revealing_auditor.get(change_url(entry)))) == revealed


@pytest.mark.parametrize(
    ("detail", "masked", "revealed"),
    [
        (f"filter q={V4}", "filter q=192.0.•••.•••", f"filter q={V4}"),
        (
            "filter q=2001%3Adb8%3A85a3%3A%3A8a2e%3A370%3A7334",
            "filter q=2001:db8:•••",
            f"filter q={V6}",
        ),
        (
            f"filter q={V4}&status=authenticated",
            "filter q=192.0.•••.•••&status=authenticated",
            f"filter q={V4}&status=authenticated",
        ),
        ("filter q=shop", "filter q=shop", "filter q=shop"),
        (
            f"blocked {V4}, then {V6}.",
            "blocked 192.0.•••.•••, then 2001:db8:•••.",
            f"blocked {V4}, then {V6}.",
        ),
    ],
)
def test_entries_written_before_keep_their_text_masked(
    auditor: Client, revealing_auditor: Client, detail: str, masked: str, revealed: str
) -> None:
    """Old entries have free text only: what parses as an address in it is masked."""
    entry = AuditEntry.objects.create(scope=AuditEntry.SCOPE_FILTER, detail=detail)
    assert readonly_detail(body(auditor.get(change_url(entry)))) == masked
    assert readonly_detail(body(revealing_auditor.get(change_url(entry)))) == revealed


def test_the_trail_cannot_be_queried_for_the_hidden_part(
    auditor: Client, ip_kill: AuditEntry
) -> None:
    """The list's filters and search know nothing of the detail or the filter: no
    ``?detail__contains=`` oracle."""
    for lookup in (
        "detail__contains",
        "detail__startswith",
        "filters__q",
        "filters__q__startswith",
    ):
        assert auditor.get(LIST, {lookup: "192.0.2.1"}).status_code in (400, 302), lookup
    assert body(auditor.get(LIST, {"q": "192.0.2.102"})).count('class="field-created') == 0


# -- elsewhere --------------------------------------------------------------------------


def test_recent_actions_and_log_lines_carry_no_address(
    admin_client: Client, make_session: Any, caplog: pytest.LogCaptureFixture
) -> None:
    make_session(ip=V4)
    with caplog.at_level(logging.INFO, logger="sessions_panel"):
        admin_client.post(action_url("kill_matching"), {"q": V4})
    log = LogEntry.objects.get()
    assert_no_full_address(f"{log.object_repr} {log.change_message}")
    assert_no_full_address(" ".join(r.getMessage() for r in caplog.records))
    assert_no_full_address(body(admin_client.get("/admin/")))  # "Recent actions"
    assert not SessionRecord.objects.filter(ip=V4).exists()


# -- the masking functions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (V4, "192.0.•••.•••"),
        ("192.0.2", "192.0.•••"),
        ("192.0", "192.0"),
        ("192.0.", "192.0."),
        ("2001:db8::", "2001:db8:•••"),
        ("2001::", "2001:0:•••"),
        ("2001:db8:85a3:", "2001:db8:•••"),
        ("2001:DB8:85A3", "2001:DB8:•••"),
        ("shop", "shop"),
        ("cafe", "cafe"),
        (f"alice {V4}", "alice 192.0.•••.•••"),
        (f"{V4}:8080", "•••"),  # no address, and no prefix the page searches by
        ("", ""),
    ],
)
def test_mask_search_shows_a_typed_address_as_far_as_the_mask(text: str, shown: str) -> None:
    assert privacy.mask_search(text) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"from {V4}.", "from 192.0.•••.•••."),
        (f"[{V6}]:443", "[2001:db8:•••]:443"),
        (f"ip:{V4}", "ip:192.0.•••.•••"),
        (f"x{V4}y", "x192.0.•••.•••y"),
        ("::ffff:192.0.2.1", "0:0:•••"),
        ("at 12:30, v1.2.3", "at 12:30, v1.2.3"),
        ("user alice", "user alice"),
    ],
)
def test_mask_ips_in_text_masks_what_parses_as_an_address(text: str, shown: str) -> None:
    assert privacy.mask_ips_in_text(text) == shown


# -- the reason, typed by the admin who killed ------------------------------------------


@pytest.fixture
def reason_with_addresses(admin_client: Client, make_session: Any) -> AuditEntry:
    """A kill whose reason names the addresses (admins write what they saw)."""
    record = SessionRecord.objects.get(session_key=indexed(make_session(ip=V4)))
    termination.kill_session(record.handle, reason=f"scraper from {V4} and {V6}")
    return AuditEntry.objects.get()


def test_a_reason_is_shown_masked_to_readers_without_reveal_ip(
    auditor: Client, reason_with_addresses: AuditEntry
) -> None:
    for page in (LIST, change_url(reason_with_addresses)):
        html = unescape(body(auditor.get(page)))
        assert "scraper from 192.0.•••.•••" in html, page
        assert_no_full_address(html)


def test_a_reason_is_shown_whole_to_readers_with_reveal_ip(
    revealing_auditor: Client, reason_with_addresses: AuditEntry
) -> None:
    for page in (LIST, change_url(reason_with_addresses)):
        html = unescape(body(revealing_auditor.get(page)))
        assert f"scraper from {V4} and {V6}" in html, page


def test_the_reason_cannot_be_searched_for_the_hidden_part(
    auditor: Client, revealing_auditor: Client, reason_with_addresses: AuditEntry
) -> None:
    rows = 'class="field-created'
    assert body(auditor.get(LIST, {"q": "192.0.2.102"})).count(rows) == 0
    assert body(auditor.get(LIST, {"q": "scraper"})).count(rows) == 1  # words still find it
    assert body(revealing_auditor.get(LIST, {"q": "192.0.2.102"})).count(rows) == 1
