"""games/services.py: challenges, turn order, legality, races, resigning, draws, policy, leavers forfeiting,
archive and fan-out."""

import pytest
from django.contrib.auth.models import Group
from django.db import transaction

from accounts.services import user_deactivate
from archive.models import ArchiveEntry, EventType
from archive.selectors import ArchiveSearch, archive_search, entries_in_chain_order
from core import fanout
from core.testing import Listener, run_in_threads
from games import services
from games.errors import (
    GameInvalid,
    GameNotActive,
    GameNotFound,
    GamesDisabled,
    IllegalMove,
    NoDrawOffer,
    NotAPlayer,
    NotYourTurn,
)
from games.models import Game, GamePolicy
from games.tests.factories import UserFactory, game_between, play, room_with
from messenger.errors import NotAMember, RateLimited, RoomArchived
from messenger.services import (
    conversation_leave,
    room_archive,
    room_member_remove,
    send_rate_limit,
)


@pytest.fixture
def carol():
    return UserFactory(username="carol")


@pytest.mark.django_db
class TestChallenge:
    def test_a_challenge_waits_for_the_opponent_and_is_archived(self, alice, bob):
        room = room_with(alice, bob)

        game = services.game_challenge(challenger=alice, conversation_id=room.pk, opponent_id=bob.pk, kind="chess")

        assert (game.status, game.turn_id, game.players) == (Game.Status.CHALLENGED, None, [alice.pk, bob.pk])
        entry = ArchiveEntry.objects.get(conversation_id=room.pk, event_type=EventType.GAME_CHALLENGED)
        assert entry.actor_id == alice.pk and sorted(entry.participants) == sorted([alice.pk, bob.pk])

    def test_accepting_starts_the_game_with_the_challenger_to_move(self, alice, bob):
        game = game_between(alice, bob)

        assert (game.status, game.turn_id) == (Game.Status.ACTIVE, alice.pk)
        assert ArchiveEntry.objects.filter(event_type=EventType.GAME_ACCEPTED).count() == 1

    def test_declining_closes_the_challenge_for_good(self, alice, bob):
        game = game_between(alice, bob, accepted=False)

        declined = services.game_decline(user=bob, game_id=game.pk)

        assert declined.status == Game.Status.DECLINED
        with pytest.raises(GameNotActive):
            services.game_accept(user=bob, game_id=game.pk)

    def test_only_the_challenged_player_answers(self, alice, bob):
        game = game_between(alice, bob, accepted=False)

        with pytest.raises(NotAPlayer):
            services.game_accept(user=alice, game_id=game.pk)

    def test_nobody_outside_the_conversation_may_challenge_or_be_challenged(self, alice, bob, carol):
        room = room_with(alice, bob)

        with pytest.raises(GameInvalid):
            services.game_challenge(challenger=alice, conversation_id=room.pk, opponent_id=carol.pk, kind="chess")
        with pytest.raises(GameInvalid):
            services.game_challenge(challenger=alice, conversation_id=room.pk, opponent_id=alice.pk, kind="chess")
        with pytest.raises(GameInvalid):
            services.game_challenge(challenger=alice, conversation_id=room.pk, opponent_id=bob.pk, kind="go")
        with pytest.raises(NotAMember):
            services.game_challenge(challenger=carol, conversation_id=room.pk, opponent_id=bob.pk, kind="chess")
        assert not Game.objects.exists()

    def test_no_game_starts_in_an_archived_room(self, alice, bob):
        room = room_with(alice, bob)
        room_archive(user=alice, conversation_id=room.pk)

        with pytest.raises(RoomArchived):
            services.game_challenge(challenger=alice, conversation_id=room.pk, opponent_id=bob.pk, kind="chess")


