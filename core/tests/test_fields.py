"""Encrypted model fields: code sees text, the database sees ciphertext, and nothing leaks it."""

import pytest
from django.core import serializers
from django.db import connection

from accounts.tests.factories import UserFactory
from core.crypto import DecryptionError
from messenger.models import Message
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db

MARKER = "MARKER-7f3a-confidential"


@pytest.fixture
def message():
    alice = UserFactory()
    return send(alice, room_with(alice), f"the {MARKER} figures")


def raw_body(message_id: int) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM messenger_message WHERE id = %s", [message_id])
        return bytes(cursor.fetchone()[0])


def test_code_reads_text_and_the_database_holds_only_ciphertext(message):
    assert Message.objects.get(pk=message.pk).body == f"the {MARKER} figures"
    assert MARKER.encode() not in raw_body(message.pk)


def test_repr_str_and_serialization_never_show_the_text(message):
    loaded = Message.objects.get(pk=message.pk)
    loaded.body  # opened: the clear text is in memory now  # noqa: B018

    serialized = serializers.serialize("json", [loaded])

    assert MARKER not in repr(loaded) + str(loaded) + serialized
    restored = next(serializers.deserialize("json", serialized)).object
    assert restored.body == f"the {MARKER} figures"


def test_a_ciphertext_copied_into_another_row_does_not_open(message):
    other = send(message.sender, message.conversation, "harmless")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE messenger_message SET body = (SELECT body FROM messenger_message WHERE id = %s) WHERE id = %s",
            [message.pk, other.pk],
        )

    with pytest.raises(DecryptionError):
        Message.objects.get(pk=other.pk).body  # noqa: B018


def test_clear_text_is_never_written_or_compared_in_sql(message):
    with pytest.raises(ValueError, match="encrypted"):
        Message.objects.filter(pk=message.pk).update(body="plain")
    with pytest.raises(ValueError, match="encrypted"):
        list(Message.objects.filter(body=f"the {MARKER} figures"))
