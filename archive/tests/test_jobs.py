import pytest
from django.core.management import call_command

from archive.models import ArchiveCheckpoint

pytestmark = pytest.mark.django_db(transaction=True)  # the worker closes stale connections between jobs


def test_the_background_worker_seals_a_checkpoint_and_applies_retention(capsys):
    call_command("run_archive_jobs", "--once")

    output = capsys.readouterr().out
    assert ArchiveCheckpoint.objects.filter(reason="hourly").count() == 1
    assert "retention: purged 0 entries" in output


def test_a_retention_below_the_floor_is_refused_by_the_worker_and_checkpoints_go_on(capsys):
    from archive.models import RetentionPolicy

    RetentionPolicy.objects.create(name="ruinous", scope="default", archive_days=0)  # behind the services' back

    call_command("run_archive_jobs", "--once")

    captured = capsys.readouterr()
    assert ArchiveCheckpoint.objects.filter(reason="hourly").count() == 1
    assert "retention refused: Retention policy 'ruinous' keeps 0 days" in captured.err
    assert "retention: purged" not in captured.out
