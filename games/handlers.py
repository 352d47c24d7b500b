"""What each game.* frame does: call one game service or selector and answer with the game. Registered with
messenger.handlers' registry, so the socket's dispatch needs no other change; messenger.consumers imports this
module for that."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from games import selectors, services
from games.payloads import game_payload
from messenger.frames import ack_frame
from messenger.handlers import handles


@handles("game.challenge")
def challenge(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    game = services.game_challenge(
        challenger=user,
        conversation_id=payload["conversation_id"],
        opponent_id=payload["opponent_id"],
        kind=payload["kind"],
    )
    return ack_frame(game=game_payload(game))


@handles("game.accept")
def accept(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    return ack_frame(game=game_payload(services.game_accept(user=user, game_id=payload["game_id"])))


@handles("game.decline")
def decline(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    return ack_frame(game=game_payload(services.game_decline(user=user, game_id=payload["game_id"])))


@handles("game.move")
def move(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    game = services.game_move(user=user, game_id=payload["game_id"], move=payload["move"])
    return ack_frame(game=game_payload(game))


@handles("game.resign")
def resign(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    return ack_frame(game=game_payload(services.game_resign(user=user, game_id=payload["game_id"])))


@handles("game.draw_offer")
def draw_offer(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    return ack_frame(game=game_payload(services.game_draw_offer(user=user, game_id=payload["game_id"])))


@handles("game.draw_accept")
def draw_accept(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    return ack_frame(game=game_payload(services.game_draw_accept(user=user, game_id=payload["game_id"])))


@handles("game.list")
def game_list(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    """A conversation's games, whole: what a chat opened (or a socket back after a restart) draws from."""
    return ack_frame(games=selectors.game_list_for(user=user, conversation_id=payload["conversation_id"]))
