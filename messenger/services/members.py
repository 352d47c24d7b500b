"""Who is in a room: inviting, leaving, removing people, their roles, and muting for oneself."""

from __future__ import annotations

from functools import partial

from django.db import transaction

from accounts.models import User
from archive.models import EventType
from archive.services import archive_record
from core import fanout
from messenger import frames
from messenger.errors import NotAllowed, RoomArchived, RoomInvalid, UserNotFound
from messenger.hooks import member_removed
from messenger.models import Conversation, Membership
from messenger.payloads import conversation_payload, user_payload
from messenger.selectors import conversation_member_ids, conversation_members, conversation_writable, membership_for


def _manager_membership(
    user: User, conversation_id: int, *, owner_only: bool = False, to_write: bool = False
) -> Membership:
    """The user's membership of a room they own (or moderate, unless `owner_only`); refused otherwise, and
    with `to_write` refused in an archived room."""
    membership = membership_for(user=user, conversation_id=conversation_id, to_write=to_write)
    allowed = {Membership.Role.OWNER} if owner_only else {Membership.Role.OWNER, Membership.Role.MODERATOR}
    if membership.conversation.kind != Conversation.Kind.ROOM or membership.role not in allowed:
        raise NotAllowed("Only the room's owner" + ("" if owner_only else " or a moderator") + " may do that.")
    return membership


def room_invite(*, inviter: User, conversation_id: int, usernames: list[str]) -> list[User]:
    """Add people to a room the inviter is in. Returns those who were not members yet."""
    membership = membership_for(user=inviter, conversation_id=conversation_id, to_write=True)
    if membership.conversation.kind != Conversation.Kind.ROOM:
        raise NotAllowed("People are added to rooms; a direct chat stays between its two people.")
    return do_members_add(actor=inviter, room=membership.conversation, usernames=usernames, via="invite")


def do_members_add(*, actor: User, room: Conversation, usernames: list[str], via: str) -> list[User]:
    """Add people to a room (checked by the caller), archived and announced. Returns the newcomers. Nobody
    joins an archived room, whoever adds them (a member, IT in admin, the import)."""
    with transaction.atomic():
        # Read under the row's lock, not from `room` (loaded earlier): an archive committed since is seen.
        conversation_writable(Conversation.objects.select_for_update().only("is_archived").get(pk=room.pk))
        invited = _active_users(usernames)
        present = set(Membership.objects.filter(conversation=room, user__in=invited).values_list("user_id", flat=True))
        newcomers = [person for person in invited if person.pk not in present]
        Membership.objects.bulk_create(Membership(conversation=room, user=person) for person in newcomers)
        if newcomers:
            added = [person.pk for person in newcomers]
            _archive_membership(EventType.MEMBER_ADDED, room.pk, actor=actor, content={"added": added, "via": via})
            fanout.after_commit(partial(_announce_joined, room, newcomers))
    return newcomers


def default_rooms_join(*, user: User) -> list[Conversation]:
    """Put a new account in every default room (#general), as Slack's and Mattermost's default channels do;
    archived as a member added "via default_room" with the account as the actor. Returns the rooms joined.

    Called once per new account, after the transaction that created it commits (messenger.signals): each room
    is then its own short transaction, so a CSV import of a thousand people never holds #general's row lock
    (which every send to #general waits for) for the length of the import."""
    if not user.is_active:
        return []
    joined = []
    for room in Conversation.objects.filter(kind=Conversation.Kind.ROOM, is_default=True, is_archived=False):
        try:
            if do_members_add(actor=user, room=room, usernames=[user.get_username()], via="default_room"):
                joined.append(room)
        except RoomArchived:  # archived since it was listed: nobody joins an archived room
            continue
        except UserNotFound:  # deactivated since it was created
            break
    return joined


def conversation_leave(*, user: User, conversation_id: int) -> None:
    membership = membership_for(user=user, conversation_id=conversation_id)
    if membership.conversation.kind != Conversation.Kind.ROOM:
        raise NotAllowed("A direct chat cannot be left.")
    do_member_remove(actor=user, membership=membership)


def room_member_remove(*, user: User, conversation_id: int, username: str) -> None:
    """Take someone out of a room: its owner may remove anyone else, a moderator plain members."""
    manager, target = _member_to_manage(user, conversation_id, username)
    if target.role == Membership.Role.OWNER or (
        manager.role == Membership.Role.MODERATOR and target.role == Membership.Role.MODERATOR
    ):
        raise NotAllowed(f"You cannot remove the room's {target.role}.")
    do_member_remove(actor=user, membership=target)


