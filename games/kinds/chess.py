"""Chess through python-chess: it knows the rules (check, mate, stalemate, castling, en passant, promotion,
repetition and the fifty-move rule), so none are written here. The state is the FEN plus the moves so far
(UCI), which the threefold-repetition rule needs; player 0 plays white. A move is UCI ("e2e4", "e7e8q")."""

from __future__ import annotations

from typing import Any

import chess

from games.kinds.base import IllegalMove, Outcome

REASONS = {
    chess.Termination.CHECKMATE: "checkmate",
    chess.Termination.STALEMATE: "stalemate",
    chess.Termination.INSUFFICIENT_MATERIAL: "insufficient material",
    chess.Termination.SEVENTYFIVE_MOVES: "seventy-five-move rule",
    chess.Termination.FIVEFOLD_REPETITION: "fivefold repetition",
    chess.Termination.FIFTY_MOVES: "fifty-move rule",
    chess.Termination.THREEFOLD_REPETITION: "threefold repetition",
}


class Chess:
    name = "chess"
    title = "Chess"

    def initial_state(self) -> dict[str, Any]:
        return {"fen": chess.STARTING_FEN, "moves": []}

    def legal_moves(self, state: dict[str, Any], player: int) -> list[str]:
        board = _board(state)
        if board.is_game_over(claim_draw=True) or _colour(player) != board.turn:
            return []
        return [move.uci() for move in board.legal_moves]

    def apply_move(self, state: dict[str, Any], move: str, player: int) -> Outcome:
        board = _board(state)
        if _colour(player) != board.turn:
            raise IllegalMove("It is the other colour's move.")
        try:
            parsed = chess.Move.from_uci(move)
        except ValueError:
            raise IllegalMove(f"{move!r} is not a move in UCI notation (e2e4, e7e8q).") from None
        if parsed not in board.legal_moves:
            raise IllegalMove(f"{move} is not legal in this position.")
        board.push(parsed)
        new_state = {"fen": board.fen(), "moves": [*state["moves"], move]}
        # claim_draw: threefold repetition and the fifty-move rule end the game at once, since nobody at a
        # chat's board will claim them.
        outcome = board.outcome(claim_draw=True)
        if outcome is None:
            return Outcome(new_state)
        winner = None if outcome.winner is None else (0 if outcome.winner == chess.WHITE else 1)
        return Outcome(new_state, finished=True, winner=winner, reason=REASONS[outcome.termination])

    def render_hints(self, state: dict[str, Any]) -> dict[str, Any]:
        board = _board(state)
        return {
            "board": "chess",
            "turn": "white" if board.turn == chess.WHITE else "black",
            "check": board.is_check(),
            "last": state["moves"][-1] if state["moves"] else None,
            # Every legal move, so the board can show the squares a clicked piece may reach without asking.
            "legal": [move.uci() for move in board.legal_moves] if not board.is_game_over(claim_draw=True) else [],
        }


def _colour(player: int) -> chess.Color:
    return chess.WHITE if player == 0 else chess.BLACK


def _board(state: dict[str, Any]) -> chess.Board:
    """Replayed from the start, not read from the FEN: repetition draws need the move history."""
    board = chess.Board()
    for move in state["moves"]:
        board.push_uci(move)
    return board


KIND = Chess()