@pytest.mark.django_db
class TestMove:
    def test_moves_alternate_and_each_is_archived(self, alice, bob):
        game = play(game_between(alice, bob), "4", "0")

        assert game.state["cells"][0] == "O" and game.state["cells"][4] == "X"
        assert game.turn_id == alice.pk and game.moves == 2
        moves = ArchiveEntry.objects.filter(event_type=EventType.GAME_MOVE).order_by("position")
        assert [entry.actor_id for entry in moves] == [alice.pk, bob.pk]

    def test_a_move_out_of_turn_is_refused_and_changes_nothing(self, alice, bob):
        game = game_between(alice, bob)

        with pytest.raises(NotYourTurn):
            services.game_move(user=bob, game_id=game.pk, move="4")
        assert Game.objects.get(pk=game.pk).moves == 0

    def test_an_illegal_move_is_refused(self, alice, bob):
        game = play(game_between(alice, bob), "4")

        with pytest.raises(IllegalMove):
            services.game_move(user=bob, game_id=game.pk, move="4")
        with pytest.raises(IllegalMove):
            services.game_move(user=bob, game_id=game.pk, move="e2e4")
        with pytest.raises(IllegalMove):
            services.game_move(user=bob, game_id=game.pk, move="0" + " " * 5000)

    def test_a_spectator_may_watch_but_not_move_and_a_stranger_sees_no_game(self, alice, bob, carol):
        game = game_between(alice, bob, room=room_with(alice, bob, carol))
        stranger = UserFactory()

        with pytest.raises(NotAPlayer):
            services.game_move(user=carol, game_id=game.pk, move="4")
        with pytest.raises(GameNotFound):
            services.game_move(user=stranger, game_id=game.pk, move="4")

    def test_a_winning_move_ends_the_game_and_archives_the_result(self, alice, bob):
        game = play(game_between(alice, bob), "0", "3", "1", "4", "2")

        assert (game.status, game.winner_id, game.result, game.turn_id) == (
            "finished",
            alice.pk,
            "three in a row",
            None,
        )
        ended = ArchiveEntry.objects.get(event_type=EventType.GAME_ENDED)
        assert ended.actor_id == alice.pk
        with pytest.raises(GameNotActive):
            services.game_move(user=bob, game_id=game.pk, move="5")

    def test_no_move_before_the_challenge_is_accepted(self, alice, bob):
        game = game_between(alice, bob, accepted=False)

        with pytest.raises(GameNotActive):
            services.game_move(user=alice, game_id=game.pk, move="4")

    def test_compliance_reads_and_finds_each_move_and_the_result_in_the_archive(self, alice, bob):
        game = play(game_between(alice, bob, kind="chess"), "e2e4", "e7e5", "f1c4", "b8c6", "d1h5", "g8f6", "h5f7")

        entries = [e for e in entries_in_chain_order(conversation_ids=[game.conversation_id]) if "game_id" in e.content]
        summaries = [entry.content["summary"] for entry in entries]
        assert summaries[0] == "challenged bob to chess"
        assert summaries[2:4] == ["move 1: e2e4", "move 2: e7e5"]
        assert summaries[-1] == "Chess ended after 7 moves, won by alice (checkmate)"
        found = archive_search(search=ArchiveSearch(words="h5f7")).hits
        assert [hit.event_type for hit in found] == [EventType.GAME_MOVE]

    def test_game_actions_count_against_the_message_rate(self, alice, bob):
        game = game_between(alice, bob)
        while send_rate_limit.allow(alice.pk):
            pass

        with pytest.raises(RateLimited):
            services.game_move(user=alice, game_id=game.pk, move="4")
        assert Game.objects.get(pk=game.pk).moves == 0
        assert services.game_resign(user=bob, game_id=game.pk).status == "finished"  # bob has his own bucket

    def test_scholars_mate_through_the_service(self, alice, bob):
        game = play(game_between(alice, bob, kind="chess"), "e2e4", "e7e5", "f1c4", "b8c6", "d1h5", "g8f6", "h5f7")

        assert (game.status, game.winner_id, game.result) == ("finished", alice.pk, "checkmate")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_moves_racing_for_one_turn_exactly_one_wins():
    alice, bob = UserFactory(), UserFactory()
    game = game_between(alice, bob, kind="connect_four")
    outcomes: list[str] = []

    def move(column: str) -> None:
        try:
            services.game_move(user=alice, game_id=game.pk, move=column)
            outcomes.append("moved")
        except NotYourTurn:
            outcomes.append("refused")

    # Several rounds, so a race that goes one way by luck once would still show. Three discs cannot win.
    for _ in range(3):
        outcomes.clear()
        failures = run_in_threads(move, ["0", "1"])
        assert failures == []
        assert sorted(outcomes) == ["moved", "refused"]
        services.game_move(user=bob, game_id=game.pk, move="6")

    game = Game.objects.get(pk=game.pk)
    assert game.moves == 6 and game.status == "active"
    assert sum(row.count("R") for row in game.state["rows"]) == 3
    assert ArchiveEntry.objects.filter(event_type=EventType.GAME_MOVE).count() == 6


