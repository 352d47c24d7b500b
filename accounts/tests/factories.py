from functools import cache

import factory
from django.contrib.auth.hashers import make_password

from accounts import roles
from accounts.models import User

TEST_PASSWORD = "correct-horse-battery-staple"


@cache
def _test_password_hash() -> str:
    """Hash the test password once: a real PBKDF2 hash (daphne workers in tests verify it), not one per user."""
    return make_password(TEST_PASSWORD)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@parley.test")
    display_name = factory.Faker("name")
    department = "Engineering"
    job_title = "Engineer"
    password = factory.LazyFunction(_test_password_hash)


def privileged(kind: str) -> User:
    """An account of one privileged kind: superuser, staff, or a member of a privileged role."""
    if kind == "superuser":
        return UserFactory(is_superuser=True)
    if kind == "staff":
        return UserFactory(is_staff=True)
    person = UserFactory()
    person.groups.add(roles.role_group(kind))
    return person


PRIVILEGED_KINDS = ["superuser", "staff", roles.IT_ADMINS, roles.COMPLIANCE_OFFICERS]


def audit_entries(target, action: str):
    """The audit-log entries of one privileged action on `target`."""
    from auditlog.models import LogEntry

    return LogEntry.objects.get_for_object(target).filter(additional_data__privileged_action=action)
