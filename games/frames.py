"""Every frame the server sends about games (docs/protocol.md, "Server → client"); one builder per type."""

from __future__ import annotations

from typing import Any


def game_updated_frame(*, game: dict[str, Any]) -> dict[str, Any]:
    """A game was challenged, accepted, declined, moved in, offered a draw, or ended: its whole payload."""
    return {"type": "game.updated", "game": game}
