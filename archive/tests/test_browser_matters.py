"""A compliance officer in Chromium saves a search as a matter, tags a result from the list and puts the matter
under a legal hold from its page (archive.matters_admin, through the real review screen's forms)."""

from __future__ import annotations

import re

import pytest

from archive.models import LegalHold, Matter, MatterTag
from archive.tests.test_browser_review import a_desk_with_a_trade_and_an_officer, officer_signed_in
from messenger.models import Conversation
from messenger.tests.test_browser import chromium, require_chromium


@pytest.mark.django_db(transaction=True)
def test_an_officer_saves_a_search_as_a_matter_tags_a_result_and_holds_it_in_one_step(tmp_path):
    require_chromium()
    from playwright.sync_api import expect

    a_desk_with_a_trade_and_an_officer()
    errors: list[str] = []

    with chromium(tmp_path) as (browser, base_url):
        page = officer_signed_in(browser, base_url, errors)

        page.goto("/admin/archive/archiveentry/review/")
        page.locator("#id_words").fill("acme")
        page.get_by_role("button", name="Search").click()
        page.locator("#matter-name").fill("SEC inquiry 24-117")
        page.get_by_role("button", name="Save as matter").click()
        expect(page.locator("#review-matter")).to_contain_text("SEC inquiry 24-117")

        results = page.locator("#review-results")
        results.locator("tbody tr").first.get_by_role("checkbox").check()
        page.locator("#matter-tag").fill("responsive")
        page.get_by_role("button", name="Tag the chosen results").click()
        expect(results.locator("td.tags").first).to_have_text("responsive")

        page.locator("#review-matter").get_by_role("link", name="SEC inquiry 24-117").click()
        expect(page.locator("#tagged-results")).to_contain_text("ACME")
        page.locator("#hold-reason").fill("Subpoena of 3 March")
        page.get_by_role("button", name="Put under legal hold").click()
        expect(page.locator(".messagelist")).to_contain_text(re.compile(r"Legal hold “SEC inquiry 24-117” opened"))

    assert errors == []
    matter = Matter.objects.get()
    assert MatterTag.objects.filter(matter=matter, tag="responsive").count() == 1
    hold = LegalHold.objects.get()
    assert list(matter.holds.all()) == [hold] and hold.reason == "Subpoena of 3 March"
    assert list(hold.rooms.all()) == [Conversation.objects.get(name="desk")]
