"""The per-address limit of accounts/lockout.py, beside axes' username-at-address lockout (the sign-in pages'
tests are in test_views.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client

from accounts.tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def fail_once_each(usernames: list[str], address: str) -> list[int]:
    return [
        Client(REMOTE_ADDR=address).post(LOGIN, {"username": name, "password": "wrong"}).status_code
        for name in usernames
    ]


def test_failures_older_than_the_cool_off_no_longer_count_toward_the_address_limit(settings):
    settings.PARLEY_LOGIN_ADDRESS_FAILURE_LIMIT = 6
    UserFactory(username="alice")
    fail_once_each([f"user{n}" for n in range(5)], "10.0.0.5")
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.first().attempt_time - timedelta(minutes=16))

    assert fail_once_each(["user5"], "10.0.0.5") == [200]  # 1 recent failure, not 6
    client = Client(REMOTE_ADDR="10.0.0.5")
    client.post(LOGIN, {"username": "alice", "password": TEST_PASSWORD})
    assert "_auth_user_id" in client.session


def test_a_zero_address_limit_turns_the_address_lockout_off(settings):
    settings.PARLEY_LOGIN_ADDRESS_FAILURE_LIMIT = 0

    assert 429 not in fail_once_each([f"user{n}" for n in range(40)], "10.0.0.6")


def test_the_address_limit_counts_every_username_and_the_usernames_own_limit_still_applies(settings):
    settings.PARLEY_LOGIN_ADDRESS_FAILURE_LIMIT = 8

    assert fail_once_each(["bob"] * 5, "10.0.0.7")[-1] == 429  # bob's own limit: 5
    assert fail_once_each(["carol", "dan"], "10.0.0.7") == [200, 200]  # 7 from the address
    assert fail_once_each(["erin"], "10.0.0.7") == [429]  # the 8th: the address is locked
