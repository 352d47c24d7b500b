"""rotate_keys re-seals everything under the newest key, resumes after an interruption, and --check tells."""

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from accounts.tests.factories import UserFactory
from archive.models import ArchiveEntry
from archive.verification import archive_verify
from core import crypto
from core.crypto import new_key_entry
from core.key_rotation import NOT_SEALED, encrypted_fields, keys_rotate
from core.storage import EncryptedFileSystemStorage
from messenger import services
from messenger.models import Message, MessageVersion
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db

OLD, NEW = new_key_entry("old"), new_key_entry("new")
FILES = {f"uploads/{index}/report.pdf": f"quarterly figures {index}".encode() for index in range(3)}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Rotation walks MEDIA_ROOT: give each test its own, never the developer's var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def data_under_the_old_key(settings, media_root):
    settings.PARLEY_ENCRYPTION_KEYS = OLD
    alice = UserFactory()
    room = room_with(alice)
    messages = [send(alice, room, f"message {index}") for index in range(7)]
    services.message_edit(editor=alice, message_id=messages[0].pk, body="edited")
    storage = EncryptedFileSystemStorage(location=media_root)
    for name, content in FILES.items():
        storage.save(name, ContentFile(content))
    settings.PARLEY_ENCRYPTION_KEYS = f"{NEW},{OLD}"  # the operator adds a new primary key and restarts
    return messages


def file_key_ids(media_root):
    storage = EncryptedFileSystemStorage(location=media_root)
    return {storage.sealed_key_id(name) for name in storage.sealed_names()}


def key_ids(model, field="body"):
    return {crypto.sealed_key_id(sealed.data) for sealed in model.objects.values_list(field, flat=True)}


def test_old_data_reads_after_a_new_key_is_added_and_rotation_reseals_it(data_under_the_old_key, settings):
    assert Message.objects.get(pk=data_under_the_old_key[3].pk).body == "message 3"

    report = keys_rotate(batch_size=3)

    assert report.finished
    assert key_ids(Message) == key_ids(MessageVersion) == key_ids(ArchiveEntry, "payload") == {"new"}
    assert file_key_ids(settings.MEDIA_ROOT) == {"new"}
    settings.PARLEY_ENCRYPTION_KEYS = NEW  # the old key can go now
    assert [m.body for m in Message.objects.order_by("seq")] == ["edited"] + [f"message {i}" for i in range(1, 7)]
    storage = EncryptedFileSystemStorage(location=settings.MEDIA_ROOT)
    assert {name: storage.open(name).read() for name in FILES} == FILES
    assert archive_verify().is_intact  # re-sealing changed ciphertext, not what the hashes cover


def test_an_interrupted_rotation_resumes_where_it_stopped(data_under_the_old_key, media_root):
    first = keys_rotate(batch_size=2, max_batches=2)
    assert not first.finished
    assert 0 < first.rewritten <= 4  # two batches of at most two (a model's last batch may be short)
    assert "old" in key_ids(Message) | key_ids(ArchiveEntry, "payload")

    second = keys_rotate(batch_size=2)

    assert second.finished
    values = sum(
        model._base_manager.filter(**{f"{field.attname}__isnull": False}).count() for model, field in encrypted_fields()
    )
    values += len(FILES)  # every sealed value: messages, versions, archive entries, room topics, ...
    assert first.rewritten + second.rewritten == values  # nothing re-sealed twice, nothing left out
    assert key_ids(Message) == key_ids(ArchiveEntry, "payload") == file_key_ids(media_root) == {"new"}
    assert keys_rotate(batch_size=2).rewritten == 0


