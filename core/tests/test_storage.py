"""Files are sealed on disk, open only under their own name, and can be re-sealed without losing a delete."""

import os
import threading

import pytest
from django.core.files import locks
from django.core.files.base import ContentFile

from core import crypto
from core.crypto import DecryptionError, KeyRing, new_key_entry
from core.storage import EncryptedFileSystemStorage, file_context

MARKER = b"MARKER-file-4c1d confidential spreadsheet"
OLD, NEW = new_key_entry("old"), new_key_entry("new")


@pytest.fixture
def storage(tmp_path):
    return EncryptedFileSystemStorage(location=tmp_path)


def test_a_file_round_trips_and_is_sealed_on_disk(storage, tmp_path):
    name = storage.save("reports/q4.csv", ContentFile(MARKER * 100))

    assert storage.open(name).read() == MARKER * 100
    assert storage.size(name) == len(MARKER) * 100
    on_disk = (tmp_path / name).read_bytes()
    assert MARKER not in on_disk


def test_the_default_storage_seals_uploads(settings, tmp_path):
    from django.core.files.storage import default_storage

    settings.MEDIA_ROOT = tmp_path
    name = default_storage.save("uploads/report.txt", ContentFile(MARKER))

    assert MARKER not in (tmp_path / name).read_bytes()
    assert default_storage.open(name).read() == MARKER


def test_bytes_copied_under_another_name_do_not_open(storage, tmp_path):
    name = storage.save("a.txt", ContentFile(MARKER))
    (tmp_path / "b.txt").write_bytes((tmp_path / name).read_bytes())

    with pytest.raises(DecryptionError):
        storage.open("b.txt").read()


def test_a_file_opens_under_the_name_save_returned_however_it_was_spelled(storage):
    name = storage.save("reports//./q4.csv", ContentFile(MARKER))

    assert name == "reports/q4.csv"
    assert storage.open(name).read() == MARKER
    assert storage.open("reports//q4.csv").read() == MARKER


def test_a_name_taken_by_another_save_meanwhile_still_gives_an_openable_file(storage):
    storage.save("a.txt", ContentFile(b"first"))

    # What save() does when another save takes the name between get_available_name() and the write.
    name = storage._save("a.txt", ContentFile(MARKER))

    assert name != "a.txt"
    assert storage.open(name).read() == MARKER
    assert storage.open("a.txt").read() == b"first"


def test_opening_for_writing_is_refused(storage):
    name = storage.save("a.txt", ContentFile(b"x"))

    with pytest.raises(ValueError, match="save"):
        storage.open(name, "wb")


def test_reseal_moves_a_file_to_the_new_key_and_keeps_its_content(storage, settings):
    settings.PARLEY_ENCRYPTION_KEYS = OLD
    name = storage.save("a.txt", ContentFile(MARKER))
    assert storage.sealed_key_id(name) == "old"

    assert storage.reseal(name, ring=KeyRing.from_spec(f"{NEW},{OLD}"))

    assert storage.sealed_key_id(name) == "new"
    settings.PARLEY_ENCRYPTION_KEYS = NEW
    assert storage.open(name).read() == MARKER
    assert sorted(os.listdir(storage.location)) == ["a.txt"]  # nothing left beside it


def test_a_deleted_file_is_not_brought_back_by_a_reseal(storage):
    name = storage.save("a.txt", ContentFile(MARKER))
    storage.delete(name)

    assert not storage.reseal(name, ring=crypto.configured_key_ring())
    assert not storage.exists(name)


def test_a_delete_waiting_for_a_reseal_deletes_the_resealed_file(storage):
    name = storage.save("a.txt", ContentFile(MARKER))
    path = storage.path(name)
    resealed = crypto.seal(MARKER, context=file_context(name))

    with open(path, "rb") as held:
        locks.lock(held, locks.LOCK_EX)  # a reseal holds the file's lock while it replaces it
        deleter = threading.Thread(target=storage.delete, args=(name,))
        deleter.start()
        deleter.join(0.3)
        assert deleter.is_alive()  # the delete waits for the reseal...
        tmp = path + ".new"
        with open(tmp, "wb") as replacement:
            replacement.write(resealed)
        os.replace(tmp, path)  # ...which replaces the file under the lock
        locks.unlock(held)
    deleter.join(5)

    assert not storage.exists(name)
