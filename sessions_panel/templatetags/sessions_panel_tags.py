"""Template tags: the list's rows, and the "Sessions" section of a user's page.

``{% sessions_panel_rows rows %}`` renders the list's rows (see
:mod:`sessions_panel.page.row_markup` for why in Python).

``{% sessions_panel_user_sessions original %}`` renders that user's live-session count
and a link to the Sessions page filtered to them (where their sessions can be ended).
The panel ships it in ``admin/auth/user/change_form.html`` (the stock ``UserAdmin``); a
custom user model needs the tag in its own ``admin/<app_label>/<model_name>/change_form.html``
(block ``after_field_sets``) or :class:`sessions_panel.useradmin.UserSessionsMixin` on
its ``ModelAdmin`` (see :mod:`sessions_panel.useradmin`).
"""

from __future__ import annotations

from typing import Any

from django import template

from sessions_panel import useradmin
from sessions_panel.page import row_markup

register = template.Library()


@register.inclusion_tag("sessions_panel/includes/user_sessions.html", takes_context=True)
def sessions_panel_user_sessions(context: template.Context, user: Any) -> dict[str, Any]:
    """Nothing unless ``user`` is an account and the viewer may see sessions (one query),
    or when :class:`~sessions_panel.useradmin.UserSessionsMixin` showed it already."""
    if context.get(useradmin.SHOWN):
        return {"show": False}
    request = context.get("request")
    section = useradmin.user_sessions(request, user, getattr(request, "current_app", None))
    if section is None:
        return {"show": False}
    return {
        "show": True,
        "title": useradmin.section_title(),
        "url": section.url,
        "count": section.count,
        "can_kill": section.can_kill,
    }


@register.simple_tag(takes_context=True)
def sessions_panel_rows(context: template.Context, rows: Any) -> str:
    return row_markup.context_rows(context, rows)


@register.simple_tag
def sessions_panel_kill_labels() -> str:
    """The Kill buttons' names, once for the list (``data-label-own``, ``-other``): the
    script names each row's Kill from them and the row's cells."""
    return row_markup.kill_label_attributes()