def room_member_role_set(*, user: User, conversation_id: int, username: str, role: str) -> Membership:
    """The owner makes a member a moderator (who may rename the room and remove plain members) or back."""
    _, target = _member_to_manage(user, conversation_id, username, owner_only=True, to_write=True)
    if role not in (Membership.Role.MODERATOR, Membership.Role.MEMBER) or target.role == Membership.Role.OWNER:
        raise RoomInvalid("A member is made a moderator or a plain member; an owner stays owner.")
    membership = do_member_role_set(actor=user, membership=target, role=role)
    # Their own tabs learn their new role (the buttons they get depend on it); only that field, so nothing
    # else they hold (unread counts) is overwritten.
    frame = frames.conversation_updated_frame(conversation={"id": conversation_id, "role": role})
    fanout.after_commit(partial(fanout.to_user, target.user_id, frame))
    return membership


def _member_to_manage(
    user: User, conversation_id: int, username: str, *, owner_only: bool = False, to_write: bool = False
) -> tuple[Membership, Membership]:
    """The manager's membership of the room (see _manager_membership) and that of someone else in it."""
    manager = _manager_membership(user, conversation_id, owner_only=owner_only, to_write=to_write)
    target = (
        Membership.objects.select_related("user", "conversation")
        .filter(conversation_id=conversation_id, user__username=username)
        .first()
    )
    if target is None:
        raise RoomInvalid(f"{username!r} is not in this room.")
    if target.user_id == user.pk:
        raise NotAllowed("That is you: leave the room instead.")
    return manager, target


def do_member_remove(*, actor: User, membership: Membership) -> None:
    """Take someone out of a room (they left, or IT removed them), archived and announced."""
    conversation_id, person = membership.conversation_id, membership.user
    with transaction.atomic():
        membership.delete()
        # Apps above the messenger end what the person leaves behind (games). Before the archive entry below: they
        # lock their own rows before the conversation's archive chain, the order their other writes take too.
        member_removed.send(sender=Membership, membership=membership, actor=actor)
        content = {"removed": [person.pk]} if actor.pk == person.pk else {"removed": [person.pk], "by": actor.pk}
        staying = conversation_member_ids(conversation_id=conversation_id)
        _archive_membership(EventType.MEMBER_REMOVED, conversation_id, actor=actor, content=content, members=staying)
        frame = frames.conversation_left_frame(conversation_id=conversation_id)
        fanout.after_commit(partial(fanout.conversation_left, person.pk, conversation_id, frame, member_ids=staying))
        members_frame = frames.member_left_frame(conversation_id=conversation_id, user=user_payload(person))
        fanout.after_commit(partial(fanout.to_conversation, conversation_id, members_frame))


def do_member_role_set(*, actor: User, membership: Membership, role: str) -> Membership:
    """Make a member owner, moderator or plain member (the room's owner, or IT when an owner leaves the company).
    Who may moderate a room is a business record: the change is archived (whose role, from what, by whom) as
    well as audit-logged."""
    if role not in Membership.Role.values:
        raise RoomInvalid(f"A member's role is one of {', '.join(Membership.Role.values)}.")
    if membership.role != role:
        with transaction.atomic():
            previous, membership.role = membership.role, role
            membership.save(update_fields=["role"])
            content = {"member": membership.user_id, "role": role, "previous": previous}
            _archive_membership(EventType.MEMBER_ROLE_CHANGED, membership.conversation_id, actor=actor, content=content)
    return membership


def _archive_membership(
    event_type: str, conversation_id: int, *, actor: User, content: dict, members: list[int] | None = None
) -> None:
    """Archive a membership change with the participants as they are after it (`members`, if already read)."""
    archive_record(
        event_type=event_type,
        conversation_id=conversation_id,
        actor_id=actor.pk,
        participants=conversation_member_ids(conversation_id=conversation_id) if members is None else members,
        content=content,
    )


def _active_users(usernames: list[str]) -> list[User]:
    wanted = set(usernames)
    found = list(User.objects.filter(username__in=wanted, is_active=True))
    missing = wanted - {person.username for person in found}
    if missing:
        raise UserNotFound(f"No active user named {', '.join(sorted(missing))}.")
    return found


def _announce_joined(conversation: Conversation, people: list[User]) -> None:
    members = conversation_members(conversation_id=conversation.pk)
    frame = frames.conversation_frame(conversation=conversation_payload(conversation, members=members))
    member_ids = [member.pk for member in members]
    newcomer_ids = [person.pk for person in people]
    for person in people:
        fanout.conversation_joined(person.pk, conversation.pk, frame, member_ids=member_ids, newcomer_ids=newcomer_ids)


def membership_mute(*, user: User, conversation_id: int, is_muted: bool) -> None:
    """Mute (no desktop notifications, unread not counted in the tab title; mentions still are) or unmute a
    conversation for this user; their other tabs follow."""
    membership = membership_for(user=user, conversation_id=conversation_id)
    Membership.objects.filter(pk=membership.pk).update(is_muted=is_muted)
    frame = frames.conversation_updated_frame(conversation={"id": conversation_id, "is_muted": is_muted})
    fanout.after_commit(partial(fanout.to_user, user.pk, frame))
