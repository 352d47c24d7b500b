"""messenger/services/expiry.py: expired messages leave the chat for good and open clients are told (through
the whole ASGI application)."""

import pytest
from channels.db import database_sync_to_async

from accounts.tests.factories import UserFactory
from core.testing import next_of_type, open_socket_for, session_cookie_for
from messenger import services
from messenger.models import Message, MessageVersion
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db(transaction=True)


async def open_socket(user):
    return await open_socket_for(await database_sync_to_async(session_cookie_for)(user))


def conversation_with_history():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    room = room_with(alice, bob)
    first, second = send(alice, room, "first"), send(bob, room, "second")
    services.message_edit(editor=alice, message_id=first.pk, body="first, edited")
    reply = send(bob, room, "replying", reply_to_id=first.pk)
    return bob, room, first, second, reply


async def test_expired_messages_leave_the_chat_and_open_sockets_are_told_which():
    bob, room, first, second, reply = await database_sync_to_async(conversation_with_history)()
    socket = await open_socket(bob)

    removed = await database_sync_to_async(services.messages_expire)(message_ids=[first.pk, second.pk])

    frame = await next_of_type(socket, "messages.expired")
    assert frame == {"type": "messages.expired", "conversation_id": room.pk, "message_ids": [first.pk, second.pk]}
    assert removed == 2
    remaining = await database_sync_to_async(lambda: list(Message.objects.filter(conversation=room)))()
    assert [message.pk for message in remaining] == [reply.pk]
    assert remaining[0].reply_to_id is None  # the reply keeps its text and loses the quote
    assert not await database_sync_to_async(MessageVersion.objects.filter(message_id=first.pk).exists)()
    await socket.disconnect()


async def test_a_rooms_live_retention_removes_only_messages_older_than_its_cutoff():
    bob, room, first, second, reply = await database_sync_to_async(conversation_with_history)()
    socket = await open_socket(bob)

    removed = await database_sync_to_async(services.messages_expire_before)(
        conversation_id=room.pk, cutoff=reply.created_at
    )

    frame = await next_of_type(socket, "messages.expired")
    assert frame["message_ids"] == [first.pk, second.pk]
    assert removed == 2
    await socket.disconnect()


def test_nothing_to_expire_costs_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert services.messages_expire(message_ids=[]) == 0
