"""messenger/signals.py: a new account joins the default rooms once it is committed, whichever door made it."""

import pytest
from django.core.management import call_command

from accounts.models import User
from accounts.tests.factories import UserFactory
from accounts.user_import import users_import
from messenger import services
from messenger.models import Membership
from messenger.tests.factories import room_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def general(alice):
    room = room_with(alice, name="general", is_public=True)
    return services.do_room_default_set(actor=alice, room=room, is_default=True)


def members(room) -> set[str]:
    return set(Membership.objects.filter(conversation=room).values_list("user__username", flat=True))


def test_an_account_saved_anywhere_joins_the_default_room_after_commit(general, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as pending:
        UserFactory(username="zoe")
        assert members(general) == {"alice"}  # not inside the transaction that creates the account

    for callback in pending:
        callback()
    assert members(general) == {"alice", "zoe"}


def test_people_from_a_csv_import_and_createsuperuser_join_too(
    general, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-enough-password-42")
    csv = b"username,email,name,department,title,groups\nyuri,yuri@parley.example,Yuri Young,Sales,Trader,\n"

    with django_capture_on_commit_callbacks(execute=True):
        users_import(data=csv, dry_run=False, actor=None)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("createsuperuser", "--noinput", "--username", "root", "--email", "root@parley.example")

    assert members(general) == {"alice", "yuri", "root"}


def test_an_inactive_account_or_a_change_to_an_existing_one_joins_nothing(general, django_capture_on_commit_callbacks):
    bob = UserFactory(username="bob")

    with django_capture_on_commit_callbacks(execute=True):
        UserFactory(username="gone", is_active=False)
        bob.job_title = "Head of Sales"
        bob.save()

    assert members(general) == {"alice"}
    assert User.objects.count() == 3
