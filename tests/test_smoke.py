from __future__ import annotations

import pytest

from sessions_panel.models import SessionRecord


@pytest.mark.django_db
def test_created_session_is_indexed_with_its_user(engine, make_session, django_user_model):
    user = django_user_model.objects.create_user("alice", password="pw")
    session = make_session(user=user)
    record = SessionRecord.objects.get()
    assert record.session_key == session.session_key
    assert record.user_id == user.pk
    assert record.ip == "203.0.113.7"
