"""accounts/demo.py (the demo people and their buddy lists) and the seed_demo command that seeds the company."""

import pytest
from django.core.management import CommandError, call_command

from accounts import roles
from accounts.demo import DEMO_CONTACTS, demo_people_seed
from accounts.models import Contact, User
from accounts.selectors import buddy_list
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def development(settings, tmp_path):
    """As `make run` has it: uploads under a scratch MEDIA_ROOT, no virus scanner configured."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PARLEY_CLAMD_ADDRESS = ""


def test_seed_demo_creates_a_company_with_the_three_roles(capsys):
    call_command("seed_demo", "--password", "demo-pass-123")

    assert User.objects.count() == 15
    assert User.objects.filter(groups__name=roles.EMPLOYEES).count() == 12
    assert len(set(User.objects.values_list("department", flat=True))) >= 4
    assert User.objects.get(username="admin").is_superuser
    assert User.objects.get(username="itadmin").groups.filter(name=roles.IT_ADMINS).exists()
    assert User.objects.get(username="compliance").groups.filter(name=roles.COMPLIANCE_OFFICERS).exists()
    assert User.objects.get(username="alice").check_password("demo-pass-123")
    printed = capsys.readouterr().out
    assert "demo-pass-123" in printed
    assert "alice" in printed
    assert "#general" in printed and "messages over the last week" in printed


def test_seed_demo_generates_a_password_and_prints_it_once(capsys):
    call_command("seed_demo")

    password = capsys.readouterr().out.split("password for all of them: ")[1].split()[0]
    assert User.objects.get(username="carol").check_password(password)
    assert User.objects.get(username="compliance").check_password(password)


def test_seed_demo_says_which_files_it_skipped_when_the_virus_scanner_does_not_answer(settings, capsys):
    settings.PARLEY_CLAMD_ADDRESS = "tcp://127.0.0.1:9"  # nothing listens on the discard port

    call_command("seed_demo")

    printed = capsys.readouterr().out
    assert "Skipped: pipeline-by-stage.png was not shared in #sales-pipeline, only its caption" in printed
    assert "Skipped: q3-forecast.csv" in printed
    assert "Seeded the demo company" in printed


def test_seed_demo_if_empty_does_nothing_once_users_exist(capsys):
    UserFactory(username="someone")

    call_command("seed_demo", "--if-empty")

    assert list(User.objects.values_list("username", flat=True)) == ["someone"]
    assert capsys.readouterr().out == ""


def test_seed_demo_refuses_a_database_that_has_users():
    UserFactory()

    with pytest.raises(CommandError, match="Users exist already"):
        call_command("seed_demo")


def test_the_demo_people_have_contacts_in_named_groups_and_some_a_status():
    demo_people_seed(password="demo-pass-123")
    alice = User.objects.get(username="alice")

    groups = {
        group["name"]: sorted(person["username"] for person in group["contacts"]) for group in buddy_list(user=alice)
    }

    assert groups == {"Sales": ["bob"], "Finance": ["frank", "grace"], "Engineering": ["carol"]}
    assert Contact.objects.count() == sum(
        len(people) for groups in DEMO_CONTACTS.values() for people in groups.values()
    )
    assert User.objects.get(username="dave").status_message == "On call this week"
