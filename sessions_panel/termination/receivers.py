"""Automatic revocation: a deactivated or deleted user's sessions end at once.

Django refuses an inactive user on their next request (``ModelBackend``), but their
sessions stay alive in the store and the panel until then; with
``AllowAllUsersModelBackend`` they stay usable. Ending them on the change itself is
what ASVS 7.4.2 asks for.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save, pre_delete, pre_save

from sessions_panel import termination
from sessions_panel.conf import conf
from sessions_panel.middleware import current_session
from sessions_panel.termination import lockdown, policy, reauth


def _remember_old_state(
    sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any
) -> None:
    instance._sessions_panel_ended = None
    if instance.pk is None or (
        update_fields is not None and not {"is_active", "password"} & set(update_fields)
    ):
        return  # e.g. update_last_login() saving only last_login
    old = sender._default_manager.filter(pk=instance.pk).values("is_active", "password").first()
    if old is None:
        return
    if old["is_active"] and not instance.is_active:
        instance._sessions_panel_ended = "deactivated"
    elif conf.END_SESSIONS_ON_PASSWORD_CHANGE and old["password"] != instance.password:
        instance._sessions_panel_ended = "password changed"


def _end_after_save(sender: Any, instance: Any, **kwargs: Any) -> None:
    why = getattr(instance, "_sessions_panel_ended", None)
    if why is not None:
        instance._sessions_panel_ended = None
        # The session this change is made in, if it is the user's own (kill_user keeps
        # it only then): whoever changes their password stays signed in there.
        keep = current_session() if why == "password changed" else None
        termination.kill_user(instance, reason=f"user {why}", keep=keep)


def _end_before_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    termination.kill_user(instance, reason="user deleted")


def connect() -> None:
    user_model = get_user_model()
    uid = "sessions_panel.receivers"
    pre_save.connect(_remember_old_state, sender=user_model, dispatch_uid=uid)
    post_save.connect(_end_after_save, sender=user_model, dispatch_uid=uid)
    pre_delete.connect(_end_before_delete, sender=user_model, dispatch_uid=uid)
    user_logged_in.connect(reauth.on_login, dispatch_uid=uid)
    # Lockdowns first: a login they refuse is no login for the cap to count or end
    # others' sessions for.
    user_logged_in.connect(lockdown.on_login, dispatch_uid="sessions_panel.lockdown")
    # The login time (ABSOLUTE_LIFETIME) and the cap (MAX_SESSIONS_PER_USER).
    user_logged_in.connect(policy.on_login, dispatch_uid="sessions_panel.policies")
