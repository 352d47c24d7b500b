"""Single sign-on walked in Debian's Chromium: Parley (a real daphne) and the company's identity provider (a real
django-oauth-toolkit process, oidc_provider/), with Parley's own passwords switched off: the login page's "Sign in
with Acme" (audited with axe-core), the provider's login and consent pages, and back into Parley, signed in, with
the account made and its role from the provider's claim.

Same harness as messenger/tests/test_browser.py: the database is read after the browser closed."""

from __future__ import annotations

import re

import pytest

from accounts import roles
from accounts.models import DirectorySource, SignIn, User
from accounts.tests.oidc_provider import PASSWORD
from accounts.tests.oidc_provider.process import start_identity_provider
from messenger.tests.test_accessibility import serious_violations
from messenger.tests.test_browser import TIMEOUT_MS, chromium, require_chromium


def sign_in_with_acme(browser, base_url: str, username: str, errors: list[str], audit: list[str] | None = None):
    """A fresh browser profile that goes to Parley and signs in through the provider, as a person does; with
    `audit`, the login page's accessibility violations are added to it on the way."""
    from playwright.sync_api import expect

    page = browser.new_context(base_url=base_url).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda error: errors.append(f"{username}: {error}"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_text("Passwords are switched off in Parley")).to_be_visible()
    if audit is not None:
        audit += serious_violations(page, "sign-in page with single sign-on and passwords off")
    page.get_by_role("link", name="Sign in with Acme").click()
    expect(page.get_by_role("heading", name="Acme identity")).to_be_visible()
    page.get_by_label("Acme username").fill(username)
    page.get_by_label("Acme password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Authorize Parley?")).to_be_visible()  # the consent page
    page.get_by_role("button", name="Authorize").click()
    return page


@pytest.mark.django_db(transaction=True)
def test_people_sign_in_with_the_company_account_and_arrive_with_their_role(tmp_path):
    require_chromium()
    from playwright.sync_api import expect

    errors: list[str] = []
    violations: list[str] = []
    provider = start_identity_provider(tmp_path)
    environment = {**provider.parley_environment(), "PARLEY_LOCAL_PASSWORDS": "off"}
    try:
        with chromium(tmp_path, environment) as (browser, base_url):
            olivia = sign_in_with_acme(browser, base_url, "olivia", errors, audit=violations)
            expect(olivia.locator("#app[data-ready=true]")).to_be_attached()
            expect(olivia.locator("#connection-state")).to_have_text("Online")

            # An IT Admin by the provider's claim arrives signed in, and Parley asks for its own second factor.
            ivan = sign_in_with_acme(browser, base_url, "ivan", errors)
            expect(ivan).to_have_url(re.compile(r"/accounts/two-factor/setup/"))
    finally:
        provider.stop()

    assert errors == []
    assert violations == []
    olivia, ivan = User.objects.get(username="olivia"), User.objects.get(username="ivan")
    assert (olivia.directory_source, olivia.email) == (DirectorySource.OIDC, "olivia@acme.test")
    assert set(olivia.groups.values_list("name", flat=True)) == {roles.EMPLOYEES}
    assert set(ivan.groups.values_list("name", flat=True)) == {roles.EMPLOYEES, roles.IT_ADMINS}
    for person in (olivia, ivan):
        record = SignIn.objects.get(user=person)
        assert record.ip_address == "127.0.0.1"
        assert "Chrome" in record.user_agent
