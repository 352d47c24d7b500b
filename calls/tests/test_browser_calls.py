"""A call in two real browsers (Debian's Chromium, fake microphone and screen): alice calls bob, bob accepts,
their peer connection connects, alice shares her screen and bob watches it play; hanging up ends the call for
both, and the archive holds it with its duration. Media goes between the two pages over loopback. And a page
reloaded while its room's call runs offers to join it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from archive.models import EventType
from archive.selectors import entries_in_chain_order_of_type
from calls import services as calls
from calls.tests.factories import UserFactory, room_with
from core.testing import start_daphne_worker
from messenger.tests.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    chromium,
    direct_chat_of_alice_and_bob,
    in_a_thread_without_a_loop,
    require_chromium,
    signed_in_page,
)

# What the issue asks for: Chromium's fake devices stand in for a microphone and a screen, and its fake
# permission prompt says yes to both (getUserMedia and getDisplayMedia alike, so no capture source flag is
# needed); sound may start without a click on the receiving page.
MEDIA_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
PLAYING_SCREEN = """() => {
  const video = document.querySelector("#call-media video.call-screen");
  return Boolean(video && !video.paused && video.readyState >= 2 && video.videoWidth > 0 && video.currentTime > 0);
}"""


@pytest.mark.django_db(transaction=True)
def test_alice_calls_bob_shares_her_screen_and_hangs_up_and_the_archive_keeps_the_call(tmp_path: Path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    direct_chat_of_alice_and_bob()
    errors: list[str] = []
    expect.set_options(timeout=TIMEOUT_MS)
    worker = start_daphne_worker(tmp_path)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *MEDIA_ARGS]
            )
            try:
                alice = signed_in_page(browser, worker.http_url, "alice", errors)
                bob = signed_in_page(browser, worker.http_url, "bob", errors)
                alice.get_by_role("link", name=re.compile(r"^Bob\b")).click()

                alice.get_by_role("button", name="Call").click()
                notice = bob.get_by_role("alertdialog")
                expect(notice).to_contain_text("Alice Archer is calling")
                notice.get_by_role("button", name="Accept").click()

                for page in (alice, bob):
                    expect(page.locator('#call-participants li[data-connection="connected"]')).to_have_count(1)
                    expect(page.locator("#call-timer")).to_have_text(re.compile(r"^\d+:\d\d$"))
                expect(notice).to_be_hidden()

                alice.get_by_role("button", name="Share screen").click()
                bob.wait_for_function(PLAYING_SCREEN, timeout=TIMEOUT_MS)
                expect(bob.locator("#call-participants")).to_contain_text("Alice Archer · sharing screen")

                alice.get_by_role("button", name="Hang up").click()
                for page in (alice, bob):
                    expect(page.locator("#call-panel")).to_be_hidden()
                expect(bob.locator("#toast")).to_contain_text("Call ended")
            finally:
                browser.close()
    except Exception:
        print(worker.log())
        raise
    finally:
        worker.stop()

    assert errors == []
    (ended,) = entries_in_chain_order_of_type(EventType.CALL_ENDED)
    assert ended.content["reason"] == "hung_up"
    assert ended.content["screen_shared"] is True
    assert isinstance(ended.content["duration_seconds"], int) and ended.content["duration_seconds"] >= 0
    assert {person["username"] for person in ended.content["people"].values()} == {"alice", "bob"}


@pytest.mark.django_db(transaction=True)
def test_bob_reloading_while_his_rooms_call_runs_is_offered_to_join_it(tmp_path: Path, settings):
    require_chromium()
    from playwright.sync_api import expect

    # The invite below runs in this process, and so would its ring timer: it stays out of the test.
    settings.PARLEY_CALL_RING_SECONDS = 3600
    alice, bob, carol = (UserFactory(username=name) for name in ("alice", "bob", "carol"))
    room = room_with(alice, bob, carol, name="standup")
    errors: list[str] = []

    with chromium(tmp_path) as (browser, base_url):
        page = signed_in_page(browser, base_url, "bob", errors)
        page.get_by_role("link", name=re.compile(r"^standup\b")).click()
        expect(page.get_by_role("button", name="Call")).to_be_visible()

        def room_call_that_bob_declined() -> None:  # not ringing for him: "Join call" is all he has
            call = calls.call_invite(caller=alice, conversation_id=room.pk)
            calls.call_join(user=carol, call_id=call.pk)
            calls.call_decline(user=bob, call_id=call.pk)

        in_a_thread_without_a_loop(room_call_that_bob_declined)

        page.reload()

        expect(page.locator("#connection-state")).to_have_text("Online")
        expect(page.get_by_role("button", name="Join call")).to_be_visible()
        expect(page.get_by_role("button", name="Call", exact=True)).to_be_hidden()

    assert errors == []
