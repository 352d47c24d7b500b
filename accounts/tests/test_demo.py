import pytest
from django.core.management import CommandError, call_command

from accounts import roles
from accounts.models import User
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


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


def test_seed_demo_generates_a_password_and_prints_it_once(capsys):
    call_command("seed_demo")

    password = capsys.readouterr().out.split("password for all of them: ")[1].split()[0]
    assert User.objects.get(username="carol").check_password(password)


def test_seed_demo_if_empty_does_nothing_once_users_exist(capsys):
    UserFactory(username="someone")

    call_command("seed_demo", "--if-empty")

    assert list(User.objects.values_list("username", flat=True)) == ["someone"]
    assert capsys.readouterr().out == ""


def test_seed_demo_refuses_a_database_that_has_users():
    UserFactory()

    with pytest.raises(CommandError, match="Users exist already"):
        call_command("seed_demo")
