"""Reads about calls: the live calls of a user's conversations, for a client that (re)connects."""

import pytest

from calls import services
from calls.selectors import calls_live_for
from calls.tests.factories import UserFactory, direct_between, room_with

pytestmark = pytest.mark.django_db


def test_the_live_calls_of_a_users_conversations_cost_two_queries_however_many(django_assert_num_queries):
    alice, bob, carol, dave = (UserFactory(username=name) for name in ("alice", "bob", "carol", "dave"))
    ended = services.call_invite(caller=dave, conversation_id=direct_between(dave, carol).pk)
    services.call_leave(user=dave, call_id=ended.pk)
    rooms = [room_with(alice, bob, carol, name=f"desk {n}") for n in range(3)]
    running = [services.call_invite(caller=alice, conversation_id=rooms[0].pk)]
    running.append(services.call_invite(caller=bob, conversation_id=rooms[1].pk))
    services.call_join(user=carol, call_id=running[1].pk)
    services.call_invite(caller=dave, conversation_id=room_with(dave, bob, name="elsewhere").pk)  # not carol's

    with django_assert_num_queries(2):
        live = calls_live_for(user=carol)

    assert [(call.pk, [p.user.username for p in participants]) for call, participants in live] == [
        (running[0].pk, ["alice", "bob", "carol"]),
        (running[1].pk, ["bob", "carol"]),  # alice, in her own call, was not rung
    ]


def test_no_live_call_costs_one_query(django_assert_num_queries):
    alice = UserFactory()
    room_with(alice, UserFactory(), name="quiet")

    with django_assert_num_queries(1):
        assert calls_live_for(user=alice) == []
