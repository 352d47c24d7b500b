import factory

from accounts.models import User

TEST_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@parley.test")
    display_name = factory.Faker("name")
    department = "Engineering"
    job_title = "Engineer"
    password = factory.django.Password(TEST_PASSWORD)
