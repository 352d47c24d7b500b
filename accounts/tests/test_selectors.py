import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts import roles, selectors, services
from accounts.models import AuthenticatorDevice, User
from accounts.selectors import buddy_list
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_buddy_list_is_grouped_in_order_with_people_sorted_and_inactive_people_hidden():
    owner = UserFactory(username="owner")
    for username in ("zoe", "adam", "mia", "left"):
        UserFactory(username=username, job_title="Trader")
    services.contact_add(owner=owner, username="zoe", group_name="Team")
    services.contact_add(owner=owner, username="adam", group_name="Team")
    services.contact_add(owner=owner, username="mia", group_name="Favourites")
    services.contact_add(owner=owner, username="left", group_name="Team")
    UserFactory._meta.model.objects.filter(username="left").update(is_active=False)

    groups = buddy_list(user=owner)

    assert [(group["name"], [c["username"] for c in group["contacts"]]) for group in groups] == [
        ("Team", ["adam", "zoe"]),
        ("Favourites", ["mia"]),
    ]
    assert groups[0]["contacts"][0]["job_title"] == "Trader"
    assert set(groups[0]["contacts"][0]) >= {"phone", "status_message", "avatar", "department"}


def test_buddy_list_costs_two_queries_however_many_contacts(django_assert_num_queries):
    owner = UserFactory()
    for person in UserFactory.create_batch(30):
        services.contact_add(owner=owner, username=person.username, group_name=f"g{person.pk % 3}")

    with django_assert_num_queries(2):
        buddy_list(user=owner)


@pytest.mark.parametrize("enrolled", [False, True])
def test_what_a_session_owes_costs_one_query(alice, enrolled, django_assert_num_queries):
    if enrolled:
        AuthenticatorDevice.objects.create(user=alice, name="phone", confirmed=True)

    with django_assert_num_queries(1):
        owed = selectors.second_factor_owed(user=alice, verified=False)

    assert owed == ("verify" if enrolled else None)


def test_a_verified_session_owes_nothing_and_costs_nothing(alice, django_assert_num_queries):
    alice.groups.add(roles.role_group(roles.IT_ADMINS))

    with django_assert_num_queries(0):
        assert selectors.second_factor_owed(user=alice, verified=True) is None
    assert selectors.second_factor_owed(user=alice, verified=False) == "enrol"


def delete_session(user, key):
    Session.objects.filter(pk=key).delete()


def expire_session(user, key):
    Session.objects.filter(pk=key).update(expire_date=timezone.now())


def change_password_without_a_signal(user, key):
    User.objects.filter(pk=user.pk).update(password="changed elsewhere")


def deactivate_without_a_signal(user, key):
    User.objects.filter(pk=user.pk).update(is_active=False)


class TestSessionValidUntil:
    """What an open socket asks of its session (messenger.consumers): Django's own rule, read afresh."""

    @pytest.fixture
    def signed_in(self):
        user = UserFactory(username="sam")
        client = Client()
        client.force_login(user)
        return user, client.session.session_key

    def test_a_live_session_is_valid_until_its_expiry_date(self, signed_in):
        user, key = signed_in

        assert (
            selectors.session_valid_until(session_key=key, user_id=user.pk) == Session.objects.get(pk=key).expire_date
        )

    @pytest.mark.parametrize(
        "end", [delete_session, expire_session, change_password_without_a_signal, deactivate_without_a_signal]
    )
    def test_a_session_that_ended_any_way_is_not_valid(self, signed_in, end):
        user, key = signed_in

        end(user, key)

        assert selectors.session_valid_until(session_key=key, user_id=user.pk) is None

    def test_a_session_is_valid_only_for_its_own_user(self, signed_in):
        _, key = signed_in
        other = UserFactory(username="eve")

        assert selectors.session_valid_until(session_key=key, user_id=other.pk) is None
