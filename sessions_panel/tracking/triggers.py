"""Running the panel's trigger statements (see :mod:`.index_count`,
:mod:`.address_history`, :mod:`.first_user_agent`): each set in one transaction, so a
migration that fails half-way leaves no trigger behind that its tables do not expect."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper


def execute(using: str, statements: Callable[[BaseDatabaseWrapper], list[str]]) -> None:
    """Run the statements ``statements`` gives for this database's vendor."""
    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for statement in statements(connection):
            cursor.execute(statement)
