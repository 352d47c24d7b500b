"""The main screens (sign-in, the app, a room, a thread, a dialog, the emoji picker, the security page), audited
with axe-core (axe-playwright-python carries it) in Debian's Chromium, on a laptop and a phone, light and dark:
no serious or critical violation. Minor and moderate ones are printed, not failed."""

from __future__ import annotations

import re

import pytest

from accounts.tests.factories import UserFactory
from messenger.tests.factories import room_with, send
from messenger.tests.test_browser import TIMEOUT_MS, chromium, require_chromium, signed_in_page

LAPTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}
FAILING_IMPACTS = {"serious", "critical"}


def serious_violations(page, screen: str) -> list[str]:
    """What axe-core finds on the page as it is now, the serious and critical ones as lines to assert on."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        targets = ", ".join(
            f"{node['target']} ({' '.join(node.get('failureSummary', '').split())[:160]})"
            for node in violation["nodes"][:3]
        )
        line = f"{screen}: {violation['id']} ({violation['impact']}) {violation['help']} at {targets}"
        if violation["impact"] in FAILING_IMPACTS:
            found.append(line)
        else:
            print(line)
    return found


@pytest.mark.django_db(transaction=True)
def test_the_main_screens_have_no_serious_or_critical_accessibility_violations(tmp_path):
    require_chromium()
    from playwright.sync_api import expect

    alice = UserFactory(username="alice", display_name="Alice Archer")
    bob = UserFactory(username="bob", display_name="Bob Bauer")
    room = room_with(alice, bob, name="launch")
    send(bob, room, "The **launch** is on Friday, @alice: see https://example.com/plan")
    reply_to = send(alice, room, "Great, thanks!")
    send(bob, room, "Agreed.", reply_to_id=reply_to.pk)
    errors: list[str] = []
    found: list[str] = []

    with chromium(tmp_path) as (browser, base_url):
        login = browser.new_context(base_url=base_url).new_page()
        login.set_default_timeout(TIMEOUT_MS)
        login.goto("/accounts/login/")
        found += serious_violations(login, "sign-in page")

        page = signed_in_page(browser, base_url, "alice", errors)
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            for size, name in ((LAPTOP, "laptop"), (PHONE, "phone")):
                page.set_viewport_size(size)
                page.goto("/")
                expect(page.locator("#app[data-ready=true]")).to_be_attached()
                found += serious_violations(page, f"app, {name}, {scheme}")
                page.get_by_role("link", name=re.compile(r"^launch\b")).click()
                expect(page.locator("#message-list .message").first).to_be_visible()
                found += serious_violations(page, f"a room, {name}, {scheme}")
                first = page.locator("#message-list .message").first
                first.hover()
                first.get_by_role("button", name="Reply in thread").click()
                expect(page.get_by_role("textbox", name="Reply in the thread")).to_be_visible()
                found += serious_violations(page, f"a thread, {name}, {scheme}")
                page.get_by_role("button", name="Close the thread").click()
            page.set_viewport_size(LAPTOP)
            page.goto("/")
            expect(page.locator("#app[data-ready=true]")).to_be_attached()
            page.get_by_role("button", name="Create a room").click()
            found += serious_violations(page, f"new room dialog, {scheme}")
            page.keyboard.press("Escape")
            page.get_by_role("link", name=re.compile(r"^launch\b")).click()
            page.get_by_role("button", name="Insert an emoji").click()
            expect(page.get_by_role("dialog", name="Insert an emoji")).to_be_visible()
            found += serious_violations(page, f"emoji picker, {scheme}")
            page.goto("/accounts/security/")
            found += serious_violations(page, f"security page, {scheme}")

    assert found == []
    assert errors == []
