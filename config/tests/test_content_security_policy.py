"""Every response carries the Content-Security-Policy header (django-csp, config/settings.py), and the API docs
load nothing from another host and only for a signed-in person."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory
from core.testing import force_login_with_second_factor, session_cookie_for

pytestmark = pytest.mark.django_db

POLICY = "Content-Security-Policy"


def directives(response) -> dict[str, str]:
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in response[POLICY].split("; ")}


@pytest.fixture
def as_alice(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def as_superuser() -> Client:
    client = Client()
    force_login_with_second_factor(client, UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def assert_our_policy(response) -> None:
    policy = directives(response)
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response[POLICY]


def test_the_sign_in_page_carries_the_policy_as_a_header_not_a_meta_tag():
    response = Client().get("/accounts/login/")

    assert response.status_code == 200
    assert_our_policy(response)
    assert "http-equiv" not in response.content.decode()


def test_the_app_page_carries_the_policy(as_alice):
    response = as_alice.get("/")

    assert response.status_code == 200
    assert_our_policy(response)


def test_api_json_and_errors_carry_the_policy(as_alice):
    assert_our_policy(as_alice.get("/api/v1/me"))
    assert_our_policy(Client().get("/api/v1/me"))  # 401


def test_a_missing_page_carries_the_policy():
    response = Client().get("/no-such-page")

    assert response.status_code == 404
    assert_our_policy(response)


def test_static_files_and_the_health_probe_carry_the_policy():
    static = Client().get("/static/css/parley.css")

    assert static.status_code == 200
    assert_our_policy(static)
    assert_our_policy(Client().get("/healthz"))


def test_admin_pages_carry_the_policy_and_load_their_scripts_from_our_own_static_files(as_superuser, alice):
    pages = [
        (Client(), "/admin/login/"),
        *[
            (as_superuser, url)
            for url in (
                "/admin/",
                "/admin/accounts/user/",
                "/admin/accounts/user/add/",
                f"/admin/accounts/user/{alice.pk}/change/",
            )
        ],
    ]
    for client, url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_our_policy(response)
        html = response.content.decode()
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", html) == [], url  # no inline script runs
        for src in re.findall(r'<script[^>]*\bsrc="([^"]+)"', html):  # /static/… and /admin/jsi18n/: 'self'
            assert src.startswith("/") and not src.startswith("//"), (url, src)


# ---- /api/v1/docs ------------------------------------------------------------------------------------------


def test_the_api_docs_send_an_anonymous_visitor_to_sign_in():
    for url in ("/api/v1/docs", "/api/v1/openapi.json"):
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url


def test_the_api_docs_load_every_asset_from_our_own_static_files(as_alice):
    page = as_alice.get("/api/v1/docs")

    assert page.status_code == 200
    assert_our_policy(page)
    html = page.content.decode()
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]", html, re.IGNORECASE)  # no other host at all
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert as_alice.get(asset).status_code == 200, asset


def test_a_signed_in_person_reads_the_schema_behind_the_docs(as_alice):
    schema = as_alice.get("/api/v1/openapi.json")

    assert schema.status_code == 200
    assert "/api/v1/me" in schema.json()["paths"]


# ---- in a real browser: nothing the policy blocks is needed --------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_admin_pages_and_the_api_docs_work_in_chromium_under_the_policy(tmp_path):
    """Chromium reports every resource, inline script or style the policy blocks on the console ("Refused to
    ... because it violates the following Content Security Policy directive"); the admin (its change form's
    JavaScript included) and Swagger UI must cause none and still work."""
    from messenger.tests.test_browser import TIMEOUT_MS, chromium, require_chromium

    require_chromium()
    from playwright.sync_api import expect

    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    cookie = session_cookie_for(root, second_factor=True)
    name, value = cookie.split("=", 1)
    errors: list[str] = []

    with chromium(tmp_path) as (browser, base_url):
        context = browser.new_context(base_url=base_url)
        context.add_cookies([{"name": name, "value": value, "url": base_url}])
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda error: errors.append(str(error)))
        # (The admin asks for /favicon.ico, a 404 console error that says nothing about the policy.)
        page.on("console", lambda message: "Content Security Policy" in message.text and errors.append(message.text))

        page.goto(f"/admin/accounts/user/{root.pk}/change/")
        expect(page.locator("#user_form")).to_be_visible()
        # SelectFilter2.js turns the groups <select multiple> into its two-box widget: the admin's JS ran.
        expect(page.locator("#id_groups_from")).to_be_attached()

        page.goto("/api/v1/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Parley API")
        expect(page.locator(".opblock").first).to_be_visible()

    assert errors == []
