"""Who is on the other end of a request: client IP, cleaned user agent, application.

The IP follows the panel's security rule: ``REMOTE_ADDR`` unless trusted proxies are
configured, then the right-most untrusted hop of ``X-Forwarded-For``. Anything that does
not parse as an address is stored as unknown (``None``), never guessed.

Working all that out costs more than the rest of the panel's per-request work, and
most requests write nothing, so the middleware hands the engine a
:class:`RequestClient` that does it only when asked.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Hashable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.apps import apps
from django.http import HttpRequest

from sessions_panel.conf import conf, generation

APPLICATION_MAX_LENGTH = 100

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Request metadata handed to the tracked engine; ``None`` fields mean "unknown"."""

    ip: str | None
    user_agent: str
    application: str | None = None


def parse_ip(value: str) -> IPAddress | None:
    value = value.strip()
    if not value or len(value) > 64:
        return None
    if value.startswith("[") and "]" in value:  # "[v6]" or "[v6]:port"
        value = value[1 : value.index("]")]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id is not None:  # "fe80::1%lo0": the zone means nothing to us
            return ipaddress.IPv6Address(value.split("%", 1)[0])
    return address


@lru_cache(maxsize=32)
def _networks(ranges: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(r, strict=False) for r in ranges)


def client_ip(request: HttpRequest) -> str | None:
    """The client address, trusting only the proxies the host configured."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    count = conf.TRUSTED_PROXY_COUNT
    ranges = _networks(conf.TRUSTED_PROXY_RANGES)
    if count <= 0 and not ranges:
        address = parse_ip(remote)
        return str(address) if address else None
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR") or "")
    # Nearest hop last: what each proxy saw as its peer, ending with our own peer.
    chain = [hop for hop in forwarded.split(",") if hop.strip()][-64:] + [remote]
    for position, hop in enumerate(reversed(chain)):
        address = parse_ip(hop)
        if address is None:
            return None  # a hop we would have to trust is garbage: unknown, not guessed
        trusted = position < count or any(address in net for net in ranges)
        if not trusted:
            return str(address)
    # Every hop is a trusted proxy: the left-most one is the closest to the client.
    address = parse_ip(chain[0])
    return str(address) if address else None


def clean_user_agent(value: str | bytes | None, max_length: int | None = None) -> str:
    """The user agent without control characters, NUL or surrogates, truncated."""
    if max_length is None:
        max_length = conf.USER_AGENT_MAX_LENGTH
    if not value:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    # Cut first so a 64 KB header costs no more than a short one.
    value = value[: max_length * 2]
    if value.isascii() and value.isprintable():
        # The usual browser header: nothing to drop (no control character is printable).
        return " ".join(value.split())[:max_length]
    cleaned = "".join(
        " " if ch in "\t\r\n" else ch
        for ch in value
        if ch in "\t\r\n" or unicodedata.category(ch) not in ("Cc", "Cs", "Cf")
    )
    return " ".join(cleaned.split())[:max_length]


def default_application(request: HttpRequest, view_func: Any) -> str | None:
    """The part of the site the request used: the admin for any view an ``AdminSite``
    serves (the Sessions page included, whichever app's ``ModelAdmin`` it is), else the
    verbose name of the Django app that owns the view, else the URL namespace, else the
    project package the view lives in (views outside any installed app).

    Never ``None`` for a resolved view: a row keeps the last name written, so a session
    made by the login view would otherwise show "Authentication and Authorization"
    forever once it moves on to the project's own pages.
    """
    match = request.resolver_match
    if match is not None and "admin" in (match.app_names or []):
        admin_config = apps.get_containing_app_config("django.contrib.admin")
        if admin_config is not None:
            return str(admin_config.verbose_name)
    target = getattr(view_func, "view_class", None) or view_func
    module = getattr(target, "__module__", None)
    if not module:
        return None
    config = apps.get_containing_app_config(module)
    if config is not None:
        return str(config.verbose_name)
    if match is not None and match.app_name:
        return match.app_name.replace("_", " ").title()
    return str(module).split(".")[0].replace("_", " ").title()


def application(request: HttpRequest, view_func: Any) -> str | None:
    resolver = conf.APPLICATION_RESOLVER
    name = resolver(request) if resolver is not None else default_application(request, view_func)
    if name is None:
        return None
    return clean_user_agent(str(name), APPLICATION_MAX_LENGTH) or None


def stored_ip(address: str | None) -> str | None:
    """The address as the privacy setting ``IP_STORAGE`` allows it to be kept."""
    mode = conf.IP_STORAGE
    if address is None or mode == "none":
        return None
    if mode == "truncated":
        prefix = 24 if ":" not in address else 48
        return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
    return address


def client_info(request: HttpRequest) -> ClientInfo:
    user_agent = request.META.get("HTTP_USER_AGENT") if conf.STORE_USER_AGENT else None
    return ClientInfo(ip=stored_ip(client_ip(request)), user_agent=clean_user_agent(user_agent))


class RequestClient:
    """One request's :class:`ClientInfo`, worked out on first use and kept.

    :attr:`fingerprint` is the raw input it is worked out from, so "has the client
    changed since the last touch?" can be answered without working it out.
    """

    __slots__ = ("_info", "_request", "_view_func")

    def __init__(self, request: HttpRequest) -> None:
        self._request = request
        self._view_func: Any = None
        self._info: ClientInfo | None = None

    @property
    def fingerprint(self) -> Hashable:
        """Equal fingerprints give equal :class:`ClientInfo` IPs and user agents."""
        meta = self._request.META
        return (
            generation(),
            meta.get("REMOTE_ADDR"),
            meta.get("HTTP_X_FORWARDED_FOR"),
            meta.get("HTTP_USER_AGENT"),
        )

    def set_view(self, view_func: Any) -> None:
        """The resolved view, which names the application (see :func:`application`)."""
        self._view_func = view_func
        self._info = None

    def resolve(self) -> ClientInfo:
        if self._info is None:
            info = client_info(self._request)
            if self._view_func is not None:
                name = application(self._request, self._view_func)
                if name is not None:
                    info = ClientInfo(ip=info.ip, user_agent=info.user_agent, application=name)
            self._info = info
        return self._info

    @property
    def ip(self) -> str | None:
        return self.resolve().ip

    @property
    def user_agent(self) -> str:
        return self.resolve().user_agent


def resolved(client: ClientInfo | RequestClient | None) -> ClientInfo | None:
    """The concrete :class:`ClientInfo`, working out a :class:`RequestClient`."""
    return client.resolve() if isinstance(client, RequestClient) else client
