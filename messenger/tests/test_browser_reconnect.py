"""The browser client in Debian's Chromium when its connection breaks (issue 20): the worker behind the balancer
dies while a colleague keeps writing, and the page comes back with every message once, in order, its own
message typed meanwhile sent once; a `signed_out` frame ends the socket with 4403 and the page goes to sign-in.

The helpers of test_browser.py drive the browser; ORM work while Playwright runs happens in threads of its own.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from accounts.models import User
from accounts.services import user_deactivate, user_sign_out_everywhere
from accounts.tests.factories import UserFactory
from core.testing import LoadBalancer, start_daphne_worker
from messenger.models import Message
from messenger.services import direct_open
from messenger.tests.factories import send
from messenger.tests.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    chromium,
    direct_chat_of_alice_and_bob,
    in_a_thread_without_a_loop,
    message_with_body,
    require_chromium,
    signed_in_page,
)

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

CLOSE_SIGNED_OUT = 4403  # messenger.consumers.CLOSE_SIGNED_OUT, docs/protocol.md "Close codes"
# What Chromium logs while a socket or a request cannot reach the server: expected during an outage.
OUTAGE_NOISE = re.compile(r"WebSocket connection to .* failed|net::ERR_|Failed to load resource")


@contextmanager
def browser_only() -> Iterator:
    """A headless Chromium (the servers are the test's own)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Chatter:
    """Someone writing "alice 1", "alice 2", ... into a conversation every 50 ms through the services (as a
    page on any worker would), from a thread of their own, until stopped; `sent` counts what was stored."""

    def __init__(self, sender, conversation) -> None:
        self.sender, self.conversation = sender, conversation
        self.sent = 0
        self.failure: BaseException | None = None
        self._progress = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._talk, daemon=True)

    def __enter__(self) -> Chatter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _talk(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(0.05):  # a pace, not a wait for anything
                send(self.sender, self.conversation, f"alice {self.sent + 1}")
                with self._progress:
                    self.sent += 1
                    self._progress.notify_all()
        except BaseException as error:  # handed to the test's thread by wait_until_sent / stop
            self.failure = error
        finally:
            connection.close()
            with self._progress:
                self._progress.notify_all()

    def wait_until_sent(self, count: int) -> None:
        with self._progress:
            self._progress.wait_for(lambda: self.sent >= count or self.failure or not self._thread.is_alive(), 15)
        if self.failure:
            raise self.failure
        assert self.sent >= count, f"only {self.sent} of {count} messages were sent"

    def stop(self) -> int:
        """Stop writing; the number of the last message stored."""
        self._stop.set()
        self._thread.join(timeout=15)
        if self.failure:
            raise self.failure
        return self.sent


def bodies_on(page):
    return page.locator("#message-list .message .message-body")


def test_a_worker_killed_behind_the_balancer_loses_nothing_and_a_message_typed_meanwhile_is_sent_once(tmp_path):
    """Bob's page reaches the first of two workers through the balancer; alice writes all along. The worker is
    SIGKILLed while the balancer turns new connections away; bob types a message; the balancer lets him back, to
    the second worker. Both pages end with the database's messages, each once, in seq order. (What bob missed
    comes back in the reconnect's `sync`, or else in the gap fetch after alice's next live message: only with
    both broken does a message go missing here; with a resend under a new client_id, his is stored twice.)"""
    require_chromium()
    from playwright.sync_api import expect

    direct_chat_of_alice_and_bob()
    alice = User.objects.get(username="alice")
    conversation = direct_open(user=alice, other_username="bob")
    typed = "Typed while the server was away"
    errors: list[str] = []
    workers = []
    try:
        workers += [start_daphne_worker(tmp_path), start_daphne_worker(tmp_path)]
        first, second = workers
        with LoadBalancer([first.port, second.port]) as balancer, browser_only() as browser:
            bob_page = signed_in_page(browser, balancer.http_url, "bob", errors)
            alice_page = signed_in_page(browser, second.http_url, "alice", errors)
            bob_page.get_by_role("link", name=re.compile(r"^Alice Archer\b")).click()
            alice_page.get_by_role("link", name=re.compile(r"^Bob\b")).click()
            assert set(balancer.routed_to) == {first.port}  # bob's page and socket are on the first worker

            with Chatter(alice, conversation) as chatter:
                chatter.wait_until_sent(3)
                expect(message_with_body(bob_page, "alice 3")).to_be_visible()

                balancer.refusing.set()
                first.kill()
                routed_before_the_outage = len(balancer.routed_to)
                expect(bob_page.locator("#connection-banner")).to_be_visible()
                expect(bob_page.locator("#connection-state")).not_to_have_text("Online")
                chatter.wait_until_sent(chatter.sent + 5)  # bob misses these live

                composer = bob_page.get_by_role("textbox", name="Message Alice Archer")
                composer.fill(typed)
                composer.press("Enter")
                pending = bob_page.locator("#message-list .message.pending")
                expect(pending).to_contain_text("Sending…")
                chatter.wait_until_sent(chatter.sent + 5)  # and these, typed after his

                balancer.refusing.clear()  # the balancer lets him in again, to the worker still alive
                expect(bob_page.locator("#connection-state")).to_have_text("Online")
                expect(pending).to_have_count(0)
                chatter.wait_until_sent(chatter.sent + 5)  # after the outage
                last = chatter.stop()

            stored: list[str] = []
            in_a_thread_without_a_loop(
                lambda: stored.extend(m.body for m in Message.objects.filter(conversation=conversation).order_by("seq"))
            )
            assert stored.count(typed) == 1 and stored.count(f"alice {last}") == 1
            # Every message of the conversation, each once, in the database's seq order, on both pages.
            expect(bodies_on(bob_page)).to_have_text(stored)
            expect(bodies_on(alice_page)).to_have_text(stored)
            assert set(balancer.routed_to[routed_before_the_outage:]) == {second.port}
    finally:
        for worker in workers:
            worker.stop()

    seqs = list(Message.objects.filter(conversation=conversation).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, last + 2))  # alice's `last` and bob's one, no gap
    assert [error for error in errors if not OUTAGE_NOISE.search(error)] == []


