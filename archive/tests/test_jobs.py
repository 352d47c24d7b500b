import pytest
from django.core.management import call_command

from archive.models import ArchiveCheckpoint

pytestmark = pytest.mark.django_db(transaction=True)  # the worker closes stale connections between jobs


def test_the_background_worker_seals_a_checkpoint_and_applies_retention(capsys):
    call_command("run_archive_jobs", "--once")

    output = capsys.readouterr().out
    assert ArchiveCheckpoint.objects.filter(reason="hourly").count() == 1
    assert "retention: purged 0 entries" in output
