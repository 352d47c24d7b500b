import pytest
from django.contrib.auth.models import Group

from accounts import roles
from accounts.directory import (
    DirectoryConfigError,
    DirectoryPerson,
    directory_accounts_missing,
    directory_people_apply,
    role_mapping_parse,
    roles_for,
)
from accounts.models import DirectorySource, User
from accounts.tests.factories import UserFactory
from accounts.user_import import Outcome

pytestmark = pytest.mark.django_db

IT_DN = "cn=IT Staff,ou=groups,dc=example,dc=com"


def person(username: str, **overrides) -> DirectoryPerson:
    values = {
        "username": username,
        "directory_id": f"uid={username},ou=people,dc=example,dc=com",
        "email": f"{username}@example.com",
        "display_name": username.title(),
        "department": "Sales",
        "job_title": "Trader",
    }
    return DirectoryPerson(**(values | overrides))


def test_a_role_mapping_keeps_the_dn_whole_and_matches_it_in_any_case():
    mapping = role_mapping_parse(f"IT Admins={IT_DN}; Compliance Officers=compliance")

    assert roles_for([IT_DN.upper(), "unrelated"], mapping) == {roles.EMPLOYEES, roles.IT_ADMINS}
    assert roles_for([], mapping) == {roles.EMPLOYEES}


@pytest.mark.parametrize("spec", ["IT Admins", "Wizards=cn=x", "IT Admins="])
def test_a_role_mapping_that_names_no_role_or_no_value_is_refused(spec):
    with pytest.raises(DirectoryConfigError):
        role_mapping_parse(spec)


def test_people_are_created_with_their_roles_their_directory_entry_and_their_manager():
    boss = person("boss")
    report = directory_people_apply(
        people=[
            person("ann", manager_directory_id=boss.directory_id, roles=frozenset({roles.EMPLOYEES, roles.IT_ADMINS})),
            boss,
        ],
        source=DirectorySource.LDAP,
    )

    assert [row.outcome for row in report.rows] == [Outcome.CREATED, Outcome.CREATED]
    ann = User.objects.get(username="ann")
    assert (ann.directory_source, ann.directory_id) == ("ldap", "uid=ann,ou=people,dc=example,dc=com")
    assert ann.manager.username == "boss"
    assert set(ann.groups.values_list("name", flat=True)) == {roles.EMPLOYEES, roles.IT_ADMINS}
    assert (ann.department, ann.job_title, ann.has_usable_password()) == ("Sales", "Trader", False)


def test_a_second_apply_updates_roles_but_keeps_the_groups_it_made_outside_the_directory():
    directory_people_apply(people=[person("ann")], source=DirectorySource.LDAP)
    ann = User.objects.get(username="ann")
    ann.groups.add(Group.objects.create(name="Desk 4"))

    report = directory_people_apply(
        people=[person("ann", job_title="Head trader", roles=frozenset({roles.EMPLOYEES, roles.COMPLIANCE_OFFICERS}))],
        source=DirectorySource.LDAP,
    )

    assert report.rows[0].outcome == Outcome.UPDATED
    assert set(ann.groups.values_list("name", flat=True)) == {roles.EMPLOYEES, roles.COMPLIANCE_OFFICERS, "Desk 4"}
    assert User.objects.get(username="ann").job_title == "Head trader"


def test_a_dry_run_reports_and_writes_nothing():
    report = directory_people_apply(people=[person("ann")], source=DirectorySource.LDAP, dry_run=True)

    assert report.rows[0].outcome == Outcome.CREATED
    assert not User.objects.filter(username="ann").exists()


def test_a_person_the_directory_disables_is_deactivated_and_a_local_account_is_never_missing():
    directory_people_apply(people=[person("ann"), person("bob")], source=DirectorySource.LDAP)
    UserFactory(username="breakglass")

    directory_people_apply(people=[person("ann", active=False)], source=DirectorySource.LDAP)

    assert not User.objects.get(username="ann").is_active
    missing = directory_accounts_missing(source=DirectorySource.LDAP, present=[person("ann").directory_id])
    assert [user.username for user in missing] == ["bob"]


def test_the_phone_is_written_and_a_directory_that_checks_passwords_retires_the_local_one():
    UserFactory(username="ann", phone="")
    directory_people_apply(people=[person("bob", phone="+1 555 0100")], source=DirectorySource.SCIM)

    report = directory_people_apply(
        people=[person("ann", phone="+1 555 0199")], source=DirectorySource.LDAP, retire_local_passwords=True
    )

    ann = User.objects.get(username="ann")
    assert (ann.phone, ann.has_usable_password()) == ("+1 555 0199", False)
    assert {change.column for change in report.rows[0].changes} >= {"phone", "password"}
    assert User.objects.get(username="bob").phone == "+1 555 0100"


def test_without_password_retirement_a_local_password_stays():
    UserFactory(username="ann")

    directory_people_apply(people=[person("ann")], source=DirectorySource.SCIM)

    assert User.objects.get(username="ann").has_usable_password()
