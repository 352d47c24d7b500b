"""The interface every game implements. Adding a game is one module in games/kinds/ with a `KIND` object that
satisfies GameKind, listed in games.kinds.KINDS (docs/games.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from games.errors import IllegalMove

__all__ = ["GameKind", "IllegalMove", "Outcome"]


@dataclass(frozen=True)
class Outcome:
    """What a move made: the new state and, when the game ended, the winner's player index (0 or 1; None for
    a draw) and a reason people can read ("checkmate", "three in a row", "stalemate")."""

    state: dict[str, Any]
    finished: bool = False
    winner: int | None = None
    reason: str = ""


class GameKind(Protocol):
    """A turn-based game for two players; player 0 moves first. States are JSON objects the game owns; moves
    are short strings the game defines (a cell, a column, a UCI move). Every method is a pure function of its
    arguments: the service stores the state and decides whose turn it is."""

    name: str  # stable, stored in Game.kind
    title: str  # for people

    def initial_state(self) -> dict[str, Any]:
        """The state before the first move."""
        ...

    def legal_moves(self, state: dict[str, Any], player: int) -> list[str]:
        """Every move `player` may make now (empty once the game is over)."""
        ...

    def apply_move(self, state: dict[str, Any], move: str, player: int) -> Outcome:
        """The outcome of `player` making `move`; raises IllegalMove when the rules forbid it."""
        ...

    def render_hints(self, state: dict[str, Any]) -> dict[str, Any]:
        """What a client needs to draw the board (grid size, pieces, the last move), beside the state."""
        ...