@pytest.mark.parametrize(
    ("end_it", "reason"),
    [
        (lambda bob, it: user_deactivate(user=bob), "deactivated"),
        (lambda bob, it: user_sign_out_everywhere(user=bob, actor=it), "signed_out_by_it"),
    ],
    ids=["deactivated", "signed_out_everywhere"],
)
def test_signed_out_closes_the_socket_with_4403_and_the_page_goes_to_sign_in_without_reconnecting(
    tmp_path, end_it, reason
):
    """Between the page and the server a relay notes the `signed_out` frame and the code the server closes with."""
    require_chromium()
    from playwright.sync_api import expect

    UserFactory(username="bob", display_name="Bob")
    it_admin = UserFactory(username="ivy", is_staff=True)
    sockets_opened: list[str] = []
    signed_out_reasons: list[str] = []
    closed_by_server: list[int | None] = []

    def relay_watching_the_end(route):
        sockets_opened.append(route.url)
        server = route.connect_to_server()

        def to_page(text):
            frame = json.loads(text) if isinstance(text, str) else {}
            if frame.get("type") == "signed_out":
                signed_out_reasons.append(frame["reason"])
            route.send(text)

        def server_closed(code, close_reason):
            closed_by_server.append(code)
            route.close(code=code, reason=close_reason)

        server.on_message(to_page)
        server.on_close(server_closed)

    errors: list[str] = []
    with chromium(tmp_path) as (browser, base_url):
        page = signed_in_page(browser, base_url, "bob", errors, socket_route=relay_watching_the_end)
        in_a_thread_without_a_loop(lambda: end_it(User.objects.get(username="bob"), it_admin))

        expect(page).to_have_url(re.compile(r"/accounts/login/"))
        expect(page.get_by_label("Username")).to_be_visible()
        assert signed_out_reasons == [reason]
        assert closed_by_server[0] == CLOSE_SIGNED_OUT  # (Playwright reports the relay's own end after it)
        assert len(sockets_opened) == 1  # no reconnect

    assert [error for error in errors if not OUTAGE_NOISE.search(error)] == []
