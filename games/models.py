"""Games played in conversations, and the policy that switches them off. Data and constraints only."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce


class Game(models.Model):
    """One game between two members of a conversation. Player 0 (the challenger) moves first.

    `version` grows with every change; clients drop a game.updated older than the one they hold, and the move
    service changes a game only under its row lock (games.services), so two moves for one turn cannot both land.
    """

    class Status(models.TextChoices):
        CHALLENGED = "challenged"  # waiting for the opponent to accept or decline
        DECLINED = "declined"
        ACTIVE = "active"
        FINISHED = "finished"

    conversation = models.ForeignKey("messenger.Conversation", on_delete=models.CASCADE, related_name="games")
    kind = models.CharField(max_length=20)
    challenger = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opponent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CHALLENGED)
    # Whose move it is while active; null otherwise.
    turn = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    state = models.JSONField()
    moves = models.PositiveIntegerField(default=0)
    # When finished: the winner (null for a draw) and why it ended ("checkmate", "resigned", "draw agreed").
    winner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    result = models.CharField(max_length=40, blank=True)
    draw_offered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["conversation", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=~Q(challenger=models.F("opponent")), name="game_two_players"),
            models.CheckConstraint(
                condition=Q(status="active", turn__isnull=False) | (~Q(status="active") & Q(turn__isnull=True)),
                name="game_turn_while_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} game {self.pk} in conversation {self.conversation_id} ({self.status})"

    @property
    def players(self) -> list[int]:
        return [self.challenger_id, self.opponent_id]


class GamePolicy(models.Model):
    """Games on or off, for the whole company (no group) or for one group's members. Off anywhere that applies
    wins: a user is refused when the company-wide policy or any of their groups' policies says off."""

    group = models.OneToOneField(
        "auth.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="game_policy"
    )
    games_enabled = models.BooleanField("games allowed", default=True)

    class Meta:
        verbose_name = "game policy"
        verbose_name_plural = "game policies"
        constraints = [
            # At most one company-wide row: groups are unique already, and no group counts as group 0 here.
            models.UniqueConstraint(Coalesce("group", Value(0)), name="one_game_policy_per_scope"),
        ]

    def __str__(self) -> str:
        scope = f"group {self.group}" if self.group_id else "the whole company"
        return f"Games {'on' if self.games_enabled else 'off'} for {scope}"
