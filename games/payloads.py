"""The JSON shape of a game on the wire (game.updated, the game.list reply): the whole of it, so a client that
reconnects or opens the chat later draws the board from one object."""

from __future__ import annotations

from typing import Any

from games.kinds import KINDS
from games.models import Game


def game_payload(game: Game) -> dict[str, Any]:
    kind = KINDS[game.kind]
    return {
        "id": game.pk,
        "conversation_id": game.conversation_id,
        "kind": game.kind,
        "title": kind.title,
        "players": game.players,  # user ids; index 0 moves first (X, red, white)
        "status": game.status,
        "turn": game.turn_id,
        "state": game.state,
        "hints": kind.render_hints(game.state),
        "moves": game.moves,
        "winner": game.winner_id,
        "result": game.result,
        "draw_offered_by": game.draw_offered_by_id,
        "version": game.version,
        "created_at": game.created_at.isoformat(),
        "updated_at": game.updated_at.isoformat(),
    }
