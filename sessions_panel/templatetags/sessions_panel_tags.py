"""Template tags: the list's rows, and the "Sessions" section of a user's page.

``{% sessions_panel_rows rows %}`` renders the list's rows (see
:mod:`sessions_panel.row_markup` for why in Python).

``{% sessions_panel_user_sessions original %}`` renders that user's live-session count
and a link to the Sessions page filtered to them (where their sessions can be ended).
The panel ships it in ``admin/auth/user/change_form.html``; a project with a custom
user model adds the same tag to its own user change form.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from sessions_panel import row_markup
from sessions_panel.models import SessionRecord

register = template.Library()


@register.inclusion_tag("sessions_panel/includes/user_sessions.html", takes_context=True)
def sessions_panel_user_sessions(context: template.Context, user: Any) -> dict[str, Any]:
    """Nothing unless ``user`` is an account and the viewer may see sessions (one query)."""
    request = context.get("request")
    viewer = getattr(request, "user", None)
    opts = SessionRecord._meta
    if (
        user is None
        or getattr(user, "pk", None) is None
        or user._meta.label_lower != settings.AUTH_USER_MODEL.lower()
        or viewer is None
        or not viewer.has_perm(f"{opts.app_label}.view_{opts.model_name}")
    ):
        return {"show": False}
    site = getattr(request, "current_app", None) or "admin"
    try:
        url = reverse(f"{site}:{opts.app_label}_{opts.model_name}_changelist", current_app=site)
    except NoReverseMatch:
        return {"show": False}
    live = SessionRecord.objects.filter(expiry__gt=timezone.now(), user_id=user.pk).count()
    return {
        "show": True,
        "url": f"{url}?{urlencode({'user': user.pk})}",
        "count": live,
        "can_kill": viewer.has_perm(f"{opts.app_label}.delete_{opts.model_name}"),
    }


@register.simple_tag(takes_context=True)
def sessions_panel_rows(context: template.Context, rows: Any) -> str:
    return row_markup.context_rows(context, rows)
