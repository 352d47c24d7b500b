"""Every write about calls, one function each (docs/calls.md). Media never passes through here: the server rings,
keeps who is in which call, relays the peers' offers, answers and ICE candidates, and archives the call.

Each service runs in one transaction holding the call's row lock (calls.selectors.call_for_member), archives
what happened in it (archive.services.archive_record) and announces after commit (core.fanout).
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from accounts.models import User
from archive.models import EventType
from archive.services import archive_record
from calls import frames
from calls.errors import CallBusy, CallFull, CallNotFound, SignalInvalid
from calls.models import Call, CallParticipant
from calls.payloads import call_payload
from calls.selectors import (
    call_for_member,
    call_live_in,
    call_participants,
    calls_ringing_since_before,
    users_in_a_call,
)
from core import fanout
from core.errors import ParleyError
from messenger import services as messenger_services
from messenger.errors import NotAMember
from messenger.models import Conversation
from messenger.selectors import conversation_member_ids

logger = logging.getLogger(__name__)

SIGNAL_KINDS = ("offer", "answer", "ice")
# An SDP of audio and a screen's video is 3 to 8 KB; a frame is at most 64 KiB anyway.
MAX_SDP_LENGTH = 32 * 1024
MAX_CANDIDATE_LENGTH = 1024
MAX_MID_LENGTH = 64
# The reason a refused direct call is archived with (call_ended), beside Call.EndReason's: no call row has it.
BUSY = "busy"


# ---- ringing ---------------------------------------------------------------------------------------------------


def call_invite(*, caller: User, conversation_id: int) -> Call:
    """Start a call in a conversation and ring its other members (those not in another call).

    In a direct chat the one person called being in another call refuses the call with `call_busy` (archived as
    such); in a room the busy are not rung, and the archive's call_started says who they were. A conversation has
    one call at a time: while one runs, members join it."""
    calls_ring_overdue_expire()
    member_ids = conversation_member_ids(conversation_id=conversation_id)
    if caller.pk not in member_ids:
        raise NotAMember("You are not a member of that conversation.")
    if call_live_in(conversation_id=conversation_id) is not None:
        raise CallBusy("This conversation already has a call: join it.")
    others = [user_id for user_id in member_ids if user_id != caller.pk]
    busy = users_in_a_call(user_ids=[caller.pk, *others])
    if caller.pk in busy:
        raise CallBusy("You are already in a call.")
    kind = Conversation.objects.values_list("kind", flat=True).get(pk=conversation_id)
    if kind == Conversation.Kind.DIRECT and others and others[0] in busy:
        _busy_attempt_archive(caller=caller, conversation_id=conversation_id, called_id=others[0])
        raise CallBusy("They are in another call.")
    rung = [user_id for user_id in others if user_id not in busy]
    now = timezone.now()
    try:
        with transaction.atomic():
            # The partial unique constraints decide the races the checks above cannot: a second call in this
            # conversation, or the caller answering another call meanwhile, fail here (call_busy).
            call = Call.objects.create(conversation_id=conversation_id, started_by=caller)
            CallParticipant.objects.bulk_create(
                [
                    CallParticipant(call=call, user_id=caller.pk, joined_at=now),
                    *(CallParticipant(call=call, user_id=user_id) for user_id in rung),
                ]
            )
            # Who was rung, and who was not because they were in another call: both kept, with their names then.
            started = {"kind": kind, "rung": rung, **({"busy": sorted(busy)} if busy else {})}
            _archive(call, EventType.CALL_STARTED, actor=caller, content=started)
            payload = _payload(call)
            for user_id in rung:
                fanout.after_commit(partial(fanout.to_user, user_id, frames.call_ringing_frame(call=payload)))
            fanout.after_commit(
                partial(fanout.to_conversation, conversation_id, frames.call_updated_frame(call=payload))
            )
            transaction.on_commit(partial(ring_timeout_schedule, call.pk))
    except IntegrityError:
        raise CallBusy("This conversation already has a call, or you are in one.") from None
    return call


def _busy_attempt_archive(*, caller: User, conversation_id: int, called_id: int) -> None:
    """Keep a direct call refused as busy (docs/compliance.md: every attempt to communicate is kept): one
    `call_ended` entry with the reason "busy", like a call that ended before anyone answered, only no call row
    exists for it. Committed on its own, before the caller hears `call_busy`; nobody else is told."""
    now = timezone.now().isoformat()
    with transaction.atomic():
        archive_record(
            event_type=EventType.CALL_ENDED,
            conversation_id=conversation_id,
            actor_id=caller.pk,
            actor=caller,
            participants=conversation_member_ids(conversation_id=conversation_id),
            content={
                "call": str(uuid.uuid4()),  # the attempt's own id: no Call row holds it
                "reason": BUSY,
                "called": [called_id],  # sealed with their name, like "members" (PEOPLE_CONTENT_KEYS)
                "duration_seconds": 0,
                "screen_shared": False,
                "members": [caller.pk],
                "started_at": now,
                "answered_at": None,
                "ended_at": now,
            },
        )


def ring_timeout_schedule(call_id: int) -> None:
    """Check the call once its ring time is over, in a timer thread of this process. Should the process stop
    first, the next invite anywhere (or `manage.py calls_expire`) ends it: calls_ring_overdue_expire."""
    timer = threading.Timer(settings.PARLEY_CALL_RING_SECONDS, _ring_timeout_in_thread, args=(call_id,))
    timer.daemon = True
    timer.start()


def _ring_timeout_in_thread(call_id: int) -> None:
    close_old_connections()
    try:
        call_ring_expire(call_id=call_id)
    except Exception:
        logger.exception("Ring timeout of call %s failed", call_id)
    finally:
        connection.close()  # a timer thread's connection would otherwise stay open until the process ends


def call_ring_expire(*, call_id: int) -> Call | None:
    """End a call nobody answered within PARLEY_CALL_RING_SECONDS: it becomes a "missed call" message in its
    conversation. Nothing happens to a call answered or ended meanwhile (the timer cannot be cancelled)."""
    deadline = timezone.now() - timedelta(seconds=settings.PARLEY_CALL_RING_SECONDS)
    with transaction.atomic():
        call = Call.objects.select_for_update().filter(pk=call_id, state=Call.State.RINGING).first()
        if call is None or call.started_at > deadline:
            return None
        _end(call, reason=Call.EndReason.MISSED, actor=None)
    _missed_call_message(call)
    return call


def calls_ring_overdue_expire() -> int:
    """End every call still ringing past its time (a worker stopped before its timer ran). One indexed query
    when there is none, the usual case."""
    moment = timezone.now() - timedelta(seconds=settings.PARLEY_CALL_RING_SECONDS)
    return sum(call_ring_expire(call_id=call_id) is not None for call_id in calls_ringing_since_before(moment=moment))


def _missed_call_message(call: Call) -> None:
    """Posted by the caller, through the messenger's own service: archived and delivered like any message, and
    once only (its client_id is the call's)."""
    caller = User.objects.filter(pk=call.started_by_id).first()
    if caller is None:
        return
    try:
        messenger_services.message_send(
            sender=caller,
            conversation_id=call.conversation_id,
            client_id=f"call-missed-{call.uid}",
            body=f"📞 Missed call from {caller.display_name or caller.username}",
        )
    except ParleyError:  # the caller left the conversation since, or it was archived: the call still ended
        logger.info("No missed-call message for call %s", call.pk, exc_info=True)


# ---- taking part -----------------------------------------------------------------------------------------------


def call_join(*, user: User, call_id: int) -> Call:
    """Answer a ringing call or join a running one (a room's): up to PARLEY_CALL_MAX_PARTICIPANTS at once, each
    sending offers to those already in (docs/calls.md)."""
    try:
        with transaction.atomic():
            call = call_for_member(user=user, call_id=call_id, lock=True)
            if call.state == Call.State.ENDED:
                raise CallNotFound("That call has ended.")
            participants = call_participants(call=call)
            own = next((p for p in participants if p.user_id == user.pk), None)
            if own is not None and own.is_in_call:
                return call  # a second tab answering, or a resend: nothing changes
            if sum(p.is_in_call for p in participants) >= settings.PARLEY_CALL_MAX_PARTICIPANTS:
                raise CallFull(f"A call holds at most {settings.PARLEY_CALL_MAX_PARTICIPANTS} people.")
            now = timezone.now()
            if own is None:
                own = CallParticipant(call=call, user=user)
            own.joined_at, own.left_at, own.declined_at = now, None, None
            own.is_muted = own.is_sharing_screen = False
            with transaction.atomic():  # the savepoint the busy constraint may roll back
                own.save()
            if call.state == Call.State.RINGING:
                call.state, call.answered_at = Call.State.ACTIVE, now
                call.save(update_fields=["state", "answered_at"])
            _archive(call, EventType.CALL_JOINED, actor=user)
            _announce_updated(call)
    except IntegrityError:
        raise CallBusy("You are already in another call.") from None
    return call


def call_decline(*, user: User, call_id: int) -> Call:
    """Say no to a ringing call. A direct call ends (declined); in a room, the call ends only when everyone rung
    declined, and the caller sees who did."""
    with transaction.atomic():
        call = call_for_member(user=user, call_id=call_id, lock=True)
        participants = call_participants(call=call)
        own = next((p for p in participants if p.user_id == user.pk and p.joined_at is None), None)
        if call.state == Call.State.ENDED or own is None:
            raise CallNotFound("No call is ringing for you there.")
        own.declined_at = timezone.now()
        own.save(update_fields=["declined_at"])
        _archive(call, EventType.CALL_DECLINED, actor=user)
        still_rung = [p for p in participants if p.joined_at is None and p.declined_at is None]
        if call.state == Call.State.RINGING and not still_rung:
            _end(call, reason=Call.EndReason.DECLINED, actor=user)
        else:
            _announce_updated(call)
    return call


def call_leave(*, user: User, call_id: int) -> Call:
    """Hang up. The call ends when nobody is left in it, and a direct call when either side hangs up; a caller
    who gives up before anyone answered leaves a missed call."""
    with transaction.atomic():
        call = call_for_member(user=user, call_id=call_id, lock=True)
        participants = call_participants(call=call)
        own = next((p for p in participants if p.user_id == user.pk and p.is_in_call), None)
        if call.state == Call.State.ENDED or own is None:
            raise CallNotFound("You are not in that call.")
        own.left_at = timezone.now()
        own.is_sharing_screen = False
        own.save(update_fields=["left_at", "is_sharing_screen"])
        _archive(call, EventType.CALL_LEFT, actor=user)
        remaining = [p for p in participants if p.is_in_call]
        is_direct = call.conversation.kind == Conversation.Kind.DIRECT
        missed = call.state == Call.State.RINGING
        if not remaining or is_direct or missed:
            _end(call, reason=Call.EndReason.MISSED if missed else Call.EndReason.HUNG_UP, actor=user)
        else:
            _announce_updated(call)
    if missed:
        _missed_call_message(call)
    return call


def call_mute_set(*, user: User, call_id: int, is_muted: bool) -> Call:
    """Show the others whether this participant's microphone is off. The browser mutes its own track; this is
    only the state the others see, so it is not archived."""
    return _participant_flag_set(user=user, call_id=call_id, is_muted=is_muted)


def call_screen_set(*, user: User, call_id: int, is_sharing: bool) -> Call:
    """A participant started or stopped sharing their screen: archived (compliance asks who showed what, when)."""
    return _participant_flag_set(user=user, call_id=call_id, is_sharing_screen=is_sharing)


def _participant_flag_set(*, user: User, call_id: int, **flag: bool) -> Call:
    with transaction.atomic():
        call = call_for_member(user=user, call_id=call_id, lock=True)
        own = call.participants.filter(user=user, joined_at__isnull=False, left_at__isnull=True).first()
        if call.state == Call.State.ENDED or own is None:
            raise CallNotFound("You are not in that call.")
        ((name, value),) = flag.items()
        if getattr(own, name) == value:
            return call
        setattr(own, name, value)
        own.save(update_fields=[name])
        if name == "is_sharing_screen":
            if value and not call.screen_shared:
                call.screen_shared = True
                call.save(update_fields=["screen_shared"])
            _archive(call, EventType.CALL_SCREEN_SHARED, actor=user, content={"sharing": value})
        _announce_updated(call)
    return call


# ---- signaling -------------------------------------------------------------------------------------------------


def call_signal(*, user: User, call_id: int, to_user_id: int, kind: str, payload: dict[str, Any]) -> None:
    """Relay an SDP offer or answer or an ICE candidate to one other participant, checked, never stored.

    Both must be in the call now: a member who is not in it receives nothing of its signaling, and a
    non-member cannot even learn it exists. Sent at once (no transaction: nothing is written)."""
    checked = _checked_signal(kind, payload)
    call = call_for_member(user=user, call_id=call_id)
    in_call = set(
        call.participants.filter(joined_at__isnull=False, left_at__isnull=True).values_list("user_id", flat=True)
    )
    if call.state == Call.State.ENDED or user.pk not in in_call:
        raise CallNotFound("You are not in that call.")
    if to_user_id not in in_call or to_user_id == user.pk:
        raise SignalInvalid("Signals go to another participant of the call.")
    fanout.to_user(
        to_user_id, frames.call_signal_frame(call_id=call.pk, from_user_id=user.pk, kind=kind, payload=checked)
    )


def _checked_signal(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Only the fields WebRTC needs, of the types it needs: what a peer receives is a well-formed description
    or candidate whatever the sender put in the frame."""
    if kind not in SIGNAL_KINDS:
        raise SignalInvalid(f"'kind' is one of {', '.join(SIGNAL_KINDS)}.")
    if kind in ("offer", "answer"):
        sdp = payload.get("sdp")
        if not isinstance(sdp, str) or not sdp.startswith("v=0") or len(sdp) > MAX_SDP_LENGTH:
            raise SignalInvalid(
                f"An {kind} carries 'sdp', a session description of at most {MAX_SDP_LENGTH} characters."
            )
        return {"type": kind, "sdp": sdp}
    candidate, mid, index = payload.get("candidate"), payload.get("sdpMid"), payload.get("sdpMLineIndex")
    if not isinstance(candidate, str) or len(candidate) > MAX_CANDIDATE_LENGTH:
        raise SignalInvalid(f"An ICE candidate carries 'candidate', at most {MAX_CANDIDATE_LENGTH} characters.")
    if candidate and not candidate.startswith("candidate:"):
        raise SignalInvalid("'candidate' is an ICE candidate line ('candidate:…'), or empty for the last one.")
    if mid is not None and (not isinstance(mid, str) or len(mid) > MAX_MID_LENGTH):
        raise SignalInvalid(f"'sdpMid' is a string of at most {MAX_MID_LENGTH} characters.")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 64):
        raise SignalInvalid("'sdpMLineIndex' is a small non-negative integer.")
    return {"candidate": candidate, "sdpMid": mid, "sdpMLineIndex": index}


# ---- shared steps ----------------------------------------------------------------------------------------------


def _end(call: Call, *, reason: str, actor: User | None) -> None:
    """End a locked call: everyone still in it leaves, the archive gets its duration, members are told."""
    now = timezone.now()
    call.participants.filter(joined_at__isnull=False, left_at__isnull=True).update(left_at=now, is_sharing_screen=False)
    call.state, call.ended_at, call.end_reason = Call.State.ENDED, now, reason
    call.save(update_fields=["state", "ended_at", "end_reason"])
    joined = list(
        call.participants.filter(joined_at__isnull=False).order_by("joined_at").values_list("user_id", flat=True)
    )
    _archive(
        call,
        EventType.CALL_ENDED,
        actor=actor,
        content={
            "reason": reason,
            "duration_seconds": call.duration_seconds,
            "screen_shared": call.screen_shared,
            "members": joined,  # who took part; archive_record seals their names (PEOPLE_CONTENT_KEYS)
            "started_at": call.started_at.isoformat(),
            "answered_at": call.answered_at.isoformat() if call.answered_at else None,
            "ended_at": now.isoformat(),
        },
    )
    payload = _payload(call)
    fanout.after_commit(partial(fanout.to_conversation, call.conversation_id, frames.call_ended_frame(call=payload)))


def _archive(call: Call, event_type: str, *, actor: User | None, content: dict[str, Any] | None = None) -> None:
    archive_record(
        event_type=event_type,
        conversation_id=call.conversation_id,
        actor_id=actor.pk if actor else None,
        actor=actor,
        participants=conversation_member_ids(conversation_id=call.conversation_id),
        content={"call": str(call.uid), **(content or {})},
    )


def _payload(call: Call) -> dict[str, Any]:
    return call_payload(call, call_participants(call=call))


def _announce_updated(call: Call) -> None:
    """Every member's sockets hear of it (a room shows its running call, with a join button); the signaling
    itself goes only to participants (call_signal)."""
    frame = frames.call_updated_frame(call=_payload(call))
    fanout.after_commit(partial(fanout.to_conversation, call.conversation_id, frame))
