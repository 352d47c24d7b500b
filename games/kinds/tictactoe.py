"""Tic-tac-toe: a 3 by 3 grid, moves are cell indexes "0".."8" read row by row; player 0 is X."""

from __future__ import annotations

from typing import Any

from games.kinds.base import IllegalMove, Outcome

MARKS = ("X", "O")
LINES = (
    (0, 1, 2), (3, 4, 5), (6, 7, 8),
    (0, 3, 6), (1, 4, 7), (2, 5, 8),
    (0, 4, 8), (2, 4, 6),
)  # fmt: skip


class TicTacToe:
    name = "tictactoe"
    title = "Tic-tac-toe"

    def initial_state(self) -> dict[str, Any]:
        return {"cells": [""] * 9, "last": None}

    def legal_moves(self, state: dict[str, Any], player: int) -> list[str]:
        if _winner(state["cells"]) is not None:
            return []
        return [str(index) for index, mark in enumerate(state["cells"]) if not mark]

    def apply_move(self, state: dict[str, Any], move: str, player: int) -> Outcome:
        if move not in self.legal_moves(state, player):
            raise IllegalMove(f"{move!r} is not a free cell (0 to 8).")
        cells = list(state["cells"])
        cells[int(move)] = MARKS[player]
        new_state = {"cells": cells, "last": int(move)}
        if _winner(cells) is not None:
            return Outcome(new_state, finished=True, winner=player, reason="three in a row")
        if all(cells):
            return Outcome(new_state, finished=True, reason="board full")
        return Outcome(new_state)

    def render_hints(self, state: dict[str, Any]) -> dict[str, Any]:
        return {"grid": "cells", "rows": 3, "columns": 3, "marks": list(MARKS)}


def _winner(cells: list[str]) -> str | None:
    for a, b, c in LINES:
        if cells[a] and cells[a] == cells[b] == cells[c]:
            return cells[a]
    return None


KIND = TicTacToe()
