"""The "Sessions" section of a user's admin page, for any user model and any ``UserAdmin``.

The panel's own template (``admin/auth/user/change_form.html``) adds it to the stock
``UserAdmin`` only: Django picks a change-form template by the model's app and name, so
a custom user model (``accounts.User``) never reaches it. A host adds the section in one
of two ways:

- :class:`UserSessionsMixin` on its user ``ModelAdmin``, no template::

      from sessions_panel.useradmin import UserSessionsMixin

      @admin.register(User)
      class UserAdmin(UserSessionsMixin, BaseUserAdmin): ...

- or the template tag in its own change form, ``admin/<app_label>/<model_name>/change_form.html``
  (for ``accounts.User``: ``templates/admin/accounts/user/change_form.html``)::

      {% extends "admin/change_form.html" %}
      {% load sessions_panel_tags %}
      {% block after_field_sets %}{{ block.super }}{% sessions_panel_user_sessions original %}{% endblock %}

Both show the same thing: the user's live-session count and a link to the Sessions page
filtered to them, where all of their sessions can be ended; nothing on the add page, for
a viewer without the ``view_sessionrecord`` permission, or on an admin site without the
Sessions page. Using both shows the section once (the mixin tells the tag).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.admin import helpers
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sessions_panel.models import SessionRecord
from sessions_panel.termination import protection

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    _Base = ModelAdmin[Any]
else:  # a mixin: ModelAdmin comes later in the host's bases
    _Base = object

#: Set in a change form's context once the section is there, so the tag adds no second.
SHOWN = "sessions_panel_user_sessions_shown"
FIELD_NAME = "sessions_panel_sessions"


@dataclass(frozen=True)
class UserSessions:
    """What the section shows: the per-user view's URL and the live-session count."""

    url: str
    count: int
    #: The viewer may end sessions there (the link says so).
    can_kill: bool


def section_title() -> str:
    """The section's heading: the Sessions page's own name, as the sidebar shows it."""
    from sessions_panel.models import SessionRecord

    return capfirst(str(SessionRecord._meta.verbose_name_plural))


def user_sessions(request: HttpRequest | None, user: Any, site: str | None) -> UserSessions | None:
    """The section for ``user`` on the admin site named ``site``; ``None`` when it has
    no place: not an account of ``AUTH_USER_MODEL`` (yet), a viewer who may not see
    sessions, or a site without the Sessions page. One query (the count).
    """
    viewer = getattr(request, "user", None)
    opts = SessionRecord._meta
    if (
        user is None
        or getattr(user, "pk", None) is None
        or getattr(user, "_meta", None) is None
        or user._meta.label_lower != settings.AUTH_USER_MODEL.lower()
        or viewer is None
        or not viewer.has_perm(f"{opts.app_label}.view_{opts.model_name}")
    ):
        return None
    site = site or "admin"
    try:
        url = reverse(f"{site}:{opts.app_label}_{opts.model_name}_changelist", current_app=site)
    except NoReverseMatch:
        return None
    live = SessionRecord.objects.filter(expiry__gt=timezone.now(), user_id=user.pk).count()
    return UserSessions(
        url=f"{url}?{urlencode({'user': str(user.pk)})}",
        count=live,
        # A lesser admin cannot end a superuser's sessions there (PROTECT_SUPERUSERS).
        can_kill=viewer.has_perm(f"{opts.app_label}.delete_{opts.model_name}")
        and not protection.protects(viewer, user),
    )


def render(section: UserSessions) -> SafeString:
    """The section's text: the count, and the link (escaped; only the URL is ours)."""
    count = ngettext("%(count)d live session.", "%(count)d live sessions.", section.count) % {
        "count": section.count
    }
    link = (
        _("Open this user’s sessions (you can end them all there)")
        if section.can_kill
        else _("Open this user’s sessions")
    )
    return format_html('{} <a href="{}">{}</a>', count, section.url, link)


class _Field:
    """A read-only row of the change form: the admin calls it with the user and shows
    what it returns (a callable, so its content can depend on the request)."""

    __name__ = FIELD_NAME

    def __init__(self, html: SafeString) -> None:
        self.html = html
        self.short_description = _("Live sessions")

    def __call__(self, obj: Any) -> SafeString:
        return self.html


class UserSessionsMixin(_Base):
    """Adds a "Sessions" fieldset to the change page of a user ``ModelAdmin`` (any user
    model, any admin site), after the model's own fieldsets. No template needed.

    The section is added where the form is rendered (``render_change_form``), not to
    ``fieldsets``: the form, its fields and a host's own ``fieldsets``/``fields``
    declarations stay exactly as they were, and the section costs a query only when a
    page is shown.
    """

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if change and not add and obj is not None:
            section = user_sessions(request, obj, self.admin_site.name)
            adminform = context.get("adminform")
            if section is not None and isinstance(adminform, helpers.AdminForm):
                # The admin takes a callable wherever it takes a read-only field's name.
                field: Any = _Field(render(section))
                adminform.fieldsets = [
                    *adminform.fieldsets,
                    (section_title(), {"fields": [field], "classes": ["sp-user-sessions"]}),
                ]
                adminform.readonly_fields = [*adminform.readonly_fields, field]
            context[SHOWN] = True
        return super().render_change_form(request, context, add, change, form_url, obj)
