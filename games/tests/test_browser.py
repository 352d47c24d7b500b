"""The game card in the browser (static/js/games.js) in Debian's Chromium against a real daphne: alice challenges
bob to chess from their direct chat's header, bob accepts, and they play Scholar's mate by clicking pieces and
squares in two browser contexts; both see the result. Then games are switched off and bob's reloaded page offers
no Game button. The helpers are the chat's browser tests'."""

import re
import tempfile
from pathlib import Path

import pytest

from core.testing import run_in_threads
from games.models import Game, GamePolicy
from messenger.tests.test_browser import chromium, direct_chat_of_alice_and_bob, require_chromium, signed_in_page

# Left behind for a person to look at: the finished game on bob's board.
SCREENSHOT = Path(tempfile.gettempdir()) / "parley-chess.png"
SCHOLARS_MATE = [("e2", "e4"), ("e7", "e5"), ("f1", "c4"), ("b8", "c6"), ("d1", "h5"), ("g8", "f6"), ("h5", "f7")]


def square(page, name: str):
    return page.locator(f".game-card .chess-board [data-square={name}]")


@pytest.mark.django_db(transaction=True)
def test_alice_mates_bob_in_four_moves_through_the_board_and_both_see_the_result(tmp_path):
    require_chromium()
    from playwright.sync_api import expect

    direct_chat_of_alice_and_bob()
    errors: list[str] = []

    with chromium(tmp_path) as (browser, base_url):
        alice = signed_in_page(browser, base_url, "alice", errors)
        bob = signed_in_page(browser, base_url, "bob", errors)
        alice.get_by_role("link", name=re.compile(r"^Bob\b")).click()
        bob.get_by_role("link", name=re.compile(r"^Alice Archer\b")).click()

        alice.get_by_role("button", name="Game").click()
        dialog = alice.get_by_role("dialog", name="Challenge to a game")
        dialog.get_by_label("Game").select_option("chess")
        expect(dialog.get_by_label("Opponent")).to_have_value(re.compile(r"\d+"))
        dialog.get_by_role("button", name="Challenge").click()
        expect(dialog).to_be_hidden()

        bob_status = bob.locator(".game-card .game-status")
        expect(bob_status).to_have_text("Alice Archer challenged you. Waiting for an answer.")
        bob.locator(".game-card").get_by_role("button", name="Accept").click()
        expect(alice.locator(".game-card .game-status")).to_have_text("Your move")

        # Legal squares light up for the piece clicked first.
        square(alice, "g1").click()
        expect(alice.locator(".chess-board .legal")).to_have_count(2)  # Nf3, Nh3
        square(alice, "g1").click()  # let go
        expect(alice.locator(".chess-board .legal")).to_have_count(0)

        for number, (start, end) in enumerate(SCHOLARS_MATE):
            mover, watcher = (alice, bob) if number % 2 == 0 else (bob, alice)
            expect(mover.locator(".game-card .game-status")).to_have_text(re.compile(r"^Your move"))
            square(mover, start).click()
            expect(square(mover, end)).to_have_class(re.compile(r"\blegal\b"))
            square(mover, end).click()
            expect(square(watcher, end)).not_to_have_text("")  # the piece arrived on the other board

        expect(alice.locator(".game-card .game-status")).to_have_text("You won (checkmate).")
        expect(bob.locator(".game-card .game-status")).to_have_text("Alice Archer won (checkmate).")
        expect(square(bob, "f7")).to_have_text("♕")
        bob.screenshot(path=str(SCREENSHOT))

        # IT switches games off for the company: at his next page load bob has no Game button to press (he would
        # only be told games_disabled), though the finished game stays on his card strip.
        # (From a thread: Playwright's loop runs in this one, and Django refuses the ORM under a running loop.)
        assert run_in_threads(lambda enabled: GamePolicy.objects.create(games_enabled=enabled), [False]) == []
        bob.reload()
        bob.get_by_role("link", name=re.compile(r"^Alice Archer\b")).click()
        expect(bob.locator(".game-card .game-status")).to_have_text("Alice Archer won (checkmate).")
        expect(bob.get_by_role("button", name="Mute")).to_be_visible()
        expect(bob.get_by_role("button", name="Game")).to_have_count(0)

    game = Game.objects.get()
    assert (game.status, game.result, game.state["moves"][-1]) == ("finished", "checkmate", "h5f7")
    assert errors == []
