"""Files are sealed on disk and open only under their own name."""

import pytest
from django.core.files.base import ContentFile

from core.crypto import DecryptionError
from core.storage import EncryptedFileSystemStorage

MARKER = b"MARKER-file-4c1d confidential spreadsheet"


@pytest.fixture
def storage(tmp_path):
    return EncryptedFileSystemStorage(location=tmp_path)


def test_a_file_round_trips_and_is_sealed_on_disk(storage, tmp_path):
    name = storage.save("reports/q4.csv", ContentFile(MARKER * 100))

    assert storage.open(name).read() == MARKER * 100
    assert storage.size(name) == len(MARKER) * 100
    on_disk = (tmp_path / name).read_bytes()
    assert MARKER not in on_disk


def test_bytes_copied_under_another_name_do_not_open(storage, tmp_path):
    name = storage.save("a.txt", ContentFile(MARKER))
    (tmp_path / "b.txt").write_bytes((tmp_path / name).read_bytes())

    with pytest.raises(DecryptionError):
        storage.open("b.txt").read()


def test_opening_for_writing_is_refused(storage):
    name = storage.save("a.txt", ContentFile(b"x"))

    with pytest.raises(ValueError, match="save"):
        storage.open(name, "wb")
