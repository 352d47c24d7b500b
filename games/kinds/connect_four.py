"""Connect four: 7 columns of 6; a move is a column "0".."6" and the disc falls to its lowest free row.
Player 0 plays red ("R"), player 1 yellow ("Y"); rows are stored top first."""

from __future__ import annotations

from typing import Any

from games.kinds.base import IllegalMove, Outcome

ROWS, COLUMNS = 6, 7
DISCS = ("R", "Y")
DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))


class ConnectFour:
    name = "connect_four"
    title = "Connect four"

    def initial_state(self) -> dict[str, Any]:
        return {"rows": [[""] * COLUMNS for _ in range(ROWS)], "last": None}

    def legal_moves(self, state: dict[str, Any], player: int) -> list[str]:
        if state.get("four"):
            return []
        return [str(column) for column in range(COLUMNS) if not state["rows"][0][column]]

    def apply_move(self, state: dict[str, Any], move: str, player: int) -> Outcome:
        if move not in self.legal_moves(state, player):
            raise IllegalMove(f"{move!r} is not a column with room (0 to {COLUMNS - 1}).")
        column = int(move)
        rows = [list(row) for row in state["rows"]]
        row = max(index for index in range(ROWS) if not rows[index][column])
        rows[row][column] = DISCS[player]
        four = _four_through(rows, row, column)
        new_state = {"rows": rows, "last": [row, column], **({"four": four} if four else {})}
        if four:
            return Outcome(new_state, finished=True, winner=player, reason="four in a row")
        if all(rows[0]):
            return Outcome(new_state, finished=True, reason="board full")
        return Outcome(new_state)

    def render_hints(self, state: dict[str, Any]) -> dict[str, Any]:
        return {"grid": "rows", "rows": ROWS, "columns": COLUMNS, "discs": list(DISCS)}


def _four_through(rows: list[list[str]], row: int, column: int) -> list[list[int]] | None:
    """The four (or more) cells in a line through the new disc, if they share its colour."""
    disc = rows[row][column]
    for step_row, step_column in DIRECTIONS:
        line = [[row, column]]
        for sign in (1, -1):
            r, c = row + sign * step_row, column + sign * step_column
            while 0 <= r < ROWS and 0 <= c < COLUMNS and rows[r][c] == disc:
                line.append([r, c])
                r, c = r + sign * step_row, c + sign * step_column
        if len(line) >= 4:
            return sorted(line)
    return None


KIND = ConnectFour()
