"""The audit log records who changed accounts, group memberships, rooms and memberships (never message text)."""

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group

from messenger import services
from messenger.models import Membership
from messenger.tests.factories import send

pytestmark = pytest.mark.django_db


def logged_changes(obj) -> list[dict]:
    return [entry.changes_dict for entry in LogEntry.objects.get_for_object(obj).order_by("pk")]


def test_account_changes_and_group_membership_are_audited(alice):
    traders = Group.objects.create(name="Traders")

    alice.job_title = "Head of Desk"
    alice.save()
    alice.groups.add(traders)
    alice.set_password("another-password-123")
    alice.save()

    changes = logged_changes(alice)
    assert any(change.get("job_title") for change in changes)
    assert any("groups" in change for change in changes)
    assert not any("password" in change for change in changes)


def test_room_settings_and_memberships_are_audited_but_not_what_was_said(alice, bob):
    room = services.room_create(creator=alice, name="desk", member_usernames=["bob"])
    services.room_update(user=alice, conversation_id=room.pk, name="rates-desk", topic="rates")
    send(alice, room, "confidential figures")
    services.conversation_leave(user=bob, conversation_id=room.pk)

    assert any(change.get("name") == ["desk", "rates-desk"] for change in logged_changes(room))
    assert not any("topic" in change for change in logged_changes(room))  # sealed, so left out (core.audit)
    membership_entries = LogEntry.objects.filter(content_type__model="membership")
    assert membership_entries.filter(action=LogEntry.Action.DELETE).exists()
    assert not Membership.objects.filter(user=bob).exists()
    assert "confidential" not in str(list(LogEntry.objects.values_list("changes", flat=True)))
    assert not any("last_seq" in change for change in logged_changes(room))
