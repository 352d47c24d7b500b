from functools import cache

import factory
from django.contrib.auth.hashers import make_password

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
