"""Every write on a game: challenge, answer, move, resign, draw. Each runs in one transaction that also writes
its archive entry (archive.services.archive_record), and announces the whole game to the conversation after
commit, so every member's open chat (players and spectators) redraws the card.

Concurrency: every change to an existing game first takes the game's row lock (games.selectors.game_for_member
with for_update) and then checks status and turn on the locked row. Two moves racing for one turn therefore run
one after the other: the second sees the turn already passed and is refused with not_your_turn. The archive
chain's row lock is taken after the game's, always in that order, so the two cannot deadlock.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q

from accounts.models import User
from archive.models import EventType
from archive.services import archive_record
from core import fanout
from games.errors import (
    GameInvalid,
    GameNotActive,
    GamesDisabled,
    IllegalMove,
    NoDrawOffer,
    NotAPlayer,
    NotYourTurn,
)
from games.frames import game_updated_frame
from games.kinds import KINDS
from games.models import Game
from games.payloads import game_payload
from games.selectors import game_for_member, games_enabled_for
from messenger.errors import RateLimited
from messenger.selectors import conversation_member_ids, conversation_writable, membership_for
from messenger.services import send_rate_limit

# The longest move any game has is a chess promotion in UCI ("e7e8q"); longer text is refused unread.
MAX_MOVE_LENGTH = 8


def game_challenge(*, challenger: User, conversation_id: int, opponent_id: int, kind: str) -> Game:
    """Challenge another member of the conversation to a game of `kind`; it starts when they accept."""
    _require_rate(challenger)
    if kind not in KINDS:
        raise GameInvalid(f"Unknown game {kind!r}; Parley has {', '.join(sorted(KINDS))}.")
    _require_games_enabled(challenger)
    with transaction.atomic():
        membership_for(user=challenger, conversation_id=conversation_id, to_write=True)
        member_ids = conversation_member_ids(conversation_id=conversation_id)
        if opponent_id == challenger.pk:
            raise GameInvalid("Challenge someone else: a game needs two players.")
        if opponent_id not in member_ids:
            raise GameInvalid("You can only challenge a member of this conversation.")
        opponent = User.objects.get(pk=opponent_id)
        if not opponent.is_active or not games_enabled_for(user=opponent):
            raise GamesDisabled(f"{opponent.get_username()} cannot play games.")
        game = Game.objects.create(
            conversation_id=conversation_id,
            kind=kind,
            challenger=challenger,
            opponent=opponent,
            state=KINDS[kind].initial_state(),
        )
        _archive(
            game,
            EventType.GAME_CHALLENGED,
            actor=challenger,
            members=member_ids,
            summary=f"challenged {opponent.get_username()} to {KINDS[kind].title.lower()}",
            opponent=opponent_id,
        )
        _announce(game)
    return game


def game_accept(*, user: User, game_id: int) -> Game:
    """The challenged player accepts: the game starts, the challenger to move."""
    _require_rate(user)
    _require_games_enabled(user)
    with transaction.atomic():
        game = _challenge_to_answer(user=user, game_id=game_id)
        game.status, game.turn_id = Game.Status.ACTIVE, game.challenger_id
        _save(game)
        _archive(game, EventType.GAME_ACCEPTED, actor=user, summary="accepted the challenge")
        _announce(game)
    return game


def game_decline(*, user: User, game_id: int) -> Game:
    """The challenged player declines (allowed with games switched off: it only closes the challenge)."""
    _require_rate(user)
    with transaction.atomic():
        game = _challenge_to_answer(user=user, game_id=game_id)
        game.status = Game.Status.DECLINED
        _save(game)
        _archive(game, EventType.GAME_DECLINED, actor=user, summary="declined the challenge")
        _announce(game)
    return game


def game_move(*, user: User, game_id: int, move: str) -> Game:
    """Make a move: the user's turn, a legal move, a game not over. A move declines a pending draw offer."""
    _require_rate(user)
    _require_games_enabled(user)
    with transaction.atomic():
        game = _active_game_of_player(user=user, game_id=game_id)
        if game.turn_id != user.pk:
            raise NotYourTurn("It is not your turn.")
        player = game.players.index(user.pk)
        if len(move) > MAX_MOVE_LENGTH:
            raise IllegalMove(f"A move is at most {MAX_MOVE_LENGTH} characters.")
        outcome = KINDS[game.kind].apply_move(game.state, move, player)
        game.state, game.moves, game.draw_offered_by = outcome.state, game.moves + 1, None
        if outcome.finished:
            winner = None if outcome.winner is None else game.players[outcome.winner]
            _finish(game, winner_id=winner, result=outcome.reason)
        else:
            game.turn_id = game.players[1 - player]
        _save(game)
        _archive(
            game, EventType.GAME_MOVE, actor=user, summary=f"move {game.moves}: {move}", move=move, number=game.moves
        )
        if outcome.finished:
            _archive_end(game, actor=user)
        _announce(game)
    return game


def game_resign(*, user: User, game_id: int) -> Game:
    """A player gives up; the other wins. Allowed with games switched off, so a game can always be ended."""
    _require_rate(user)
    with transaction.atomic():
        game = _active_game_of_player(user=user, game_id=game_id)
        _finish(game, winner_id=_other(game, user), result="resigned")
        _save(game)
        _archive_end(game, actor=user)
        _announce(game)
    return game


def game_draw_offer(*, user: User, game_id: int) -> Game:
    """Offer the other player a draw; it stands until they accept it or someone moves."""
    _require_rate(user)
    _require_games_enabled(user)
    with transaction.atomic():
        game = _active_game_of_player(user=user, game_id=game_id)
        game.draw_offered_by = user
        _save(game)
        _archive(game, EventType.GAME_DRAW_OFFERED, actor=user, summary="offered a draw")
        _announce(game)
    return game


