"""Direct chats and rooms: opening, creating, joining, renaming and archiving them."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import User
from archive.models import EventType
from archive.services import archive_chain_open
from core import fanout
from messenger import frames
from messenger.errors import NotAllowed, RoomInvalid, UserNotFound
from messenger.models import MAX_ROOM_NAME_LENGTH, MAX_TOPIC_LENGTH, Conversation, Membership
from messenger.payloads import conversation_payload
from messenger.selectors import conversation_writable
from messenger.services.members import _active_users, _announce_joined, _archive_membership, _manager_membership


def direct_open(*, user: User, other_username: str) -> Conversation:
    """The one direct chat between two people, created on first use. Talking to yourself is allowed."""
    other = User.objects.filter(username=other_username, is_active=True).first()
    if other is None:
        raise UserNotFound(f"No active user named {other_username!r}.")
    low, high = sorted((user.pk, other.pk))
    key = f"{low}:{high}"
    existing = Conversation.objects.filter(direct_key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(kind=Conversation.Kind.DIRECT, direct_key=key, created_by=user)
            people = [user] if other == user else [user, other]
            ids = [person.pk for person in people]
            _conversation_start(
                conversation,
                people,
                actor=user,
                event_type=EventType.MEMBER_ADDED,
                content={"kind": "direct", "added": ids},
            )
    except IntegrityError:  # the other person opened it at the same moment: the unique direct_key decided
        return Conversation.objects.get(direct_key=key)
    return conversation


def room_create(
    *, creator: User, name: str, topic: str = "", is_public: bool = False, member_usernames: list[str] | None = None
) -> Conversation:
    name = _checked_name(name)
    _checked_topic(topic)
    invited = _active_users(member_usernames or [])
    try:
        with transaction.atomic():
            room = Conversation.objects.create(
                kind=Conversation.Kind.ROOM, name=name, topic=topic, is_public=is_public, created_by=creator
            )
            people = [creator, *[person for person in invited if person != creator]]
            ids = [person.pk for person in people]
            content = {"name": name, "topic": topic, "is_public": is_public, "members": ids}
            _conversation_start(
                room, people, actor=creator, event_type=EventType.ROOM_CREATED, content=content, owner=creator
            )
    except IntegrityError:
        raise RoomInvalid(f"A room named {name!r} exists already.") from None
    return room


def room_join(*, user: User, conversation_id: int) -> Conversation:
    """Join a public room from the directory."""
    room = Conversation.objects.filter(pk=conversation_id, kind=Conversation.Kind.ROOM, is_public=True).first()
    if room is None:
        raise NotAllowed("Only public rooms can be joined without an invitation.")
    conversation_writable(room)
    with transaction.atomic():
        _, created = Membership.objects.get_or_create(conversation=room, user=user)
        if created:
            _archive_membership(
                EventType.MEMBER_ADDED, room.pk, actor=user, content={"added": [user.pk], "via": "join"}
            )
            fanout.after_commit(partial(_announce_joined, room, [user]))
    return room


def room_update(*, user: User, conversation_id: int, name: str | None = None, topic: str | None = None) -> Conversation:
    """Rename a room or change its topic: its owner and moderators may, while it is not archived. (IT may still
    rename an archived room in admin, say to free its name; do_room_update does not check.)"""
    room = _managed_room(user, conversation_id, to_write=True)
    return do_room_update(actor=user, room=room, name=name, topic=topic)


def do_room_update(
    *, actor: User, room: Conversation, name: str | None = None, topic: str | None = None
) -> Conversation:
    """Rename a room or change its topic, archived and announced. Callers have checked that `actor` may:
    room_update for members, the admin (IT's change permission on rooms) for IT."""
    changes = {}
    if name is not None and name.strip() != room.name:
        name = _checked_name(name)
        changes["name"] = [room.name, name]
    if topic is not None and topic != room.topic:
        changes["topic"] = [room.topic, _checked_topic(topic)]
    if not changes:
        return room
    try:
        with transaction.atomic():
            for field, (_, new) in changes.items():
                setattr(room, field, new)
            room.save(update_fields=list(changes))
            _archive_membership(EventType.ROOM_RENAMED, room.pk, actor=actor, content=changes)
            _announce_room(room)
    except IntegrityError:
        raise RoomInvalid(f"A room named {name!r} exists already.") from None
    return room


def do_room_default_set(*, actor: User, room: Conversation, is_default: bool) -> Conversation:
    """Make a public room a default room, which every new account joins, or a plain one again (IT in admin; the
    change is audit-logged by the save). People already in the company are not added: invite them, or they join
    from the directory. A private room cannot be one (an account IT creates would open its history)."""
    if is_default and (room.kind != Conversation.Kind.ROOM or not room.is_public):
        raise RoomInvalid("Only a public room can be a default room: new accounts join it without an invitation.")
    if room.is_default != is_default:
        room.is_default = is_default
        room.save(update_fields=["is_default"])
    return room


def room_archive(*, user: User, conversation_id: int) -> Conversation:
    """Make a room read-only for good: its history stays, nobody can post. Owner only."""
    return do_room_archive(actor=user, room=_managed_room(user, conversation_id, owner_only=True))


def do_room_archive(*, actor: User, room: Conversation) -> Conversation:
    """Archive a room (checked by the caller, as for do_room_update)."""
    if room.is_archived:
        return room
    with transaction.atomic():
        room.is_archived = True
        room.save(update_fields=["is_archived"])
        _archive_membership(EventType.ROOM_ARCHIVED, room.pk, actor=actor, content={"name": room.name})
        _announce_room(room)
    return room


def _conversation_start(
    conversation: Conversation,
    people: list[User],
    *,
    actor: User,
    event_type: str,
    content: dict[str, Any],
    owner: User | None = None,
) -> None:
    """A new conversation's first members (`owner` owning it), its archive chain opened with the event that
    made it, and every member's sockets told after commit. Inside the transaction that creates it."""
    Membership.objects.bulk_create(
        Membership(
            conversation=conversation,
            user=person,
            role=Membership.Role.OWNER if person == owner else Membership.Role.MEMBER,
        )
        for person in people
    )
    archive_chain_open(
        event_type=event_type,
        conversation_id=conversation.pk,
        actor_id=actor.pk,
        participants=[person.pk for person in people],
        content=content,
    )
    fanout.after_commit(partial(_announce_joined, conversation, people))


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_ROOM_NAME_LENGTH:
        raise RoomInvalid(f"A room needs a name of 1 to {MAX_ROOM_NAME_LENGTH} characters.")
    return name


def _checked_topic(topic: str) -> str:
    if len(topic) > MAX_TOPIC_LENGTH:
        raise RoomInvalid(f"A topic is at most {MAX_TOPIC_LENGTH} characters.")
    return topic


def _managed_room(
    user: User, conversation_id: int, *, owner_only: bool = False, to_write: bool = False
) -> Conversation:
    return _manager_membership(user, conversation_id, owner_only=owner_only, to_write=to_write).conversation


def _announce_room(room: Conversation) -> None:
    frame = frames.conversation_updated_frame(conversation=conversation_payload(room))
    fanout.after_commit(partial(fanout.to_conversation, room.pk, frame))
