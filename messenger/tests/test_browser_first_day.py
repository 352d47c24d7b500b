"""A new user's first day, walked in Debian's Chromium against a real daphne and the seeded demo company, on a
laptop (1280x800) and a phone (390x844): sign in, switch to dark mode, read #general, mention a colleague
through autocomplete, react with an emoji from the picker, and reply in a thread.

Same harness as test_browser.py (the database is written before the browser starts, read after it closed)."""

from __future__ import annotations

import re

import pytest

from accounts.tests.factories import TEST_PASSWORD
from messenger.models import Message, Reaction
from messenger.tests.test_browser import chromium, message_in, require_chromium, signed_in_page

LAPTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}


def first_day(page, *, colleague: str, colleague_name: str, words: str) -> None:
    """What one person does on their first day, as a person would do it, asserting what they see."""
    from playwright.sync_api import expect

    root, switch = page.locator("html"), page.locator("#theme-switch")
    while switch.inner_text() != "Theme: dark":
        switch.click()
    expect(root).to_have_attribute("data-theme", "dark")

    page.get_by_role("link", name=re.compile(r"^general\b")).click()
    expect(page.locator("#message-list .message").first).to_be_visible()  # the week before they came

    box = page.get_by_role("textbox", name="Message general")
    box.press_sequentially(f"Hello @{colleague[:2]}")
    option = page.locator("#composer-completions [role=option]", has_text=colleague_name)
    expect(option).to_be_visible()
    option.click()
    expect(box).to_have_value(f"Hello @{colleague} ")
    box.press_sequentially(words)
    box.press("Enter")
    sent = message_in(page, words)
    expect(sent.locator(".mention")).to_have_text(f"@{colleague}")

    # Stored, not pending: its ack re-renders it, and a message re-rendered under a still mouse is not :hover,
    # so its toolbar would stay out of reach of the click.
    expect(sent).not_to_have_class(re.compile(r"\bpending\b"))
    sent.hover()
    sent.get_by_role("button", name="Add a reaction").first.click()
    page.get_by_role("menuitem", name="More emoji").click()
    picker = page.get_by_role("dialog", name="Pick a reaction")
    picker.get_by_role("searchbox", name="Search emoji").fill("rocket")
    picker.get_by_role("button", name="rocket", exact=True).click()
    expect(sent.locator(".reaction", has_text="🚀")).to_contain_text("1")

    sent.hover()
    sent.get_by_role("button", name="Reply in thread").click()
    thread_box = page.get_by_role("textbox", name="Reply in the thread")
    thread_box.fill(f"{words}: notes to follow")
    thread_box.press("Enter")
    expect(page.locator("#thread-list .message", has_text=f"{words}: notes to follow")).to_be_visible()
    page.get_by_role("button", name="Close the thread").click()
    expect(sent).to_contain_text("1 reply")


@pytest.mark.django_db(transaction=True)
def test_a_new_users_first_day_on_a_laptop_and_on_a_phone(tmp_path):
    require_chromium()
    from messenger.demo import demo_company_seed

    demo_company_seed(password=TEST_PASSWORD)
    errors: list[str] = []

    with chromium(tmp_path) as (browser, base_url):
        laptop = signed_in_page(browser, base_url, "alice", errors)
        laptop.set_viewport_size(LAPTOP)
        first_day(laptop, colleague="dave", colleague_name="Dave Dumont", words="welcome to the team")
        phone = signed_in_page(browser, base_url, "bob", errors)
        phone.set_viewport_size(PHONE)
        first_day(phone, colleague="erin", colleague_name="Erin Evans", words="good to be here")

    assert errors == []
    for author in ("alice", "bob"):
        mine = Message.objects.filter(sender__username=author).order_by("-pk")
        reply, message = mine[0], mine[1]  # bodies are sealed: found by order, not text
        assert reply.thread_root_id == message.pk
        assert list(Reaction.objects.filter(message=message).values_list("emoji", "user__username")) == [("🚀", author)]
