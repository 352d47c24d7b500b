"""games/kinds/connect_four.py: the rules."""

import pytest

from games.errors import IllegalMove
from games.kinds.connect_four import KIND


def play(*columns: str, state=None):
    state, outcome = state or KIND.initial_state(), None
    for number, column in enumerate(columns):
        outcome = KIND.apply_move(state, column, number % 2)
        state = outcome.state
    return outcome


def test_a_disc_falls_to_the_lowest_free_row():
    outcome = play("3", "3")

    assert outcome.state["rows"][5][3] == "R"
    assert outcome.state["rows"][4][3] == "Y"
    assert outcome.state["last"] == [4, 3]


@pytest.mark.parametrize(
    ("moves", "line"),
    [
        (("0", "0", "1", "1", "2", "2", "3"), "horizontal"),
        (("0", "1", "0", "1", "0", "1", "0"), "vertical"),
        (("0", "1", "1", "2", "2", "3", "2", "3", "3", "6", "3"), "diagonal"),
    ],
)
def test_four_in_a_line_wins(moves, line):
    outcome = play(*moves)

    assert outcome.finished and outcome.winner == 0 and outcome.reason == "four in a row", line
    assert len(outcome.state["four"]) == 4


def test_a_full_column_takes_no_more_discs():
    state = play("0", "0", "0", "1", "0", "0", "0").state  # six in column 0, no four of one colour
    assert state["rows"][0][0]

    with pytest.raises(IllegalMove):
        KIND.apply_move(state, "0", 1)
    with pytest.raises(IllegalMove):
        KIND.apply_move(state, "7", 1)
