"""games/kinds/chess.py: the rules come from python-chess; these check that Parley reads them right."""

import chess
import pytest

from games.errors import IllegalMove
from games.kinds.chess import KIND

SCHOLARS_MATE = ["e2e4", "e7e5", "f1c4", "b8c6", "d1h5", "g8f6", "h5f7"]


def play(moves: list[str], state=None):
    state, outcome = state or KIND.initial_state(), None
    for move in moves:
        player = 0 if chess.Board(state["fen"]).turn == chess.WHITE else 1
        outcome = KIND.apply_move(state, move, player)
        state = outcome.state
    return outcome


def test_scholars_mate_ends_the_game_won_by_white():
    outcome = play(SCHOLARS_MATE)

    assert outcome.finished and outcome.winner == 0 and outcome.reason == "checkmate"
    assert KIND.legal_moves(outcome.state, 1) == []


def test_stalemate_ends_the_game_drawn():
    # Sam Loyd's ten-move stalemate.
    moves = "e2e3 a7a5 d1h5 a8a6 h5a5 h7h5 h2h4 a6h6 a5c7 f7f6 c7d7 e8f7 d7b7 d8d3 b7b8 d3h7 b8c8 f7g6 c8e6"
    outcome = play(moves.split())

    assert outcome.finished and outcome.winner is None and outcome.reason == "stalemate"


def test_en_passant_is_legal_right_after_the_double_step_and_only_then():
    before = play(["e2e4", "a7a6", "e4e5", "d7d5"]).state

    assert "e5d6" in KIND.legal_moves(before, 0)
    taken = KIND.apply_move(before, "e5d6", 0).state
    assert chess.Board(taken["fen"]).piece_at(chess.D5) is None  # the passed pawn is gone

    later = play(["h2h3", "h7h6"], state=before).state
    with pytest.raises(IllegalMove):
        KIND.apply_move(later, "e5d6", 0)


def test_castling_is_refused_through_an_attacked_square_and_allowed_once_it_is_not():
    # White's king would cross f1, which the black bishop on a6 attacks (b5, c4, d3 and e2 are empty).
    attacked = play(["e2e4", "b7b6", "g2g3", "c8a6", "f1h3", "e7e6", "g1f3", "e6e5"]).state
    assert not chess.Board(attacked["fen"]).is_check()
    assert "e1g1" not in KIND.legal_moves(attacked, 0)
    with pytest.raises(IllegalMove):
        KIND.apply_move(attacked, "e1g1", 0)

    clear = play(["e2e4", "e7e5", "g1f3", "b8c6", "f1c4", "g8f6"]).state
    assert "e1g1" in KIND.legal_moves(clear, 0)
    castled = KIND.apply_move(clear, "e1g1", 0).state
    assert chess.Board(castled["fen"]).piece_at(chess.G1) == chess.Piece(chess.KING, chess.WHITE)


def test_a_move_out_of_turn_or_not_in_uci_is_illegal():
    with pytest.raises(IllegalMove):
        KIND.apply_move(KIND.initial_state(), "e7e5", 1)
    with pytest.raises(IllegalMove):
        KIND.apply_move(KIND.initial_state(), "Nf3", 0)
    with pytest.raises(IllegalMove):
        KIND.apply_move(KIND.initial_state(), "e2e5", 0)


def test_render_hints_carry_the_legal_moves_and_the_side_to_move():
    hints = KIND.render_hints(KIND.initial_state())

    assert hints["turn"] == "white" and len(hints["legal"]) == 20 and not hints["check"]
