"""Calls as the services keep them: ringing, answering, busy, full, hanging up, the missed call, the archive."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import roles
from archive.models import EventType
from archive.selectors import entries_in_chain_order
from archive.verification import archive_verify
from calls import services
from calls.errors import CallBusy, CallFull, CallNotFound, SignalInvalid
from calls.models import Call
from calls.tests.factories import UserFactory, direct_between, room_with
from messenger.errors import NotAMember
from messenger.models import Message

pytestmark = pytest.mark.django_db

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"


def call_events(conversation) -> list:
    return [e for e in entries_in_chain_order(conversation_ids=[conversation.pk]) if e.event_type.startswith("call_")]


@pytest.fixture
def pair():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    return alice, bob, direct_between(alice, bob)


def test_a_call_rings_the_other_member_and_answering_makes_it_active(pair):
    alice, bob, chat = pair

    call = services.call_invite(caller=alice, conversation_id=chat.pk)
    assert call.state == Call.State.RINGING
    assert call.participants.get(user=bob).joined_at is None

    call = services.call_join(user=bob, call_id=call.pk)

    assert call.state == Call.State.ACTIVE
    assert call.answered_at is not None
    assert set(call.participants.filter(joined_at__isnull=False).values_list("user__username", flat=True)) == {
        "alice",
        "bob",
    }


def test_only_members_can_call_or_join(pair):
    alice, _bob, chat = pair
    mallory = UserFactory()
    call = services.call_invite(caller=alice, conversation_id=chat.pk)

    with pytest.raises(NotAMember):
        services.call_invite(caller=mallory, conversation_id=chat.pk)
    with pytest.raises(CallNotFound):
        services.call_join(user=mallory, call_id=call.pk)


def test_calling_someone_already_in_a_call_is_refused_as_busy(pair):
    alice, bob, chat = pair
    carol = UserFactory()
    services.call_join(user=bob, call_id=services.call_invite(caller=alice, conversation_id=chat.pk).pk)

    with pytest.raises(CallBusy):
        services.call_invite(caller=carol, conversation_id=direct_between(carol, bob).pk)
    with pytest.raises(CallBusy):  # and the one in a call cannot start another
        services.call_invite(caller=bob, conversation_id=direct_between(bob, carol).pk)


def test_a_direct_call_refused_as_busy_is_kept_in_the_archive_of_that_chat(pair):
    alice, bob, chat = pair
    carol = UserFactory(username="carol")
    services.call_join(user=bob, call_id=services.call_invite(caller=alice, conversation_id=chat.pk).pk)
    carol_and_bob = direct_between(carol, bob)

    with pytest.raises(CallBusy):
        services.call_invite(caller=carol, conversation_id=carol_and_bob.pk)

    (attempt,) = call_events(carol_and_bob)
    assert (attempt.event_type, attempt.actor_id) == (EventType.CALL_ENDED, carol.pk)
    assert (attempt.content["reason"], attempt.content["called"]) == ("busy", [bob.pk])
    assert attempt.content["people"][str(bob.pk)]["username"] == "bob"  # sealed as they were named then
    assert set(attempt.participants) == {carol.pk, bob.pk}
    assert not Call.objects.filter(conversation=carol_and_bob).exists()  # nothing rang, nothing runs
    assert archive_verify().is_intact


def test_a_room_call_rings_those_free_and_the_archive_names_who_was_rung_and_who_was_busy():
    alice, bob, carol, dave = (UserFactory(username=name) for name in ("alice", "bob", "carol", "dave"))
    services.call_join(
        user=dave, call_id=services.call_invite(caller=carol, conversation_id=direct_between(carol, dave).pk).pk
    )
    room = room_with(alice, bob, carol, dave)

    call = services.call_invite(caller=alice, conversation_id=room.pk)

    assert sorted(p.user_id for p in call.participants.all()) == sorted([alice.pk, bob.pk])  # carol, dave not rung
    (started,) = call_events(room)
    assert (started.content["rung"], started.content["busy"]) == ([bob.pk], sorted([carol.pk, dave.pk]))
    assert {started.content["people"][str(pk)]["username"] for pk in (bob.pk, carol.pk, dave.pk)} == {
        "bob",
        "carol",
        "dave",
    }


def test_a_second_call_in_the_same_conversation_is_refused(pair):
    alice, bob, chat = pair
    services.call_invite(caller=alice, conversation_id=chat.pk)

    with pytest.raises(CallBusy):
        services.call_invite(caller=bob, conversation_id=chat.pk)


def test_a_room_call_holds_at_most_the_configured_number_of_people(settings):
    settings.PARLEY_CALL_MAX_PARTICIPANTS = 3
    people = [UserFactory() for _ in range(4)]
    room = room_with(*people)
    call = services.call_invite(caller=people[0], conversation_id=room.pk)
    services.call_join(user=people[1], call_id=call.pk)
    services.call_join(user=people[2], call_id=call.pk)

    with pytest.raises(CallFull):
        services.call_join(user=people[3], call_id=call.pk)


def test_a_room_call_goes_on_when_one_leaves_and_ends_when_the_last_one_hangs_up():
    alice, bob, carol = UserFactory(), UserFactory(), UserFactory()
    room = room_with(alice, bob, carol)
    call = services.call_invite(caller=alice, conversation_id=room.pk)
    services.call_join(user=bob, call_id=call.pk)

    assert services.call_leave(user=alice, call_id=call.pk).state == Call.State.ACTIVE
    ended = services.call_leave(user=bob, call_id=call.pk)

    assert ended.state == Call.State.ENDED
    assert ended.end_reason == Call.EndReason.HUNG_UP


def test_hanging_up_a_direct_call_ends_it_and_the_archive_holds_who_joined_and_how_long(pair):
    alice, bob, chat = pair
    call = services.call_invite(caller=alice, conversation_id=chat.pk)
    services.call_join(user=bob, call_id=call.pk)
    services.call_screen_set(user=alice, call_id=call.pk, is_sharing=True)
    # As if the call had been answered 95 seconds ago.
    Call.objects.filter(pk=call.pk).update(answered_at=timezone.now() - timedelta(seconds=95))

    call = services.call_leave(user=bob, call_id=call.pk)

    assert call.state == Call.State.ENDED
    events = call_events(chat)
    assert [e.event_type for e in events] == [
        EventType.CALL_STARTED,
        EventType.CALL_JOINED,
        EventType.CALL_SCREEN_SHARED,
        EventType.CALL_LEFT,
        EventType.CALL_ENDED,
    ]
    ended = events[-1].content
    assert ended["duration_seconds"] == 95
    assert ended["screen_shared"] is True
    assert ended["members"] == [alice.pk, bob.pk]
    assert {person["username"] for person in ended["people"].values()} == {"alice", "bob"}
    assert all(e.content["call"] == str(call.uid) for e in events)


def test_declining_a_direct_call_ends_it_without_a_missed_call(pair):
    alice, bob, chat = pair
    call = services.call_invite(caller=alice, conversation_id=chat.pk)

    call = services.call_decline(user=bob, call_id=call.pk)

    assert (call.state, call.end_reason) == (Call.State.ENDED, Call.EndReason.DECLINED)
    assert not Message.objects.filter(conversation=chat).exists()


def test_an_unanswered_call_becomes_a_missed_call_message_once_the_ring_time_is_over(pair, settings):
    settings.PARLEY_CALL_RING_SECONDS = 30
    alice, _bob, chat = pair
    call = services.call_invite(caller=alice, conversation_id=chat.pk)

    assert services.call_ring_expire(call_id=call.pk) is None  # still within its ring time
    Call.objects.filter(pk=call.pk).update(started_at=timezone.now() - timedelta(seconds=31))
    services.call_ring_expire(call_id=call.pk)
    services.call_ring_expire(call_id=call.pk)  # a second timer: nothing more

    call.refresh_from_db()
    assert (call.state, call.end_reason) == (Call.State.ENDED, Call.EndReason.MISSED)
    missed = Message.objects.get(conversation=chat)
    assert missed.sender == alice
    assert "Missed call" in missed.body
    assert call_events(chat)[-1].content["duration_seconds"] == 0


def test_an_overdue_ringing_call_is_ended_by_the_next_invite_so_nobody_stays_busy(pair, settings):
    alice, bob, chat = pair
    call = services.call_invite(caller=alice, conversation_id=chat.pk)
    Call.objects.filter(pk=call.pk).update(started_at=timezone.now() - timedelta(seconds=999))

    again = services.call_invite(caller=bob, conversation_id=chat.pk)

    assert again.pk != call.pk
    assert ["Missed call" in message.body for message in Message.objects.filter(conversation=chat)] == [True]


def test_a_signal_reaches_only_another_participant_and_is_checked(pair):
    alice, bob, chat = pair
    call = services.call_invite(caller=alice, conversation_id=chat.pk)
    offer = {"type": "offer", "sdp": SDP}

    with pytest.raises(SignalInvalid):  # bob is rung, not yet in the call
        services.call_signal(user=alice, call_id=call.pk, to_user_id=bob.pk, kind="offer", payload=offer)
    services.call_join(user=bob, call_id=call.pk)
    services.call_signal(user=alice, call_id=call.pk, to_user_id=bob.pk, kind="offer", payload=offer)
    with pytest.raises(SignalInvalid):
        services.call_signal(user=alice, call_id=call.pk, to_user_id=bob.pk, kind="offer", payload={"sdp": "rm -rf"})
    with pytest.raises(SignalInvalid):
        services.call_signal(user=alice, call_id=call.pk, to_user_id=bob.pk, kind="bye", payload={})
    with pytest.raises(SignalInvalid):
        services.call_signal(
            user=alice, call_id=call.pk, to_user_id=bob.pk, kind="ice", payload={"candidate": "x" * 2000}
        )
    with pytest.raises(CallNotFound):
        services.call_signal(user=UserFactory(), call_id=call.pk, to_user_id=bob.pk, kind="offer", payload=offer)


def test_mute_is_shown_but_not_archived(pair):
    alice, _bob, chat = pair
    call = services.call_invite(caller=alice, conversation_id=chat.pk)

    services.call_mute_set(user=alice, call_id=call.pk, is_muted=True)

    assert call.participants.get(user=alice).is_muted is True
    assert [e.event_type for e in call_events(chat)] == [EventType.CALL_STARTED]


def test_the_expiry_command_ends_calls_that_rang_too_long(pair):
    from io import StringIO

    from django.core.management import call_command

    alice, _bob, chat = pair
    call = services.call_invite(caller=alice, conversation_id=chat.pk)
    Call.objects.filter(pk=call.pk).update(started_at=timezone.now() - timedelta(seconds=999))
    out = StringIO()

    call_command("calls_expire", stdout=out)

    call.refresh_from_db()
    assert call.state == Call.State.ENDED
    assert out.getvalue().startswith("1 unanswered")


@pytest.mark.django_db(transaction=True)  # the worker closes stale connections between jobs
def test_the_background_worker_ends_calls_that_rang_too_long_when_their_timer_is_gone(pair):
    """The ring timer is a thread of the daphne process that took the invite; the worker (archive's
    run_archive_jobs, by core.worker's registry) ends the call if that process stopped."""
    from io import StringIO

    from django.core.management import call_command

    alice, _bob, chat = pair
    call = services.call_invite(caller=alice, conversation_id=chat.pk)
    Call.objects.filter(pk=call.pk).update(started_at=timezone.now() - timedelta(seconds=999))
    out = StringIO()

    call_command("run_archive_jobs", "--once", stdout=out)

    call.refresh_from_db()
    assert (call.state, call.end_reason) == (Call.State.ENDED, Call.EndReason.MISSED)
    assert "missed calls: 1 unanswered call(s) ended as missed" in out.getvalue()
    assert ["Missed call" in message.body for message in Message.objects.filter(conversation=chat)] == [True]


@pytest.mark.parametrize("role", [roles.IT_ADMINS, roles.COMPLIANCE_OFFICERS])
def test_it_and_compliance_have_no_door_into_a_call_they_are_not_members_of(pair, role):
    from core.testing import staff_in

    alice, bob, chat = pair
    call = services.call_invite(caller=alice, conversation_id=chat.pk)
    services.call_join(user=bob, call_id=call.pk)
    staff = staff_in(role, f"staff-{role.split()[0].lower()}")
    offer = {"type": "offer", "sdp": SDP}

    with pytest.raises(NotAMember):
        services.call_invite(caller=staff, conversation_id=chat.pk)
    for attempt in (
        lambda: services.call_join(user=staff, call_id=call.pk),
        lambda: services.call_leave(user=staff, call_id=call.pk),
        lambda: services.call_signal(user=staff, call_id=call.pk, to_user_id=bob.pk, kind="offer", payload=offer),
    ):
        with pytest.raises(CallNotFound):
            attempt()
