"""A sign-in from a browser or an address the account has not used before.

Google, GitHub and GitLab tell a user when their account is signed in from somewhere
new: the one moment a stolen password shows itself to the person who can act on it.
On ``user_logged_in`` this module compares the sign-in with the account's history, the
addresses of :class:`~sessions_panel.models.SeenAddress` (the history behind the "New
IP" flag, kept by the index writer) and the browsers of
:class:`~sessions_panel.models.SeenBrowser` (family and system, no version: a browser
update is no new device), and when either is new:

- sends :data:`sessions_panel.signals.new_sign_in` (every time);
- with ``NEW_SIGN_IN_EMAIL``, emails the user through Django's ``send_mail``, at most
  once per ``NEW_SIGN_IN_INTERVAL`` seconds (a burst of sign-ins, one email).

An account's first sign-in has no history to differ from: nothing is sent. Nor for a
sign-in a policy refused (``MAX_SESSIONS_ACTION = "refuse"`` logs it out again).
The cost is a few queries at sign-in, none on other requests.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.core.mail import send_mail
from django.db import DatabaseError, router, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sessions_panel.conf import conf
from sessions_panel.models import SeenAddress, SeenBrowser
from sessions_panel.signals import new_sign_in
from sessions_panel.tracking import policies
from sessions_panel.tracking.client import clean_user_agent, client_ip, stored_ip
from sessions_panel.tracking.useragent import family

logger = logging.getLogger("sessions_panel")

SUBJECT_TEMPLATE = "sessions_panel/account/new_sign_in_subject.txt"
BODY_TEMPLATE = "sessions_panel/account/new_sign_in_email.txt"


def on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_in``: compare, remember the browser, tell if new. Never raises: a
    notice that fails must not fail the sign-in."""
    if request is None or getattr(user, "pk", None) is None:
        return
    if getattr(request, policies.REFUSED_LOGIN, False):
        return  # a lockdown or the session cap refused this sign-in
    signed_in = getattr(request, "user", None)
    if signed_in is not None and getattr(signed_in, "pk", None) != user.pk:
        return  # a policy refused this sign-in and logged it out again
    try:
        _notice(request, user)
    except DatabaseError:
        logger.exception("could not check the sign-in of user %s against its history", user.pk)


def _notice(request: HttpRequest, user: Any) -> None:
    ip = stored_ip(client_ip(request))
    user_agent = request.META.get("HTTP_USER_AGENT") if conf.STORE_USER_AGENT else None
    browser = family(clean_user_agent(user_agent))[:100]
    using = router.db_for_write(SeenBrowser)
    now = timezone.now()
    addresses = SeenAddress.objects.using(using).filter(user_id=user.pk)
    browsers = SeenBrowser.objects.using(using).filter(user_id=user.pk)
    known_browsers = set(browsers.values_list("browser", flat=True))
    has_history = bool(known_browsers) or addresses.exists()
    new_address = ip is not None and not addresses.filter(ip=ip).exists()
    new_browser = bool(browser) and browser not in known_browsers
    if browser:
        SeenBrowser.objects.using(using).bulk_create(
            [SeenBrowser(user_id=user.pk, browser=browser, first_seen=now, last_seen=now)],
            update_conflicts=True,
            unique_fields=["user", "browser"],
            update_fields=["last_seen"],
        )
    if not has_history or not (new_address or new_browser):
        return
    new_sign_in.send(
        sender=SeenBrowser,
        user=user,
        request=request,
        ip=ip,
        browser=browser,
        new_browser=new_browser,
        new_address=new_address,
    )
    if conf.NEW_SIGN_IN_EMAIL and _may_email(using, user.pk, now):
        _email(request, user, ip=ip, browser=browser, when=now)


def _may_email(using: str, user_id: Any, now: Any) -> bool:
    """Whether this user may be emailed now; if so, note that they were (one row of
    theirs, locked: two sign-ins at once send one email)."""
    with transaction.atomic(using=using):
        row = (
            SeenBrowser.objects.using(using)
            .select_for_update()
            .filter(user_id=user_id)
            .order_by("pk")
            .first()
        )
        if row is None:
            return False
        since = timedelta(seconds=conf.NEW_SIGN_IN_INTERVAL)
        if row.notified is not None and now - row.notified < since:
            return False
        SeenBrowser.objects.using(using).filter(pk=row.pk).update(notified=now)
    return True


def _email(request: HttpRequest, user: Any, *, ip: str | None, browser: str, when: Any) -> None:
    email_field = getattr(user, "get_email_field_name", lambda: "email")()
    address = getattr(user, email_field, "") or ""
    if not address:
        return
    try:
        page = request.build_absolute_uri(reverse("sessions_panel_account:sessions"))
    except NoReverseMatch:
        page = ""  # the host has no "Your sessions" page to point at
    context = {
        "user": user,
        "username": user.get_username(),
        "browser": browser or _("an unknown browser"),
        "ip": ip or _("an unknown address"),
        "when": timezone.localtime(when) if timezone.is_aware(when) else when,
        "page": page,
    }
    subject = " ".join(render_to_string(SUBJECT_TEMPLATE, context).split())
    body = render_to_string(BODY_TEMPLATE, context)
    try:
        send_mail(subject, body, None, [address])
    except Exception:  # a mail server down must not fail the sign-in
        logger.exception("could not email user %s about a new sign-in", user.pk)
