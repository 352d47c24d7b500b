"""Every write the messenger can do, one function each. Views, the socket, commands and tests all call these.

Each runs in one transaction and schedules its announcements with `transaction.on_commit` (messenger.fanout),
so nothing is announced for a write that rolled back.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from archive.models import EventType
from archive.services import archive_chain_start, archive_record
from core.ratelimit import TokenBucket
from messenger import fanout, protocol
from messenger.errors import BodyInvalid, NotAllowed, NotAMember, RateLimited, RoomArchived, RoomInvalid, UserNotFound
from messenger.models import (
    MAX_BODY_LENGTH,
    Attachment,
    Conversation,
    Membership,
    Mention,
    Message,
    MessageVersion,
    Reaction,
)
from messenger.payloads import conversation_payload, message_payload, user_payload
from messenger.selectors import (
    conversation_member_ids,
    conversation_members,
    conversation_writable,
    membership_for,
    message_for_member,
    message_resent,
    reactions_of,
)

MAX_CLIENT_ID_LENGTH = 64
MAX_EMOJI_LENGTH = 32
MENTION_PATTERN = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")

# Per worker process; a user spread over several workers gets this rate on each (docs/protocol.md).
send_rate_limit = TokenBucket(rate=settings.PARLEY_SEND_RATE_PER_SECOND, burst=settings.PARLEY_SEND_BURST)


# ---- direct chats and rooms -------------------------------------------------------------------------------


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
            Membership.objects.bulk_create(Membership(conversation=conversation, user=person) for person in people)
            archive_chain_start(conversation_id=conversation.pk)
            ids = [person.pk for person in people]
            archive_record(
                event_type=EventType.MEMBER_ADDED,
                conversation_id=conversation.pk,
                actor_id=user.pk,
                participants=ids,
                content={"kind": "direct", "added": ids},
            )
            transaction.on_commit(partial(_announce_joined, conversation, people))
    except IntegrityError:  # the other person opened it at the same moment: the unique direct_key decided
        return Conversation.objects.get(direct_key=key)
    return conversation


def room_create(
    *, creator: User, name: str, topic: str = "", is_public: bool = False, member_usernames: list[str] | None = None
) -> Conversation:
    name = name.strip()
    if not name or len(name) > 80:
        raise RoomInvalid("A room needs a name of 1 to 80 characters.")
    if len(topic) > 250:
        raise RoomInvalid("A topic is at most 250 characters.")
    invited = _active_users(member_usernames or [])
    try:
        with transaction.atomic():
            room = Conversation.objects.create(
                kind=Conversation.Kind.ROOM, name=name, topic=topic, is_public=is_public, created_by=creator
            )
            people = [creator, *[person for person in invited if person != creator]]
            Membership.objects.bulk_create(
                Membership(
                    conversation=room,
                    user=person,
                    role=Membership.Role.OWNER if person == creator else Membership.Role.MEMBER,
                )
                for person in people
            )
            archive_chain_start(conversation_id=room.pk)
            ids = [person.pk for person in people]
            archive_record(
                event_type=EventType.ROOM_CREATED,
                conversation_id=room.pk,
                actor_id=creator.pk,
                participants=ids,
                content={"name": name, "topic": topic, "is_public": is_public, "members": ids},
            )
            transaction.on_commit(partial(_announce_joined, room, people))
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
            transaction.on_commit(partial(_announce_joined, room, [user]))
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
        name = name.strip()
        if not name or len(name) > 80:
            raise RoomInvalid("A room needs a name of 1 to 80 characters.")
        changes["name"] = [room.name, name]
    if topic is not None and topic != room.topic:
        if len(topic) > 250:
            raise RoomInvalid("A topic is at most 250 characters.")
        changes["topic"] = [room.topic, topic]
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


def _managed_room(
    user: User, conversation_id: int, *, owner_only: bool = False, to_write: bool = False
) -> Conversation:
    return _manager_membership(user, conversation_id, owner_only=owner_only, to_write=to_write).conversation


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


def _announce_room(room: Conversation) -> None:
    frame = {"type": "conversation.updated", "conversation": conversation_payload(room)}
    transaction.on_commit(partial(fanout.to_conversation, room.pk, frame))


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
            transaction.on_commit(partial(_announce_joined, room, newcomers))
    return newcomers


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
    membership = do_member_role_set(membership=target, role=role)
    # Their own tabs learn their new role (the buttons they get depend on it); only that field, so nothing
    # else they hold (unread counts) is overwritten.
    frame = {"type": "conversation.updated", "conversation": {"id": conversation_id, "role": role}}
    transaction.on_commit(partial(fanout.to_user, target.user_id, frame))
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
        content = {"removed": [person.pk]} if actor.pk == person.pk else {"removed": [person.pk], "by": actor.pk}
        _archive_membership(EventType.MEMBER_REMOVED, conversation_id, actor=actor, content=content)
        frame = {"type": "conversation.left", "conversation_id": conversation_id}
        transaction.on_commit(partial(fanout.conversation_left, person.pk, conversation_id, frame))
        members_frame = {"type": "member.left", "conversation_id": conversation_id, "user": user_payload(person)}
        transaction.on_commit(partial(fanout.to_conversation, conversation_id, members_frame))


def do_member_role_set(*, membership: Membership, role: str) -> Membership:
    """Make a member owner, moderator or plain member (IT, e.g. when a room's owner leaves the company).
    Membership is audit-logged, so the change and who made it are kept."""
    if role not in Membership.Role.values:
        raise RoomInvalid(f"A member's role is one of {', '.join(Membership.Role.values)}.")
    if membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def _archive_membership(event_type: str, conversation_id: int, *, actor: User, content: dict) -> None:
    """Archive a membership change with the participants as they are after it."""
    archive_record(
        event_type=event_type,
        conversation_id=conversation_id,
        actor_id=actor.pk,
        participants=conversation_member_ids(conversation_id=conversation_id),
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
    for person in people:
        frame = {
            "type": "conversation",
            "conversation": conversation_payload(conversation, members=members),
        }
        fanout.conversation_joined(person.pk, conversation.pk, frame)


# ---- messages ---------------------------------------------------------------------------------------------


def _checked_body(body: str) -> str:
    if not body.strip():
        raise BodyInvalid("A message cannot be empty.")
    if len(body) > MAX_BODY_LENGTH:
        raise BodyInvalid(f"A message is at most {MAX_BODY_LENGTH} characters.", code="body_too_long")
    return body


def _next_seq(conversation_id: int) -> int:
    # One UPDATE ... RETURNING: its row lock makes concurrent senders in one conversation take turns until
    # commit, so seqs are unique and gap-free without a MAX()+1 scan (SQLite serializes writers anyway).
    # An archived room has no row to update, which is how it refuses new messages at no extra cost.
    table = connection.ops.quote_name(Conversation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + 1 WHERE id = %s AND NOT is_archived RETURNING last_seq",  # noqa: S608 (table name from the model)
            [conversation_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise RoomArchived("This room is archived: it is read-only.")
    return row[0]


def sender_checked(*, sender: User, conversation_id: int, client_id: str) -> tuple[list[int], Message | None]:
    """The conversation's members (refusing a sender who is not one), and the message this `client_id` of the
    sender's already made, if it is a resend: the checks every way of sending starts with."""
    participants = conversation_member_ids(conversation_id=conversation_id)
    if sender.pk not in participants:
        raise NotAMember("You are not a member of that conversation.")
    return participants, message_resent(sender=sender, client_id=client_id)


def message_send(
    *,
    sender: User,
    conversation_id: int,
    client_id: str,
    body: str,
    reply_to_id: int | None = None,
    attachment: Attachment | None = None,
) -> Message:
    """Store and archive a message once per (sender, client_id); deliver it to every member after commit.

    A fixed number of queries whatever the room size: participants (which is also the membership check),
    resend check, seq, insert, the sender's read marker, and three for the archive (chain, entry, head);
    plus one for a quoted message and two for @mentions when there are any. With an `attachment` (stored
    and scanned by messenger.files.file_share) the body may be empty and the archive entry is "file shared".
    """
    if not client_id or len(client_id) > MAX_CLIENT_ID_LENGTH:
        raise BodyInvalid(f"client_id must be 1 to {MAX_CLIENT_ID_LENGTH} characters.", code="client_id_invalid")
    if attachment is None or body:
        _checked_body(body)
    participants, existing = sender_checked(sender=sender, conversation_id=conversation_id, client_id=client_id)
    if existing is not None:
        return existing
    if not send_rate_limit.allow(sender.pk):
        raise RateLimited("You are sending too fast; wait a moment.")
    try:
        with transaction.atomic():
            reply_to = None
            if reply_to_id is not None:
                reply_to = (
                    Message.objects.select_related("sender")
                    .filter(pk=reply_to_id, conversation_id=conversation_id)
                    .first()
                )
                if reply_to is None:
                    raise BodyInvalid("A reply quotes a message of the same conversation.", code="reply_invalid")
            seq = _next_seq(conversation_id)
            message = Message.objects.create(
                conversation_id=conversation_id,
                sender=sender,
                seq=seq,
                client_id=client_id,
                body=body,
                reply_to=reply_to,
                attachment=attachment,
            )
            # You have read what you wrote.
            Membership.objects.filter(conversation_id=conversation_id, user=sender).update(last_read_seq=seq)
            _record_mentions(message, body)
            content = {"body": body, "seq": seq, "reply_to": reply_to_id}
            if attachment is not None:
                content["file"] = attachment_archive_content(attachment)
            entry = archive_record(
                event_type=EventType.MESSAGE_SENT if attachment is None else EventType.FILE_SHARED,
                conversation_id=conversation_id,
                actor_id=sender.pk,
                participants=participants,
                message_id=message.pk,
                content=content,
            )
            if attachment is not None:
                attachment.archive_position = entry.position
                attachment.save(update_fields=["archive_position"])
            frame = protocol.message_frame(message_payload(message))
            transaction.on_commit(partial(fanout.to_conversation, conversation_id, frame))
    except IntegrityError:
        existing = message_resent(sender=sender, client_id=client_id)  # the same client_id raced in on another socket
        if existing is None:
            raise
        return existing
    return message


def attachment_archive_content(attachment: Attachment) -> dict[str, Any]:
    """What the archive keeps about a file: enough to find and verify the stored, sealed copy."""
    return {
        "uid": str(attachment.uid),
        "name": attachment.name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "stored_as": attachment.file.name,
        "scanned": attachment.scanned,
    }


def _record_mentions(message: Message, body: str) -> None:
    usernames = set(MENTION_PATTERN.findall(body))
    if not usernames:
        return
    mentioned = User.objects.filter(
        username__in=usernames, memberships__conversation_id=message.conversation_id
    ).values_list("pk", flat=True)
    Mention.objects.bulk_create(Mention(message=message, user_id=user_id) for user_id in mentioned)


def message_edit(*, editor: User, message_id: int, body: str) -> Message:
    """Replace the text of one's own message, keeping the earlier text as a version."""
    _checked_body(body)
    with transaction.atomic():
        message = message_for_member(user=editor, message_id=message_id, for_update=True, to_write=True)
        _check_own_live_message(editor, message)
        MessageVersion.objects.create(message=message, body=message.body)
        _archive_message_change(EventType.MESSAGE_EDITED, message, editor, {"old": message.body, "new": body})
        message.body = body
        message.edited_at = timezone.now()
        message.save(update_fields=["body", "edited_at"])
        _announce_updated(message)
    return message


def message_delete(*, editor: User, message_id: int) -> Message:
    """Hide one's own message from the chat; its text stays as a version for the archive."""
    with transaction.atomic():
        message = message_for_member(user=editor, message_id=message_id, for_update=True, to_write=True)
        _check_own_live_message(editor, message)
        MessageVersion.objects.create(message=message, body=message.body)
        _archive_message_change(EventType.MESSAGE_DELETED, message, editor, {"body": message.body})
        message.body = ""
        message.deleted_at = timezone.now()
        message.save(update_fields=["body", "deleted_at"])
        _announce_updated(message)
    return message


def _archive_message_change(event_type: str, message: Message, editor: User, content: dict) -> None:
    archive_record(
        event_type=event_type,
        conversation_id=message.conversation_id,
        actor_id=editor.pk,
        participants=conversation_member_ids(conversation_id=message.conversation_id),
        message_id=message.pk,
        content={**content, "seq": message.seq},
    )


def _check_own_live_message(user: User, message: Message) -> None:
    if message.sender_id != user.pk:
        raise NotAllowed("Only the sender can edit or delete a message.")
    if message.deleted_at is not None:
        raise NotAllowed("That message was deleted.")


def _announce_updated(message: Message) -> None:
    frame = {
        "type": "message.updated",
        "message": message_payload(message, reactions=reactions_of(message_id=message.pk)),
    }
    transaction.on_commit(partial(fanout.to_conversation, message.conversation_id, frame))


# ---- reactions, reading, typing ---------------------------------------------------------------------------


def _checked_emoji(emoji: str) -> str:
    if not emoji or len(emoji) > MAX_EMOJI_LENGTH or any(ch.isspace() for ch in emoji):
        raise BodyInvalid(f"An emoji is 1 to {MAX_EMOJI_LENGTH} characters without spaces.", code="emoji_invalid")
    return emoji


def reaction_add(*, user: User, message_id: int, emoji: str) -> list[dict]:
    _checked_emoji(emoji)
    with transaction.atomic():
        message = message_for_member(user=user, message_id=message_id, to_write=True)
        _, created = Reaction.objects.get_or_create(message=message, user=user, emoji=emoji)
        reactions = reactions_of(message_id=message.pk)
        if created:
            _announce_reactions(message, reactions)
    return reactions


def reaction_remove(*, user: User, message_id: int, emoji: str) -> list[dict]:
    _checked_emoji(emoji)
    with transaction.atomic():
        message = message_for_member(user=user, message_id=message_id, to_write=True)
        removed, _ = Reaction.objects.filter(message=message, user=user, emoji=emoji).delete()
        reactions = reactions_of(message_id=message.pk)
        if removed:
            _announce_reactions(message, reactions)
    return reactions


def _announce_reactions(message: Message, reactions: list[dict]) -> None:
    frame = {
        "type": "message.reactions",
        "conversation_id": message.conversation_id,
        "message_id": message.pk,
        "reactions": reactions,
    }
    transaction.on_commit(partial(fanout.to_conversation, message.conversation_id, frame))


def read_mark(*, user: User, conversation_id: int, seq: int) -> int:
    """Move the user's read marker forward (never back) and tell the conversation, for "seen by"."""
    membership = membership_for(user=user, conversation_id=conversation_id)
    seq = min(seq, membership.conversation.last_seq)
    with transaction.atomic():
        moved = Membership.objects.filter(pk=membership.pk, last_read_seq__lt=seq).update(last_read_seq=seq)
        if moved:
            frame = {"type": "read", "conversation_id": conversation_id, "user_id": user.pk, "seq": seq}
            transaction.on_commit(partial(fanout.to_conversation, conversation_id, frame))
    return max(seq, membership.last_read_seq)


def typing_notify(*, user: User, conversation_id: int) -> None:
    """Tell the conversation the user is typing. Nothing is stored."""
    membership_for(user=user, conversation_id=conversation_id, to_write=True)
    fanout.to_conversation(
        conversation_id, {"type": "typing", "conversation_id": conversation_id, "user": user_payload(user)}
    )


def membership_mute(*, user: User, conversation_id: int, is_muted: bool) -> None:
    """Mute (no desktop notifications, unread not counted in the tab title; mentions still are) or unmute a
    conversation for this user; their other tabs follow."""
    membership = membership_for(user=user, conversation_id=conversation_id)
    Membership.objects.filter(pk=membership.pk).update(is_muted=is_muted)
    frame = {"type": "conversation.updated", "conversation": {"id": conversation_id, "is_muted": is_muted}}
    transaction.on_commit(partial(fanout.to_user, user.pk, frame))