@pytest.mark.django_db
class TestResignAndDraw:
    def test_resigning_gives_the_game_to_the_other_player(self, alice, bob):
        game = game_between(alice, bob, kind="connect_four")

        game = services.game_resign(user=alice, game_id=game.pk)

        assert (game.status, game.winner_id, game.result) == ("finished", bob.pk, "resigned")
        assert ArchiveEntry.objects.filter(event_type=EventType.GAME_ENDED).count() == 1

    def test_an_offered_draw_ends_the_game_drawn_when_the_other_player_accepts(self, alice, bob):
        game = game_between(alice, bob, kind="chess")
        services.game_draw_offer(user=alice, game_id=game.pk)

        with pytest.raises(NoDrawOffer):
            services.game_draw_accept(user=alice, game_id=game.pk)  # your own offer
        game = services.game_draw_accept(user=bob, game_id=game.pk)

        assert (game.status, game.winner_id, game.result) == ("finished", None, "draw agreed")

    def test_a_move_declines_a_pending_draw_offer(self, alice, bob):
        game = game_between(alice, bob, kind="chess")
        services.game_draw_offer(user=bob, game_id=game.pk)
        play(Game.objects.get(pk=game.pk), "e2e4")

        with pytest.raises(NoDrawOffer):
            services.game_draw_accept(user=alice, game_id=game.pk)

    def test_a_spectator_can_neither_resign_nor_offer_a_draw(self, alice, bob, carol):
        game = game_between(alice, bob, room=room_with(alice, bob, carol))

        with pytest.raises(NotAPlayer):
            services.game_resign(user=carol, game_id=game.pk)
        with pytest.raises(NotAPlayer):
            services.game_draw_offer(user=carol, game_id=game.pk)


@pytest.mark.django_db
class TestPolicy:
    def test_games_switched_off_company_wide_refuse_new_games_and_moves(self, alice, bob):
        game = game_between(alice, bob)
        GamePolicy.objects.create(games_enabled=False)

        with pytest.raises(GamesDisabled):
            services.game_move(user=alice, game_id=game.pk, move="4")
        with pytest.raises(GamesDisabled):
            game_between(alice, bob)

    def test_games_switched_off_for_a_group_refuse_its_members_and_challenges_to_them(self, alice, bob, carol):
        group = Group.objects.create(name="Trading floor")
        bob.groups.add(group)
        GamePolicy.objects.create(group=group, games_enabled=False)
        room = room_with(alice, bob, carol)

        with pytest.raises(GamesDisabled):
            services.game_challenge(challenger=alice, conversation_id=room.pk, opponent_id=bob.pk, kind="chess")
        with pytest.raises(GamesDisabled):
            services.game_challenge(challenger=bob, conversation_id=room.pk, opponent_id=alice.pk, kind="chess")
        assert game_between(alice, carol, room=room).status == "active"

    def test_a_switched_off_player_can_still_resign_so_games_do_not_hang(self, alice, bob):
        game = game_between(alice, bob)
        GamePolicy.objects.create(games_enabled=False)

        assert services.game_resign(user=bob, game_id=game.pk).winner_id == alice.pk


@pytest.mark.django_db(transaction=True)
def test_every_member_hears_the_whole_game_after_commit(alice, bob, carol):
    room = room_with(alice, bob, carol)
    listener = Listener(fanout.conversation_group(room.pk))

    game = play(game_between(alice, bob, room=room), "4")

    frames = [frame for frame in listener.frames() if frame["type"] == "game.updated"]
    assert [frame["game"]["status"] for frame in frames] == ["challenged", "active", "active"]
    assert frames[-1]["game"]["state"]["cells"][4] == "X" and frames[-1]["game"]["version"] == game.version


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_move_costs_the_same_few_queries_however_big_the_room(django_assert_num_queries):
    alice, bob, *watchers = UserFactory.create_batch(12)
    game = game_between(alice, bob, room=room_with(alice, bob, *watchers))

    # policy, BEGIN, the locked game with its conversation, the update, members (for the archive's participants),
    # archive chain, entry, chain head, search tokens, COMMIT
    with django_assert_num_queries(10):
        services.game_move(user=alice, game_id=game.pk, move="4")


