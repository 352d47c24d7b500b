"""Calls and who took part in them. Data only; media never reaches the server (docs/calls.md)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Call(models.Model):
    class State(models.TextChoices):
        RINGING = "ringing"  # only the caller is in it; the others are being rung
        ACTIVE = "active"  # someone answered
        ENDED = "ended"

    class EndReason(models.TextChoices):
        HUNG_UP = "hung_up"  # everyone left
        MISSED = "missed"  # nobody answered before PARLEY_CALL_RING_SECONDS, or the caller gave up first
        DECLINED = "declined"  # the one person rung in a direct chat said no

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    conversation = models.ForeignKey("messenger.Conversation", on_delete=models.CASCADE, related_name="calls")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(max_length=8, choices=State.choices, default=State.RINGING)
    end_reason = models.CharField(max_length=8, choices=EndReason.choices, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Whether anyone shared a screen at any time: the archive and compliance ask, not only "who shares now".
    screen_shared = models.BooleanField(default=False)

    class Meta:
        constraints = [
            # One call at a time per conversation: a second caller joins the running one instead.
            models.UniqueConstraint(
                fields=["conversation"], condition=~Q(state="ended"), name="one_live_call_per_conversation"
            ),
            models.CheckConstraint(
                condition=Q(state="ended", ended_at__isnull=False) | (~Q(state="ended") & Q(ended_at__isnull=True)),
                name="call_ended_has_end_time",
            ),
        ]

    def __str__(self) -> str:
        return f"call {self.pk} in conversation {self.conversation_id} ({self.state})"

    @property
    def duration_seconds(self) -> int:
        """From the first answer to the end; 0 for a call nobody answered."""
        if self.answered_at is None or self.ended_at is None:
            return 0
        return max(0, round((self.ended_at - self.answered_at).total_seconds()))


class CallParticipant(models.Model):
    """Someone rung or in a call. `joined_at` null: being rung (or declined); `left_at` set: gone."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="call_participations")
    joined_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    is_muted = models.BooleanField(default=False)
    is_sharing_screen = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["call", "user"], name="call_participant_unique"),
            # Busy is a database fact: a user is in at most one call at a time (every tab and device together),
            # so two calls answered at the same moment cannot both take them; the loser gets `call_busy`.
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(joined_at__isnull=False, left_at__isnull=True),
                name="one_call_at_a_time_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} in call {self.call_id}"

    @property
    def is_in_call(self) -> bool:
        return self.joined_at is not None and self.left_at is None
