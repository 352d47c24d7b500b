"""Reads about calls. `call_for_member` is the one access helper every call path goes through."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch

from accounts.models import User
from calls.errors import CallNotFound
from calls.models import Call, CallParticipant
from messenger.models import Membership


def call_for_member(*, user: User, call_id: int, lock: bool = False) -> Call:
    """The call, if the user is a member of its conversation; CallNotFound otherwise (ids reveal nothing).

    `lock` takes the call's row lock until commit: every change to a call's participants holds it, so joins,
    leaves and the end of a call take turns (the participant count checked against the limit stays true)."""
    calls = Call.objects.select_for_update(of=("self",)) if lock else Call.objects
    call = calls.filter(pk=call_id).first()
    if call is None or not Membership.objects.filter(conversation_id=call.conversation_id, user=user).exists():
        raise CallNotFound("No such call.")
    return call


def call_participants(*, call: Call) -> list[CallParticipant]:
    return list(call.participants.select_related("user").order_by("pk"))


def call_live_in(*, conversation_id: int) -> Call | None:
    return Call.objects.filter(conversation_id=conversation_id).exclude(state=Call.State.ENDED).first()


def calls_live_for(*, user: User) -> list[tuple[Call, list[CallParticipant]]]:
    """Every call ringing or running in the user's conversations, each with its participants (users loaded), for
    a client that (re)connects and must show "Join" without waiting for the next call.updated. Two queries however
    many conversations and calls (one when none runs, the usual case): the partial unique index on live calls
    per conversation answers the first."""
    calls = (
        Call.objects.filter(conversation_id__in=Membership.objects.filter(user=user).values("conversation_id"))
        .exclude(state=Call.State.ENDED)
        .prefetch_related(
            Prefetch(
                "participants",
                queryset=CallParticipant.objects.select_related("user").order_by("pk"),
                to_attr="participants_loaded",
            )
        )
        .order_by("pk")
    )
    return [(call, call.participants_loaded) for call in calls]


def users_in_a_call(*, user_ids: list[int]) -> set[int]:
    """Who of these is in a call now (any conversation): they are busy."""
    return set(
        CallParticipant.objects.filter(user_id__in=user_ids, joined_at__isnull=False, left_at__isnull=True).values_list(
            "user_id", flat=True
        )
    )


def calls_ringing_since_before(*, moment: datetime) -> list[int]:
    """Calls still ringing that started before `moment`: nobody answered in time."""
    return list(Call.objects.filter(state=Call.State.RINGING, started_at__lt=moment).values_list("pk", flat=True))
