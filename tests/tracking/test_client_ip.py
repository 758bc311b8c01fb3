"""The client IP: REMOTE_ADDR unless trusted proxies are configured, then the right-most
untrusted X-Forwarded-For hop; anything unparsable is stored as unknown, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, RequestFactory

from sessions_panel.models import SessionRecord
from sessions_panel.tracking.client import client_ip

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_probe")]


def stored_ip(client: Client, remote_addr: str, forwarded: str | None = None) -> str | None:
    """Make a request that saves a new session and return the IP its index row holds."""
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    response = client.get("/probe/write/", **extra)  # type: ignore[arg-type]
    assert response.status_code == 200
    return SessionRecord.objects.get().ip


def ip_of(remote_addr: str, forwarded: str | None = None) -> str | None:
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **extra))  # type: ignore[arg-type]


# -- no proxy configured: REMOTE_ADDR, whatever the headers say --------------------------


def test_forged_x_forwarded_for_is_ignored_without_a_proxy_setting(client: Client) -> None:
    assert stored_ip(client, "203.0.113.10", "6.6.6.6") == "203.0.113.10"


@pytest.mark.parametrize("forwarded", ["6.6.6.6, 7.7.7.7", "garbage", "", "::1"])
def test_remote_addr_wins_over_any_forwarded_header_by_default(forwarded: str) -> None:
    assert ip_of("198.51.100.4", forwarded) == "198.51.100.4"


# -- trusted hops by count -----------------------------------------------------------------


def test_one_trusted_hop_takes_the_right_most_forwarded_address(
    client: Client, settings: Any
) -> None:
    settings.SESSIONS_PANEL = {"TRUSTED_PROXY_COUNT": 1}
    # The client forged the first entry; our proxy appended the address it saw.
    assert stored_ip(client, "10.0.0.2", "6.6.6.6, 198.51.100.23") == "198.51.100.23"


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (1, "198.51.100.23", "198.51.100.23"),
        (2, "6.6.6.6, 198.51.100.23, 10.0.0.9", "198.51.100.23"),
        (2, "6.6.6.6, 198.51.100.23, 10.0.0.9 , ", "198.51.100.23"),  # stray separators
        (1, "2001:db8::5", "2001:db8::5"),
        (1, None, "10.0.0.2"),  # no header: the peer itself is the left-most hop
    ],
)
def test_trusted_proxy_count_skips_exactly_that_many_hops(
    settings: Any, count: int, forwarded: str | None, expected: str
) -> None:
    settings.SESSIONS_PANEL = {"TRUSTED_PROXY_COUNT": count}
    assert ip_of("10.0.0.2", forwarded) == expected


def test_a_garbage_hop_inside_the_trusted_chain_gives_unknown(settings: Any) -> None:
    settings.SESSIONS_PANEL = {"TRUSTED_PROXY_COUNT": 1}
    assert ip_of("10.0.0.2", "198.51.100.23, not-an-ip") is None


# -- trusted hops by CIDR range ------------------------------------------------------------


@pytest.mark.parametrize(
    ("ranges", "remote", "forwarded", "expected"),
    [
        # Through two proxies of the range: the first address outside it.
        (["10.0.0.0/8"], "10.0.0.2", "6.6.6.6, 198.51.100.23, 10.1.2.3", "198.51.100.23"),
        # A peer outside the range is the client, whatever it forwards.
        (["10.0.0.0/8"], "203.0.113.50", "198.51.100.23", "203.0.113.50"),
        # IPv6 proxy range, IPv6 client.
        (["2001:db8:ffff::/48"], "2001:db8:ffff::1", "2001:db8:1::42", "2001:db8:1::42"),
        # Several ranges, host bits in a range are tolerated.
        (
            ["172.16.0.0/12", "192.168.1.7/24"],
            "192.168.1.1",
            "198.51.100.7, 172.20.0.1",
            "198.51.100.7",
        ),
        # Every hop is a trusted proxy: the left-most one is the closest to the client.
        (["10.0.0.0/8"], "10.0.0.2", "10.9.9.9, 10.1.1.1", "10.9.9.9"),
    ],
)
def test_trusted_proxy_ranges_take_the_right_most_address_outside_them(
    settings: Any, ranges: list[str], remote: str, forwarded: str, expected: str
) -> None:
    settings.SESSIONS_PANEL = {"TRUSTED_PROXY_RANGES": ranges}
    assert ip_of(remote, forwarded) == expected


def test_trusted_proxy_range_is_stored_through_the_middleware(
    client: Client, settings: Any
) -> None:
    settings.SESSIONS_PANEL = {"TRUSTED_PROXY_RANGES": ["10.0.0.0/8"]}
    assert stored_ip(client, "10.0.0.2", "6.6.6.6, 198.51.100.23") == "198.51.100.23"


# -- invalid and odd addresses -------------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("", None),
        ("unix:", None),
        ("unix:/run/gunicorn.sock", None),
        ("garbage", None),
        ("999.1.1.1", None),
        ("203.0.113.9:443", None),
        ("1" * 10_000, None),
        ("fe80::1%lo0", "fe80::1"),
        ("::ffff:192.0.2.128", "192.0.2.128"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("[2001:db8::1]:8443", "2001:db8::1"),
        (" 192.0.2.5 ", "192.0.2.5"),
    ],
)
def test_odd_remote_addr_is_stored_normalized_or_unknown_never_a_500(
    client: Client, remote: str, expected: str | None
) -> None:
    assert stored_ip(client, remote) == expected


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("", "10.0.0.2"),  # nothing forwarded: the trusted peer is all we know
        ("unix:", None),
        ("garbage", None),
        ("fe80::1%lo0, ,", "fe80::1"),
        ("\x00", None),
        ("1.2.3.4" * 2000, None),
    ],
)
def test_odd_forwarded_header_behind_a_trusted_proxy_is_normalized_or_unknown(
    client: Client, settings: Any, forwarded: str, expected: str | None
) -> None:
    settings.SESSIONS_PANEL = {"TRUSTED_PROXY_COUNT": 1}
    assert stored_ip(client, "10.0.0.2", forwarded) == expected


def test_forwarded_ipv4_mapped_and_scoped_addresses_are_normalized(settings: Any) -> None:
    settings.SESSIONS_PANEL = {"TRUSTED_PROXY_COUNT": 1}
    assert ip_of("10.0.0.2", "::ffff:198.51.100.9") == "198.51.100.9"
    assert ip_of("10.0.0.2", "fe80::abcd%eth0") == "fe80::abcd"
