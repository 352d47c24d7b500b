"""Every write the messenger can do, one function each, split by subject. Views, the socket, commands and tests
all call these as `services.<name>`; each subject module holds the rules and announcements of its writes.

Each runs in one transaction and schedules its announcements with `transaction.on_commit` (core.fanout),
so nothing is announced for a write that rolled back.
"""

from messenger.services.expiry import attachments_expire, messages_expire, messages_expire_before
from messenger.services.members import (
    conversation_leave,
    default_rooms_join,
    do_member_remove,
    do_member_role_set,
    do_members_add,
    membership_mute,
    room_invite,
    room_member_remove,
    room_member_role_set,
)
from messenger.services.messages import (
    MAX_CLIENT_ID_LENGTH,
    attachment_archive_content,
    message_delete,
    message_edit,
    message_send,
    send_rate_limit,
    typing_notify,
)
from messenger.services.reactions import reaction_add, reaction_remove
from messenger.services.reads import read_mark
from messenger.services.rooms import (
    direct_open,
    do_room_archive,
    do_room_default_set,
    do_room_update,
    room_archive,
    room_create,
    room_join,
    room_update,
)

__all__ = [
    "MAX_CLIENT_ID_LENGTH",
    "attachment_archive_content",
    "attachments_expire",
    "conversation_leave",
    "default_rooms_join",
    "direct_open",
    "do_member_remove",
    "do_member_role_set",
    "do_members_add",
    "do_room_archive",
    "do_room_default_set",
    "do_room_update",
    "membership_mute",
    "message_delete",
    "message_edit",
    "message_send",
    "messages_expire",
    "messages_expire_before",
    "reaction_add",
    "reaction_remove",
    "read_mark",
    "room_archive",
    "room_create",
    "room_invite",
    "room_join",
    "room_member_remove",
    "room_member_role_set",
    "room_update",
    "send_rate_limit",
    "typing_notify",
]