@pytest.mark.django_db
class TestLeavers:
    """A player who leaves the room, is removed from it, or is switched off forfeits at once: nothing hangs."""

    def test_a_player_who_leaves_the_room_loses_the_game_there(self, alice, bob, carol):
        room = room_with(alice, bob, carol)
        game = game_between(alice, bob, kind="chess", room=room)
        elsewhere = game_between(alice, bob, kind="chess")

        conversation_leave(user=bob, conversation_id=room.pk)

        game.refresh_from_db()
        assert (game.status, game.winner_id, game.result, game.turn_id) == ("finished", alice.pk, "abandoned", None)
        assert Game.objects.get(pk=elsewhere.pk).status == "active"  # another room's game goes on
        # Archived with the membership change, the game's end first (its lock comes before the chain's).
        *_, ended, removed = entries_in_chain_order(conversation_ids=[room.pk])
        assert (ended.event_type, removed.event_type) == (EventType.GAME_ENDED, EventType.MEMBER_REMOVED)
        assert (ended.actor_id, ended.content["winner"], ended.content["result"]) == (bob.pk, alice.pk, "abandoned")
        assert ended.content["member"] == bob.pk and bob.pk not in ended.participants

    def test_a_player_removed_by_the_owner_loses_and_the_owner_is_the_archived_actor(self, alice, bob, carol):
        room = room_with(carol, alice, bob)  # carol owns it
        game = game_between(alice, bob, room=room)

        room_member_remove(user=carol, conversation_id=room.pk, username="alice")

        game.refresh_from_db()
        assert (game.status, game.winner_id, game.result) == ("finished", bob.pk, "abandoned")
        *_, ended, _removed = entries_in_chain_order(conversation_ids=[room.pk])
        assert (ended.event_type, ended.actor_id, ended.content["member"]) == (EventType.GAME_ENDED, carol.pk, alice.pk)
        with pytest.raises(GameNotActive):
            services.game_move(user=bob, game_id=game.pk, move="4")

    def test_a_deactivated_player_loses_every_game_and_open_challenges_close(self, alice, bob, carol):
        chess = game_between(alice, bob, kind="chess")
        connect_four = game_between(carol, alice, kind="connect_four")
        challenged = game_between(carol, alice, accepted=False)
        between_others = game_between(bob, carol)

        user_deactivate(user=alice)

        won = {game.pk: (game.status, game.winner_id, game.result) for game in Game.objects.all()}
        assert won[chess.pk] == ("finished", bob.pk, "abandoned")
        assert won[connect_four.pk] == ("finished", carol.pk, "abandoned")
        assert won[challenged.pk] == ("declined", None, "abandoned")
        assert won[between_others.pk] == ("active", None, "")
        assert ArchiveEntry.objects.filter(event_type=EventType.GAME_ENDED, actor_id=alice.pk).count() == 2
        assert ArchiveEntry.objects.filter(event_type=EventType.GAME_DECLINED, actor_id=alice.pk).count() == 1

    def test_a_challenge_from_a_leaver_closes_so_it_cannot_be_accepted(self, alice, bob, carol):
        room = room_with(carol, alice, bob)
        game = game_between(alice, bob, room=room, accepted=False)

        conversation_leave(user=alice, conversation_id=room.pk)

        with pytest.raises(GameNotActive):
            services.game_accept(user=bob, game_id=game.pk)
        assert Game.objects.get(pk=game.pk).result == "abandoned"

    def test_the_game_stays_when_the_membership_change_rolls_back(self, alice, bob, carol):
        room = room_with(carol, alice, bob)
        game = game_between(alice, bob, room=room)

        with pytest.raises(RuntimeError), transaction.atomic():
            conversation_leave(user=bob, conversation_id=room.pk)
            raise RuntimeError("the leave fails after the games were ended")

        assert Game.objects.get(pk=game.pk).status == "active"
        assert not ArchiveEntry.objects.filter(event_type=EventType.GAME_ENDED).exists()


@pytest.mark.django_db(transaction=True)
def test_the_members_who_stay_hear_the_forfeited_game_after_commit(alice, bob, carol):
    room = room_with(carol, alice, bob)
    game = game_between(alice, bob, room=room)
    listener = Listener(fanout.conversation_group(room.pk))

    conversation_leave(user=bob, conversation_id=room.pk)

    frames = [frame for frame in listener.frames() if frame["type"] == "game.updated"]
    assert [(f["game"]["id"], f["game"]["winner"], f["game"]["result"]) for f in frames] == [
        (game.pk, alice.pk, "abandoned")
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_leaving_a_room_without_games_costs_one_look_for_them(django_assert_num_queries):
    alice, bob, carol, *others = UserFactory.create_batch(12)
    room = room_with(alice, bob, carol, *others)
    game_between(alice, bob)  # in another conversation: not this room's
    conversation_leave(user=carol, conversation_id=room.pk)  # warms the caches (the audit log's content types)

    # The membership and its user, BEGIN, the delete, its audit log entry, the player's open games in this room
    # (none), members (for the archive's participants) and their names, archive chain, entry, chain head, COMMIT
    with django_assert_num_queries(12):
        conversation_leave(user=bob, conversation_id=room.pk)
