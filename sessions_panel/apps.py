from __future__ import annotations

from django.apps import AppConfig
from django.core.checks import Tags, register
from django.utils.translation import gettext_lazy as _


class SessionsPanelConfig(AppConfig):
    name = "sessions_panel"
    verbose_name = _("Sessions panel")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from sessions_panel import checks
        from sessions_panel.account import notice
        from sessions_panel.query import usertext
        from sessions_panel.termination import receivers

        receivers.connect()
        usertext.connect()
        # After the kill service's (the policies'): a sign-in they refused is no new
        # sign-in to tell of.
        user_logged_in.connect(notice.on_login, dispatch_uid="sessions_panel.notice")

        register(Tags.security)(checks.check_settings)
        register(Tags.security)(checks.check_policies)
        register(Tags.compatibility)(checks.check_engine)
        register(Tags.compatibility)(checks.check_middleware)
        register(Tags.admin, Tags.urls)(checks.check_admin_sites)
