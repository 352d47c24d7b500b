"""The buddy list: contacts in named groups."""

from __future__ import annotations

from functools import partial

from django.db import IntegrityError, transaction

from accounts.errors import ContactInvalid
from accounts.frames import contacts_frame
from accounts.models import Contact, ContactGroup, User
from accounts.selectors import buddy_list
from core import fanout

DEFAULT_CONTACT_GROUP = "Contacts"
MAX_CONTACT_GROUP_NAME = 60


def contact_add(*, owner: User, username: str, group_name: str = DEFAULT_CONTACT_GROUP) -> Contact:
    """Put someone on the owner's buddy list (in `group_name`, created if new), or move them there."""
    person = User.objects.filter(username=username, is_active=True).first()
    if person is None:
        raise ContactInvalid(f"No active user named {username!r}.", code="user_not_found")
    if person == owner:
        raise ContactInvalid("You cannot add yourself to your buddy list.")
    with transaction.atomic():
        group = _contact_group(owner, group_name)
        contact, created = Contact.objects.update_or_create(owner=owner, person=person, defaults={"group": group})
        if created:
            fanout.after_commit(partial(fanout.watch_presence, owner.pk, person.pk))
        _announce_buddy_list(owner)
    return contact


def contact_remove(*, owner: User, username: str) -> None:
    """Take someone off the buddy list. Their presence may still show where you share a conversation."""
    contact = Contact.objects.filter(owner=owner, person__username=username).first()
    if contact is None:
        return
    contact.delete()
    fanout.after_commit(partial(fanout.recheck_presence, owner.pk, contact.person_id))
    _announce_buddy_list(owner)


def contact_group_rename(*, owner: User, old_name: str, new_name: str) -> ContactGroup:
    with transaction.atomic():
        group = ContactGroup.objects.select_for_update().filter(owner=owner, name=old_name).first()
        if group is None:
            raise ContactInvalid(f"You have no group named {old_name!r}.")
        group.name = _checked_group_name(new_name)
        try:
            with transaction.atomic():
                group.save(update_fields=["name"])
        except IntegrityError:
            raise ContactInvalid(f"You have a group named {new_name!r} already.") from None
        _announce_buddy_list(owner)
    return group


def contact_group_delete(*, owner: User, name: str) -> None:
    """Delete an empty group; a group with people in it must be emptied first, so nobody is dropped by accident."""
    group = ContactGroup.objects.filter(owner=owner, name=name).first()
    if group is None:
        raise ContactInvalid(f"You have no group named {name!r}.")
    if group.contacts.exists():
        raise ContactInvalid("Move or remove the people in this group first.")
    group.delete()
    _announce_buddy_list(owner)


def _announce_buddy_list(owner: User) -> None:
    """The owner's other tabs and devices redraw the buddy list (read after commit, so it is the final one)."""
    fanout.after_commit(lambda: fanout.to_user(owner.pk, contacts_frame(groups=buddy_list(user=owner))))


def _checked_group_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_CONTACT_GROUP_NAME:
        raise ContactInvalid(f"A group name is 1 to {MAX_CONTACT_GROUP_NAME} characters.")
    return name


def _contact_group(owner: User, name: str) -> ContactGroup:
    name = _checked_group_name(name)
    group, _ = ContactGroup.objects.get_or_create(
        owner=owner, name=name, defaults={"position": ContactGroup.objects.filter(owner=owner).count()}
    )
    return group
