"""The message box's completions and the emoji picker in Debian's Chromium against a real daphne: @-mention
autocomplete (members first), the @channel question in a big room, emoji from the picker into the box and as a
reaction, :shortcode: completion, and mentions highlighted without the punctuation after them.

Same harness as test_browser.py (a real daphne, Playwright's sync API: the database is written before the
browser starts and read after it closed)."""

from __future__ import annotations

import re

import pytest

from accounts.tests.factories import UserFactory
from messenger.models import Mention, Message, Reaction
from messenger.tests.factories import room_with
from messenger.tests.test_browser import chromium, message_in, require_chromium, signed_in_page


@pytest.mark.django_db(transaction=True)
def test_a_colleague_is_mentioned_through_autocomplete_members_first_and_the_comma_stays_outside(tmp_path):
    require_chromium()
    from playwright.sync_api import expect

    alice = UserFactory(username="alice", display_name="Alice Archer")
    bob = UserFactory(username="bob", display_name="Bob Bauer")
    UserFactory(username="boris", display_name="Boris Abel")  # a colleague, not in the room; sorts before Bob
    room_with(alice, bob, name="launch")
    errors: list[str] = []

    with chromium(tmp_path) as (browser, base_url):
        page = signed_in_page(browser, base_url, "alice", errors)
        page.get_by_role("link", name=re.compile(r"^launch\b")).click()
        box = page.get_by_role("textbox", name="Message launch")
        box.press_sequentially("thanks @bo")

        options = page.locator("#composer-completions [role=option]")
        expect(options).to_have_count(2)  # the member at once, the colleague from the directory after him
        expect(options.nth(0)).to_contain_text("Bob Bauer")
        expect(options.nth(1)).to_contain_text("Boris Abel")
        expect(options.nth(0)).to_have_attribute("aria-selected", "true")
        expect(box).to_have_attribute("aria-activedescendant", "composer-completions-0")
        box.press("ArrowDown")
        expect(options.nth(1)).to_have_attribute("aria-selected", "true")
        box.press("ArrowUp")
        box.press("Enter")  # picks, does not send
        expect(box).to_have_value("thanks @bob ")
        expect(page.locator("#composer-completions")).to_be_hidden()

        box.press("Backspace")
        box.press_sequentially(", the numbers are in @")
        expect(options.nth(0)).to_contain_text("Bob Bauer")
        box.press("Escape")  # closes the list, keeps the text
        expect(page.locator("#composer-completions")).to_be_hidden()
        expect(box).to_have_value("thanks @bob, the numbers are in @")
        box.press("Backspace")
        box.press("Backspace")
        box.press("Enter")

        sent = message_in(page, "the numbers are in")
        expect(sent.locator(".message-body")).to_have_text("thanks @bob, the numbers are in")
        expect(sent.locator(".mention")).to_have_text("@bob")  # without the comma

    assert errors == []
    message = Message.objects.get()  # bodies are sealed: no lookup by text
    assert message.body == "thanks @bob, the numbers are in"
    assert list(Mention.objects.filter(message=message).values_list("user__username", flat=True)) == ["bob"]


