"""The browser client in Debian's Chromium against a real daphne: two people sign in and chat live.

Playwright's sync API runs its own event loop, and Django refuses ORM calls from a thread with a running loop,
so every database write happens before the browser starts; the test database is flushed after it closed.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from core.testing import start_daphne_worker
from messenger import services
from messenger.services import direct_open
from messenger.tests.factories import room_with, send

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000
# Left behind for a person to look at: what the chat looks like after the conversation above.
SCREENSHOT = Path(tempfile.gettempdir()) / "parley-chat.png"


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; under CI=true a missing browser is a failure, not a skip.", pytrace=False)
    pytest.skip(reason)


@contextmanager
def chromium(tmp_path: Path) -> Iterator[tuple]:
    """A real daphne on the test database and a headless Chromium; yields (browser, base url, errors)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    worker = start_daphne_worker(tmp_path)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                yield browser, worker.http_url
            finally:
                browser.close()
    except Exception:
        print(worker.log())  # shown by pytest on failure: the server's side of the story
        raise
    finally:
        worker.stop()


def signed_in_page(browser, base_url: str, username: str, errors: list[str]):
    """A fresh browser profile that signs in through the login page and waits for the app to be live."""
    from playwright.sync_api import expect

    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda error: errors.append(f"{username}: {error}"))
    page.on("console", lambda message: message.type == "error" and errors.append(f"{username}: {message.text}"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#app[data-ready=true]")).to_be_attached()
    expect(page.locator("#connection-state")).to_have_text("Online")
    return page


def message_in(page, text: str):
    """The message whose text contains `text`."""
    return page.locator("#message-list .message").filter(has_text=text)


def message_with_body(page, body: str):
    """The message whose text is exactly `body`."""
    exact = page.locator(".message-body", has_text=re.compile(rf"^{re.escape(body)}$"))
    return page.locator("#message-list .message").filter(has=exact)


@pytest.mark.django_db(transaction=True)
def test_two_people_chat_live_typing_message_and_seen_by(tmp_path):
    require_chromium()
    from playwright.sync_api import expect

    alice_user = UserFactory(username="alice", display_name="Alice Archer")
    UserFactory(username="bob", display_name="Bob")
    direct_open(user=alice_user, other_username="bob")
    errors: list[str] = []

    with chromium(tmp_path) as (browser, base_url):
        alice = signed_in_page(browser, base_url, "alice", errors)
        bob = signed_in_page(browser, base_url, "bob", errors)

        alice.get_by_role("link", name=re.compile(r"^Bob\b")).click()
        bob.get_by_role("link", name=re.compile(r"^Alice Archer\b")).click()
        expect(bob.get_by_role("heading", name="Alice Archer")).to_be_visible()
        bob.evaluate("window.sameDocument = true")  # gone if the page reloads

        composer = alice.get_by_role("textbox", name="Message Bob")
        expect(composer).to_be_focused()
        composer.press_sequentially("Lunch at **noon**?")
        expect(bob.locator("#typing")).to_have_text("Alice is typing…")

        composer.press("Shift+Enter")
        composer.press_sequentially("Bring <img src=x onerror=alert(1)> please")
        expect(composer).to_have_value("Lunch at **noon**?\nBring <img src=x onerror=alert(1)> please")
        composer.press("Enter")
        expect(composer).to_have_value("")

        received = message_in(bob, "Lunch at")
        expect(received).to_be_visible()
        expect(received.locator(".message-body strong")).to_have_text("noon")
        expect(received.locator(".message-body")).to_contain_text("Bring <img src=x onerror=alert(1)> please")
        expect(received.locator(".message-body img")).to_have_count(0)
        assert bob.evaluate("window.sameDocument") is True
        expect(bob.locator("#typing")).to_have_text("")

        # Bob has the conversation open at the bottom of a visible tab: he has read it, and Alice sees so.
        expect(alice.locator(".seen-by")).to_have_text(re.compile(r"^Seen by Bob"))
        expect(alice.get_by_role("link", name=re.compile(r"^Bob\b")).locator(".badge")).to_have_count(0)

        alice.screenshot(path=str(SCREENSHOT))

    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_unread_badges_mentions_replies_reactions_edit_and_delete_in_a_room(tmp_path):
    require_chromium()
    from playwright.sync_api import expect

    alice = UserFactory(username="alice", display_name="Alice Archer")
    bob = UserFactory(username="bob", display_name="Bob Bauer")
    room = room_with(alice, bob, name="launch")
    for number in range(1, 71):  # more than one page of history
        services.send_rate_limit.reset()  # seeding is not what the rate limit is for
        send(alice, room, body=f"status update {number}")
    # Bob read up to 60: the chat opens at the "New messages" line, far enough down that nothing older loads
    # until he scrolls up.
    services.read_mark(user=bob, conversation_id=room.pk, seq=60)
    errors: list[str] = []

    with chromium(tmp_path) as (browser, base_url):
        alice_page = signed_in_page(browser, base_url, "alice", errors)
        bob_page = signed_in_page(browser, base_url, "bob", errors)
        room_link = bob_page.get_by_role("link", name=re.compile(r"^launch\b"))
        expect(room_link.locator(".badge")).to_have_text("10")
        expect(bob_page).to_have_title("(10) Parley")

        alice_page.get_by_role("link", name=re.compile(r"^launch\b")).click()
        composer = alice_page.get_by_role("textbox", name="Message launch")
        composer.fill("@bob can you check the numbers?")
        composer.press("Enter")
        expect(room_link.locator(".badge.mention")).to_have_text("@1")
        expect(room_link.locator(".badge:not(.mention)")).to_have_text("11")
        expect(bob_page).to_have_title("(11) Parley")

        room_link.click()
        expect(bob_page.locator(".unread-divider + .message")).to_contain_text("status update 61")
        mention = message_in(bob_page, "can you check the numbers")
        expect(mention).to_have_class(re.compile(r"\bmentions-me\b"))
        expect(mention.locator(".mention.to-me")).to_have_text("@bob")
        expect(room_link.locator(".badge")).to_have_count(0)
        expect(bob_page).to_have_title("launch · Parley")

        # Scrolling up loads the older page; a quote of the very first message jumps back to it.
        expect(message_with_body(bob_page, "status update 22")).to_be_attached()  # the newest page: 22 to 70
        first = message_with_body(bob_page, "status update 1")
        expect(first).to_have_count(0)
        bob_page.locator("#messages").evaluate("node => { node.scrollTop = 0; }")
        expect(first).to_be_attached()
        expect(bob_page.locator("#history-state")).to_have_text("This is the start of launch.")
        first.hover()
        first.get_by_role("button", name="Reply").click()
        bob_composer = bob_page.get_by_role("textbox", name="Message launch")
        expect(bob_page.locator("#composer-context")).to_contain_text("Replying to Alice Archer")
        bob_composer.press_sequentially("Numbers look right")
        bob_composer.press("Enter")
        reply = message_in(alice_page, "Numbers look right")
        expect(reply.locator(".quote")).to_contain_text("status update 1")
        reply.locator(".quote").click()
        expect(alice_page.locator("#message-list .message.flash")).to_contain_text("status update 1")

        # Reactions: counts and who reacted, live on the other side.
        reply.hover()
        reply.get_by_role("button", name="Add a reaction").first.click()
        alice_page.get_by_role("menuitem", name="React with 🎉").click()
        bobs_reply = message_in(bob_page, "Numbers look right")
        chip = bobs_reply.locator(".reaction", has_text="🎉")
        expect(chip).to_contain_text("1")
        expect(chip).to_have_attribute("title", "Alice reacted with 🎉")
        chip.click()
        expect(reply.locator(".reaction", has_text="🎉")).to_contain_text("2")
        expect(reply.locator(".reaction", has_text="🎉")).to_have_attribute("title", "You and Bob reacted with 🎉")

        # Up in the empty box edits your last message; Escape would cancel, Enter saves.
        bob_composer.press("ArrowUp")
        expect(bob_composer).to_have_value("Numbers look right")
        bob_composer.fill("Numbers look right to me")
        bob_composer.press("Enter")
        expect(reply).to_contain_text("Numbers look right to me")
        expect(reply.locator(".edited")).to_be_visible()

        bobs_reply.hover()
        bobs_reply.get_by_role("button", name="Delete").click()
        bob_page.locator("#dialog-confirm").get_by_role("button", name="Delete").click()
        expect(alice_page.locator("#message-list .message.deleted")).to_contain_text("This message was deleted.")

    assert errors == []
