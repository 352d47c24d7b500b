"""A compliance officer in Chromium: signs in, enrols the second factor the role requires, searches the archive for
a quoted phrase, opens the conversation's transcript with its chain-of-custody footer, and exports the search as EML
in the background, watching it finish in My exports and downloading it; reviews a flagged message in its
conversation's context, escalates it to another officer, and exports a search as EML."""

from __future__ import annotations

import io
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from accounts import roles
from accounts.models import User
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from messenger import services
from messenger.tests.factories import room_with, send
from messenger.tests.test_browser import TIMEOUT_MS, authenticator_code, chromium, require_chromium


def exports_shared_with_the_server() -> dict[str, str]:
    """The server (a daphne process) reads exports from the directory this test's worker step writes them to."""
    from django.conf import settings

    return {"PARLEY_EXPORT_DIR": str(settings.PARLEY_EXPORT_DIR)}


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


def worker_step() -> None:
    from django.db import connection

    from archive.export_jobs import export_jobs_step

    try:
        export_jobs_step()
    finally:
        connection.close()


def exported_in_the_background(page, export_format: str) -> zipfile.ZipFile:
    """From the review page's results: queue the export, watch it in My exports while the worker runs it (its
    step, run here as `run_archive_jobs` would), and download the finished ZIP."""
    from playwright.sync_api import expect

    page.locator("#export-format").select_option(export_format)
    page.get_by_role("button", name="Export these conversations").click()
    expect(page).to_have_url(re.compile(r"/review/exports/$"))
    row = page.locator("#my-exports tr.export").first
    expect(row.locator(".state")).to_have_text("queued")
    with ThreadPoolExecutor(1) as worker:  # not in this thread: Playwright's sync API runs an event loop here
        worker.submit(worker_step).result(timeout=60)
    expect(row.locator(".state")).to_have_text("done")  # the page's poll saw it finish
    progress = row.locator("progress")
    assert progress.get_attribute("value") == progress.get_attribute("max")
    with page.expect_download() as download:
        row.locator("a.download").click()
    assert download.value.suggested_filename.endswith(f"-{export_format}.zip")
    return zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))


def officer_signed_in(browser, base_url: str, errors: list[str]):
    """olga signs in and, as her role requires, enrols an authenticator before reaching anything."""
    from playwright.sync_api import expect

    page = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("olga")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/two-factor/setup/"))
    page.get_by_label("Code from the app").fill(authenticator_code(page.locator(".secret").inner_text()))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    return page


@pytest.mark.django_db(transaction=True)
def test_an_officer_enrols_searches_a_phrase_and_reads_the_transcript(tmp_path):
    require_chromium()
    from playwright.sync_api import expect

    a_desk_with_a_trade_and_an_officer()
    errors: list[str] = []

    with chromium(tmp_path, exports_shared_with_the_server()) as (browser, base_url):
        page = officer_signed_in(browser, base_url, errors)

        page.goto("/admin/archive/archiveentry/review/")
        page.locator("#id_words").fill('"600 acme"')  # a phrase: the index narrows, opening checks the order
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

        page.go_back()
        exported = exported_in_the_background(page, "eml")

    assert errors == []
    (mail,) = [name for name in exported.namelist() if name.endswith(".eml")]
    day = message_from_bytes(exported.read(mail), policy=default)
    said = [part.get_content().get_body(("plain",)).get_content().strip() for part in day.iter_parts()]
    assert said[:2] == ["Buy 500 ACME before the call", "Buy 600 ACME before the call"]  # sent, then edited


@pytest.mark.django_db(transaction=True)
def test_an_officer_reviews_a_flagged_message_in_context_escalates_it_and_exports_eml(tmp_path):
    require_chromium()
    from playwright.sync_api import expect

    from archive.supervision import supervision_step
    from archive.supervision_models import Lexicon, SupervisionDecision

    a_desk_with_a_trade_and_an_officer()
    pete = UserFactory(username="pete", display_name="Pete Principal", is_staff=True)
    pete.groups.add(roles.role_group(roles.COMPLIANCE_OFFICERS))
    Lexicon.objects.create(name="promises", words="guarantee", risk="high")
    alice = User.objects.get(username="alice")
    send(alice, room_with(alice, name="clients"), "I guarantee you a 20% return this quarter")
    supervision_step()  # what the worker does every few seconds
    errors: list[str] = []

    with chromium(tmp_path, exports_shared_with_the_server()) as (browser, base_url):
        page = officer_signed_in(browser, base_url, errors)

        page.goto("/admin/archive/supervisionitem/")
        queue = page.locator("#result_list")
        expect(queue).to_contain_text("guarantee")
        queue.locator("tbody tr th a").first.click()  # the flagged item
        expect(page.locator("#content")).to_contain_text("I guarantee you a 20% return this quarter")
        item_url = page.url
        page.get_by_role("link", name="the conversation that day").click()
        expect(page.locator("#review-results")).to_contain_text("I guarantee you a 20% return")

        page.goto(item_url)
        decide = page.locator("#supervision-decide")
        decide.get_by_label("Outcome").select_option("escalated")
        decide.get_by_label("Escalated to").select_option("pete")
        decide.get_by_label("Comment").fill("A promised return: for the principal.")
        decide.get_by_role("button", name="Record the decision").click()
        expect(page.locator(".messagelist")).to_be_visible()

        page.goto("/admin/archive/archiveentry/review/")
        page.locator("#id_words").fill("guarantee")
        page.get_by_role("button", name="Search").click()
        expect(page.locator("#review-results")).to_contain_text("guarantee")
        exported = exported_in_the_background(page, "eml")

    assert errors == []
    (decision,) = SupervisionDecision.objects.all()
    assert (decision.outcome, decision.decided_by.username, decision.escalated_to.username) == (
        "escalated",
        "olga",
        "pete",
    )
    mails = [name for name in exported.namelist() if name.endswith(".eml")]
    assert "manifest.json" in exported.namelist() and mails
    texts = [message_from_bytes(exported.read(name)).as_string() for name in mails]
    assert any("guarantee" in text for text in texts)
