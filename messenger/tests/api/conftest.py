import pytest
from django.test import Client

from accounts.tests.factories import UserFactory


@pytest.fixture
def alice():
    return UserFactory(username="alice", display_name="Alice Archer", department="Sales")


@pytest.fixture
def bob():
    return UserFactory(username="bob", display_name="Bob Bauer", department="Trading")


@pytest.fixture
def as_alice(alice):
    client = Client()
    client.force_login(alice)
    return client
