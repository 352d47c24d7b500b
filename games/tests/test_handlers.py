"""games/handlers.py through the socket of the whole ASGI application: a full game between two clients, a
spectator watching, games listed after a reconnect, bad frames answered with error frames, and a removed player's
game ended for those who stay."""

import uuid

import pytest
from channels.db import database_sync_to_async

from core.testing import next_of_type, session_cookie_for, socket_to_app
from games.models import GamePolicy
from games.tests.factories import UserFactory, room_with
from messenger.services import room_member_remove

pytestmark = pytest.mark.django_db(transaction=True)


async def open_socket(user):
    socket = socket_to_app(cookie=await database_sync_to_async(session_cookie_for)(user))
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from())["type"] == "hello"
    return socket


async def request(socket, frame: dict) -> dict:
    """Send a frame with a fresh ref and return the reply that carries it (other frames are skipped)."""
    ref = uuid.uuid4().hex[:8]
    await socket.send_json_to({**frame, "ref": ref})
    while True:
        reply = await socket.receive_json_from(timeout=3)
        if reply.get("ref") == ref:
            return reply


@pytest.fixture
async def table():
    """alice and bob play in a room carol is in too; each has an open socket."""
    alice, bob, carol = [await database_sync_to_async(UserFactory)(username=name) for name in ("alice", "bob", "carol")]
    room = await database_sync_to_async(room_with)(alice, bob, carol)
    sockets = {name: await open_socket(user) for name, user in (("alice", alice), ("bob", bob), ("carol", carol))}
    table = {"room": room, "alice": alice, "bob": bob, "carol": carol}
    table.update({f"{name}_socket": socket for name, socket in sockets.items()})
    yield table
    for name in sockets:
        await table[f"{name}_socket"].disconnect()


async def game_updates(socket, count: int) -> list[dict]:
    return [(await next_of_type(socket, "game.updated"))["game"] for _ in range(count)]


async def test_a_full_tic_tac_toe_game_between_two_clients_watched_by_a_spectator(table):
    alice, bob, room = table["alice"], table["bob"], table["room"]
    challenge = await request(
        table["alice_socket"],
        {"type": "game.challenge", "conversation_id": room.pk, "opponent_id": bob.pk, "kind": "tictactoe"},
    )
    game_id = challenge["game"]["id"]
    assert challenge["type"] == "ack" and challenge["game"]["status"] == "challenged"

    accepted = await request(table["bob_socket"], {"type": "game.accept", "game_id": game_id})
    assert accepted["game"]["turn"] == alice.pk

    moves = [("alice", "0"), ("bob", "3"), ("alice", "1"), ("bob", "4"), ("alice", "2")]
    for player, cell in moves:
        reply = await request(table[f"{player}_socket"], {"type": "game.move", "game_id": game_id, "move": cell})
        assert reply["type"] == "ack", reply

    assert reply["game"]["status"] == "finished"
    assert (reply["game"]["winner"], reply["game"]["result"]) == (alice.pk, "three in a row")
    watched = await game_updates(table["carol_socket"], 2 + len(moves))
    assert [game["moves"] for game in watched] == [0, 0, 1, 2, 3, 4, 5]
    assert [game["version"] for game in watched] == sorted(game["version"] for game in watched)
    assert watched[-1]["state"]["cells"] == ["X", "X", "X", "O", "O", "", "", "", ""]
    assert watched[-1]["winner"] == alice.pk
    assert reply["game"] == watched[-1]  # the mover's answer and the spectator's card agree


async def test_a_reconnected_client_lists_the_game_where_it_was(table):
    room, bob = table["room"], table["bob"]
    game = (
        await request(
            table["alice_socket"],
            {"type": "game.challenge", "conversation_id": room.pk, "opponent_id": bob.pk, "kind": "chess"},
        )
    )["game"]
    await request(table["bob_socket"], {"type": "game.accept", "game_id": game["id"]})
    await request(table["alice_socket"], {"type": "game.move", "game_id": game["id"], "move": "e2e4"})
    await table["bob_socket"].disconnect()

    table["bob_socket"] = await open_socket(bob)
    listed = await request(table["bob_socket"], {"type": "game.list", "conversation_id": room.pk})

    assert [(g["id"], g["turn"], g["state"]["moves"]) for g in listed["games"]] == [(game["id"], bob.pk, ["e2e4"])]
    assert "e7e5" in listed["games"][0]["hints"]["legal"]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "game.move", "game_id": "1", "move": "4"}, "invalid_field"),
        ({"type": "game.move", "game_id": 1}, "missing_field"),
        ({"type": "game.move", "game_id": 999999, "move": "4"}, "game_not_found"),
        ({"type": "game.challenge", "conversation_id": 999999, "opponent_id": 1, "kind": "chess"}, "not_a_member"),
        ({"type": "game.list", "conversation_id": 999999}, "not_a_member"),
        ({"type": "game.teleport", "game_id": 1}, "unknown_type"),
    ],
)
async def test_bad_game_frames_get_error_frames_and_the_socket_stays_open(table, frame, code):
    reply = await request(table["alice_socket"], frame)

    assert (reply["type"], reply["code"]) == ("error", code)
    assert (await request(table["alice_socket"], {"type": "ping"}))["type"] == "pong"


