"""Games set up through the services, as people would start them."""

from games import services
from games.models import Game
from messenger.tests.factories import UserFactory, room_with

__all__ = ["UserFactory", "game_between", "play", "room_with"]


def game_between(challenger, opponent, *, kind: str = "tictactoe", room=None, accepted: bool = True) -> Game:
    """A game in a room of the two (or `room`), accepted unless told otherwise."""
    room = room or room_with(challenger, opponent)
    game = services.game_challenge(challenger=challenger, conversation_id=room.pk, opponent_id=opponent.pk, kind=kind)
    if accepted:
        game = services.game_accept(user=opponent, game_id=game.pk)
    return game


def play(game: Game, *moves: str) -> Game:
    """Make `moves` alternately, starting with whoever is to move."""
    players = {game.challenger_id: game.challenger, game.opponent_id: game.opponent}
    for move in moves:
        game = services.game_move(user=players[game.turn_id], game_id=game.pk, move=move)
    return game
