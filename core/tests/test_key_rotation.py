"""rotate_keys re-seals everything under the newest key, resumes after an interruption, and --check tells."""

import pytest
from django.core.management import CommandError, call_command

from accounts.tests.factories import UserFactory
from archive.models import ArchiveEntry
from archive.verification import archive_verify
from core import crypto
from core.crypto import new_key_entry
from core.key_rotation import keys_rotate
from messenger import services
from messenger.models import Message, MessageVersion
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db

OLD, NEW = new_key_entry("old"), new_key_entry("new")


@pytest.fixture
def data_under_the_old_key(settings):
    settings.PARLEY_ENCRYPTION_KEYS = OLD
    alice = UserFactory()
    room = room_with(alice)
    messages = [send(alice, room, f"message {index}") for index in range(7)]
    services.message_edit(editor=alice, message_id=messages[0].pk, body="edited")
    settings.PARLEY_ENCRYPTION_KEYS = f"{NEW},{OLD}"  # the operator adds a new primary key and restarts
    return messages


def key_ids(model, field="body"):
    return {crypto.sealed_key_id(sealed.data) for sealed in model.objects.values_list(field, flat=True)}


def test_old_data_reads_after_a_new_key_is_added_and_rotation_reseals_it(data_under_the_old_key, settings):
    assert Message.objects.get(pk=data_under_the_old_key[3].pk).body == "message 3"

    report = keys_rotate(batch_size=3)

    assert report.finished
    assert key_ids(Message) == key_ids(MessageVersion) == key_ids(ArchiveEntry, "payload") == {"new"}
    settings.PARLEY_ENCRYPTION_KEYS = NEW  # the old key can go now
    assert [m.body for m in Message.objects.order_by("seq")] == ["edited"] + [f"message {i}" for i in range(1, 7)]
    assert archive_verify().is_intact  # re-sealing changed ciphertext, not what the hashes cover


def test_an_interrupted_rotation_resumes_where_it_stopped(data_under_the_old_key):
    first = keys_rotate(batch_size=2, max_batches=2)
    assert not first.finished
    assert "old" in key_ids(Message) | key_ids(ArchiveEntry, "payload")

    second = keys_rotate(batch_size=2)

    assert second.finished
    assert first.rewritten + second.rewritten == Message.objects.count() + MessageVersion.objects.count() + (
        ArchiveEntry.objects.count()
    )
    assert key_ids(Message) == key_ids(ArchiveEntry, "payload") == {"new"}


def test_check_fails_while_a_retired_key_is_in_use_and_passes_after(data_under_the_old_key, capsys):
    with pytest.raises(CommandError, match="retired key"):
        call_command("rotate_keys", "--check", "--no-progress")
    assert "old" in key_ids(Message)  # --check rewrote nothing

    call_command("rotate_keys", "--no-progress")
    call_command("rotate_keys", "--check", "--no-progress")

    output = capsys.readouterr().out
    assert "messenger.message.body: new: 7" in output
    assert "older keys can be removed" in output


def test_a_value_changed_during_rotation_is_not_overwritten(data_under_the_old_key, settings):
    message = data_under_the_old_key[5]
    stale = Message.objects.values_list("body", flat=True).get(pk=message.pk)
    services.message_edit(editor=message.sender, message_id=message.pk, body="edited meanwhile")

    from core.fields import Sealed
    from core.key_rotation import _compare_and_set

    field = Message._meta.get_field("body")
    assert _compare_and_set(Message, field, message.pk, stale, Sealed(b"\x01whatever")) == 0
    assert Message.objects.get(pk=message.pk).body == "edited meanwhile"