async def test_refusals_of_the_rules_reach_the_client_as_their_codes(table):
    room, alice, bob = table["room"], table["alice"], table["bob"]
    game = (
        await request(
            table["alice_socket"],
            {"type": "game.challenge", "conversation_id": room.pk, "opponent_id": bob.pk, "kind": "connect_four"},
        )
    )["game"]
    early = await request(table["alice_socket"], {"type": "game.move", "game_id": game["id"], "move": "3"})
    await request(table["bob_socket"], {"type": "game.accept", "game_id": game["id"]})
    out_of_turn = await request(table["bob_socket"], {"type": "game.move", "game_id": game["id"], "move": "3"})
    illegal = await request(table["alice_socket"], {"type": "game.move", "game_id": game["id"], "move": "9"})
    spectator = await request(table["carol_socket"], {"type": "game.resign", "game_id": game["id"]})
    no_offer = await request(table["bob_socket"], {"type": "game.draw_accept", "game_id": game["id"]})

    codes = [reply["code"] for reply in (early, out_of_turn, illegal, spectator, no_offer)]
    assert codes == ["game_not_active", "not_your_turn", "illegal_move", "not_a_player", "no_draw_offer"]
    assert alice.pk in game["players"]


async def test_a_challenge_the_rules_cannot_start_gets_game_invalid_and_starts_nothing(table):
    room, alice, bob = table["room"], table["alice"], table["bob"]
    challenge = {"type": "game.challenge", "conversation_id": room.pk}

    unknown_kind = await request(table["alice_socket"], {**challenge, "opponent_id": bob.pk, "kind": "poker"})
    oneself = await request(table["alice_socket"], {**challenge, "opponent_id": alice.pk, "kind": "chess"})
    listed = await request(table["alice_socket"], {"type": "game.list", "conversation_id": room.pk})

    assert [(reply["type"], reply["code"]) for reply in (unknown_kind, oneself)] == [("error", "game_invalid")] * 2
    assert listed["games"] == []


async def test_games_switched_off_answer_games_disabled_and_existing_games_stay_listed(table):
    room, bob = table["room"], table["bob"]
    game = (
        await request(
            table["alice_socket"],
            {"type": "game.challenge", "conversation_id": room.pk, "opponent_id": bob.pk, "kind": "chess"},
        )
    )["game"]
    await database_sync_to_async(GamePolicy.objects.create)(games_enabled=False)

    refused = await request(table["bob_socket"], {"type": "game.accept", "game_id": game["id"]})
    listed = await request(table["carol_socket"], {"type": "game.list", "conversation_id": room.pk})

    assert (refused["type"], refused["code"]) == ("error", "games_disabled")
    assert [g["id"] for g in listed["games"]] == [game["id"]]


async def test_a_player_removed_from_the_room_forfeits_and_the_members_who_stay_see_it(table):
    room, carol = table["room"], table["carol"]
    challenge = await request(
        table["bob_socket"],
        {"type": "game.challenge", "conversation_id": room.pk, "opponent_id": carol.pk, "kind": "connect_four"},
    )
    await request(table["carol_socket"], {"type": "game.accept", "game_id": challenge["game"]["id"]})

    await database_sync_to_async(room_member_remove)(user=table["alice"], conversation_id=room.pk, username="bob")

    for name in ("alice", "carol"):
        game = await next_of_type(table[f"{name}_socket"], "game.updated")
        while game["game"]["status"] != "finished":  # the challenge and its acceptance, when not read yet
            game = await next_of_type(table[f"{name}_socket"], "game.updated")
        assert (game["game"]["id"], game["game"]["winner"], game["game"]["result"]) == (
            challenge["game"]["id"],
            carol.pk,
            "abandoned",
        )
