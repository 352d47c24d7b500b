"""accounts/services/contacts.py: the buddy list."""

import pytest
from channels.db import database_sync_to_async

from accounts import errors, services
from accounts.models import Contact, ContactGroup
from accounts.tests.factories import UserFactory
from core.testing import next_of_type, open_socket_for, session_cookie_for

pytestmark = pytest.mark.django_db


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
            with pytest.raises(errors.ContactInvalid):
                services.contact_add(owner=alice, username=username)
        assert not Contact.objects.exists()

    def test_removing_a_contact_leaves_the_group(self, alice, bob):
        services.contact_add(owner=alice, username="bob", group_name="Team")

        services.contact_remove(owner=alice, username="bob")

        assert not Contact.objects.exists()
        assert ContactGroup.objects.filter(owner=alice, name="Team").exists()

    def test_a_group_with_people_in_it_is_not_deleted(self, alice, bob):
        services.contact_add(owner=alice, username="bob", group_name="Team")

        with pytest.raises(errors.ContactInvalid):
            services.contact_group_delete(owner=alice, name="Team")
        services.contact_remove(owner=alice, username="bob")
        services.contact_group_delete(owner=alice, name="Team")

        assert not ContactGroup.objects.filter(owner=alice).exists()

    def test_renaming_to_a_name_in_use_is_refused(self, alice, bob):
        services.contact_add(owner=alice, username="bob", group_name="Team")
        services.contact_add(owner=alice, username=UserFactory().username, group_name="Friends")

        with pytest.raises(errors.ContactInvalid):
            services.contact_group_rename(owner=alice, old_name="Team", new_name="Friends")
        services.contact_group_rename(owner=alice, old_name="Team", new_name="Desk")

        assert set(ContactGroup.objects.filter(owner=alice).values_list("name", flat=True)) == {"Desk", "Friends"}


@pytest.mark.django_db(transaction=True)
async def test_a_buddy_list_change_reaches_the_owners_other_tabs():
    alice = await database_sync_to_async(UserFactory)(username="alice")
    await database_sync_to_async(UserFactory)(username="bob")
    other_tab = await open_socket_for(await database_sync_to_async(session_cookie_for)(alice))

    await database_sync_to_async(services.contact_add)(owner=alice, username="bob", group_name="Team")
    added = await next_of_type(other_tab, "contacts")
    await database_sync_to_async(services.contact_group_rename)(owner=alice, old_name="Team", new_name="Desk")
    renamed = await next_of_type(other_tab, "contacts")
    await database_sync_to_async(services.contact_remove)(owner=alice, username="bob")
    removed = await next_of_type(other_tab, "contacts")

    def listing(frame):
        return [(group["name"], [person["username"] for person in group["contacts"]]) for group in frame["groups"]]

    assert listing(added) == [("Team", ["bob"])]
    assert listing(renamed) == [("Desk", ["bob"])]
    assert listing(removed) == [("Desk", [])]
    await other_tab.disconnect()
