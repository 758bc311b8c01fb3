"""The text a user is found by, kept in the panel's own table in step with the user model.

Search matches a user by username, email, first and last name (those the user model
has). Lower-cased and joined in one column of :class:`UserSearchText`, they can carry
one trigram index (:mod:`sessions_panel.query.trigram`); the user table is not the panel's
to index.

The row follows the user: a ``post_save`` receiver rewrites it when a searched field may
have changed, and deleting a user through the ORM deletes it (``CASCADE``). Writes that
send no signal (``bulk_create``, ``QuerySet.update``, raw SQL) leave it behind until
``manage.py reindexusers`` runs :func:`rebuild`; the migration that adds the table
fills it the same way. Users added or removed behind its back show as a difference in
the number of rows (:func:`in_step`): the search then scans the user table instead.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.exceptions import FieldDoesNotExist
from django.db import DatabaseError, models, router, transaction
from django.db.models.signals import post_save

from sessions_panel.models import UserSearchText

logger = logging.getLogger(__name__)

#: Between fields: a search text containing it never matches across two fields.
SEPARATOR = "\n"
BATCH_SIZE = 2000
COUNTS_KEY = "sessions_panel:usertext_counts"
#: Seconds the two counts are kept; a difference is looked at again sooner.
COUNTS_TTL = 300
MISMATCH_TTL = 30


def search_fields(user_model: Any = None) -> list[str]:
    """Text fields of the user model worth searching (custom models may lack some).

    ``user_model`` may be a migration's historical model, which lacks ``USERNAME_FIELD``
    and the like: the names come from the installed model, the fields from the given one.
    """
    installed = get_user_model()
    model = user_model or installed
    names = [installed.USERNAME_FIELD, installed.get_email_field_name(), "first_name", "last_name"]
    fields: list[str] = []
    for name in dict.fromkeys(names):
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if isinstance(field, models.CharField | models.TextField):
            fields.append(name)
    return fields


def normalize(text: str) -> str:
    """The case the table is stored in, and a search text is looked up in."""
    return text.lower()


def text_of(values: Iterable[Any]) -> str:
    return SEPARATOR.join(normalize(str(value or "")) for value in values)


def save(user: Any) -> None:
    """Write ``user``'s row. A failure is logged: it must never fail the user's save."""
    text = text_of(getattr(user, name, "") for name in search_fields())
    alias = router.db_for_write(UserSearchText, instance=user)
    try:
        rows = UserSearchText.objects.using(alias)
        with transaction.atomic(using=alias):
            if not rows.filter(user_id=user.pk).update(text=text):
                rows.create(user_id=user.pk, text=text)
    except DatabaseError:
        logger.exception("could not update the search text of user %s", user.pk)


def on_user_saved(
    sender: Any, instance: Any, update_fields: Sequence[str] | None = None, **kwargs: Any
) -> None:
    """``post_save`` of the user model; e.g. ``update_last_login`` writes nothing."""
    if update_fields is not None and not set(update_fields) & set(search_fields()):
        return
    save(instance)


def counts() -> tuple[int, int]:
    """(users, rows of the copy), counted together and cached: two ``COUNT(*)``."""
    cache = caches["default"]
    try:
        found = cache.get(COUNTS_KEY)
    except Exception:
        found = None
    if isinstance(found, tuple) and len(found) == 2:
        return int(found[0]), int(found[1])
    found = (get_user_model()._default_manager.count(), UserSearchText.objects.count())
    if found[0] != found[1]:
        logger.warning(
            "the user search's copy has %d rows for %d users (users written without "
            "signals?): searching scans the user table until manage.py reindexusers runs",
            found[1],
            found[0],
        )
    with contextlib.suppress(Exception):
        cache.set(COUNTS_KEY, found, COUNTS_TTL if found[0] == found[1] else MISMATCH_TTL)
    return found


def forget_counts() -> None:
    with contextlib.suppress(Exception):
        caches["default"].delete(COUNTS_KEY)


def in_step() -> bool:
    """Whether the copy has one row per user, as the signals keep it. Renames through
    ``QuerySet.update`` go unnoticed (``manage.py reindexusers``)."""
    users, copies = counts()
    return users == copies


def connect() -> None:
    post_save.connect(on_user_saved, sender=get_user_model(), dispatch_uid=__name__)


def rebuild(
    user_model: Any = None,
    text_model: Any = None,
    *,
    using: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> tuple[int, int]:
    """Bring every row in line with the user table; returns (rows written, rows dropped).

    In batches by primary key, so memory stays flat at any number of users. The models
    may be a migration's historical ones.
    """
    user_model = user_model or get_user_model()
    text_model = text_model or UserSearchText
    using = using or router.db_for_write(text_model)
    fields = search_fields(user_model)
    users = user_model._default_manager.using(using)
    texts = text_model._default_manager.using(using)
    dropped, _ = texts.exclude(user_id__in=users.values("pk")).delete()
    written = 0
    last: Any = None
    while True:
        batch_users = users.order_by("pk")
        if last is not None:
            batch_users = batch_users.filter(pk__gt=last)
        batch = list(batch_users.values_list("pk", *fields)[:batch_size])
        if not batch:
            forget_counts()
            return written, dropped
        last = batch[-1][0]
        wanted = {pk: text_of(values) for pk, *values in batch}
        existing = dict(texts.filter(user_id__in=list(wanted)).values_list("user_id", "text"))
        with transaction.atomic(using=using):
            texts.bulk_create(
                [text_model(user_id=pk, text=t) for pk, t in wanted.items() if pk not in existing]
            )
            for pk, text in wanted.items():
                if pk in existing and existing[pk] != text:
                    texts.filter(user_id=pk).update(text=text)
        written += sum(1 for pk, text in wanted.items() if existing.get(pk) != text)
