"""Refusals of the game services, each with a stable code (docs/protocol.md lists them)."""

from core.errors import ParleyError


class GameNotFound(ParleyError):
    """Also for a game in a conversation the user is not in, so ids reveal nothing."""

    code = "game_not_found"
    http_status = 404


class GameInvalid(ParleyError):
    """An unknown kind of game, a challenge to yourself or to someone outside the conversation."""

    code = "game_invalid"


class GamesDisabled(ParleyError):
    code = "games_disabled"
    http_status = 403


class NotAPlayer(ParleyError):
    code = "not_a_player"
    http_status = 403


class NotYourTurn(ParleyError):
    code = "not_your_turn"
    http_status = 409


class GameNotActive(ParleyError):
    """The game is over, declined, or still waiting for its challenge to be accepted."""

    code = "game_not_active"
    http_status = 409


class IllegalMove(ParleyError):
    code = "illegal_move"


class NoDrawOffer(ParleyError):
    code = "no_draw_offer"
    http_status = 409