def test_a_rotation_stopped_in_the_files_resumes_there(data_under_the_old_key, media_root):
    row_batches = sum(-(-model._base_manager.count() // 2) for model, _ in encrypted_fields())
    first = keys_rotate(batch_size=2, max_batches=row_batches + 1)  # every row, then the first two files
    assert not first.finished
    storage = EncryptedFileSystemStorage(location=media_root)
    assert sorted(storage.sealed_key_id(name) for name in FILES) == ["new", "new", "old"]

    second = keys_rotate(batch_size=2)

    assert second.finished
    assert second.rewritten == 1
    assert file_key_ids(media_root) == {"new"}


def test_check_fails_while_a_retired_key_is_in_use_and_passes_after(data_under_the_old_key, capsys):
    with pytest.raises(CommandError, match="retired key"):
        call_command("rotate_keys", "--check", "--no-progress")
    assert "old" in key_ids(Message)  # --check rewrote nothing

    call_command("rotate_keys", "--no-progress")
    call_command("rotate_keys", "--check", "--no-progress")

    output = capsys.readouterr().out
    assert "messenger.message.body: new: 7" in output
    assert "new: 3" in output.split("files in")[-1]  # the last run's report
    assert "run `manage.py rebuild_search_index`" in output  # the index follows the key by its own command


def test_check_fails_on_a_file_left_in_clear_and_rotation_reports_it(data_under_the_old_key, media_root, capsys):
    (media_root / "uploads" / "dropped-in.txt").write_bytes(b"clear text nobody sealed")
    call_command("rotate_keys", "--no-progress")

    with pytest.raises(CommandError, match="not sealed"):
        call_command("rotate_keys", "--check", "--no-progress")

    assert f"{NOT_SEALED}: 1" in capsys.readouterr().out
    assert (media_root / "uploads" / "dropped-in.txt").read_bytes() == b"clear text nobody sealed"  # untouched


def test_a_value_changed_during_rotation_is_not_overwritten(data_under_the_old_key, settings):
    message = data_under_the_old_key[5]
    stale = Message.objects.values_list("body", flat=True).get(pk=message.pk)
    services.message_edit(editor=message.sender, message_id=message.pk, body="edited meanwhile")

    from core.fields import Sealed
    from core.key_rotation import _compare_and_set

    field = Message._meta.get_field("body")
    assert _compare_and_set(Message, field, message.pk, stale, Sealed(b"\x01whatever")) == 0
    assert Message.objects.get(pk=message.pk).body == "edited meanwhile"


def test_rotation_reseals_the_sealed_values_inside_audit_log_rows(settings, media_root):
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    from archive.checkpoints import archive_checkpoint_create, checkpoints_verify
    from archive.selectors import audit_access_details
    from archive.services import archive_access_record
    from core.sealed_audit import changes_as_written, changes_with_fields_sealed

    settings.PARLEY_ENCRYPTION_KEYS = OLD
    archive_access_record(user=UserFactory(), action="search", details={"criteria": {"words": "acme"}, "shown": 0})
    original = {"name": ["desk", "fx"], "topic": ["", "rates"]}
    room_row = LogEntry.objects.create(
        content_type=ContentType.objects.get(app_label="messenger", model="conversation"),
        object_pk="1",
        action=LogEntry.Action.UPDATE,
        changes=original,
    )
    archive_checkpoint_create(reason="sealed over the clear row")
    sealed = changes_with_fields_sealed(original, fields={"topic"}, log_id=room_row.pk)
    LogEntry.objects.filter(pk=room_row.pk).update(changes=sealed)
    settings.PARLEY_ENCRYPTION_KEYS = f"{NEW},{OLD}"

    before = keys_rotate(check_only=True)
    report = keys_rotate(batch_size=1)
    settings.PARLEY_ENCRYPTION_KEYS = NEW  # the old key is gone

    assert before.keys_in_use["sealed values in audit-log rows"] == {"old": 2}
    assert report.keys_in_use["sealed values in audit-log rows"] == {"new": 2}
    search = LogEntry.objects.get(additional_data__archive_access="search")
    assert audit_access_details(entry=search)["criteria"]["words"] == "acme"
    assert changes_as_written(LogEntry.objects.get(pk=room_row.pk).changes, log_id=room_row.pk) == original
    assert list(checkpoints_verify(first_positions={})) == []
    assert keys_rotate(check_only=True).values_under_retired_keys("new") == 0
