"""games/kinds/tictactoe.py: the rules."""

import pytest

from games.errors import IllegalMove
from games.kinds.tictactoe import KIND


def play(*moves: str):
    state, outcome = KIND.initial_state(), None
    for number, move in enumerate(moves):
        outcome = KIND.apply_move(state, move, number % 2)
        state = outcome.state
    return outcome


def test_three_in_a_row_wins_for_the_player_who_made_it():
    outcome = play("0", "3", "1", "4", "2")

    assert outcome.finished and outcome.winner == 0 and outcome.reason == "three in a row"
    assert outcome.state["cells"][:3] == ["X", "X", "X"]


def test_a_full_board_without_a_line_is_a_draw():
    outcome = play("0", "1", "2", "4", "3", "5", "7", "6", "8")

    assert outcome.finished and outcome.winner is None and outcome.reason == "board full"


@pytest.mark.parametrize("move", ["4", "9", "-1", "x", ""])
def test_a_taken_or_unknown_cell_is_illegal(move):
    state = KIND.apply_move(KIND.initial_state(), "4", 0).state

    with pytest.raises(IllegalMove):
        KIND.apply_move(state, move, 1)


def test_no_move_is_legal_once_someone_has_won():
    outcome = play("0", "3", "1", "4", "2")

    assert KIND.legal_moves(outcome.state, 1) == []
