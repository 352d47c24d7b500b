"""Encrypted model fields: code sees text, the database sees ciphertext, and nothing leaks it."""

import base64

import pytest
from django.core import serializers
from django.db import connection

from accounts.tests.factories import UserFactory
from core.crypto import DecryptionError
from core.fields import SERIALIZED_PREFIX
from messenger import services
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


def test_a_value_read_without_an_instance_opens_with_its_rows_binding_only(message):
    other = send(message.sender, message.conversation, "harmless")
    field = Message._meta.get_field("body")
    uid, sealed = Message.objects.filter(pk=message.pk).values_list("uid", "body").get()

    assert field.open(sealed, binding=uid) == f"the {MARKER} figures"
    with pytest.raises(DecryptionError):
        field.open(sealed, binding=other.uid)


def test_clear_text_is_never_written_or_compared_in_sql(message):
    with pytest.raises(ValueError, match="encrypted"):
        Message.objects.filter(pk=message.pk).update(body="plain")
    with pytest.raises(ValueError, match="encrypted"):
        list(Message.objects.filter(body=f"the {MARKER} figures"))


def test_audit_logging_a_model_with_an_encrypted_field_never_stores_its_text(message):
    from auditlog.models import LogEntry
    from auditlog.registry import auditlog

    from core.audit import audit_register

    audit_register(Message, serialize_data=True)
    try:
        created = send(message.sender, message.conversation, f"new {MARKER}")
        services.message_edit(editor=message.sender, message_id=created.pk, body=f"edited {MARKER}")
    finally:
        auditlog.unregister(Message)

    logged = list(LogEntry.objects.get_for_object(created).values_list("changes", "object_repr", "serialized_data"))
    assert len(logged) == 2  # the creation and the edit were audited...
    assert "edited_at" in str(logged[-1])
    assert "body" not in str(logged)  # ...without the field, in the changes or in the serialized row
    assert MARKER not in str(logged)
    assert SERIALIZED_PREFIX not in str(logged)  # not even its ciphertext, which would outlive retention


def test_text_that_looks_like_a_serialized_value_stays_text(message):
    alice = message.sender
    looks_sealed = send(alice, message.conversation, "sealed: the deal is done")
    crafted = send(alice, message.conversation, "sealed:" + base64.b64encode(b"\x01\x02k1" + bytes(28)).decode())

    for sent in (looks_sealed, crafted):
        loaded = Message.objects.get(pk=sent.pk)
        loaded.full_clean()
        loaded.save()
        assert Message.objects.get(pk=sent.pk).body == sent.body


def test_a_corrupt_serialized_value_is_refused_on_load(message):
    serialized = serializers.serialize("json", [Message.objects.get(pk=message.pk)])
    corrupt = serialized.replace(SERIALIZED_PREFIX, SERIALIZED_PREFIX + "!", 1)

    with pytest.raises(serializers.base.DeserializationError):
        list(serializers.deserialize("json", corrupt))
