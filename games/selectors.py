"""Reads of games and of the games policy."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from accounts.models import User
from games.errors import GameNotFound
from games.models import Game, GamePolicy
from games.payloads import game_payload
from messenger.selectors import membership_for

GAME_LIST_MAX = 50


def games_enabled_for(*, user: User) -> bool:
    """False when the company-wide policy or a policy of any of the user's groups switches games off."""
    return not GamePolicy.objects.filter(
        Q(group__isnull=True) | Q(group__in=user.groups.all()), games_enabled=False
    ).exists()


def game_for_member(*, user: User, game_id: int, for_update: bool = False) -> Game:
    """A game in one of the user's conversations: the one access check for a game. `for_update` takes its row
    lock (the move path)."""
    games = Game.objects.select_related("conversation")
    if for_update:
        games = games.select_for_update(of=("self",))
    game = games.filter(pk=game_id, conversation__memberships__user=user).first()
    if game is None:
        raise GameNotFound("No such game in your conversations.")
    return game


def game_list_for(*, user: User, conversation_id: int) -> list[dict[str, Any]]:
    """The conversation's newest games, whole, for a member (a chat opened, or a socket reconnected)."""
    membership_for(user=user, conversation_id=conversation_id)
    games = Game.objects.filter(conversation_id=conversation_id).order_by("-created_at")[:GAME_LIST_MAX]
    return [game_payload(game) for game in games]