def game_draw_accept(*, user: User, game_id: int) -> Game:
    """Accept the draw the other player offered: the game ends drawn."""
    _require_rate(user)
    _require_games_enabled(user)
    with transaction.atomic():
        game = _active_game_of_player(user=user, game_id=game_id)
        if game.draw_offered_by_id != _other(game, user):
            raise NoDrawOffer("The other player has not offered a draw.")
        _finish(game, winner_id=None, result="draw agreed")
        _save(game)
        _archive_end(game, actor=user)
        _announce(game)
    return game


def games_forfeit(*, user: User, actor: User, conversation_id: int | None = None) -> list[Game]:
    """End the games `user` can no longer play because they left a room or were removed from it (that room's
    games, `conversation_id`) or were deactivated (all of them): an active game is won by the other player,
    result "abandoned"; a challenge to or from them is closed (declined, result "abandoned"). `actor` is who
    made the change (the leaver, a room owner, IT). Returns the games ended.

    Runs inside the membership change's or deactivation's transaction (games.signals), so the game ends, and
    is archived, with it or not at all. The games' row locks are taken first, in id order, before any archive
    chain's, as every game write takes them: a move racing this waits, then finds the game over. No savepoint
    of its own: a failure here rolls back the whole change, and leaving a room without games costs one query."""
    with transaction.atomic(savepoint=False):
        games = Game.objects.select_for_update().filter(
            Q(challenger=user) | Q(opponent=user), status__in=[Game.Status.ACTIVE, Game.Status.CHALLENGED]
        )
        if conversation_id is not None:
            games = games.filter(conversation_id=conversation_id)
        ended = list(games.order_by("pk"))
        for game in ended:
            if game.status == Game.Status.ACTIVE:
                _finish(game, winner_id=_other(game, user), result="abandoned")
                _save(game)
                _archive_end(game, actor=actor, member=user.pk)
            else:
                game.status, game.result = Game.Status.DECLINED, "abandoned"
                _save(game)
                _archive(
                    game,
                    EventType.GAME_DECLINED,
                    actor=actor,
                    summary=f"challenge closed: {user.get_username()} can no longer play",
                    result=game.result,
                    member=user.pk,
                )
            _announce(game)
    return ended


# ---- shared steps --------------------------------------------------------------------------------------------


def _require_rate(user: User) -> None:
    """A game action counts against the user's message rate (PARLEY_SEND_RATE_PER_SECOND, one bucket per worker):
    each is a row, an archive entry and a fan-out to the whole conversation, like a message."""
    if not send_rate_limit.allow(user.pk):
        raise RateLimited("You are playing too fast; wait a moment.")


def _require_games_enabled(user: User) -> None:
    if not games_enabled_for(user=user):
        raise GamesDisabled("Games are switched off for you by your company; existing games stay viewable.")


def _challenge_to_answer(*, user: User, game_id: int) -> Game:
    game = game_for_member(user=user, game_id=game_id, for_update=True)
    if game.opponent_id != user.pk:
        raise NotAPlayer("Only the challenged player can answer a challenge.")
    if game.status != Game.Status.CHALLENGED:
        raise GameNotActive("This challenge was already answered.")
    conversation_writable(game.conversation)
    return game


def _active_game_of_player(*, user: User, game_id: int) -> Game:
    """The game, locked, when the user plays in it and it is under way."""
    game = game_for_member(user=user, game_id=game_id, for_update=True)
    if user.pk not in game.players:
        raise NotAPlayer("You are watching this game, not playing it.")
    if game.status != Game.Status.ACTIVE:
        raise GameNotActive(
            "This game is not under way." if game.status != Game.Status.FINISHED else "This game is over."
        )
    conversation_writable(game.conversation)
    return game


def _other(game: Game, user: User) -> int:
    return game.players[1 - game.players.index(user.pk)]


def _finish(game: Game, *, winner_id: int | None, result: str) -> None:
    game.status, game.turn_id, game.winner_id, game.result = Game.Status.FINISHED, None, winner_id, result
    game.draw_offered_by = None


def _save(game: Game) -> None:
    game.version += 1
    game.save()


def _archive(
    game: Game, event_type: str, *, actor: User, summary: str, members: list[int] | None = None, **content: Any
) -> None:
    """Archive one game event. `summary` is what a compliance reviewer reads beside the event ("move 3: e2e4");
    the archive shows it where a message's text would be, and indexes it for search."""
    archive_record(
        event_type=event_type,
        conversation_id=game.conversation_id,
        actor_id=actor.pk,
        actor=actor,
        participants=members if members is not None else conversation_member_ids(conversation_id=game.conversation_id),
        content={"game_id": game.pk, "kind": game.kind, "players": game.players, "summary": summary, **content},
    )


def _archive_end(game: Game, *, actor: User, **content: Any) -> None:
    outcome = "a draw" if game.winner_id is None else f"won by {User.objects.get(pk=game.winner_id).get_username()}"
    _archive(
        game,
        EventType.GAME_ENDED,
        actor=actor,
        summary=f"{KINDS[game.kind].title} ended after {game.moves} moves, {outcome} ({game.result})",
        winner=game.winner_id,
        result=game.result,
        moves=game.moves,
        **content,
    )


def _announce(game: Game) -> None:
    # Shaped now, inside the transaction, so the frame shows this write even if another lands before commit.
    frame = game_updated_frame(game=game_payload(game))
    fanout.after_commit(lambda: fanout.to_conversation(game.conversation_id, frame))
