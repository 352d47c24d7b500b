"""Writes about people: presence choices and the buddy list."""

import pytest

from accounts import services
from accounts.models import Contact, ContactGroup, User
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class TestPresenceChoose:
    def test_stores_the_choice_and_status_message(self, alice):
        services.presence_choose(user=alice, choice="busy", status_message="Quarter close")

        stored = User.objects.get(pk=alice.pk)
        assert (stored.presence_choice, stored.status_message) == ("busy", "Quarter close")

    @pytest.mark.parametrize(("choice", "status"), [("asleep", None), ("auto", "x" * 141)])
    def test_refuses_unknown_choices_and_overlong_messages(self, alice, choice, status):
        with pytest.raises(services.PresenceInvalid):
            services.presence_choose(user=alice, choice=choice, status_message=status)

        assert User.objects.get(pk=alice.pk).presence_choice == "auto"


class TestBuddyList:
    def test_adding_a_contact_puts_them_in_the_named_group_created_on_first_use(self, alice, bob):
        services.contact_add(owner=alice, username="bob", group_name="Team")

        contact = Contact.objects.get(owner=alice)
        assert (contact.person, contact.group.name) == (bob, "Team")

    def test_adding_again_moves_the_contact_instead_of_duplicating(self, alice, bob):
        services.contact_add(owner=alice, username="bob", group_name="Team")
        services.contact_add(owner=alice, username="bob", group_name="Favourites")

        assert list(Contact.objects.filter(owner=alice).values_list("group__name", flat=True)) == ["Favourites"]

    def test_yourself_and_unknown_or_inactive_people_cannot_be_added(self, alice):
        UserFactory(username="gone", is_active=False)

        for username in ("alice", "nobody", "gone"):
            with pytest.raises(services.ContactInvalid):
                services.contact_add(owner=alice, username=username)
        assert not Contact.objects.exists()

    def test_removing_a_contact_leaves_the_group(self, alice, bob):
        services.contact_add(owner=alice, username="bob", group_name="Team")

        services.contact_remove(owner=alice, username="bob")

        assert not Contact.objects.exists()
        assert ContactGroup.objects.filter(owner=alice, name="Team").exists()

    def test_a_group_with_people_in_it_is_not_deleted(self, alice, bob):
        services.contact_add(owner=alice, username="bob", group_name="Team")

        with pytest.raises(services.ContactInvalid):
            services.contact_group_delete(owner=alice, name="Team")
        services.contact_remove(owner=alice, username="bob")
        services.contact_group_delete(owner=alice, name="Team")

        assert not ContactGroup.objects.filter(owner=alice).exists()

    def test_renaming_to_a_name_in_use_is_refused(self, alice, bob):
        services.contact_add(owner=alice, username="bob", group_name="Team")
        services.contact_add(owner=alice, username=UserFactory().username, group_name="Friends")

        with pytest.raises(services.ContactInvalid):
            services.contact_group_rename(owner=alice, old_name="Team", new_name="Friends")
        services.contact_group_rename(owner=alice, old_name="Team", new_name="Desk")

        assert set(ContactGroup.objects.filter(owner=alice).values_list("name", flat=True)) == {"Desk", "Friends"}