@pytest.mark.django_db(transaction=True)
def test_channel_in_a_room_of_more_than_ten_asks_first_and_mentions_everyone_once_sent(tmp_path):
    require_chromium()
    from playwright.sync_api import expect

    alice = UserFactory(username="alice", display_name="Alice Archer")
    crowd = UserFactory.create_batch(11)
    room_with(alice, *crowd, name="all-hands")
    room_with(alice, *crowd[:2], name="trio")
    errors: list[str] = []

    with chromium(tmp_path) as (browser, base_url):
        page = signed_in_page(browser, base_url, "alice", errors)
        page.get_by_role("link", name=re.compile(r"^all-hands\b")).click()
        expect(page.locator("#chat").get_by_text("12 members")).to_be_visible()  # the room's members have come
        box = page.get_by_role("textbox", name="Message all-hands")
        box.press_sequentially("@cha")
        everyone = page.locator("#composer-completions [role=option]", has_text="@channel")
        expect(everyone).to_contain_text("Notify all 12 members of this room")
        everyone.click()
        expect(box).to_have_value("@channel ")
        box.press_sequentially("the release is out")
        box.press("Enter")

        question = page.locator("#dialog-confirm")
        expect(question).to_be_visible()
        expect(question.locator(".dialog-title")).to_have_text("Notify 12 people?")
        question.get_by_role("button", name="Cancel").click()
        expect(box).to_have_value("@channel the release is out")  # nothing sent, nothing lost
        expect(message_in(page, "the release is out")).to_have_count(0)

        box.press("Enter")
        expect(question).to_be_visible()
        # Cancelled and asked again in one task, as a quick hand can: the first question's close event is still
        # queued when the second opens, and must not answer the second (a clean-clone run once lost the send so).
        page.evaluate(
            """() => {
                document.querySelector("#dialog-confirm button[value=cancel]").click();
                const enter = { key: "Enter", bubbles: true, cancelable: true };
                document.querySelector("#composer-input").dispatchEvent(new KeyboardEvent("keydown", enter));
            }"""
        )
        expect(question).to_be_visible()
        question.get_by_role("button", name="Send anyway").click()
        expect(message_in(page, "the release is out").locator(".mention")).to_have_text("@channel")
        expect(box).to_have_value("")

        # Three people: no question.
        page.get_by_role("link", name=re.compile(r"^trio\b")).click()
        box = page.get_by_role("textbox", name="Message trio")
        box.fill("@here lunch?")
        box.press("Enter")
        expect(message_in(page, "lunch?")).to_be_visible()
        expect(question).to_be_hidden()

    assert errors == []
    release, lunch = Message.objects.order_by("pk")  # bodies are sealed: no lookup by text
    assert release.body == "@channel the release is out"
    assert set(Mention.objects.filter(message=release).values_list("user_id", flat=True)) == {p.pk for p in crowd}
    assert not Mention.objects.filter(message=lunch).exists()  # @here: nobody else had the app open


@pytest.mark.django_db(transaction=True)
def test_emoji_from_the_picker_and_from_a_shortcode_go_into_the_box_and_any_emoji_is_a_reaction(tmp_path):
    require_chromium()
    from playwright.sync_api import expect

    alice = UserFactory(username="alice", display_name="Alice Archer")
    room_with(alice, UserFactory(username="bob"), name="launch")
    errors: list[str] = []

    with chromium(tmp_path) as (browser, base_url):
        page = signed_in_page(browser, base_url, "alice", errors)
        page.get_by_role("link", name=re.compile(r"^launch\b")).click()
        box = page.get_by_role("textbox", name="Message launch")
        box.press_sequentially("Shipped ")

        page.get_by_role("button", name="Insert an emoji").click()
        picker = page.get_by_role("dialog", name="Insert an emoji")
        expect(picker.get_by_role("button", name="party popper").first).to_be_visible()  # the quick ten come first
        picker.get_by_role("searchbox", name="Search emoji").fill("tada")
        picker.get_by_role("button", name="party popper").click()
        expect(picker).to_be_hidden()
        expect(box).to_be_focused()
        expect(box).to_have_value("Shipped 🎉")

        box.press_sequentially(" :joy")
        option = page.locator("#composer-completions [role=option]").first
        expect(option).to_contain_text("😂")
        expect(option).to_contain_text(":joy:")
        box.press("Enter")  # picks the emoji
        expect(box).to_have_value("Shipped 🎉 😂")
        box.press_sequentially(" at 12:30")  # a time is not a shortcode
        expect(page.locator("#composer-completions")).to_be_hidden()
        box.press("Enter")

        sent = message_in(page, "Shipped")
        expect(sent.locator(".message-body")).to_have_text("Shipped 🎉 😂 at 12:30")
        # Stored, not pending: its ack re-renders it, and a message re-rendered under a still mouse is not :hover,
        # so its toolbar would stay out of reach of the click.
        expect(sent).not_to_have_class(re.compile(r"\bpending\b"))
        sent.hover()
        sent.get_by_role("button", name="Add a reaction").first.click()
        page.get_by_role("menuitem", name="More emoji").click()
        reactions = page.get_by_role("dialog", name="Pick a reaction")
        reactions.get_by_role("searchbox", name="Search emoji").fill("avoc")
        reactions.get_by_role("searchbox", name="Search emoji").press("Enter")  # the first match
        expect(sent.locator(".reaction", has_text="🥑")).to_contain_text("1")

    assert errors == []
    assert list(Reaction.objects.values_list("emoji", flat=True)) == ["🥑"]
