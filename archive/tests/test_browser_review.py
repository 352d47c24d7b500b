"""A compliance officer in Chromium: signs in, enrols the second factor the role requires, searches the archive for
a phrase and opens the conversation's transcript with its chain-of-custody footer."""

from __future__ import annotations

import re

import pytest

from accounts import roles
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from messenger import services
from messenger.tests.factories import room_with, send
from messenger.tests.test_browser import TIMEOUT_MS, authenticator_code, chromium, require_chromium


def a_desk_with_a_trade_and_an_officer() -> None:
    roles.role_permissions_apply()
    alice = UserFactory(username="alice", display_name="Alice Archer")
    bob = UserFactory(username="bob", display_name="Bob Baker")
    room = room_with(alice, bob, name="desk")
    message = send(alice, room, "Buy 500 ACME before the call")
    services.message_edit(editor=alice, message_id=message.pk, body="Buy 600 ACME before the call")
    send(bob, room, "done")
    olga = UserFactory(username="olga", display_name="Olga Officer", is_staff=True)
    olga.groups.add(roles.role_group(roles.COMPLIANCE_OFFICERS))


@pytest.mark.django_db(transaction=True)
def test_an_officer_enrols_searches_a_phrase_and_reads_the_transcript(tmp_path):
    require_chromium()
    from playwright.sync_api import expect

    a_desk_with_a_trade_and_an_officer()
    errors: list[str] = []

    with chromium(tmp_path) as (browser, base_url):
        page = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill("olga")
        page.get_by_label("Password").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        # The role requires a second factor: the officer is sent to enrol before reaching anything.
        expect(page).to_have_url(re.compile(r"/two-factor/setup/"))
        page.get_by_label("Code from the app").fill(authenticator_code(page.locator(".secret").inner_text()))
        page.get_by_role("button", name="Turn on two-factor sign-in").click()

        page.goto("/admin/archive/archiveentry/review/")
        page.locator("#id_words").fill("600 acme")
        page.get_by_role("button", name="Search").click()
        results = page.locator("#review-results")
        expect(results).to_contain_text("Alice Archer (alice)")
        expect(results).to_contain_text("#desk")
        expect(results.locator("td.event").first).to_have_text(re.compile(r"edited"))
        expect(results.locator("mark").first).to_have_text(re.compile(r"600|ACME", re.IGNORECASE))
        results.locator("details summary").first.click()
        expect(results.locator(".entry-details").first).to_contain_text("entry hash")

        results.get_by_role("link", name="transcript").first.click()
        expect(page.locator(".transcript-title")).to_contain_text("#desk")
        lines = page.locator(".transcript-lines .line")
        expect(lines.filter(has_text="Bob Baker (bob)")).to_contain_text("done")
        expect(lines.filter(has_text="edited")).to_contain_text("Buy 600 ACME before the call")
        expect(page.locator("#custody .document-hash")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
        with page.expect_download() as download:
            page.locator("#transcript-download").click()
        assert download.value.suggested_filename.endswith(".html")

    assert errors == []
